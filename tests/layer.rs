//! The wire contract (DESIGN §2), through `ServiceExt::oneshot` on an axum router.

mod common;

use std::time::Duration;

use axum::body::Body;
use common::app::*;
use http::{header, Method, Request, StatusCode};
use serde_json::json;
use tower_otp::{OtpAuthLayer, OtpSettings};

const INVALID_CREDENTIALS: &str =
    r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#;
const INVALID_TOKEN: &str = r#"{"non_field_errors":["Invalid token."]}"#;

#[tokio::test]
async fn login_sends_a_code_and_answers_a_challenge() {
    let app = TestApp::new();
    let reply = app.login("alice", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json.as_object().unwrap();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["challenge", "detail", "otp_created_date", "otp_ttl"]);
    assert_eq!(reply.str("detail"), "OTP token sent successfully.");
    assert_eq!(reply.json["otp_ttl"], 300);
    assert_eq!(
        reply.str("otp_created_date"),
        "2027-01-15T08:00:00.000000+00:00"
    );
    assert!(reply.str("challenge").len() >= 30);
    let codes = app.console.codes();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].len(), 6);
    assert!(codes[0].bytes().all(|b| b.is_ascii_digit()));
    assert!(app.console.text().contains("to: alice@example.com"));
}

#[tokio::test]
async fn full_flow_login_verify_use_logout() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let verify = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    let token = verify.str("token").to_owned();

    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json, json!({ "id": "1", "username": "alice" }));
    // Bearer works as well as Token.
    let bearer = app.get_with("/api/me", &format!("Bearer {token}")).await;
    assert_eq!(bearer.status, StatusCode::OK);

    let logout = app.logout(&token).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let after = app.get("/api/me", Some(&token)).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.text, r#"{"detail":"Invalid token."}"#);
}

#[tokio::test]
async fn every_verify_issues_a_fresh_token() {
    let app = TestApp::new();
    let first = app.token_for("alice", PASSWORD).await;
    let second = app.token_for("alice", PASSWORD).await;
    assert_ne!(first, second);
    assert_eq!(
        app.get("/api/me", Some(&first)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/me", Some(&second)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn refusals_are_identical_for_unknown_inactive_wrong_and_locked() {
    let app = TestApp::new();
    // Lock carol's twin "alice" after 10 wrong passwords.
    for _ in 0..10 {
        app.login("alice", "wrong password").await;
    }
    let replies = [
        app.login("nobody", PASSWORD).await,
        app.login("bob", PASSWORD).await, // inactive, right password
        app.login("spacey", "wrong").await,
        app.login("alice", PASSWORD).await, // locked, right password
    ];
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.text, INVALID_CREDENTIALS);
        assert_eq!(reply.headers.len(), replies[0].headers.len());
    }
    assert!(
        app.console.codes().is_empty(),
        "nothing is sent while locked"
    );
    // The lock ends.
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn verify_with_the_django_drf_otp_body() {
    let app = TestApp::new();
    app.login("alice", PASSWORD).await;
    let code = app.console.last_code();
    let wrong_password = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "username": "alice", "password": "nope", "token": code }),
        )
        .await;
    assert_eq!(wrong_password.text, INVALID_CREDENTIALS);
    let reply = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "username": "alice", "password": PASSWORD, "token": code }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        app.get("/api/me", Some(reply.str("token"))).await.json["username"],
        "alice"
    );
}

#[tokio::test]
async fn wrong_code_then_right_code() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let code = app.console.last_code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let reply = app.verify(login.str("challenge"), wrong).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.text, INVALID_TOKEN);
    assert_eq!(
        app.verify(login.str("challenge"), &code).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_code_verifies_once() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let code = app.console.last_code();
    assert_eq!(
        app.verify(login.str("challenge"), &code).await.status,
        StatusCode::OK
    );
    let replay = app.verify(login.str("challenge"), &code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.text, INVALID_TOKEN);
}

#[tokio::test]
async fn codes_expire_after_their_ttl_from_issue() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let code = app.console.last_code();
    app.clock.advance(Duration::from_secs(300));
    let reply = app.verify(login.str("challenge"), &code).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.text, r#"{"non_field_errors":["Token has expired."]}"#);

    // One second short of the TTL it still works.
    let login = app.login("alice", PASSWORD).await;
    app.clock.advance(Duration::from_secs(299));
    assert_eq!(
        app.verify(login.str("challenge"), &app.console.last_code())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_new_login_kills_the_previous_code() {
    let app = TestApp::new();
    let first = app.login("alice", PASSWORD).await;
    let first_code = app.console.last_code();
    let second = app.login("alice", PASSWORD).await;
    assert_eq!(
        app.verify(first.str("challenge"), &first_code).await.text,
        INVALID_TOKEN
    );
    assert_eq!(
        app.verify(second.str("challenge"), &app.console.last_code())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn five_wrong_codes_kill_the_challenge() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let code = app.console.last_code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(
            app.verify(login.str("challenge"), wrong).await.text,
            INVALID_TOKEN
        );
    }
    assert_eq!(
        app.verify(login.str("challenge"), &code).await.text,
        INVALID_TOKEN
    );
}

#[tokio::test]
async fn locked_account_verify_is_throttled() {
    let app = TestApp::with(|layer| {
        let settings = {
            let mut s = tower_otp::OtpSettings::default();
            s.lockout_threshold = 3;
            s
        };
        layer.with_settings(settings)
    });
    let login = app.login("alice", PASSWORD).await;
    for _ in 0..3 {
        app.verify(login.str("challenge"), "abcdef").await;
    }
    // The challenge has attempts left, but the account is locked: 429, nothing compared.
    let locked = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.header("retry-after"), Some("60"));
    // A password step while locked looks exactly like a wrong password, and sends nothing.
    let second = app.login("alice", PASSWORD).await;
    assert_eq!(second.text, INVALID_CREDENTIALS, "locked: login refused");
    let reply = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "username": "alice", "password": PASSWORD, "token": "123456" }),
        )
        .await;
    assert_eq!(reply.text, INVALID_CREDENTIALS);
    assert_eq!(app.console.codes().len(), 1);
    // After the lock, the right code of the (still live) challenge works.
    app.clock.advance(Duration::from_secs(60));
    let verify = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
}

#[tokio::test]
async fn unicode_and_case_variants_of_a_username_share_one_lockout() {
    let locks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = locks.clone();
    let app = TestApp::with(|layer| {
        let settings = {
            let mut s = tower_otp::OtpSettings::default();
            s.lockout_threshold = 3;
            s
        };
        layer.with_settings(settings).with_event_hook(move |event| {
            if let tower_otp::AuthEvent::AccountLocked { account, .. } = event {
                sink.lock().unwrap().push(account.clone());
            }
        })
    });
    // Three spellings of one name that no user has: together they reach the threshold.
    for name in [
        "ghost@example.com",
        "GHOST@Example.COM",
        "ⓖⓗⓞⓢⓣ@ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ",
    ] {
        app.login(name, "guess").await;
    }
    assert_eq!(
        locks.lock().unwrap().len(),
        1,
        "the third spelling locked the shared key"
    );
}

#[tokio::test]
async fn resend_replaces_the_code_after_the_cooldown() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let challenge = login.str("challenge");
    let old_code = app.console.last_code();

    let early = app
        .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
        .await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(early.header("retry-after"), Some("60"));
    assert_eq!(
        early.text,
        r#"{"detail":"Request was throttled. Expected available in 60 seconds."}"#
    );
    app.clock.advance(Duration::from_secs(45));
    let still_early = app
        .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
        .await;
    assert_eq!(still_early.header("retry-after"), Some("15"));

    app.clock.advance(Duration::from_secs(15));
    let resent = app
        .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    assert_eq!(resent.str("challenge"), challenge);
    assert_eq!(resent.str("detail"), "OTP token sent successfully.");
    assert_eq!(app.console.codes().len(), 2);
    let new_code = app.console.last_code();
    if new_code != old_code {
        assert_eq!(app.verify(challenge, &old_code).await.text, INVALID_TOKEN);
    }
    assert_eq!(
        app.verify(challenge, &new_code).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn resend_of_an_unknown_challenge() {
    let app = TestApp::new();
    for challenge in ["nonsense", "AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"] {
        let reply = app
            .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.text,
            r#"{"non_field_errors":["Invalid or expired challenge."]}"#
        );
    }
    let missing = app.post_json("/api-auth/resend-token/", json!({})).await;
    assert_eq!(missing.text, r#"{"challenge":["This field is required."]}"#);
}

#[tokio::test]
async fn logout_all_revokes_every_token_of_the_user() {
    let app = TestApp::new();
    let first = app.token_for("alice", PASSWORD).await;
    let second = app.token_for("alice", PASSWORD).await;
    let zoe = app.token_for("zoë", PASSWORD).await;
    let reply = app
        .send(authorized(
            Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, "application/json"),
            &format!("Token {first}"),
            Body::from(r#"{"all": true}"#),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/me", Some(&second)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/me", Some(&zoe)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_needs_a_valid_token() {
    let app = TestApp::new();
    let none = app
        .send(
            Request::post("/api-auth/logout/")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.text,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(app.logout(&token).await.status, StatusCode::NO_CONTENT);
    let again = app.logout(&token).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn protected_and_public_routes() {
    let app = TestApp::new();
    let anonymous = app.get("/api/me", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.text,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    assert_eq!(anonymous.header("www-authenticate"), Some("Token"));

    let health = app.get("/health", None).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (StatusCode::OK, "ok")
    );
    assert_eq!(app.get("/whoami", None).await.text, "anonymous");

    for bad in [
        "garbage",
        "AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let reply = app.get("/whoami", Some(bad)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.text, r#"{"detail":"Invalid token."}"#);
        assert_eq!(reply.header("www-authenticate"), Some("Token"));
    }
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(app.get("/whoami", Some(&token)).await.text, "alice");

    // Another scheme is none of the layer's business.
    let basic = app.get_with("/whoami", "Basic YWxpY2U6cHc=").await;
    assert_eq!(basic.text, "anonymous");
    let spaced = app.get_with("/whoami", "Token a b").await;
    assert_eq!(spaced.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_expire_idle_and_absolute() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    app.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    app.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED,
        "30 idle minutes end a token"
    );
    let token = app.token_for("alice", PASSWORD).await;
    let mut used_for = Duration::ZERO;
    while app.get("/api/me", Some(&token)).await.status == StatusCode::OK {
        assert!(
            used_for < Duration::from_secs(13 * 3600),
            "a token in use must still die"
        );
        app.clock.advance(Duration::from_secs(25 * 60));
        used_for += Duration::from_secs(25 * 60);
    }
    assert!(
        used_for >= Duration::from_secs(12 * 3600)
            && used_for < Duration::from_secs(12 * 3600 + 25 * 60),
        "died after {used_for:?}"
    );
}

#[tokio::test]
async fn otp_disabled_logs_in_with_the_password_alone() {
    let app = TestApp::with(|layer| {
        let settings = {
            let mut s = tower_otp::OtpSettings::default();
            s.enable_otp_authentication = false;
            s
        };
        layer.with_settings(settings)
    });
    let reply = app.login("alice", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json.as_object().unwrap().len(), 1);
    assert!(app.console.codes().is_empty());
    assert_eq!(
        app.get("/api/me", Some(reply.str("token"))).await.status,
        StatusCode::OK
    );
    for path in ["/api-auth/verify-token/", "/api-auth/resend-token/"] {
        let reply = app
            .post_json(path, json!({ "challenge": "x", "token": "1" }))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.text,
            r#"{"detail":"Otp authentication is disabled."}"#
        );
    }
}

#[tokio::test]
async fn form_bodies_and_a_custom_username_field() {
    let app = TestApp::with(|layer| layer.with_username_field("login"));
    let form = |body: &'static str| {
        Request::post("/api-auth/login/")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let reply = app
        .send(form("login=alice&password=correct+horse+battery+staple"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let old_field = app
        .send(form("username=alice&password=correct+horse+battery+staple"))
        .await;
    assert_eq!(old_field.text, r#"{"login":["This field is required."]}"#);
    let challenge = reply.str("challenge").to_owned();
    let verify = app
        .send(
            Request::post("/api-auth/verify-token/")
                .header(
                    header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=utf-8",
                )
                .body(Body::from(format!(
                    "challenge={challenge}&token={}",
                    app.console.last_code()
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
}

#[tokio::test]
async fn malformed_and_incomplete_bodies() {
    let app = TestApp::new();
    let raw = |ct: &str, body: &'static str| {
        Request::post("/api-auth/login/")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            raw("application/json", r#"{"username": "alice", "password": }"#),
            StatusCode::BAD_REQUEST,
            r#"{"detail":"JSON parse error - expected value at line 1 column 35"}"#,
        ),
        (
            raw("application/json", "{}"),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field is required."],"username":["This field is required."]}"#,
        ),
        (
            raw("application/json", r#"{"username": "  ", "password": ""}"#),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field may not be blank."],"username":["This field may not be blank."]}"#,
        ),
        (
            raw(
                "application/json",
                r#"{"username": true, "password": null}"#,
            ),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field may not be null."],"username":["Not a valid string."]}"#,
        ),
        (
            raw(
                "application/json",
                r#"{"username": ["alice"], "password": {"a": 1}}"#,
            ),
            StatusCode::BAD_REQUEST,
            r#"{"password":["Not a valid string."],"username":["Not a valid string."]}"#,
        ),
        (
            raw("application/json", r#"["alice", "pw"]"#),
            StatusCode::BAD_REQUEST,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        ),
        (
            raw("text/plain", "username=alice"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#,
        ),
        (
            raw("multipart/form-data; boundary=x", "--x--"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"detail":"Unsupported media type \"multipart/form-data; boundary=x\" in request."}"#,
        ),
        (
            Request::post("/api-auth/login/")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field is required."],"username":["This field is required."]}"#,
        ),
        (
            Request::post("/api-auth/login/")
                .body(Body::from("username=alice"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"detail":"Unsupported media type \"\" in request."}"#,
        ),
    ];
    for (request, status, body) in cases {
        let reply = app.send(request).await;
        assert_eq!((reply.status, reply.text.as_str()), (status, body));
    }
    assert!(app.console.codes().is_empty());
}

#[tokio::test]
async fn numbers_are_read_as_text_like_drf() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let code = app.console.last_code();
    let number: u64 = code.parse().unwrap();
    let reply = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "challenge": login.str("challenge"), "token": number }),
        )
        .await;
    // A code with a leading zero loses it as a number: the length check says so.
    if code.starts_with('0') {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    } else {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
}

#[tokio::test]
async fn code_length_is_checked_before_anything_is_counted() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let challenge = login.str("challenge");
    let short = app.verify(challenge, "123").await;
    assert_eq!(
        short.text,
        r#"{"token":["Ensure this field has at least 6 characters."]}"#
    );
    let long = app.verify(challenge, "1234567").await;
    assert_eq!(
        long.text,
        r#"{"token":["Ensure this field has no more than 6 characters."]}"#
    );
    // Ten malformed codes later, the right one still works: nothing was counted.
    for _ in 0..10 {
        app.verify(challenge, "1").await;
    }
    assert_eq!(
        app.verify(challenge, &app.console.last_code()).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn huge_bodies_get_413_with_or_without_content_length() {
    let app = TestApp::new();
    let huge = format!(
        r#"{{"username": "alice", "password": "{}"}}"#,
        "x".repeat(20_000)
    );
    let declared = app.send(json_request_raw(&huge, true)).await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        declared.text,
        r#"{"detail":"Request body is larger than 16384 bytes."}"#
    );
    let streamed = app.send(json_request_raw(&huge, false)).await;
    assert_eq!(streamed.status, StatusCode::PAYLOAD_TOO_LARGE);

    let small = TestApp::with(|layer| layer.with_body_limit(64));
    let reply = small
        .login(
            "alice",
            "a password long enough to exceed sixty-four bytes in JSON",
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

fn json_request_raw(body: &str, with_length: bool) -> Request<Body> {
    let builder =
        Request::post("/api-auth/login/").header(header::CONTENT_TYPE, "application/json");
    if with_length {
        builder
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body.to_owned()))
            .unwrap()
    } else {
        let chunks: Vec<Result<String, std::io::Error>> = body
            .as_bytes()
            .chunks(1000)
            .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
            .collect();
        builder
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap()
    }
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let app = TestApp::new();
    for method in [
        Method::GET,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
    ] {
        for path in [
            "/api-auth/login/",
            "/api-auth/verify-token/",
            "/api-auth/resend-token/",
            "/api-auth/logout/",
        ] {
            let reply = app
                .send(
                    Request::builder()
                        .method(method.clone())
                        .uri(path)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(reply.header("allow"), Some("POST"));
            assert_eq!(
                reply.json["detail"],
                format!("Method \"{method}\" not allowed.")
            );
        }
    }
}

#[tokio::test]
async fn unicode_usernames_and_unstripped_passwords() {
    let app = TestApp::new();
    assert_eq!(app.login("zoë", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        app.login(" zoë ", PASSWORD).await.status,
        StatusCode::OK,
        "usernames are trimmed"
    );
    assert_eq!(
        app.login("spacey", SPACED_PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.login("spacey", SPACED_PASSWORD.trim()).await.text,
        INVALID_CREDENTIALS,
        "passwords are never trimmed"
    );
}

#[tokio::test]
async fn paths_are_configurable_one_by_one_and_as_a_prefix() {
    let app = TestApp::with(|layer| layer.with_path_prefix("/auth/").with_login_path("/signin"));
    assert_eq!(
        app.login("alice", PASSWORD).await.status,
        StatusCode::NOT_FOUND
    );
    let login = app
        .post_json(
            "/signin",
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let verify = app
        .post_json(
            "/auth/verify-token",
            json!({ "challenge": login.str("challenge"), "token": app.console.last_code() }),
        )
        .await;
    assert_eq!(verify.status, StatusCode::OK, "trailing slash optional");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_verifies_of_one_code_one_success() {
    let app = std::sync::Arc::new(TestApp::new());
    let login = app.login("alice", PASSWORD).await;
    let challenge = login.str("challenge").to_owned();
    let code = app.console.last_code();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, barrier, challenge, code) = (
                app.clone(),
                barrier.clone(),
                challenge.clone(),
                code.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                app.verify(&challenge, &code).await.status
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let status = task.await.unwrap();
        if status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn undelivered_codes_answer_503_and_die() {
    let app = TestApp::new();
    app.console.break_delivery();
    let reply = app.login("alice", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.text,
        r#"{"detail":"The verification code could not be delivered. Try again later."}"#
    );
    // The code was written before the failure: it must not work.
    let code = app.console.last_code();
    let verify = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "username": "alice", "password": PASSWORD, "token": code }),
        )
        .await;
    assert_eq!(verify.text, INVALID_TOKEN);
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn success_body_and_extra_context_hooks() {
    let app = TestApp::with(|layer| {
        layer
            .with_success_body(|endpoint, user, body| {
                body.insert("endpoint".into(), format!("{endpoint:?}").into());
                body.insert("user_id".into(), user.id.clone().into());
            })
            .with_extra_context(|parts, user| {
                let mut context = serde_json::Map::new();
                context.insert("path".into(), parts.uri.path().into());
                context.insert("who".into(), user.username.clone().into());
                context
            })
    });
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.json["endpoint"], "Login");
    assert_eq!(login.json["user_id"], "1");
    let verify = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    assert_eq!(verify.json["endpoint"], "Verify");
    assert_eq!(verify.json["user_id"], "1");
}

fn login_from(peer: &str, forwarded: Option<&str>, password: &str) -> Request<Body> {
    let mut request = json_request(
        "/api-auth/login/",
        &json!({ "username": "alice", "password": password }),
    );
    request
        .extensions_mut()
        .insert(peer.parse::<std::net::SocketAddr>().unwrap());
    if let Some(forwarded) = forwarded {
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
    }
    request
}

#[tokio::test]
async fn login_attempts_are_limited_per_client_ip() {
    let app = TestApp::with(|layer| {
        let settings = {
            let mut s = tower_otp::OtpSettings::default();
            s.login_rate_limit = 3;
            s.login_rate_window = 60;
            s
        };
        layer
            .with_settings(settings)
            .with_trusted_proxies(["10.0.0.1".parse().unwrap()])
    });
    for _ in 0..3 {
        let reply = app
            .send(login_from("203.0.113.7:4000", None, "wrong"))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    // The fourth attempt in the window is refused before the password is even looked at.
    let refused = app
        .send(login_from("203.0.113.7:4001", None, PASSWORD))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header("retry-after"), Some("60"));
    assert!(app.console.codes().is_empty());
    // A forged X-Forwarded-For from an untrusted peer changes nothing...
    let forged = app
        .send(login_from(
            "203.0.113.7:4002",
            Some("198.51.100.1"),
            PASSWORD,
        ))
        .await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
    // ...but through the trusted proxy, the forwarded client has its own budget.
    let proxied = app
        .send(login_from("10.0.0.1:80", Some("198.51.100.1"), PASSWORD))
        .await;
    assert_eq!(proxied.status, StatusCode::OK);
    // Another client is unaffected, and the next window starts afresh.
    let other = app.send(login_from("192.0.2.1:5000", None, PASSWORD)).await;
    assert_eq!(other.status, StatusCode::OK);
    app.clock.advance(Duration::from_secs(60));
    let later = app
        .send(login_from("203.0.113.7:4003", None, PASSWORD))
        .await;
    assert_eq!(later.status, StatusCode::OK);
}

#[tokio::test]
async fn junk_in_x_forwarded_for_does_not_switch_the_limit_off() {
    let app = TestApp::with(|layer| {
        let settings = {
            let mut s = tower_otp::OtpSettings::default();
            s.login_rate_limit = 3;
            s
        };
        layer
            .with_settings(settings)
            .with_trusted_proxies(["10.0.0.1".parse().unwrap()])
    });
    let mut statuses = Vec::new();
    for n in 0..5 {
        // The proxy appends the real client after whatever the client claimed.
        let claimed = format!("junk-{n}, 198.51.100.9");
        let reply = app
            .send(login_from("10.0.0.1:80", Some(&claimed), "wrong"))
            .await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429]);
}

#[tokio::test]
async fn with_settings_keeps_the_protected_paths() {
    let app = TestApp::with(|layer| {
        // test_layer protects /api/ before the settings arrive.
        layer.with_settings(tower_otp::OtpSettings::default())
    });
    let plain = app.get("/api/plain", None).await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn protection_does_not_depend_on_the_handler() {
    let app = TestApp::new();
    // /api/plain does not extract the user: the layer alone refuses it.
    let plain = app.get("/api/plain", None).await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        plain.text,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    // "/api/" protects "/api" too.
    assert_eq!(app.get("/api", None).await.status, StatusCode::UNAUTHORIZED);
    // But not a sibling that merely shares the letters.
    assert_eq!(app.get("/apiary", None).await.text, "apiary");
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(app.get("/api/plain", Some(&token)).await.text, "plain");
}

#[tokio::test]
async fn cors_preflights_pass_protected_paths() {
    let app = TestApp::new();
    let preflight = app
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/plain")
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "GET")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_ne!(preflight.status, StatusCode::UNAUTHORIZED);
    // A plain OPTIONS without the preflight header is still refused.
    let options = app
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/plain")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(options.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_with_a_json_content_type_and_no_body() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let reply = app
        .send(authorized(
            Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, "application/json"),
            &format!("Token {token}"),
            Body::empty(),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let empty_json = app
        .send(
            Request::post("/api-auth/login/")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        empty_json.text,
        r#"{"password":["This field is required."],"username":["This field is required."]}"#
    );
}

#[tokio::test]
async fn repeated_logins_cannot_bomb_a_mailbox() {
    let app = TestApp::new();
    for _ in 0..5 {
        assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    }
    let sixth = app.login("alice", PASSWORD).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sixth.header("retry-after"), Some("600"));
    assert_eq!(app.console.codes().len(), 5);
    // Another account is not affected; the next window starts afresh.
    assert_eq!(app.login("zoë", PASSWORD).await.status, StatusCode::OK);
    app.clock.advance(Duration::from_secs(600));
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn resend_after_the_last_allowed_code_ends_the_login() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let challenge = login.str("challenge");
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(60));
        let resent = app
            .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
            .await;
        assert_eq!(resent.status, StatusCode::OK);
    }
    app.clock.advance(Duration::from_secs(60));
    let sixth = app
        .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
        .await;
    assert_eq!(sixth.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        sixth.text,
        r#"{"non_field_errors":["Too many codes were sent for this login. Log in again."]}"#
    );
    assert_eq!(app.console.codes().len(), 5);
}

#[tokio::test]
async fn strategies_refuse_code_lengths_they_cannot_make() {
    use tower_otp::strategy::{PerChallengeHotpStrategy, RandomCodeStrategy};
    let layer = || {
        let (clock, console) = (tower_otp::ManualClock::default(), Console::default());
        test_layer(&clock, &console, &tower_otp::store::MemoryStore::new())
    };
    let ten_random_digits = {
        let mut s = tower_otp::OtpSettings::default();
        s.default_token_type = tower_otp::CodeType::Code;
        s.token_length = 10;
        s
    };
    let err = layer()
        .with_strategy(PerChallengeHotpStrategy)
        .with_settings(ten_random_digits.clone())
        .build()
        .unwrap_err();
    assert_eq!(err.keys(), ["token_length"]);
    // In either order.
    let err = layer()
        .with_settings(ten_random_digits.clone())
        .with_strategy(PerChallengeHotpStrategy)
        .build()
        .unwrap_err();
    assert_eq!(err.keys(), ["token_length"]);
    let random = layer()
        .with_settings(ten_random_digits)
        .with_strategy(RandomCodeStrategy)
        .build()
        .unwrap();
    assert_eq!(random.settings().token_length, 10);
}

/// Users whose `is_active` can be switched off while the layer runs.
#[derive(Clone)]
struct SwitchableUsers {
    users: tower_otp::MemoryUserStore,
    active: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl tower_otp::UserStore for SwitchableUsers {
    async fn find_by_username(
        &self,
        username: &str,
    ) -> Result<Option<tower_otp::User>, tower_otp::UserStoreError> {
        let found = self.users.find_by_username(username).await?;
        Ok(found.map(|user| self.apply(user)))
    }

    async fn find_by_id(
        &self,
        id: &str,
    ) -> Result<Option<tower_otp::User>, tower_otp::UserStoreError> {
        let found = self.users.find_by_id(id).await?;
        Ok(found.map(|user| self.apply(user)))
    }
}

impl SwitchableUsers {
    fn apply(&self, mut user: tower_otp::User) -> tower_otp::User {
        user.is_active &= self.active.load(std::sync::atomic::Ordering::SeqCst);
        user
    }
}

#[tokio::test]
async fn a_user_deactivated_after_the_password_step_gets_no_token() {
    use tower_otp::UserStore as _;
    let active = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let users = SwitchableUsers {
        users: demo_users(),
        active: active.clone(),
    };
    assert!(users.find_by_id("1").await.unwrap().unwrap().is_active);
    let (clock, console) = (
        tower_otp::ManualClock::new(start_time()),
        Console::default(),
    );
    let layer = tower_otp::OtpAuthLayer::builder(
        users,
        tower_otp::notify::ConsoleNotifier::with_writer(console.clone()),
    )
    .with_clock(clock.clone())
    .with_protected_path("/api/")
    .build()
    .unwrap();
    let app = TestApp {
        router: routes().layer(layer.clone()),
        layer,
        clock,
        console: console.clone(),
        store: Default::default(),
    };
    let login = app.login("alice", PASSWORD).await;
    active.store(false, std::sync::atomic::Ordering::SeqCst);
    let verify = app
        .verify(login.str("challenge"), &console.last_code())
        .await;
    assert_eq!(verify.status, StatusCode::BAD_REQUEST);
    assert_eq!(verify.text, INVALID_TOKEN);
}

#[test]
fn paths_that_would_protect_nothing_or_shadow_an_endpoint_are_refused() {
    let layer = || OtpAuthLayer::builder(demo_users(), tower_otp::notify::ConsoleNotifier::new());
    let refused = |toml_text: &str| {
        let settings: OtpSettings = toml::from_str(toml_text).unwrap();
        layer().with_settings(settings).build().unwrap_err().keys()
    };
    assert_eq!(
        refused(r#"protected_paths = ["health"]"#),
        ["protected_paths"]
    );
    assert_eq!(
        refused("login_path = \"/auth/x/\"\nverify_path = \"/auth/x\""),
        ["verify_path"]
    );
    assert_eq!(
        refused(r#"logout_path = "api-auth/logout/""#),
        ["logout_path"]
    );

    assert_eq!(
        layer()
            .with_protected_path("health")
            .build()
            .unwrap_err()
            .keys(),
        ["protected_paths"]
    );
    let clash = layer()
        .with_login_path("/auth/x/")
        .with_verify_path("/auth/x")
        .build()
        .unwrap_err();
    assert_eq!(clash.keys(), ["verify_path"]);
    assert!(clash.to_string().contains("login_path"), "{clash}");
    assert_eq!(
        layer().with_path_prefix("auth").build().unwrap_err().keys(),
        ["path_prefix"]
    );
    // Moving one endpoint onto its own path again is fine.
    let moved = layer().with_login_path("/api-auth/login").build().unwrap();
    assert_eq!(moved.settings().login_path, "/api-auth/login");
}

#[test]
fn every_problem_is_reported_at_once_whatever_the_order() {
    let layer = || OtpAuthLayer::builder(demo_users(), tower_otp::notify::ConsoleNotifier::new());
    let settings: OtpSettings =
        toml::from_str("token_length = 4\nprotected_paths = [\"/admin/\"]").unwrap();
    let errors = layer()
        .with_username_field("password")
        .with_settings(settings.clone())
        .with_secret_key(b"too short")
        .build()
        .unwrap_err();
    assert_eq!(
        errors.keys(),
        ["token_length", "username_field", "secret_key"]
    );
    // The builder's values win over the settings', before or after them; lists add up.
    let fixed = {
        let mut s = settings;
        s.token_length = 6;
        s
    };
    let before = layer()
        .with_protected_path("/api/")
        .with_login_path("/signin/")
        .with_settings(fixed.clone())
        .build()
        .unwrap();
    let after = layer()
        .with_settings(fixed)
        .with_protected_path("/api/")
        .with_login_path("/signin/")
        .build()
        .unwrap();
    assert_eq!(before.settings(), after.settings());
    assert_eq!(before.settings().protected_paths, ["/admin/", "/api/"]);
    assert_eq!(before.settings().login_path, "/signin/");
}

/// `GET path` with each of `authorizations` as an `Authorization` header.
fn with_authorizations(path: &str, authorizations: &[&str]) -> Request<Body> {
    let mut builder = Request::get(path);
    for value in authorizations {
        builder = builder.header(header::AUTHORIZATION, *value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let mine = format!("Token {token}");
    for (path, headers) in [
        ("/api/me", vec![mine.as_str(), mine.as_str()]),
        ("/api/me", vec![mine.as_str(), "Token someone-elses"]),
        ("/whoami", vec!["Basic YWxpY2U6cHc=", mine.as_str()]),
        ("/whoami", vec!["Basic YWxpY2U6cHc=", "Basic Ym9iOnB3"]),
    ] {
        let reply = app.send(with_authorizations(path, &headers)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {headers:?}");
        assert_eq!(
            reply.text,
            r#"{"detail":"Only one Authorization header is allowed."}"#
        );
    }
    let once = app.send(with_authorizations("/api/me", &[&mine])).await;
    assert_eq!(once.status, StatusCode::OK);
}

#[tokio::test]
async fn endpoint_answers_are_never_cached() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let refused = app.login("alice", "wrong").await;
    app.clock.advance(Duration::from_secs(60));
    let resend = app
        .post_json(
            "/api-auth/resend-token/",
            json!({ "challenge": login.str("challenge") }),
        )
        .await;
    let verify = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    for (name, reply) in [
        ("login", &login),
        ("refused login", &refused),
        ("resend", &resend),
        ("verify", &verify),
    ] {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
        assert_eq!(reply.header("pragma"), Some("no-cache"), "{name}");
    }
    assert_eq!(verify.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_presented_token_whatever_the_body() {
    let app = TestApp::new();
    for (content_type, body) in [
        ("text/plain", "bye"),
        ("application/json", "{\"all\": tru"),
        ("application/octet-stream", "\u{0}\u{1}"),
    ] {
        let token = app.token_for("alice", PASSWORD).await;
        let reply = app
            .send(authorized(
                Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, content_type),
                &format!("Token {token}"),
                Body::from(body),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{content_type}");
        assert_eq!(
            app.get("/api/me", Some(&token)).await.status,
            StatusCode::UNAUTHORIZED,
            "{content_type}: revoked"
        );
    }
    // Only a readable body widens the logout to every token of the user.
    let (kept, used) = (
        app.token_for("alice", PASSWORD).await,
        app.token_for("alice", PASSWORD).await,
    );
    let reply = app
        .send(authorized(
            Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, "text/plain"),
            &format!("Token {used}"),
            Body::from(r#"{"all": true}"#),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", Some(&kept)).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_arrives_gets_408() {
    let app = TestApp::with(|layer| layer.with_body_read_timeout(Duration::from_secs(3)));
    // The first bytes, then nothing more: a slow client holding the request open.
    let first: Result<&str, std::io::Error> = Ok("{\"username\": \"al");
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::iter([first]),
        futures_util::stream::pending(),
    );
    let request = Request::post("/api-auth/login/")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "50")
        .body(Body::from_stream(stream))
        .unwrap();
    let started = tokio::time::Instant::now();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{}", reply.text);
    assert_eq!(
        reply.text,
        r#"{"detail":"The request body did not arrive within 3 seconds."}"#
    );
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_wiring_error_not_a_401() {
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_otp::AuthenticatedUser;
    let without_layer = axum::Router::new()
        .route(
            "/me",
            get(|user: AuthenticatedUser| async move { user.username }),
        )
        .route(
            "/maybe",
            get(|user: Option<AuthenticatedUser>| async move { format!("{user:?}") }),
        );
    for path in ["/me", "/maybe"] {
        let response = without_layer
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let reply = Reply::read(response).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(
            reply.text,
            r#"{"detail":"AuthenticatedUser needs OtpAuthLayer around this route."}"#
        );
    }
    // Through the layer, no token is "not logged in" (and `Option` says so).
    let app = TestApp::new();
    assert_eq!(
        app.get("/api/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/whoami", None).await.text, "anonymous");
}
