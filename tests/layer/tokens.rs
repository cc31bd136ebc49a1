//! Auth tokens after the login: protected routes, expiry, logout, the `Authorization` header,
//! the extractor.

use std::time::Duration;

use axum::body::Body;
use http::{header, Method, Request, StatusCode};

use crate::common::app::*;

#[tokio::test]
async fn logout_all_revokes_every_token_of_the_user() {
    let app = TestApp::new();
    let first = app.token_for("alice", PASSWORD).await;
    let second = app.token_for("alice", PASSWORD).await;
    let zoe = app.token_for("zoë", PASSWORD).await;
    let reply = app
        .send(authorized(
            Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, "application/json"),
            &format!("Token {first}"),
            Body::from(r#"{"all": true}"#),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/me", Some(&second)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/me", Some(&zoe)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_needs_a_valid_token() {
    let app = TestApp::new();
    let none = app
        .send(
            Request::post("/api-auth/logout/")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.text,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(app.logout(&token).await.status, StatusCode::NO_CONTENT);
    let again = app.logout(&token).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn protected_and_public_routes() {
    let app = TestApp::new();
    let anonymous = app.get("/api/me", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.text,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    assert_eq!(anonymous.header("www-authenticate"), Some("Token"));

    let health = app.get("/health", None).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (StatusCode::OK, "ok")
    );
    assert_eq!(app.get("/whoami", None).await.text, "anonymous");

    for bad in [
        "garbage",
        "AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let reply = app.get("/whoami", Some(bad)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.text, r#"{"detail":"Invalid token."}"#);
        assert_eq!(reply.header("www-authenticate"), Some("Token"));
    }
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(app.get("/whoami", Some(&token)).await.text, "alice");

    // Another scheme is none of the layer's business.
    let basic = app.get_with("/whoami", "Basic YWxpY2U6cHc=").await;
    assert_eq!(basic.text, "anonymous");
    let spaced = app.get_with("/whoami", "Token a b").await;
    assert_eq!(spaced.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_expire_idle_and_absolute() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    app.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    app.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED,
        "30 idle minutes end a token"
    );
    let token = app.token_for("alice", PASSWORD).await;
    let mut used_for = Duration::ZERO;
    while app.get("/api/me", Some(&token)).await.status == StatusCode::OK {
        assert!(
            used_for < Duration::from_secs(13 * 3600),
            "a token in use must still die"
        );
        app.clock.advance(Duration::from_secs(25 * 60));
        used_for += Duration::from_secs(25 * 60);
    }
    assert!(
        used_for >= Duration::from_secs(12 * 3600)
            && used_for < Duration::from_secs(12 * 3600 + 25 * 60),
        "died after {used_for:?}"
    );
}

#[tokio::test]
async fn protection_does_not_depend_on_the_handler() {
    let app = TestApp::new();
    // /api/plain does not extract the user: the layer alone refuses it.
    let plain = app.get("/api/plain", None).await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        plain.text,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    // "/api/" protects "/api" too.
    assert_eq!(app.get("/api", None).await.status, StatusCode::UNAUTHORIZED);
    // But not a sibling that merely shares the letters.
    assert_eq!(app.get("/apiary", None).await.text, "apiary");
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(app.get("/api/plain", Some(&token)).await.text, "plain");
}

#[tokio::test]
async fn cors_preflights_pass_protected_paths() {
    let app = TestApp::new();
    let preflight = app
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/plain")
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "GET")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_ne!(preflight.status, StatusCode::UNAUTHORIZED);
    // A plain OPTIONS without the preflight header is still refused.
    let options = app
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/plain")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(options.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_with_a_json_content_type_and_no_body() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let reply = app
        .send(authorized(
            Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, "application/json"),
            &format!("Token {token}"),
            Body::empty(),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let empty_json = app
        .send(
            Request::post("/api-auth/login/")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        empty_json.text,
        r#"{"password":["This field is required."],"username":["This field is required."]}"#
    );
}

/// `GET path` with each of `authorizations` as an `Authorization` header.
fn with_authorizations(path: &str, authorizations: &[&str]) -> Request<Body> {
    let mut builder = Request::get(path);
    for value in authorizations {
        builder = builder.header(header::AUTHORIZATION, *value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let app = TestApp::new();
    let token = app.token_for("alice", PASSWORD).await;
    let mine = format!("Token {token}");
    for (path, headers) in [
        ("/api/me", vec![mine.as_str(), mine.as_str()]),
        ("/api/me", vec![mine.as_str(), "Token someone-elses"]),
        ("/whoami", vec!["Basic YWxpY2U6cHc=", mine.as_str()]),
        ("/whoami", vec!["Basic YWxpY2U6cHc=", "Basic Ym9iOnB3"]),
    ] {
        let reply = app.send(with_authorizations(path, &headers)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {headers:?}");
        assert_eq!(
            reply.text,
            r#"{"detail":"Only one Authorization header is allowed."}"#
        );
    }
    let once = app.send(with_authorizations("/api/me", &[&mine])).await;
    assert_eq!(once.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_presented_token_whatever_the_body() {
    let app = TestApp::new();
    for (content_type, body) in [
        ("text/plain", "bye"),
        ("application/json", "{\"all\": tru"),
        ("application/octet-stream", "\u{0}\u{1}"),
    ] {
        let token = app.token_for("alice", PASSWORD).await;
        let reply = app
            .send(authorized(
                Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, content_type),
                &format!("Token {token}"),
                Body::from(body),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{content_type}");
        assert_eq!(
            app.get("/api/me", Some(&token)).await.status,
            StatusCode::UNAUTHORIZED,
            "{content_type}: revoked"
        );
    }
    // Only a readable body widens the logout to every token of the user.
    let (kept, used) = (
        app.token_for("alice", PASSWORD).await,
        app.token_for("alice", PASSWORD).await,
    );
    let reply = app
        .send(authorized(
            Request::post("/api-auth/logout/").header(header::CONTENT_TYPE, "text/plain"),
            &format!("Token {used}"),
            Body::from(r#"{"all": true}"#),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", Some(&kept)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_wiring_error_not_a_401() {
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_otp::AuthenticatedUser;
    let without_layer = axum::Router::new()
        .route(
            "/me",
            get(|user: AuthenticatedUser| async move { user.username }),
        )
        .route(
            "/maybe",
            get(|user: Option<AuthenticatedUser>| async move { format!("{user:?}") }),
        );
    for path in ["/me", "/maybe"] {
        let response = without_layer
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let reply = Reply::read(response).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(
            reply.text,
            r#"{"detail":"AuthenticatedUser needs OtpAuthLayer around this route."}"#
        );
    }
    // Through the layer, no token is "not logged in" (and `Option` says so).
    let app = TestApp::new();
    assert_eq!(
        app.get("/api/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/whoami", None).await.text, "anonymous");
}

#[tokio::test]
async fn a_user_put_in_the_extensions_before_the_layer_is_not_believed() {
    let app = TestApp::new();
    // A real user value (from a real token), put in the extensions of a request without one,
    // as an outer layer or a bug could.
    let token = app.token_for("alice", PASSWORD).await;
    let alice = app.layer.flow().authenticate(&token).await.unwrap();
    let router = app.router.clone().layer(tower::util::MapRequestLayer::new(
        move |mut request: Request<Body>| {
            request.extensions_mut().insert(alice.clone());
            request
        },
    ));
    let request = Request::get("/whoami").body(Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(Reply::read(response).await.text, "anonymous");
}
