//! What both benchmarks share: users that need no storage, a notifier that hands the codes back
//! to the benchmark, settings that keep throttling out of the measurements, and the layer over
//! a small router driven through `oneshot`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tower_otp::notify::{Delivery, Notifier, NotifyError};
use tower_otp::{
    verify_password, AuthenticatedUser, OtpAuthBuilder, OtpAuthLayer, OtpSettings, PasswordError,
    User, UserStore, UserStoreError,
};

/// The password of every benchmark user.
pub const PASSWORD: &str = "correct horse battery staple";

/// Users made up from their names, so a benchmark can log in hundreds of thousands of them:
/// `fast-<n>` users have their password compared as a plain string (no hashing: only for
/// preparing challenges quickly), `argon-<n>` users are checked with argon2id against one hash
/// made at start-up, as the default [`UserStore::check_password`] does.
#[derive(Clone)]
pub struct BenchUsers {
    argon2_hash: Arc<str>,
}

impl BenchUsers {
    /// Hashes the password once (one argon2id hash, tens of milliseconds).
    pub fn new() -> Self {
        let hash = tower_otp::hash_password(PASSWORD).expect("hash the benchmark password");
        Self {
            argon2_hash: hash.into(),
        }
    }

    /// The argon2id hash every `argon-<n>` user has.
    pub fn argon2_hash(&self) -> Arc<str> {
        self.argon2_hash.clone()
    }

    fn user(&self, name: &str) -> Option<User> {
        let (kind, number) = name.split_once('-')?;
        if !matches!(kind, "fast" | "argon") || number.parse::<u64>().is_err() {
            return None;
        }
        Some(User {
            id: name.to_owned(),
            username: name.to_owned(),
            email: format!("{name}@example.com"),
            first_name: "Bench".to_owned(),
            last_name: "User".to_owned(),
            is_active: true,
            password_hash: if kind == "argon" {
                self.argon2_hash.to_string()
            } else {
                String::new()
            },
        })
    }
}

impl UserStore for BenchUsers {
    async fn find_by_username(&self, username: &str) -> Result<Option<User>, UserStoreError> {
        Ok(self.user(username))
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<User>, UserStoreError> {
        Ok(self.user(id))
    }

    async fn check_password(&self, user: &User, password: &str) -> Result<bool, PasswordError> {
        if user.password_hash.is_empty() {
            // `fast-<n>`: benchmark set-up only.
            Ok(password == PASSWORD)
        } else {
            verify_password(user.password_hash.clone(), password.to_owned()).await
        }
    }
}

/// Keeps the last code sent to each user, for the benchmark to verify.
#[derive(Clone, Default)]
pub struct CodeRecorder {
    codes: Arc<Mutex<HashMap<String, String>>>,
}

impl CodeRecorder {
    /// The last code sent to `username`, removed from the recorder.
    pub fn take(&self, username: &str) -> Option<String> {
        self.codes.lock().unwrap().remove(username)
    }
}

impl Notifier for CodeRecorder {
    async fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), NotifyError> {
        self.codes
            .lock()
            .unwrap()
            .insert(delivery.user.username.clone(), delivery.code.to_owned());
        Ok(())
    }
}

/// The default settings, minus what would throttle a benchmark: no per-client login limit, no
/// per-account limit on codes sent (the login rows log the same users in again and again), no
/// account lockout, practically unlimited attempts per challenge (so one challenge takes wrong
/// codes for the whole wrong-code row). Nothing else differs from the defaults.
pub fn bench_settings() -> OtpSettings {
    let mut settings = OtpSettings::default();
    settings.login_rate_limit = 0;
    settings.account_send_limit = 0;
    settings.lockout_threshold = 0;
    settings.max_attempts = u32::MAX;
    settings
}

/// What [`bench_settings`] changes, for the reports.
pub const SETTINGS_NOTE: &str = "settings: defaults except login_rate_limit = 0, \
     account_send_limit = 0, lockout_threshold = 0 (no lockout), max_attempts = u32::MAX (so \
     throttling does not distort the rates)";

/// The routes behind the layer: a public `/health` and a `/api/me` that reads the user.
pub fn routes() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/api/me",
            get(|Extension(user): Extension<AuthenticatedUser>| async move { user.username }),
        )
}

/// The benchmark routes behind a layer with [`bench_settings`], protecting `/api/`, and the
/// codes it sends; requests go through `oneshot`.
pub struct App {
    pub router: Router,
    pub codes: CodeRecorder,
}

impl App {
    /// `configure` sets the store (and clock) of the layer.
    pub fn new(
        users: &BenchUsers,
        configure: impl FnOnce(OtpAuthBuilder) -> OtpAuthBuilder,
    ) -> Self {
        let codes = CodeRecorder::default();
        let layer = OtpAuthLayer::builder(users.clone(), codes.clone())
            .with_settings(bench_settings())
            .with_protected_path("/api/");
        let layer = configure(layer).build().expect("a valid configuration");
        Self {
            router: routes().layer(layer),
            codes,
        }
    }

    pub async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Logs `user` in: the challenge id and the code it was sent.
    pub async fn login(&self, user: &str) -> (String, String) {
        let (status, body) = self
            .call(post_json("/api-auth/login/", login_body(user)))
            .await;
        assert_eq!(status, StatusCode::OK, "login failed: {body}");
        let challenge = body["challenge"].as_str().unwrap().to_owned();
        let code = self.codes.take(user).expect("the code was delivered");
        (challenge, code)
    }

    /// Logs `user` in and verifies the code: an auth token.
    pub async fn token(&self, user: &str) -> String {
        let (challenge, code) = self.login(user).await;
        let (status, body) = self.call(verify_request(&challenge, &code)).await;
        assert_eq!(status, StatusCode::OK, "verify failed: {body}");
        body["token"].as_str().unwrap().to_owned()
    }
}

pub fn post_json(path: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

pub fn verify_request(challenge: &str, code: &str) -> Request<Body> {
    post_json("/api-auth/verify-token/", verify_body(challenge, code))
}

/// A verify body.
pub fn verify_body(challenge: &str, code: &str) -> String {
    serde_json::json!({ "challenge": challenge, "token": code }).to_string()
}

/// A login body.
pub fn login_body(username: &str) -> String {
    serde_json::json!({ "username": username, "password": PASSWORD }).to_string()
}

/// A code of the same length that is certainly not `code`.
pub fn wrong_code(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}
