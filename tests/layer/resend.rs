//! Resending a code: cooldown, cap, unknown challenges; and for django-drf-otp 0.0.11's body,
//! which names a user.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use crate::common::app::*;
use crate::verify::SwitchableUsers;
use crate::INVALID_TOKEN;

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
    only_the_last_code_verifies(&app, challenge, &old_code).await;
}

/// `old_code` (if the new one differs) no longer verifies; the last code sent does.
async fn only_the_last_code_verifies(app: &TestApp, challenge: &str, old_code: &str) {
    let new_code = app.console.last_code();
    if new_code != old_code {
        assert_eq!(app.verify(challenge, old_code).await.text, INVALID_TOKEN);
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

const UNKNOWN_CHALLENGE: &str = r#"{"non_field_errors":["Invalid or expired challenge."]}"#;

/// `POST /api-auth/resend-token/` with django-drf-otp 0.0.11's body.
async fn resend_for(app: &TestApp, username: &str) -> Reply {
    app.post_json("/api-auth/resend-token/", json!({ "username": username }))
        .await
}

#[tokio::test]
async fn the_username_body_resends_for_the_pending_login() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let challenge = login.str("challenge");
    let old_code = app.console.last_code();

    let early = resend_for(&app, "alice").await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(early.header("retry-after"), Some("60"));
    app.clock.advance(Duration::from_secs(60));
    let resent = resend_for(&app, "alice").await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    // django-drf-otp's answer, plus `method`: the challenge id is not given to whoever knows a
    // username.
    assert_eq!(
        resent.json,
        json!({
            "detail": "OTP token sent successfully.",
            "method": "email",
            "otp_ttl": 300,
            "otp_created_date": "2027-01-15T08:01:00.000000+00:00",
        })
    );
    assert_eq!(app.console.codes().len(), 2);
    assert!(app.console.text().contains("to: alice@example.com"));
    // The same login: its cooldown starts again, whichever body asks.
    let again = app
        .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
        .await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    only_the_last_code_verifies(&app, challenge, &old_code).await;
    // Verified: nothing is pending any more.
    assert_eq!(resend_for(&app, "alice").await.text, UNKNOWN_CHALLENGE);
}

#[tokio::test]
async fn the_username_body_sends_at_most_max_sends_codes() {
    let app = TestApp::new();
    app.login("alice", PASSWORD).await;
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(60));
        assert_eq!(resend_for(&app, "alice").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::from_secs(60));
    let sixth = resend_for(&app, "alice").await;
    assert_eq!(sixth.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        sixth.text,
        r#"{"non_field_errors":["Too many codes were sent for this login. Log in again."]}"#
    );
    assert_eq!(app.console.codes().len(), 5);
}

#[tokio::test]
async fn unknown_inactive_and_idle_users_get_one_answer() {
    let app = TestApp::new();
    // bob is inactive; spacey is active with no pending login; zoë's login has ended.
    app.login("zoë", PASSWORD).await;
    app.clock.advance(Duration::from_secs(600));
    let sent = app.console.codes().len();
    let replies = [
        resend_for(&app, "nobody").await,
        resend_for(&app, "bob").await,
        resend_for(&app, "spacey").await,
        resend_for(&app, "zoë").await,
    ];
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.text, UNKNOWN_CHALLENGE);
        assert_eq!(reply.headers, replies[0].headers);
    }
    assert_eq!(app.console.codes().len(), sent, "nothing sent");
}

#[tokio::test]
async fn a_user_deactivated_since_the_login_is_refused_alike() {
    let active = Arc::new(AtomicBool::new(true));
    let users = SwitchableUsers {
        users: demo_users(),
        active: active.clone(),
    };
    let app = TestApp::of(users, |layer| layer);
    app.login("alice", PASSWORD).await;
    app.clock.advance(Duration::from_secs(60));
    active.store(false, Ordering::SeqCst);
    assert_eq!(resend_for(&app, "alice").await.text, UNKNOWN_CHALLENGE);
    assert_eq!(app.console.codes().len(), 1, "nothing sent");
}

#[tokio::test]
async fn the_username_body_of_an_app_login_is_told_so() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    app.enroll(&token).await;
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.str("method"), "totp");
    app.clock.advance(Duration::from_secs(60));
    let sent = app.console.codes().len();
    let resend = resend_for(&app, "alice").await;
    assert_eq!(resend.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resend.text,
        r#"{"detail":"This login uses an authenticator app."}"#
    );
    assert_eq!(app.console.codes().len(), sent, "nothing sent");
}

#[tokio::test]
async fn the_username_body_reads_like_drfs() {
    let app = TestApp::with(|layer| layer.with_username_field("email"));
    app.post_json(
        "/api-auth/login/",
        json!({ "email": "alice", "password": PASSWORD }),
    )
    .await;
    app.clock.advance(Duration::from_secs(60));
    let resent = app
        .post_json("/api-auth/resend-token/", json!({ "email": " alice " }))
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    let blank = app
        .post_json("/api-auth/resend-token/", json!({ "email": "" }))
        .await;
    assert_eq!(blank.text, r#"{"email":["This field may not be blank."]}"#);
    // Without the username field, this layer's own body is asked for.
    let other = app
        .post_json("/api-auth/resend-token/", json!({ "username": "alice" }))
        .await;
    assert_eq!(other.text, r#"{"challenge":["This field is required."]}"#);
}

#[tokio::test]
async fn the_username_body_counts_against_the_clients_login_limit() {
    let app = TestApp::with(|layer| {
        let mut settings = tower_otp::OtpSettings::default();
        settings.login_rate_limit = 3;
        layer.with_settings(settings)
    });
    let from = |body: serde_json::Value| {
        let mut request = json_request("/api-auth/resend-token/", &body);
        request
            .extensions_mut()
            .insert("198.51.100.7:4000".parse::<std::net::SocketAddr>().unwrap());
        request
    };
    let mut statuses = Vec::new();
    for name in ["nobody", "alice", "zoë", "bob"] {
        statuses.push(
            app.send(from(json!({ "username": name })))
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [400, 400, 400, 429],
        "probing usernames is a login attempt"
    );
}

#[tokio::test]
async fn the_username_body_skips_the_success_hook_and_can_be_switched_off() {
    let app = TestApp::with(|layer| {
        layer.with_success_body(|_, user, body| {
            body.insert("email".into(), user.email.clone().into());
        })
    });
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(
        login.str("email"),
        "alice@example.com",
        "the hook runs on logins"
    );
    app.clock.advance(Duration::from_secs(60));
    let resent = resend_for(&app, "alice").await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    assert!(resent.json.get("email").is_none(), "{}", resent.text);

    let strict = TestApp::with(|layer| {
        let mut settings = tower_otp::OtpSettings::default();
        settings.resend_by_username = false;
        layer.with_settings(settings)
    });
    strict.login("alice", PASSWORD).await;
    let refused = resend_for(&strict, "alice").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.text, r#"{"challenge":["This field is required."]}"#);
}
