//! The token in a cookie, for browsers: set on a completed login, read back on every request,
//! cleared on logout, and state-changing requests it authenticates checked for CSRF.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use tower_otp::{OtpSettings, TokenTransport};

use crate::common::app::*;

fn cookie_app(transport: TokenTransport) -> TestApp {
    TestApp::with(|layer| {
        let mut settings = OtpSettings::default();
        settings.token_transport = transport;
        layer.with_settings(settings)
    })
}

/// Logs alice in: the verify answer.
async fn signed_in(app: &TestApp) -> Reply {
    let login = app.login("alice", PASSWORD).await;
    app.verify(login.str("challenge"), &app.console.last_code())
        .await
}

/// `name=value` of a `Set-Cookie` header.
fn cookie_pair(reply: &Reply) -> String {
    let set = reply.header("set-cookie").expect("a Set-Cookie header");
    set.split(';').next().unwrap().to_owned()
}

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_completed_login_sets_an_http_only_cookie_and_keeps_the_token_out_of_the_body() {
    let app = cookie_app(TokenTransport::Cookie);
    let verify = signed_in(&app).await;
    assert_eq!(verify.status, StatusCode::OK);
    assert_eq!(verify.text, r#"{"detail":"Logged in."}"#);
    let set = verify.header("set-cookie").unwrap();
    for part in [
        "otp_token=",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(set.contains(part), "{part} in {set}");
    }
    let me = app
        .send(request(
            Method::GET,
            "/api/me",
            &[("cookie", &cookie_pair(&verify))],
        ))
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["username"], "alice");

    let both = cookie_app(TokenTransport::Both);
    let verify = signed_in(&both).await;
    assert!(verify.json["token"].is_string() && verify.json["detail"] == "Logged in.");
    assert!(verify.header("set-cookie").is_some());

    // The default stays django-drf-otp's: the token in the body, no cookie.
    let header = TestApp::new();
    let verify = signed_in(&header).await;
    assert!(verify.json["token"].is_string());
    assert_eq!(verify.json.as_object().unwrap().len(), 1, "{}", verify.text);
    assert_eq!(verify.header("set-cookie"), None);
}

#[tokio::test]
async fn state_changing_requests_by_cookie_must_be_same_origin() {
    let app = cookie_app(TokenTransport::Cookie);
    let cookie = cookie_pair(&signed_in(&app).await);
    let host = ("host", "app.example.com");
    let post = |headers: &[(&str, &str)]| {
        let mut all = vec![("cookie", cookie.as_str())];
        all.extend_from_slice(headers);
        request(Method::POST, "/api/me", &all)
    };
    // Refused before the route is even looked at.
    for headers in [
        vec![host, ("origin", "https://evil.example")],
        vec![host, ("origin", "null")],
        vec![host, ("sec-fetch-site", "cross-site")],
        vec![host],
    ] {
        let reply = app.send(post(&headers)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(reply.text, r#"{"detail":"CSRF check failed."}"#);
    }
    // Same origin passes the check (and reaches the router, which serves GET only there).
    for headers in [
        vec![host, ("origin", "https://app.example.com")],
        vec![host, ("sec-fetch-site", "same-origin")],
    ] {
        let reply = app.send(post(&headers)).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{headers:?}");
    }
    // A read is never refused; a request authenticated by the header is not affected.
    let get = request(
        Method::GET,
        "/api/me",
        &[("cookie", &cookie), ("origin", "https://evil.example")],
    );
    assert_eq!(app.send(get).await.status, StatusCode::OK);
    let token = header_token(&app).await;
    let by_header = request(
        Method::POST,
        "/api/me",
        &[
            ("authorization", &format!("Token {token}")),
            ("origin", "https://evil.example"),
        ],
    );
    assert_eq!(
        app.send(by_header).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn logout_by_cookie_clears_it_and_a_stale_cookie_is_harmless_off_protected_paths() {
    let app = cookie_app(TokenTransport::Cookie);
    let cookie = cookie_pair(&signed_in(&app).await);
    let cross = request(
        Method::POST,
        "/api-auth/logout/",
        &[
            ("cookie", &cookie),
            ("host", "a.example"),
            ("origin", "https://evil.example"),
        ],
    );
    let forged = app.send(cross).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        forged.header("set-cookie"),
        None,
        "a forgery clears nothing"
    );
    let logout = || {
        app.send(request(
            Method::POST,
            "/api-auth/logout/",
            &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
        ))
    };
    let clears = |reply: &Reply| {
        let cleared = reply.header("set-cookie").unwrap();
        cleared.starts_with("otp_token=;") && cleared.contains("Max-Age=0")
    };
    let first = logout().await;
    assert_eq!(first.status, StatusCode::NO_CONTENT);
    assert!(clears(&first), "{:?}", first.headers);
    // A stale cookie (its token already gone) is cleared too, with the 401.
    let again = logout().await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(clears(&again), "{:?}", again.headers);
    // Another site's form, which the browser sent without the (SameSite) cookie, clears nothing.
    let cookieless = app
        .send(request(
            Method::POST,
            "/api-auth/logout/",
            &[("host", "a.example"), ("origin", "https://evil.example")],
        ))
        .await;
    assert_eq!(cookieless.status, StatusCode::UNAUTHORIZED);
    assert_eq!(cookieless.header("set-cookie"), None);

    let me = request(Method::GET, "/api/me", &[("cookie", &cookie)]);
    assert_eq!(app.send(me).await.status, StatusCode::UNAUTHORIZED);
    let whoami = app
        .send(request(Method::GET, "/whoami", &[("cookie", &cookie)]))
        .await;
    assert_eq!(
        (whoami.status, whoami.text.as_str()),
        (StatusCode::OK, "anonymous")
    );
}

/// A token for alice, taken from an `Authorization`-only client: in cookie mode the body has
/// none, so it is read from the cookie and sent back in the header, as an API client would.
async fn header_token(app: &TestApp) -> String {
    let cookie = cookie_pair(&signed_in(app).await);
    cookie.split_once('=').unwrap().1.to_owned()
}

#[tokio::test]
async fn in_cookie_mode_no_other_site_can_sign_a_browser_in() {
    let login = |origin: Option<&str>| {
        let mut headers = vec![
            ("host", "app.example.com"),
            ("content-type", "application/json"),
        ];
        headers.extend(origin.map(|origin| ("origin", origin)));
        let mut request = request(Method::POST, "/api-auth/login/", &headers);
        *request.body_mut() =
            Body::from(format!(r#"{{"username":"alice","password":"{PASSWORD}"}}"#));
        request
    };
    let app = cookie_app(TokenTransport::Cookie);
    // A cross-site form or fetch (login CSRF: the attacker's account in the victim's browser).
    let forged = app.send(login(Some("https://evil.example"))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(forged.text, r#"{"detail":"CSRF check failed."}"#);
    assert!(app.console.codes().is_empty(), "no code was sent");
    let mut forged_verify = request(
        Method::POST,
        "/api-auth/verify-token/",
        &[("sec-fetch-site", "cross-site")],
    );
    *forged_verify.body_mut() = Body::from(r#"{"challenge":"x","token":"123456"}"#);
    assert_eq!(app.send(forged_verify).await.status, StatusCode::FORBIDDEN);
    // The page's own request, and an API client that says nothing, sign in as before.
    let own = app.send(login(Some("https://app.example.com"))).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_eq!(app.send(login(None)).await.status, StatusCode::OK);
    // In header mode nothing is planted in a browser: no such check.
    let header = cookie_app(TokenTransport::Header);
    let cross = header.send(login(Some("https://evil.example"))).await;
    assert_eq!(cross.status, StatusCode::OK);
}

#[tokio::test]
async fn in_header_mode_a_token_cookie_authenticates_nothing() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let by_cookie = request(
        Method::GET,
        "/api/me",
        &[("cookie", &format!("otp_token={token}"))],
    );
    let reply = app.send(by_cookie).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    // The same token in the header is good: only the carrier was refused.
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
}
