//! Resending a code: cooldown, cap, unknown challenges.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use crate::common::app::*;
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
