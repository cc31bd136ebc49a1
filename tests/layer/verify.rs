//! The code step: single use, expiry, attempts, lockout, concurrency, django-drf-otp's body.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use crate::common::app::*;
use crate::{INVALID_CREDENTIALS, INVALID_TOKEN};

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

/// Users whose `is_active` can be switched off while the layer runs.
#[derive(Clone)]
pub(crate) struct SwitchableUsers {
    pub(crate) users: tower_otp::MemoryUserStore,
    pub(crate) active: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
    let app = TestApp::of(users, |layer| layer);
    let login = app.login("alice", PASSWORD).await;
    active.store(false, std::sync::atomic::Ordering::SeqCst);
    let verify = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    assert_eq!(verify.status, StatusCode::BAD_REQUEST);
    assert_eq!(verify.text, INVALID_TOKEN);
}
