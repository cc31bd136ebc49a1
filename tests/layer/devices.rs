//! "Remember this device": a verify that asks for it sets a device cookie, with which (and the
//! right password) later logins of the same account skip the code step, until the device
//! expires or is revoked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{json, Value};
use tower_otp::{AuthEvent, OtpSettings, TokenTransport};

use crate::common::app::*;

fn app_with_events(transport: TokenTransport) -> (TestApp, Arc<Mutex<Vec<AuthEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let app = TestApp::with(|layer| {
        let mut settings = OtpSettings::default();
        settings.token_transport = transport;
        layer
            .with_settings(settings)
            .with_event_hook(move |event| sink.lock().unwrap().push(event.clone()))
    });
    (app, events)
}

fn event_names(events: &Mutex<Vec<AuthEvent>>) -> Vec<&'static str> {
    events.lock().unwrap().iter().map(AuthEvent::name).collect()
}

fn post(path: &str, body: Value, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::post(path).header("content-type", "application/json");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

async fn login(app: &TestApp, username: &str, device: Option<&str>) -> Reply {
    app.send(post(
        "/api-auth/login/",
        json!({ "username": username, "password": PASSWORD }),
        device,
    ))
    .await
}

/// Signs `username` in with a code, asking to be remembered: the verify answer.
async fn verify_remembering(app: &TestApp, username: &str) -> Reply {
    let login = login(app, username, None).await;
    let verify = app
        .send(post(
            "/api-auth/verify-token/",
            json!({
                "challenge": login.str("challenge"),
                "token": app.console.last_code(),
                "remember_device": true,
            }),
            None,
        ))
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    verify
}

/// Signs `username` in with a code, asking to be remembered: the device cookie's `name=value`.
async fn remembered_device(app: &TestApp, username: &str) -> String {
    let verify = verify_remembering(app, username).await;
    let device = verify
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("otp_device="))
        .unwrap_or_else(|| panic!("no device cookie in {:?}", verify.headers))
        .to_owned();
    for part in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Max-Age=2592000",
        "Path=/api-auth/login;",
    ] {
        assert!(device.contains(part), "{part} in {device}");
    }
    device.split(';').next().unwrap().to_owned()
}

/// Whether a successful login went to the code step (rather than signing in at once).
fn asked_for_a_code(reply: &Reply) -> bool {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["challenge"].is_string()
}

#[tokio::test]
async fn a_remembered_device_skips_the_code_step_with_the_right_password() {
    let (app, events) = app_with_events(TokenTransport::Header);
    let device = remembered_device(&app, "alice").await;
    let codes_sent = app.console.codes().len();

    let again = login(&app, "alice", Some(&device)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json["method"], "remembered");
    let token = again.str("token");
    assert_eq!(
        app.get("/api/me", Some(token)).await.json["username"],
        "alice"
    );
    assert_eq!(app.console.codes().len(), codes_sent, "no code was sent");
    let names = event_names(&events);
    assert!(names.contains(&"device_remembered"), "{names:?}");
    assert!(names.contains(&"device_used"), "{names:?}");

    // It never replaces the password.
    let wrong = app
        .send(post(
            "/api-auth/login/",
            json!({ "username": "alice", "password": "wrong" }),
            Some(&device),
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.text, crate::INVALID_CREDENTIALS);

    // A verify that does not ask sets no device cookie.
    let login = login(&app, "alice", None).await;
    let verify = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    assert_eq!(verify.header("set-cookie"), None);
}

#[tokio::test]
async fn in_cookie_mode_a_remembered_login_answers_with_the_session_cookie() {
    let (app, _) = app_with_events(TokenTransport::Cookie);
    let device = remembered_device(&app, "alice").await;
    let again = login(&app, "alice", Some(&device)).await;
    assert_eq!(
        again.text,
        r#"{"detail":"Logged in.","method":"remembered"}"#
    );
    assert!(again
        .header("set-cookie")
        .unwrap()
        .starts_with("otp_token="));
}

#[tokio::test]
async fn another_accounts_an_expired_or_a_garbled_device_is_ignored() {
    let (app, _) = app_with_events(TokenTransport::Header);
    let alices = remembered_device(&app, "alice").await;
    // Zoë presenting alice's device gets the code step.
    assert!(asked_for_a_code(&login(&app, "zoë", Some(&alices)).await));
    for garbled in ["otp_device=", "otp_device=nonsense", "otp_device=a.b"] {
        assert!(asked_for_a_code(&login(&app, "alice", Some(garbled)).await));
    }
    assert!(!asked_for_a_code(
        &login(&app, "alice", Some(&alices)).await
    ));

    app.clock.advance(Duration::from_secs(30 * 24 * 3600));
    assert!(
        asked_for_a_code(&login(&app, "alice", Some(&alices)).await),
        "expired after remember_device_ttl"
    );
}

#[tokio::test]
async fn revoking_kills_every_remembered_device() {
    let (app, _) = app_with_events(TokenTransport::Header);
    let first = remembered_device(&app, "alice").await;
    let second = remembered_device(&app, "alice").await;
    let zoes_device = remembered_device(&app, "zoë").await;
    assert_eq!(app.layer.revoke_all_devices("1").await.unwrap(), 2);
    for device in [&first, &second] {
        assert!(asked_for_a_code(&login(&app, "alice", Some(device)).await));
    }
    assert!(!asked_for_a_code(
        &login(&app, "zoë", Some(&zoes_device)).await
    ));
}

#[tokio::test]
async fn revoking_every_token_kills_the_devices_too() {
    let (app, _) = app_with_events(TokenTransport::Header);
    let device = remembered_device(&app, "alice").await;
    app.layer.revoke_all_tokens("1").await.unwrap();
    assert!(asked_for_a_code(&login(&app, "alice", Some(&device)).await));
}

#[tokio::test]
async fn logging_out_everywhere_kills_the_devices_too() {
    let (app, _) = app_with_events(TokenTransport::Header);
    let device = remembered_device(&app, "alice").await;
    let token = login(&app, "alice", Some(&device))
        .await
        .str("token")
        .to_owned();
    let everywhere = app
        .send(authorized(
            Request::post("/api-auth/logout/").header("content-type", "application/json"),
            &format!("Token {token}"),
            Body::from(r#"{"all":true}"#),
        ))
        .await;
    assert_eq!(
        everywhere.status,
        StatusCode::NO_CONTENT,
        "{}",
        everywhere.text
    );
    assert!(asked_for_a_code(&login(&app, "alice", Some(&device)).await));
}

#[tokio::test]
async fn remembering_can_be_switched_off() {
    let app = TestApp::with(|layer| {
        let mut settings = OtpSettings::default();
        settings.remember_device_ttl = 0;
        layer.with_settings(settings)
    });
    let verify = verify_remembering(&app, "alice").await;
    assert_eq!(verify.header("set-cookie"), None);
}

#[tokio::test]
async fn enrolling_or_removing_an_authenticator_forgets_the_devices() {
    let (app, _) = app_with_events(TokenTransport::Header);
    let device = remembered_device(&app, "alice").await;
    let token = app.token_for("alice", PASSWORD).await;
    let enrolled = app.enroll(&token).await;
    let after_enrolling = login(&app, "alice", Some(&device)).await;
    assert!(
        asked_for_a_code(&after_enrolling),
        "{}",
        after_enrolling.text
    );
    assert_eq!(after_enrolling.json["method"], "totp");

    // Remembered again under the app, then the app is removed.
    app.clock.advance(Duration::from_secs(30));
    let verify = app
        .send(post(
            "/api-auth/verify-token/",
            json!({
                "challenge": after_enrolling.str("challenge"),
                "token": enrolled.code(&app),
                "remember_device": true,
            }),
            None,
        ))
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    let device = verify
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        login(&app, "alice", Some(&device)).await.json["method"],
        "remembered"
    );
    let removed = app
        .post_authorized(
            "/api-auth/totp/disable/",
            &token,
            json!({ "token": enrolled.recovery_codes[0] }),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let after_removing = login(&app, "alice", Some(&device)).await;
    assert!(asked_for_a_code(&after_removing));
    assert_eq!(after_removing.json["method"], "email");
}
