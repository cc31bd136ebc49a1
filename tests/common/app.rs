//! A test application: the layer over a small axum router, with demo users, a manual clock
//! and a console notifier whose output the tests read the codes from.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_otp::notify::ConsoleNotifier;
use tower_otp::store::MemoryStore;
use tower_otp::{
    hash_password, AuthenticatedUser, ManualClock, MemoryUserStore, OtpAuthBuilder, OtpAuthLayer,
    User, UserStore,
};

pub const PASSWORD: &str = "correct horse battery staple";
pub const SPACED_PASSWORD: &str = "  leading and trailing  ";

/// Everything the console notifier wrote, shared with the test.
#[derive(Clone, Default)]
pub struct Console {
    text: Arc<Mutex<String>>,
    broken: Arc<Mutex<bool>>,
}

impl Write for Console {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.text
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if *self.broken.lock().unwrap() {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "console closed"))
        } else {
            Ok(())
        }
    }
}

impl Console {
    /// The codes delivered so far, oldest first.
    pub fn codes(&self) -> Vec<String> {
        self.text
            .lock()
            .unwrap()
            .lines()
            .filter_map(|line| line.split("your verification code is ").nth(1))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
            .collect()
    }

    pub fn last_code(&self) -> String {
        self.codes().pop().expect("a code was delivered")
    }

    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Makes every further delivery fail (after the message is written).
    pub fn break_delivery(&self) {
        *self.broken.lock().unwrap() = true;
    }

    /// Makes deliveries succeed again.
    pub fn repair_delivery(&self) {
        *self.broken.lock().unwrap() = false;
    }
}

fn user(id: &str, username: &str, password: &str, active: bool) -> User {
    static HASHES: OnceLock<Mutex<std::collections::HashMap<String, String>>> = OnceLock::new();
    let hash = HASHES
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(password.to_owned())
        .or_insert_with(|| hash_password(password).unwrap())
        .clone();
    User {
        id: id.into(),
        username: username.into(),
        email: format!("{username}@example.com"),
        first_name: username.into(),
        last_name: "Example".into(),
        is_active: active,
        password_hash: hash,
    }
}

pub fn demo_users() -> MemoryUserStore {
    MemoryUserStore::new([
        user("1", "alice", PASSWORD, true),
        user("2", "bob", PASSWORD, false),
        user("3", "spacey", SPACED_PASSWORD, true),
        user("4", "zoë", PASSWORD, true),
    ])
}

pub struct TestApp {
    pub router: Router,
    pub layer: OtpAuthLayer,
    pub clock: ManualClock,
    pub console: Console,
    pub store: MemoryStore,
}

pub fn start_time() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The layer as the tests configure it, before any customisation.
pub fn test_layer(clock: &ManualClock, console: &Console, store: &MemoryStore) -> OtpAuthBuilder {
    test_layer_of(demo_users(), clock, console, store)
}

/// [`test_layer`] over other users.
pub fn test_layer_of(
    users: impl UserStore,
    clock: &ManualClock,
    console: &Console,
    store: &MemoryStore,
) -> OtpAuthBuilder {
    OtpAuthLayer::builder(users, ConsoleNotifier::with_writer(console.clone()))
        .with_clock(clock.clone())
        .with_store(store.clone())
        .with_protected_path("/api/")
}

pub fn routes() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/api/me",
            get(|user: AuthenticatedUser| async move {
                Json(json!({ "id": user.id, "username": user.username }))
            }),
        )
        .route("/api/plain", get(|| async { "plain" }))
        .route("/api", get(|| async { "api index" }))
        .route("/apiary", get(|| async { "apiary" }))
        .route(
            "/whoami",
            get(|user: Option<AuthenticatedUser>| async move {
                user.map(|u| u.username)
                    .unwrap_or_else(|| "anonymous".into())
            }),
        )
}

impl TestApp {
    pub fn new() -> Self {
        Self::with(|layer| layer)
    }

    pub fn with(configure: impl FnOnce(OtpAuthBuilder) -> OtpAuthBuilder) -> Self {
        Self::of(demo_users(), configure)
    }

    /// [`TestApp::with`] over other users.
    pub fn of(
        users: impl UserStore,
        configure: impl FnOnce(OtpAuthBuilder) -> OtpAuthBuilder,
    ) -> Self {
        let clock = ManualClock::new(start_time());
        let console = Console::default();
        let store = MemoryStore::new();
        let layer = configure(test_layer_of(users, &clock, &console, &store))
            .build()
            .expect("a valid test configuration");
        Self::around(layer, &clock, &console, &store)
    }

    /// The test routes behind `layer`, built with these parts.
    pub fn around(
        layer: OtpAuthLayer,
        clock: &ManualClock,
        console: &Console,
        store: &MemoryStore,
    ) -> Self {
        Self {
            router: routes().layer(layer.clone()),
            layer,
            clock: clock.clone(),
            console: console.clone(),
            store: store.clone(),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        Reply::read(response).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Reply {
        self.send(json_request(path, &body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        match token {
            Some(token) => self.get_with(path, &format!("Token {token}")).await,
            None => {
                self.send(Request::get(path).body(Body::empty()).unwrap())
                    .await
            }
        }
    }

    /// Sends `GET /api/me` with `token` until it is refused (401), once a millisecond (the
    /// resolution of the measurement, leaving the CPUs to whatever carries the revocation);
    /// asserts that every answer before was a 200 and that the refusal came within `bound`.
    /// Returns how long it took.
    pub async fn refused_within(&self, token: &str, bound: Duration) -> Duration {
        let since = std::time::Instant::now();
        loop {
            let status = self.get("/api/me", Some(token)).await.status;
            if status == StatusCode::UNAUTHORIZED {
                return since.elapsed();
            }
            assert_eq!(status, StatusCode::OK);
            assert!(
                since.elapsed() < bound,
                "still accepted {bound:?} after it was revoked"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// `GET path` with this `Authorization` header value.
    pub async fn get_with(&self, path: &str, authorization: &str) -> Reply {
        self.send(authorized(Request::get(path), authorization, Body::empty()))
            .await
    }

    /// Logs out with `token`.
    pub async fn logout(&self, token: &str) -> Reply {
        let request = Request::post("/api-auth/logout/");
        self.send(authorized(
            request,
            &format!("Token {token}"),
            Body::empty(),
        ))
        .await
    }

    /// Logs alice in and returns the challenge id.
    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.post_json(
            "/api-auth/login/",
            json!({ "username": username, "password": password }),
        )
        .await
    }

    pub async fn verify(&self, challenge: &str, code: &str) -> Reply {
        self.post_json(
            "/api-auth/verify-token/",
            json!({ "challenge": challenge, "token": code }),
        )
        .await
    }

    /// The whole flow for a user: returns an auth token.
    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let login = self.login(username, password).await;
        assert_eq!(login.status, StatusCode::OK, "{:?}", login.json);
        let verify = self
            .verify(login.str("challenge"), &self.console.last_code())
            .await;
        assert_eq!(verify.status, StatusCode::OK, "{:?}", verify.json);
        verify.str("token").to_owned()
    }
}

/// A request with an `Authorization` header.
pub fn authorized(
    builder: http::request::Builder,
    authorization: &str,
    body: Body,
) -> Request<Body> {
    builder
        .header(header::AUTHORIZATION, authorization)
        .body(body)
        .unwrap()
}

pub fn json_request(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub async fn read<B>(response: Response<B>) -> Self
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        Self {
            status: parts.status,
            headers: parts.headers,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    pub fn str(&self, key: &str) -> &str {
        self.json[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string {key:?} in {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}
