//! Authenticator apps and recovery codes: the endpoints' wire contract, logins of enrolled
//! users, single use of time steps and recovery codes, and changing factors with a factor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value};
use tower_otp::second_factor::{
    MemorySecondFactorStore, SecondFactorStore, SecondFactorStoreError,
};
use tower_otp::{AuthEvent, Clock};

use crate::common::app::*;
use crate::common::authenticator::*;
use crate::INVALID_TOKEN;

const STEP: Duration = Duration::from_secs(30);

fn app_with_events() -> (TestApp, Arc<Mutex<Vec<AuthEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let app = TestApp::with(|layer| {
        layer.with_event_hook(move |event| sink.lock().unwrap().push(event.clone()))
    });
    (app, events)
}

fn names(events: &Mutex<Vec<AuthEvent>>) -> Vec<&'static str> {
    events.lock().unwrap().iter().map(AuthEvent::name).collect()
}

/// Logs alice in; asserts the login waits for her app.
async fn app_login(app: &TestApp) -> String {
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(login.str("method"), "totp");
    login.str("challenge").to_owned()
}

#[tokio::test]
async fn setup_hands_out_a_secret_its_url_and_a_qr_code() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let setup = app
        .post_authorized("/api-auth/totp/setup/", &token, Value::Null)
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.text);
    assert_eq!(setup.header("cache-control"), Some("no-store"));
    let secret = setup.str("secret");
    assert_eq!(secret.len(), 32, "160 bits in base32, no padding");
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    assert_eq!(
        setup.str("otpauth_url"),
        format!(
            "otpauth://totp/tower-otp:alice?secret={secret}&issuer=tower-otp\
             &algorithm=SHA1&digits=6&period=30"
        )
    );
    assert!(
        setup.str("qr_svg").contains("<svg"),
        "{}",
        setup.str("qr_svg")
    );
    // Calling again replaces the pending setup: the first secret's code no longer confirms.
    let again = app
        .post_authorized("/api-auth/totp/setup/", &token, Value::Null)
        .await;
    assert_ne!(again.str("secret"), secret);
    let stale = app_code(secret, app.clock.now());
    let confirm = app
        .post_authorized("/api-auth/totp/confirm/", &token, json!({ "token": stale }))
        .await;
    assert_eq!(confirm.status, StatusCode::BAD_REQUEST);
    assert_eq!(confirm.text, INVALID_TOKEN);
}

#[tokio::test]
async fn an_enrolled_user_logs_in_with_the_apps_code_and_nothing_is_sent() {
    let (app, events) = app_with_events();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    assert_eq!(enrolled.recovery_codes.len(), 10);
    for code in &enrolled.recovery_codes {
        let (left, right) = code.split_once('-').unwrap();
        assert_eq!((left.len(), right.len()), (5, 5), "{code}");
    }
    let sent = app.console.codes().len();

    app.clock.advance(STEP);
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(
        login.str("detail"),
        "Enter the code from your authenticator app."
    );
    assert_eq!(login.str("method"), "totp");
    assert!(login.json["otp_ttl"].as_u64().unwrap() > 0);
    assert_eq!(app.console.codes().len(), sent, "nothing is sent");
    let verify = app
        .verify(login.str("challenge"), &enrolled.code(&app))
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    let me = app.get("/api/me", Some(verify.str("token"))).await;
    assert_eq!(me.json["username"], "alice");
    let names = names(&events);
    for name in ["authenticator_setup_started", "authenticator_enrolled"] {
        assert!(names.contains(&name), "{names:?}");
    }
    // Another user still gets an e-mail.
    let other = app.login("zoë", PASSWORD).await;
    assert_eq!(other.str("method"), "email");
    assert_eq!(app.console.codes().len(), sent + 1);
}

#[tokio::test]
async fn a_time_step_is_accepted_once_even_the_confirming_one() {
    let (app, events) = app_with_events();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    // The code that confirmed the enrollment is spent.
    let challenge = app_login(&app).await;
    let verify = app.verify(&challenge, &enrolled.code(&app)).await;
    assert_eq!(verify.status, StatusCode::BAD_REQUEST);
    assert_eq!(verify.text, INVALID_TOKEN);
    assert!(names(&events).contains(&"time_step_replayed"));
    // The next step's code logs in, once.
    app.clock.advance(STEP);
    let code = enrolled.code(&app);
    assert_eq!(app.verify(&challenge, &code).await.status, StatusCode::OK);
    let challenge = app_login(&app).await;
    let replay = app.verify(&challenge, &code).await;
    assert_eq!(replay.text, INVALID_TOKEN, "a replay on another login");
}

#[tokio::test]
async fn one_step_either_side_is_accepted_two_are_not() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    app.clock.advance(STEP * 10);
    let now = app.clock.now();
    let code_at = |steps_ahead: i32| {
        let at = if steps_ahead >= 0 {
            now + STEP * steps_ahead.unsigned_abs()
        } else {
            now - STEP * steps_ahead.unsigned_abs()
        };
        app_code(&enrolled.secret, at)
    };
    let challenge = app_login(&app).await;
    for refused in [-2, 2] {
        let verify = app.verify(&challenge, &code_at(refused)).await;
        assert_eq!(verify.text, INVALID_TOKEN, "{refused} steps");
    }
    // Steps only move forward: the earlier step first, then the later one.
    for accepted in [-1, 1] {
        let challenge = app_login(&app).await;
        let verify = app.verify(&challenge, &code_at(accepted)).await;
        assert_eq!(
            verify.status,
            StatusCode::OK,
            "{accepted} steps: {}",
            verify.text
        );
    }
}

#[tokio::test]
async fn a_recovery_code_logs_in_once_whatever_its_case_spaces_and_dashes() {
    let (app, events) = app_with_events();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    let code = &enrolled.recovery_codes[0];
    let typed = format!(" {} ", code.replace('-', "").to_uppercase());
    let challenge = app_login(&app).await;
    let verify = app.verify(&challenge, &typed).await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    let remaining = events.lock().unwrap().iter().find_map(|event| match event {
        AuthEvent::RecoveryCodeUsed { remaining, .. } => Some(*remaining),
        _ => None,
    });
    assert_eq!(remaining, Some(9));
    let challenge = app_login(&app).await;
    assert_eq!(
        app.verify(&challenge, code).await.text,
        INVALID_TOKEN,
        "spent"
    );
    let other = &enrolled.recovery_codes[1];
    assert_eq!(app.verify(&challenge, other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_app_login_has_nothing_to_resend() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    app.enroll(&token).await;
    let challenge = app_login(&app).await;
    let resend = app
        .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
        .await;
    assert_eq!(resend.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resend.text,
        r#"{"detail":"This login uses an authenticator app."}"#
    );
}

#[tokio::test]
async fn the_compatible_verify_body_takes_the_apps_code() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    app.clock.advance(STEP);
    app_login(&app).await;
    let verify = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "username": "alice", "password": PASSWORD, "token": enrolled.code(&app) }),
        )
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
}

#[tokio::test]
async fn disabling_takes_a_current_code_and_brings_back_email() {
    let (app, events) = app_with_events();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    let disable = |body: Value| app.post_authorized("/api-auth/totp/disable/", &token, body);
    let wrong = disable(json!({ "token": "000000" })).await;
    assert_eq!(
        (wrong.status, wrong.text.as_str()),
        (StatusCode::BAD_REQUEST, INVALID_TOKEN)
    );
    let missing = disable(json!({})).await;
    assert_eq!(missing.text, r#"{"token":["This field is required."]}"#);
    app.clock.advance(STEP);
    let done = disable(json!({ "token": enrolled.code(&app) })).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
    assert!(names(&events).contains(&"authenticator_disabled"));
    assert_eq!(app.login("alice", PASSWORD).await.str("method"), "email");
    let again = disable(json!({ "token": enrolled.recovery_codes[0] })).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again.text,
        r#"{"detail":"No authenticator app is enrolled."}"#
    );
}

#[tokio::test]
async fn a_recovery_code_can_disable_a_lost_app() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    let done = app
        .post_authorized(
            "/api-auth/totp/disable/",
            &token,
            json!({ "token": enrolled.recovery_codes[4] }),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_set() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    let renew = |code: &str| {
        app.post_authorized(
            "/api-auth/recovery-codes/",
            &token,
            json!({ "token": code }),
        )
    };
    let by_recovery = renew(&enrolled.recovery_codes[0]).await;
    assert_eq!(by_recovery.text, INVALID_TOKEN, "it takes an app code");
    app.clock.advance(STEP);
    let renewed = renew(&enrolled.code(&app)).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    let fresh: Vec<&str> = renewed.json["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(fresh.len(), 10);
    let challenge = app_login(&app).await;
    let old = app.verify(&challenge, &enrolled.recovery_codes[1]).await;
    assert_eq!(old.text, INVALID_TOKEN, "the old set died");
    assert_eq!(
        app.verify(&challenge, fresh[0]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_endpoints_refuse_what_they_cannot_do() {
    let app = TestApp::new();
    let no_token = app.post_json("/api-auth/totp/setup/", json!({})).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    let token = app.token_for("alice", PASSWORD).await;
    let no_setup = app
        .post_authorized(
            "/api-auth/totp/confirm/",
            &token,
            json!({ "token": "123456" }),
        )
        .await;
    assert_eq!(no_setup.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_setup.text,
        r#"{"detail":"No authenticator app setup is pending. Start one first."}"#
    );
    let not_enrolled = app
        .post_authorized(
            "/api-auth/recovery-codes/",
            &token,
            json!({ "token": "123456" }),
        )
        .await;
    assert_eq!(
        not_enrolled.text,
        r#"{"detail":"No authenticator app is enrolled."}"#
    );
    let get = app.get("/api-auth/totp/setup/", Some(&token)).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    app.enroll(&token).await;
    let twice = app
        .post_authorized("/api-auth/totp/setup/", &token, Value::Null)
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(
        twice.text,
        r#"{"detail":"An authenticator app is already enrolled. Disable it first."}"#
    );
}

#[tokio::test]
async fn five_wrong_codes_end_a_pending_setup() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let setup = app
        .post_authorized("/api-auth/totp/setup/", &token, Value::Null)
        .await;
    let right = app_code(setup.str("secret"), app.clock.now());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let confirm = |code: &str| {
        app.post_authorized("/api-auth/totp/confirm/", &token, json!({ "token": code }))
    };
    for _ in 0..5 {
        assert_eq!(confirm(wrong).await.text, INVALID_TOKEN);
    }
    let after = confirm(&right).await;
    assert_eq!(after.status, StatusCode::BAD_REQUEST);
    assert!(
        after.text.contains("No authenticator app setup is pending"),
        "{}",
        after.text
    );
}

#[tokio::test]
async fn secrets_at_rest_are_sealed_and_rotated_keys_still_open_them() {
    let factors = MemorySecondFactorStore::new();
    let old_key = [1u8; 32];
    let with_key = |key: [u8; 32], retired: Option<[u8; 32]>| {
        let factors = factors.clone();
        TestApp::with(move |layer| {
            let layer = layer
                .with_secret_key(&key)
                .with_second_factor_store(factors);
            match retired {
                Some(retired) => layer.with_retired_secret_key(&retired),
                None => layer,
            }
        })
    };
    let before = with_key(old_key, None);
    let token = before.token_for("alice", PASSWORD).await;
    let enrolled = before.enroll(&token).await;
    let stored = factors.enrollment("1").await.unwrap().unwrap();
    let kept = format!("{stored:?} {}", stored.secret.as_str());
    assert!(
        !kept.contains(&enrolled.secret),
        "the secret is sealed: {kept}"
    );
    let raw = totp_rs::Secret::try_from_base32(&enrolled.secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    assert!(!kept.contains(&format!("{raw:?}")));

    // A new key alone cannot open it: fail closed.
    let new_key = [2u8; 32];
    let stranger = with_key(new_key, None);
    let challenge = app_login(&stranger).await;
    let verify = stranger
        .verify(
            &challenge,
            &app_code(&enrolled.secret, stranger.clock.now() + STEP),
        )
        .await;
    assert_eq!(
        verify.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        verify.text
    );
    // With the old key retired, its secrets and recovery codes still work.
    let after = with_key(new_key, Some(old_key));
    after.clock.advance(STEP);
    let challenge = app_login(&after).await;
    assert_eq!(
        after
            .verify(&challenge, &enrolled.code(&after))
            .await
            .status,
        StatusCode::OK
    );
    let challenge = app_login(&after).await;
    let recovery = after.verify(&challenge, &enrolled.recovery_codes[2]).await;
    assert_eq!(recovery.status, StatusCode::OK, "{}", recovery.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_code_wins_once_across_two_instances_sharing_memory() {
    let (clock, console) = (
        tower_otp::ManualClock::new(start_time()),
        Console::default(),
    );
    let (store, factors) = (
        tower_otp::store::MemoryStore::new(),
        MemorySecondFactorStore::new(),
    );
    let instance = || {
        let layer = test_layer(&clock, &console, &store)
            .with_settings(race_settings())
            .with_secret_key(&[9u8; 32])
            .with_second_factor_store(factors.clone())
            .build()
            .unwrap();
        TestApp::around(layer, &clock, &console, &store)
    };
    let (a, b) = (instance(), instance());
    a_code_wins_once_across_two_instances(&a, &b).await;
}

/// A second-factor store whose database is unreachable.
struct Unreachable;

impl SecondFactorStore for Unreachable {
    async fn enrollment(
        &self,
        _: &str,
    ) -> Result<Option<tower_otp::second_factor::Enrollment>, SecondFactorStoreError> {
        Err(down())
    }
    async fn enroll(
        &self,
        _: &str,
        _: &tower_otp::second_factor::Enrollment,
    ) -> Result<bool, SecondFactorStoreError> {
        Err(down())
    }
    async fn remove_enrollment(&self, _: &str) -> Result<bool, SecondFactorStoreError> {
        Err(down())
    }
    async fn replace_recovery_codes(
        &self,
        _: &str,
        _: &tower_otp::second_factor::RecoveryCodes,
    ) -> Result<bool, SecondFactorStoreError> {
        Err(down())
    }
    async fn use_recovery_code(
        &self,
        _: &str,
        _: &tower_otp::store::DigestBytes,
    ) -> Result<Option<usize>, SecondFactorStoreError> {
        Err(down())
    }
}

fn down() -> SecondFactorStoreError {
    SecondFactorStoreError::Unavailable("connection refused".into())
}

#[tokio::test]
async fn a_failing_second_factor_store_fails_closed() {
    let app = TestApp::with(|layer| {
        layer
            .with_second_factor_store(Unreachable)
            .with_secret_key(&[4u8; 32])
    });
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        login.text
    );
    assert!(login.json.get("token").is_none() && login.json.get("challenge").is_none());
    let verify = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "username": "alice", "password": PASSWORD, "token": "123456" }),
        )
        .await;
    assert_eq!(verify.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn wrong_app_codes_use_up_the_login_like_wrong_emailed_codes() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    app.clock.advance(STEP);
    let right = enrolled.code(&app);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let challenge = app_login(&app).await;
    for _ in 0..5 {
        assert_eq!(app.verify(&challenge, wrong).await.text, INVALID_TOKEN);
    }
    let late = app.verify(&challenge, &right).await;
    assert_eq!(
        late.text, INVALID_TOKEN,
        "five attempts per login, then it is dead"
    );
    // The next login takes the (still unspent) code.
    let challenge = app_login(&app).await;
    assert_eq!(app.verify(&challenge, &right).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_app_challenge_is_only_what_it_was_issued_as() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    app.clock.advance(STEP);
    let challenge = app_login(&app).await;
    let stripped = challenge
        .strip_suffix(".totp")
        .expect("an app challenge says so");
    let forged = app.verify(stripped, &enrolled.code(&app)).await;
    assert_eq!(forged.text, INVALID_TOKEN);
    // Removed between the login and the verify: the pending login accepts no code.
    let removed = app
        .post_authorized(
            "/api-auth/totp/disable/",
            &token,
            json!({ "token": enrolled.recovery_codes[0] }),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    app.clock.advance(STEP);
    let late = app.verify(&challenge, &enrolled.code(&app)).await;
    assert_eq!(late.text, INVALID_TOKEN);
}

#[tokio::test]
async fn changing_factors_is_limited_per_account_even_with_the_lockout_off() {
    let app = TestApp::with(|layer| {
        let mut settings = tower_otp::OtpSettings::default();
        settings.lockout_threshold = 0;
        layer.with_settings(settings)
    });
    let token = app.token_for("alice", PASSWORD).await;
    app.enroll(&token).await;
    for _ in 0..5 {
        let guess = app
            .post_authorized(
                "/api-auth/recovery-codes/",
                &token,
                json!({ "token": "000000" }),
            )
            .await;
        assert_eq!(guess.status, StatusCode::BAD_REQUEST);
    }
    let sixth = app
        .post_authorized(
            "/api-auth/totp/disable/",
            &token,
            json!({ "token": "000000" }),
        )
        .await;
    assert_eq!(
        sixth.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        sixth.text
    );
    assert!(sixth.header("retry-after").is_some());
}

#[tokio::test]
async fn the_endpoints_read_bodies_like_the_others() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let plain = http::Request::post("/api-auth/totp/setup/").header("content-type", "text/plain");
    let wrong_type = app
        .send(authorized(plain, &format!("Token {token}"), "hello".into()))
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({ "token": "1".repeat(20_000) });
    let too_large = app
        .post_authorized("/api-auth/totp/confirm/", &token, huge)
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    let bad_json =
        http::Request::post("/api-auth/recovery-codes/").header("content-type", "application/json");
    let malformed = app
        .send(authorized(bad_json, &format!("Token {token}"), "{".into()))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.str("detail").starts_with("JSON parse error"),
        "{}",
        malformed.text
    );
}

#[tokio::test]
async fn in_cookie_mode_a_cross_site_setup_is_refused() {
    let app = TestApp::with(|layer| {
        let mut settings = tower_otp::OtpSettings::default();
        settings.token_transport = tower_otp::TokenTransport::Both;
        layer.with_settings(settings)
    });
    let token = app.token_for("alice", PASSWORD).await;
    let forged = http::Request::post("/api-auth/totp/setup/")
        .header("cookie", format!("otp_token={token}"))
        .header("origin", "https://evil.example")
        .body(axum::body::Body::empty())
        .unwrap();
    let refused = app.send(forged).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.text, r#"{"detail":"CSRF check failed."}"#);
}

#[test]
fn a_durable_second_factor_store_needs_a_secret_key() {
    let console = Console::default();
    let build = |key: Option<&[u8]>| {
        let clock = tower_otp::ManualClock::new(start_time());
        let layer = test_layer(&clock, &console, &tower_otp::store::MemoryStore::new())
            .with_second_factor_store(Unreachable);
        match key {
            Some(key) => layer.with_secret_key(key),
            None => layer,
        }
        .build()
    };
    let refused = build(None).unwrap_err();
    assert_eq!(refused.keys(), ["secret_key"]);
    assert!(refused.to_string().contains("restart"), "{refused}");
    assert!(build(Some(&[4u8; 32])).is_ok());
}
