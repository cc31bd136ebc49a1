//! Authenticator apps in tests: the app's side (codes computed with totp-rs from the secret the
//! setup handed out, as any TOTP tool would), and enrolling a user through the endpoints.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{json, Value};

use tower_otp::Clock;

use tokio::task::JoinHandle;
use tower::ServiceExt;
use tower_otp::OtpSettings;

use super::app::{authorized, json_request, Reply, TestApp};

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

/// Settings for races: a lockout and a factor-change limit high enough that every racer gets
/// its code compared, so that only single use decides who wins.
pub fn race_settings() -> OtpSettings {
    let mut settings = OtpSettings::default();
    settings.lockout_threshold = 1000;
    settings.account_send_limit = 0;
    settings
}

/// Sends `request` to `app` on a task of its own: racers run in parallel on the runtime's
/// threads.
fn spawn_send(app: &TestApp, request: Request<Body>) -> JoinHandle<Reply> {
    let router = app.router.clone();
    tokio::spawn(async move { Reply::read(router.oneshot(request).await.unwrap()).await })
}

fn authorized_json(path: &str, token: &str, body: &Value) -> Request<Body> {
    let builder = Request::post(path).header("content-type", "application/json");
    authorized(
        builder,
        &format!("Token {token}"),
        Body::from(body.to_string()),
    )
}

/// Two instances sharing their stores (and key, clock and console; built with
/// [`race_settings`]): alice enrols on `a`. Then one app code is used at once by a login on `a`
/// and by a renewal of the recovery codes on `b`, and one recovery code by a login on `b` and
/// nineteen removals of the app on either instance: exactly one use of each code wins, and
/// every other is refused as a wrong code (400), never a 5xx.
///
/// A user has one pending login at a time (a new login kills the previous challenge), so two
/// verifies of one code would race on the challenge before the code; the races are therefore
/// between a login and the endpoints that take a current code, which only the code's single
/// use can decide.
pub async fn a_code_wins_once_across_two_instances(a: &TestApp, b: &TestApp) {
    use super::app::PASSWORD;
    let token = a.token_for("alice", PASSWORD).await;
    let enrolled = a.enroll(&token).await;
    a.clock.advance(std::time::Duration::from_secs(30));
    let code = enrolled.code(a);
    let challenge = login_challenge(a).await;
    let racers = [
        spawn_send(
            a,
            json_request(
                "/api-auth/verify-token/",
                &json!({ "challenge": challenge, "token": code }),
            ),
        ),
        spawn_send(
            b,
            authorized_json(
                "/api-auth/recovery-codes/",
                &token,
                &json!({ "token": code }),
            ),
        ),
    ];
    let replies = finish(racers).await;
    assert_one_winner(&replies);

    // The recovery codes of whichever set is live now.
    let renewal = &replies[1];
    let recovery = match renewal.status {
        StatusCode::OK => renewal.json["recovery_codes"][0]
            .as_str()
            .unwrap()
            .to_owned(),
        _ => enrolled.recovery_codes[0].clone(),
    };
    let challenge = login_challenge(b).await;
    let mut racers = vec![spawn_send(
        b,
        json_request(
            "/api-auth/verify-token/",
            &json!({ "challenge": challenge, "token": recovery }),
        ),
    )];
    for i in 0..19 {
        let instance = if i % 2 == 0 { a } else { b };
        let body = json!({ "token": recovery });
        racers.push(spawn_send(
            instance,
            authorized_json("/api-auth/totp/disable/", &token, &body),
        ));
    }
    assert_one_winner(&finish(racers).await);
}

async fn finish(racers: impl IntoIterator<Item = JoinHandle<Reply>>) -> Vec<Reply> {
    let mut replies = Vec::new();
    for racer in racers {
        replies.push(racer.await.unwrap());
    }
    replies
}

fn assert_one_winner(replies: &[Reply]) {
    let won = replies.iter().filter(|r| r.status.is_success()).count();
    let texts: Vec<&str> = replies.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(won, 1, "{texts:?}");
    for reply in replies.iter().filter(|r| !r.status.is_success()) {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    }
}

async fn login_challenge(app: &TestApp) -> String {
    let login = app.login("alice", super::app::PASSWORD).await;
    assert_eq!(login.str("method"), "totp", "{}", login.text);
    login.str("challenge").to_owned()
}
