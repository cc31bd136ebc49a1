//! The password step: one answer for every refusal, lockout by account, limits by client, the
//! codes it sends, OTP switched off, bodies and usernames as DRF reads them.

use std::time::Duration;

use axum::body::Body;
use http::{header, Request, StatusCode};
use serde_json::json;

use crate::common::app::*;
use crate::{INVALID_CREDENTIALS, INVALID_TOKEN};

#[tokio::test]
async fn login_sends_a_code_and_answers_a_challenge() {
    let app = TestApp::new();
    let reply = app.login("alice", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json.as_object().unwrap();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "challenge",
            "detail",
            "method",
            "otp_created_date",
            "otp_ttl"
        ]
    );
    assert_eq!(reply.str("detail"), "OTP token sent successfully.");
    assert_eq!(reply.str("method"), "email");
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

/// A Django project's user, with the hash its `auth_user.password` column holds.
#[tokio::test]
async fn a_user_with_a_django_password_hash_logs_in_unchanged() {
    // Made by Django 5.2.19's PBKDF2PasswordHasher (its default) from `PASSWORD`, with 1000
    // iterations rather than its 1,000,000 to keep the test quick.
    const DJANGO_HASH: &str =
        "pbkdf2_sha256$1000$s4ltS4LTsalt$yR+00xrHeJAk57EpkxZsmmX2l9ETxde3SllYYFfA8ko=";
    let users = tower_otp::MemoryUserStore::new([tower_otp::User {
        id: "7".into(),
        username: "django".into(),
        email: "django@example.com".into(),
        first_name: "Django".into(),
        last_name: "Reinhardt".into(),
        is_active: true,
        password_hash: DJANGO_HASH.into(),
    }]);
    let app = TestApp::of(users, |layer| layer);
    let console = &app.console;

    let wrong = app.login("django", "correct horse battery stapler").await;
    assert_eq!(wrong.text, INVALID_CREDENTIALS);
    assert!(console.codes().is_empty());

    let token = app.token_for("django", PASSWORD).await;
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.json, json!({ "id": "7", "username": "django" }));

    // django-drf-otp 0.0.11's verify body checks the password again, against the same hash.
    app.login("django", PASSWORD).await;
    let verify = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "username": "django", "password": PASSWORD, "token": console.last_code() }),
        )
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
}
