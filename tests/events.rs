//! Security events: the right ones, in order, and never a secret in them.

mod common;

use std::sync::{Arc, Mutex};

use common::app::*;
use http::StatusCode;
use tower_otp::{AuthEvent, CodeFailure, LoginFailure, OtpSettings};

fn recording_app() -> (TestApp, Arc<Mutex<Vec<AuthEvent>>>, tower_otp::OtpAuthLayer) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let app = TestApp::with(|layer| {
        layer
            .with_settings({
                let mut s = OtpSettings::default();
                s.lockout_threshold = 3;
                s
            })
            .with_protected_path("/api/")
            .with_event_hook(move |event| sink.lock().unwrap().push(event.clone()))
    });
    let layer = app.layer.clone();
    (with_peer(app), events, layer)
}

/// Requests from a known client, as a server that records the peer address sends them.
fn with_peer(mut app: TestApp) -> TestApp {
    let peer: std::net::SocketAddr = "192.0.2.1:40000".parse().unwrap();
    app.router = app.router.layer(tower::util::MapRequestLayer::new(
        move |mut request: http::Request<axum::body::Body>| {
            request.extensions_mut().insert(peer);
            request
        },
    ));
    app
}

fn names(events: &Mutex<Vec<AuthEvent>>) -> Vec<&'static str> {
    events.lock().unwrap().iter().map(AuthEvent::name).collect()
}

#[tokio::test]
async fn the_flow_reports_what_happened_without_secrets() {
    let (app, events, _) = recording_app();
    app.login("nobody", PASSWORD).await;
    app.login("bob", PASSWORD).await;
    app.login("alice", "wrong password").await;
    let login = app.login("alice", PASSWORD).await;
    let challenge = login.str("challenge").to_owned();
    let code = app.console.last_code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.verify(&challenge, wrong).await;
    let verify = app.verify(&challenge, &code).await;
    let token = verify.str("token").to_owned();
    app.verify(&challenge, &code).await;
    let logout = app.logout(&token).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);

    assert_eq!(
        names(&events),
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "code_sent",
            "code_failed",
            "login_succeeded",
            "code_replayed",
            "token_revoked",
        ]
    );
    let events = events.lock().unwrap();
    let reasons: Vec<LoginFailure> = events
        .iter()
        .filter_map(|e| match e {
            AuthEvent::LoginFailed { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            LoginFailure::UnknownUser,
            LoginFailure::InactiveUser,
            LoginFailure::WrongPassword
        ]
    );
    assert!(matches!(
        &events[4],
        AuthEvent::CodeFailed {
            reason: CodeFailure::Mismatch,
            ..
        }
    ));
    assert!(matches!(&events[5], AuthEvent::LoginSucceeded { user_id, .. } if user_id == "1"));
    let all = format!("{events:?}");
    for secret in [
        PASSWORD,
        "wrong password",
        code.as_str(),
        token.as_str(),
        challenge.as_str(),
    ] {
        assert!(!all.contains(secret), "an event carries a secret: {secret}");
    }
}

#[tokio::test]
async fn lockout_is_reported_once_and_locked_logins_say_so() {
    let (app, events, _) = recording_app();
    for _ in 0..3 {
        app.login("alice", "wrong password").await;
    }
    app.login("alice", PASSWORD).await;
    let names = names(&events);
    assert_eq!(
        names,
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "account_locked",
            "login_failed"
        ]
    );
    let events = events.lock().unwrap();
    assert!(matches!(
        events.last(),
        Some(AuthEvent::LoginFailed {
            reason: LoginFailure::Locked,
            ..
        })
    ));
}

#[tokio::test]
async fn revoking_all_tokens_through_the_api_takes_effect_on_the_next_request() {
    let (app, events, layer) = recording_app();
    let first = app.token_for("alice", PASSWORD).await;
    let second = app.token_for("alice", PASSWORD).await;
    assert_eq!(layer.revoke_all_tokens("1").await.unwrap(), 2);
    assert_eq!(
        app.get("/api/me", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/me", Some(&second)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        events.lock().unwrap().last(),
        Some(AuthEvent::TokenRevoked {
            all: true,
            client_ip: None,
            ..
        })
    ));
}

#[tokio::test]
async fn a_failing_backend_is_reported() {
    let (app, events, _) = recording_app();
    app.console.break_delivery();
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        names(&events),
        ["code_delivery_failed", "backend_unavailable"]
    );
    let events = events.lock().unwrap();
    let AuthEvent::BackendUnavailable { backend, error } = &events[1] else {
        panic!("{:?}", events[1]);
    };
    assert_eq!(*backend, tower_otp::Backend::Notifier);
    assert!(error.contains("console closed"), "{error}");
}

#[tokio::test]
async fn logins_without_a_client_ip_are_reported_once() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let app = TestApp::with(|layer| {
        layer.with_event_hook(move |event| sink.lock().unwrap().push(event.clone()))
    });
    app.login("alice", "wrong password").await;
    app.login("nobody", PASSWORD).await;
    assert_eq!(
        names(&events),
        ["client_ip_unknown", "login_failed", "login_failed"]
    );
    // With the peer address known, nothing to report.
    let (app, events, _) = recording_app();
    app.login("alice", "wrong password").await;
    assert_eq!(names(&events), ["login_failed"]);
}
