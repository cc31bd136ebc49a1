//! Authenticator apps in tests: the app's side (codes computed with totp-rs from the secret the
//! setup handed out, as any TOTP tool would), and enrolling a user through the endpoints.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{json, Value};

use tower_otp::Clock;

use super::app::{authorized, Reply, TestApp};

/// The code an authenticator app shows at `at` for a base32 secret (SHA1, 6 digits, 30 s).
pub fn app_code(secret: &str, at: SystemTime) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret)
        .expect("a base32 secret")
        .as_bytes()
        .to_vec();
    let totp = totp_rs::Builder::new()
        .with_secret(bytes)
        .build_noncompliant();
    let seconds = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
    totp.generate(seconds).to_string()
}

/// An enrolled user's secret and recovery codes.
pub struct Enrolled {
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

impl Enrolled {
    /// The app's code at the app's clock.
    pub fn code(&self, app: &TestApp) -> String {
        app_code(&self.secret, app.clock.now())
    }
}

impl TestApp {
    /// `POST path` with `Authorization: Token <token>` and a JSON body (none for `Null`).
    pub async fn post_authorized(&self, path: &str, token: &str, body: Value) -> Reply {
        let builder = Request::post(path).header("content-type", "application/json");
        let body = match body {
            Value::Null => Body::empty(),
            body => Body::from(body.to_string()),
        };
        self.send(authorized(builder, &format!("Token {token}"), body))
            .await
    }

    /// Sets up and confirms an authenticator app for the user of `token`, with the code of the
    /// app's current time step.
    pub async fn enroll(&self, token: &str) -> Enrolled {
        let setup = self
            .post_authorized("/api-auth/totp/setup/", token, Value::Null)
            .await;
        assert_eq!(setup.status, StatusCode::OK, "{}", setup.text);
        let secret = setup.str("secret").to_owned();
        let code = app_code(&secret, self.clock.now());
        let confirm = self
            .post_authorized(
                "/api-auth/totp/confirm/",
                token,
                serde_json::json!({ "token": code }),
            )
            .await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
        let recovery_codes = confirm.json["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_owned())
            .collect();
        Enrolled {
            secret,
            recovery_codes,
        }
    }
}

/// Two instances sharing their stores (and key, clock and console): alice enrols on `a`; then
/// one app code is used at once by a login on `a` and a renewal of the recovery codes on `b`,
/// and one recovery code by a login on `a` and nineteen removals of the app, on either
/// instance: exactly one use of each code wins. (A user has one pending login at a time, so
/// the races are between a login and the endpoints that take a current code.)
pub async fn a_code_wins_once_across_two_instances(a: &TestApp, b: &TestApp) {
    use super::app::PASSWORD;
    let token = a.token_for("alice", PASSWORD).await;
    let enrolled = a.enroll(&token).await;
    a.clock.advance(std::time::Duration::from_secs(30));
    let code = enrolled.code(a);
    let challenge = login_challenge(a).await;
    let (login, renewal) = tokio::join!(
        a.verify(&challenge, &code),
        b.post_authorized(
            "/api-auth/recovery-codes/",
            &token,
            json!({ "token": code })
        ),
    );
    let won = [&login, &renewal]
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(won, 1, "{} / {}", login.text, renewal.text);

    // The recovery codes of whichever set is live now.
    let recovery = match renewal.status {
        StatusCode::OK => renewal.json["recovery_codes"][0]
            .as_str()
            .unwrap()
            .to_owned(),
        _ => enrolled.recovery_codes[0].clone(),
    };
    let challenge = login_challenge(b).await;
    let disables = (0..19).map(|i| {
        let instance = if i % 2 == 0 { a } else { b };
        let body = json!({ "token": recovery });
        instance.post_authorized("/api-auth/totp/disable/", &token, body)
    });
    let (login, disables) = tokio::join!(
        b.verify(&challenge, &recovery),
        futures_util::future::join_all(disables),
    );
    let won = disables.iter().filter(|r| r.status.is_success()).count()
        + usize::from(login.status == StatusCode::OK);
    assert_eq!(won, 1, "one recovery code, one use");
}
async fn login_challenge(app: &TestApp) -> String {
    let login = app.login("alice", super::app::PASSWORD).await;
    assert_eq!(login.str("method"), "totp", "{}", login.text);
    login.str("challenge").to_owned()
}
