//! The `metrics` feature with a real Prometheus recorder (`metrics-exporter-prometheus`): a
//! whole login flow, refusals, a 429, a lockout and a failed delivery move each counter by
//! exactly what happened, scraped as Prometheus text from `GET /metrics`.
//!
//! A process has one global recorder: this file is its own test binary, with one test.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use axum::routing::get;
use common::app::{routes, TestApp, PASSWORD};
use common::authenticator::app_code;
use http::StatusCode;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::{json, Value};
use tower_otp::{Clock, OtpSettings};

/// Every sample of a Prometheus text scrape: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let reply = app.get("/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    samples(&reply.text)
}

#[tokio::test]
async fn each_counter_moves_by_what_happened() {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this process");
    tower_otp::metrics::describe();
    let mut app = TestApp::with(|layer| {
        let mut settings = OtpSettings::default();
        settings.lockout_threshold = 2;
        layer.with_settings(settings)
    });
    app.router = routes()
        .route("/metrics", get(move || async move { handle.render() }))
        .layer(app.layer.clone());
    // The layer's build queues a password job (the dummy hash): let it start before counting.
    let warm_up = app.login("nobody", PASSWORD).await;
    assert_eq!(warm_up.status, StatusCode::BAD_REQUEST);
    let before = scrape(&app).await;

    // Log in, a wrong code, a resend too soon, the right code, the same code again.
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let challenge = login.str("challenge").to_owned();
    let code = app.console.last_code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        app.verify(&challenge, wrong).await.status,
        StatusCode::BAD_REQUEST
    );
    let resend = app
        .post_json("/api-auth/resend-token/", json!({ "challenge": challenge }))
        .await;
    assert_eq!(resend.status, StatusCode::TOO_MANY_REQUESTS);
    let verified = app.verify(&challenge, &code).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text);
    let token = verified.str("token").to_owned();
    assert_eq!(
        app.verify(&challenge, &code).await.status,
        StatusCode::BAD_REQUEST
    );

    // A protected request with the token, without one, with a malformed one; log out; again.
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/me", Some("not-a-token")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.logout(&token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Two wrong passwords lock zoë; the next login is refused unseen.
    for _ in 0..3 {
        assert_eq!(
            app.login("zoë", "wrong").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    // A code that cannot be delivered.
    app.console.break_delivery();
    assert_eq!(
        app.login("alice", PASSWORD).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let after = scrape(&app).await;
    let expected = [
        (r#"tower_otp_logins_total{outcome="code_sent"}"#, 1.0),
        (
            r#"tower_otp_logins_total{outcome="invalid_credentials"}"#,
            3.0,
        ),
        (r#"tower_otp_logins_total{outcome="unavailable"}"#, 1.0),
        (r#"tower_otp_verifies_total{outcome="wrong_code"}"#, 2.0),
        (r#"tower_otp_verifies_total{outcome="signed_in"}"#, 1.0),
        (r#"tower_otp_resends_total{outcome="throttled"}"#, 1.0),
        (r#"tower_otp_logouts_total{outcome="logged_out"}"#, 1.0),
        (r#"tower_otp_token_checks_total{outcome="valid"}"#, 1.0),
        (r#"tower_otp_token_checks_total{outcome="missing"}"#, 1.0),
        (r#"tower_otp_token_checks_total{outcome="invalid"}"#, 2.0),
        (r#"tower_otp_codes_sent_total{method="email"}"#, 1.0),
        (
            r#"tower_otp_code_delivery_failures_total{method="email"}"#,
            1.0,
        ),
        ("tower_otp_lockouts_total", 1.0),
        (r#"tower_otp_throttled_total{endpoint="resend"}"#, 1.0),
        ("tower_otp_replays_refused_total", 1.0),
        (
            r#"tower_otp_backend_failures_total{backend="notifier"}"#,
            1.0,
        ),
        // Three verifies; three token look-ups (the valid one, the logout's, the revoked one).
        (
            r#"tower_otp_store_operation_duration_seconds_count{operation="verify_challenge"}"#,
            3.0,
        ),
        (
            r#"tower_otp_store_operation_duration_seconds_count{operation="authenticate_token"}"#,
            3.0,
        ),
        (
            r#"tower_otp_store_operation_duration_seconds_count{operation="revoke_token"}"#,
            1.0,
        ),
        // Five logins, each one password check (the locked one a dummy check).
        ("tower_otp_password_queue_wait_seconds_count", 5.0),
    ];
    assert_moved(&before, &after, &expected);

    // An authenticator app: set up, a wrong and the right first code, a login whose code is
    // that (spent) step, a login with a recovery code, new recovery codes asked with a wrong code.
    app.console.repair_delivery();
    let before = after;
    let token = app.token_for("alice", PASSWORD).await;
    let setup = app
        .post_authorized("/api-auth/totp/setup/", &token, Value::Null)
        .await;
    let secret = setup.str("secret").to_owned();
    let code = app_code(&secret, app.clock.now());
    let wrong = json!({ "token": if code == "000000" { "111111" } else { "000000" } });
    let confirm = |body| app.post_authorized("/api-auth/totp/confirm/", &token, body);
    assert_eq!(confirm(wrong.clone()).await.status, StatusCode::BAD_REQUEST);
    let confirmed = confirm(json!({ "token": code })).await;
    assert_eq!(confirmed.status, StatusCode::OK);
    let recovery = confirmed.json["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let replayed = app.login("alice", PASSWORD).await;
    let replay = app.verify(replayed.str("challenge"), &code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    let recovering = app.login("alice", PASSWORD).await;
    let recovered = app.verify(recovering.str("challenge"), &recovery).await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", recovered.text);
    let renewal = app
        .post_authorized("/api-auth/recovery-codes/", &token, wrong)
        .await;
    assert_eq!(renewal.status, StatusCode::BAD_REQUEST);
    let after = scrape(&app).await;
    let expected = [
        (r#"tower_otp_logins_total{outcome="code_sent"}"#, 1.0),
        (r#"tower_otp_logins_total{outcome="app_challenge"}"#, 2.0),
        (r#"tower_otp_verifies_total{outcome="signed_in"}"#, 2.0),
        (r#"tower_otp_verifies_total{outcome="wrong_code"}"#, 1.0),
        (r#"tower_otp_codes_sent_total{method="email"}"#, 1.0),
        (
            r#"tower_otp_authenticator_changes_total{action="setup",outcome="done"}"#,
            1.0,
        ),
        (
            r#"tower_otp_authenticator_changes_total{action="confirm",outcome="wrong_code"}"#,
            1.0,
        ),
        (
            r#"tower_otp_authenticator_changes_total{action="confirm",outcome="done"}"#,
            1.0,
        ),
        (
            r#"tower_otp_authenticator_changes_total{action="recovery_codes",outcome="wrong_code"}"#,
            1.0,
        ),
        ("tower_otp_recovery_codes_used_total", 1.0),
        ("tower_otp_replays_refused_total", 1.0),
    ];
    assert_moved(&before, &after, &expected);

    // Help texts, and no series names a user, a token or an address.
    let text = app.get("/metrics", None).await.text;
    assert!(text.contains("# HELP tower_otp_logins_total Password steps (login) by outcome."));
    for secret in ["alice", "zoë", &token, &challenge, "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret} in the scrape");
    }
}

/// Each series of `expected` moved by its amount between the scrapes, and no other counter
/// moved: no outcome went uncounted or was counted twice.
fn assert_moved(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    expected: &[(&str, f64)],
) {
    let moved = |series: &str| {
        after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
    };
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(series, amount)| moved(series) != *amount)
        .map(|(series, amount)| format!("{series}: moved {}, expected {amount}", moved(series)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}\nscrape:\n{after:#?}");
    let counters_moved: Vec<&String> = after
        .keys()
        .filter(|series| series.contains("_total") && moved(series) != 0.0)
        .filter(|series| !expected.iter().any(|(e, _)| e == series))
        .collect();
    assert!(counters_moved.is_empty(), "unexpected: {counters_moved:?}");
}
