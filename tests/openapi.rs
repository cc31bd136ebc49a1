//! `openapi.yaml` says what the layer answers: every response it lists (path × method × status)
//! is produced here by a real request to the layer, its body validated against the document's
//! schema (JSON Schema 2020-12), its required headers checked; and every response listed must be
//! produced, so the document cannot drift from the code.
//!
//! A new endpoint or answer: add it to the document and its request to `CASES` below.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use common::app::{authorized, Reply, TestApp, PASSWORD};
use common::authenticator::app_code;
use common::redis::{free_port, random_prefix};
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use tower_otp::store::RedisStore;
use tower_otp::{Clock, OtpSettings, TokenTransport};

const LOGIN: &str = "/api-auth/login/";
const VERIFY: &str = "/api-auth/verify-token/";
const RESEND: &str = "/api-auth/resend-token/";
const LOGOUT: &str = "/api-auth/logout/";
const PROTECTED: &str = "/api/me";
const SETUP: &str = "/api-auth/totp/setup/";
const CONFIRM: &str = "/api-auth/totp/confirm/";
const DISABLE: &str = "/api-auth/totp/disable/";
const RECOVERY_CODES: &str = "/api-auth/recovery-codes/";
/// The endpoints of a logged-in user's authenticator app.
const AUTHENTICATOR: [&str; 4] = [SETUP, CONFIRM, DISABLE, RECOVERY_CODES];

/// A challenge id of the right form that names no pending login.
const NO_SUCH_CHALLENGE: &str = "AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA";

/// The document, and the responses checked against it so far.
struct Spec {
    doc: Value,
    checked: BTreeSet<(String, String, String)>,
}

impl Spec {
    fn load() -> Self {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
            .expect("openapi.yaml at the repository root");
        let doc: Value = serde_norway::from_str(&text).expect("openapi.yaml is YAML");
        assert_eq!(doc["openapi"], "3.1.0");
        Self {
            doc,
            checked: BTreeSet::new(),
        }
    }

    /// Every (path, method, status) the document lists.
    fn documented(&self) -> BTreeSet<(String, String, String)> {
        let mut found = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("a path item") {
                for status in operation["responses"]
                    .as_object()
                    .expect("responses")
                    .keys()
                {
                    found.insert((path.clone(), method.clone(), status.clone()));
                }
            }
        }
        found
    }

    /// `value`, or what it refers to (`$ref` within the document).
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(pointer) => {
                let target = pointer.strip_prefix('#').expect("a local $ref");
                self.resolve(
                    self.doc
                        .pointer(target)
                        .unwrap_or_else(|| panic!("{pointer}")),
                )
            }
            None => value,
        }
    }

    /// Whether `instance` is valid under `schema`, a schema of this document (its `$ref`s
    /// resolved against the document's components).
    fn violations(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let rooted = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.doc["components"],
        });
        let validator = jsonschema::draft202012::new(&rooted).expect("a valid JSON Schema");
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// Checks `reply`, the answer to `method path`, against the document's response for its
    /// status: documented, its required headers present and valid, its body of a documented
    /// media type and valid under the schema.
    fn check(&mut self, method: &Method, path: &str, reply: &Reply) {
        let method = method.as_str().to_ascii_lowercase();
        let status = reply.status.as_str().to_owned();
        let context = format!("{method} {path} → {status} {}", reply.text);
        let operation = &self.doc["paths"][path][&method];
        let response = self.resolve(&operation["responses"][&status]);
        assert!(response.is_object(), "not documented: {context}");
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let header = self.resolve(header);
            let Some(value) = reply.header(name) else {
                assert_ne!(header["required"], true, "no {name} header: {context}");
                continue;
            };
            let value = match header["schema"]["type"].as_str() {
                Some("integer") => json!(value
                    .parse::<i64>()
                    .unwrap_or_else(|_| panic!("{name}: {value} is no integer: {context}"))),
                _ => json!(value),
            };
            let wrong = self.violations(&header["schema"], &value);
            assert!(wrong.is_empty(), "{name}: {wrong:?}: {context}");
        }
        match response["content"].as_object() {
            None => assert!(reply.text.is_empty(), "a body: {context}"),
            Some(content) => {
                let media_type = reply
                    .header("content-type")
                    .unwrap_or_else(|| panic!("no content-type: {context}"));
                let schema = &content
                    .get(media_type)
                    .unwrap_or_else(|| panic!("{media_type} not documented: {context}"))["schema"];
                let body: Value = serde_json::from_str(&reply.text)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {context}"));
                let wrong = self.violations(schema, &body);
                assert!(wrong.is_empty(), "{wrong:#?}: {context}");
            }
        }
        self.checked.insert((path.to_owned(), method, status));
    }
}

fn with_settings(change: impl FnOnce(&mut OtpSettings)) -> TestApp {
    TestApp::with(|layer| {
        let mut settings = OtpSettings::default();
        change(&mut settings);
        layer.with_settings(settings)
    })
}

/// A layer whose state store (Redis on a port nothing listens on) fails every call.
fn store_down() -> TestApp {
    let store = RedisStore::new(format!("redis://127.0.0.1:{}/", free_port()))
        .unwrap()
        .with_prefix(random_prefix())
        .with_timeout(Duration::from_millis(500));
    TestApp::with(|layer| {
        layer
            .with_store(store)
            .with_secret_key(b"a server key for the openapi test!!")
    })
}

/// A layer on a working Redis, without a second-factor store: no authenticator apps.
fn store_shared_without_second_factors() -> TestApp {
    TestApp::with(|layer| {
        layer
            .with_store(common::redis::single_store())
            .with_secret_key(b"a server key for the openapi test!!")
    })
}

fn request(method: Method, path: &str, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap()
}

fn post(path: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    request(
        Method::POST,
        path,
        &[("content-type", content_type)],
        body.into(),
    )
}

/// A JSON body that starts and never ends.
fn stalled(path: &str) -> Request<Body> {
    let never = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
    post(path, "application/json", Body::from_stream(never))
}

fn twice_authorized(method: Method, path: &str, token: &str) -> Request<Body> {
    let value = format!("Token {token}");
    request(
        method,
        path,
        &[("authorization", &value), ("authorization", &value)],
        Body::empty(),
    )
}

/// Asserts `reply` has the status `want`, and checks it against the document.
fn expect(spec: &mut Spec, method: Method, path: &str, reply: Reply, want: StatusCode) {
    assert_eq!(reply.status, want, "{method} {path}: {}", reply.text);
    spec.check(&method, path, &reply);
}

/// A code that is not `code`.
fn other_than(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

#[tokio::test]
async fn every_documented_answer_is_what_the_layer_answers() {
    let spec = &mut Spec::load();
    let app = TestApp::new();
    let (ok, bad) = (StatusCode::OK, StatusCode::BAD_REQUEST);
    let (throttled, unavailable) = (
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SERVICE_UNAVAILABLE,
    );

    // Log in, resend too soon and after the cooldown, a wrong code, the right one, log out.
    let login = app.login("alice", PASSWORD).await;
    let challenge = login.str("challenge").to_owned();
    expect(spec, Method::POST, LOGIN, login, ok);
    let resend = json!({ "challenge": challenge });
    let early = app.post_json(RESEND, resend.clone()).await;
    expect(spec, Method::POST, RESEND, early, throttled);
    app.clock.advance(Duration::from_secs(60));
    let resent = app.post_json(RESEND, resend).await;
    expect(spec, Method::POST, RESEND, resent, ok);
    // django-drf-otp 0.0.11's body.
    app.clock.advance(Duration::from_secs(60));
    let resent = app.post_json(RESEND, json!({ "username": "alice" })).await;
    assert!(resent.json.get("challenge").is_none(), "{}", resent.text);
    expect(spec, Method::POST, RESEND, resent, ok);
    let code = app.console.last_code();
    let refused = app.verify(&challenge, other_than(&code)).await;
    expect(spec, Method::POST, VERIFY, refused, bad);
    let verified = app.verify(&challenge, &code).await;
    let token = verified.str("token").to_owned();
    expect(spec, Method::POST, VERIFY, verified, ok);
    let twice = app
        .send(twice_authorized(Method::POST, LOGOUT, &token))
        .await;
    expect(spec, Method::POST, LOGOUT, twice, bad);
    let twice = app
        .send(twice_authorized(Method::GET, PROTECTED, &token))
        .await;
    expect(spec, Method::GET, PROTECTED, twice, bad);
    let logout = app.logout(&token).await;
    expect(spec, Method::POST, LOGOUT, logout, StatusCode::NO_CONTENT);
    let revoked = app.logout(&token).await;
    expect(
        spec,
        Method::POST,
        LOGOUT,
        revoked,
        StatusCode::UNAUTHORIZED,
    );
    let anonymous = app.get(PROTECTED, None).await;
    expect(
        spec,
        Method::GET,
        PROTECTED,
        anonymous,
        StatusCode::UNAUTHORIZED,
    );

    // What the endpoints refuse alike: fields (a form), sizes, media types, slow bodies, GET.
    let slow = with_settings(|s| s.body_read_timeout = 1);
    let too_large = "x".repeat(17 * 1024);
    for path in [LOGIN, VERIFY, RESEND] {
        let form = "unknown=1";
        let fields = app
            .send(post(path, "application/x-www-form-urlencoded", form))
            .await;
        expect(spec, Method::POST, path, fields, bad);
        let large = app
            .send(post(path, "application/json", too_large.clone()))
            .await;
        expect(
            spec,
            Method::POST,
            path,
            large,
            StatusCode::PAYLOAD_TOO_LARGE,
        );
        let text = app.send(post(path, "text/plain", "hello")).await;
        expect(
            spec,
            Method::POST,
            path,
            text,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        );
        let late = slow.send(stalled(path)).await;
        expect(spec, Method::POST, path, late, StatusCode::REQUEST_TIMEOUT);
    }
    // 405 answers a GET, and is listed under the endpoint's one operation, POST.
    for path in [LOGIN, VERIFY, RESEND, LOGOUT] {
        let get = app.get(path, None).await;
        expect(
            spec,
            Method::POST,
            path,
            get,
            StatusCode::METHOD_NOT_ALLOWED,
        );
    }

    // Cookie mode: a cross-site login and verify; a cross-site logout by cookie.
    let cookies = with_settings(|s| s.token_transport = TokenTransport::Cookie);
    let cross_site = [
        ("content-type", "application/json"),
        ("origin", "https://evil.example"),
    ];
    for path in [LOGIN, VERIFY] {
        let body = Body::from(json!({ "username": "alice" }).to_string());
        let refused = cookies
            .send(request(Method::POST, path, &cross_site, body))
            .await;
        expect(spec, Method::POST, path, refused, StatusCode::FORBIDDEN);
    }
    let login = cookies.login("alice", PASSWORD).await;
    let verified = cookies
        .verify(login.str("challenge"), &cookies.console.last_code())
        .await;
    let cookie = verified.header("set-cookie").expect("the token cookie");
    let cookie = cookie.split(';').next().unwrap();
    let forged = cookies
        .send(request(
            Method::POST,
            LOGOUT,
            &[("cookie", cookie), ("origin", "https://evil.example")],
            Body::empty(),
        ))
        .await;
    expect(spec, Method::POST, LOGOUT, forged, StatusCode::FORBIDDEN);

    // Throttled: a second code to one account in its window; a code for a locked account.
    let strict = with_settings(|s| {
        s.account_send_limit = 1;
        s.lockout_threshold = 1;
    });
    let login = strict.login("alice", PASSWORD).await;
    let challenge = login.str("challenge").to_owned();
    let again = strict.login("alice", PASSWORD).await;
    expect(spec, Method::POST, LOGIN, again, throttled);
    let code = strict.console.last_code();
    let locking = strict.verify(&challenge, other_than(&code)).await;
    assert_eq!(locking.status, bad);
    let locked = strict.verify(&challenge, &code).await;
    expect(spec, Method::POST, VERIFY, locked, throttled);

    // Authenticator apps: set up, a wrong and the right first code, set up again, new recovery
    // codes, a login that asks for the app's code, disable.
    let token = app.token_for("alice", PASSWORD).await;
    let setup = app.post_authorized(SETUP, &token, Value::Null).await;
    let secret = setup.str("secret").to_owned();
    expect(spec, Method::POST, SETUP, setup, ok);
    let code = app_code(&secret, app.clock.now());
    let wrong = json!({ "token": other_than(&code) });
    let refused = app.post_authorized(CONFIRM, &token, wrong).await;
    expect(spec, Method::POST, CONFIRM, refused, bad);
    let confirmed = app
        .post_authorized(CONFIRM, &token, json!({ "token": code }))
        .await;
    expect(spec, Method::POST, CONFIRM, confirmed, ok);
    let again = app.post_authorized(SETUP, &token, Value::Null).await;
    expect(spec, Method::POST, SETUP, again, StatusCode::CONFLICT);
    app.clock.advance(Duration::from_secs(30));
    let code = json!({ "token": app_code(&secret, app.clock.now()) });
    let renewed = app.post_authorized(RECOVERY_CODES, &token, code).await;
    expect(spec, Method::POST, RECOVERY_CODES, renewed, ok);
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.str("method"), "totp");
    expect(spec, Method::POST, LOGIN, login, ok);
    app.clock.advance(Duration::from_secs(30));
    let code = json!({ "token": app_code(&secret, app.clock.now()) });
    let disabled = app.post_authorized(DISABLE, &token, code).await;
    expect(
        spec,
        Method::POST,
        DISABLE,
        disabled,
        StatusCode::NO_CONTENT,
    );

    // What the authenticator endpoints refuse alike.
    let slow_token = slow.token_for("alice", PASSWORD).await;
    let cookie_login = cookies.login("alice", PASSWORD).await;
    let cookie_verified = cookies
        .verify(cookie_login.str("challenge"), &cookies.console.last_code())
        .await;
    let session = cookie_verified
        .header("set-cookie")
        .expect("the token cookie");
    let session = session.split(';').next().unwrap();
    let shared = store_shared_without_second_factors();
    let shared_token = shared.token_for("alice", PASSWORD).await;
    let down = store_down();
    for path in AUTHENTICATOR {
        let with_token = |content_type: &str, body: Body| {
            let builder = Request::post(path).header("content-type", content_type);
            authorized(builder, &format!("Token {token}"), body)
        };
        let malformed = app.send(with_token("application/json", "{".into())).await;
        expect(spec, Method::POST, path, malformed, bad);
        let anonymous = app.post_json(path, json!({ "token": "123456" })).await;
        expect(
            spec,
            Method::POST,
            path,
            anonymous,
            StatusCode::UNAUTHORIZED,
        );
        let forged = cookies
            .send(request(
                Method::POST,
                path,
                &[("cookie", session), ("origin", "https://evil.example")],
                Body::empty(),
            ))
            .await;
        expect(spec, Method::POST, path, forged, StatusCode::FORBIDDEN);
        let no_apps = shared
            .post_authorized(path, &shared_token, json!({ "token": "123456" }))
            .await;
        expect(spec, Method::POST, path, no_apps, StatusCode::NOT_FOUND);
        let get = app.get(path, Some(&token)).await;
        expect(
            spec,
            Method::POST,
            path,
            get,
            StatusCode::METHOD_NOT_ALLOWED,
        );
        let never = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let builder = Request::post(path).header("content-type", "application/json");
        let stalled = authorized(
            builder,
            &format!("Token {slow_token}"),
            Body::from_stream(never),
        );
        let late = slow.send(stalled).await;
        expect(spec, Method::POST, path, late, StatusCode::REQUEST_TIMEOUT);
        let large = app
            .send(with_token("application/json", too_large.clone().into()))
            .await;
        expect(
            spec,
            Method::POST,
            path,
            large,
            StatusCode::PAYLOAD_TOO_LARGE,
        );
        let text = app.send(with_token("text/plain", "hello".into())).await;
        expect(
            spec,
            Method::POST,
            path,
            text,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        );
        let failed = down
            .post_authorized(path, &token, json!({ "token": "123456" }))
            .await;
        expect(spec, Method::POST, path, failed, unavailable);
    }
    // Changing factors is limited per account: the second attempt in the window is refused.
    let limited = with_settings(|s| s.account_send_limit = 1);
    let limited_token = limited.token_for("alice", PASSWORD).await;
    limited.enroll(&limited_token).await;
    let wrong = json!({ "token": "000000" });
    let first = limited
        .post_authorized(RECOVERY_CODES, &limited_token, wrong.clone())
        .await;
    assert_eq!(first.status, bad, "{}", first.text);
    for path in [RECOVERY_CODES, DISABLE] {
        let refused = limited
            .post_authorized(path, &limited_token, wrong.clone())
            .await;
        expect(spec, Method::POST, path, refused, throttled);
    }

    // Backends down: the state store, the notifier.
    let verify = down.verify(NO_SUCH_CHALLENGE, "123456").await;
    expect(spec, Method::POST, VERIFY, verify, unavailable);
    let logout = down.logout(&token).await;
    expect(spec, Method::POST, LOGOUT, logout, unavailable);
    let me = down.get(PROTECTED, Some(&token)).await;
    expect(spec, Method::GET, PROTECTED, me, unavailable);
    let mute = TestApp::new();
    let login = mute.login("alice", PASSWORD).await;
    let resend = json!({ "challenge": login.str("challenge") });
    mute.console.break_delivery();
    mute.clock.advance(Duration::from_secs(60));
    let resent = mute.post_json(RESEND, resend).await;
    expect(spec, Method::POST, RESEND, resent, unavailable);
    let login = mute.login("zoë", PASSWORD).await;
    expect(spec, Method::POST, LOGIN, login, unavailable);

    let unchecked: Vec<_> = spec
        .documented()
        .difference(&spec.checked)
        .cloned()
        .collect();
    assert!(
        unchecked.is_empty(),
        "documented, never produced: {unchecked:#?}"
    );
}
