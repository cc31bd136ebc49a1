//! The whole flow through real HTTP on loopback: an axum `Router` served by `axum::serve`, and
//! a bare hyper `service_fn` served by hyper-util, both driven by a hyper client.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use common::app::*;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use tower::ServiceBuilder;
use tower_otp::store::MemoryStore;
use tower_otp::{AuthenticatedUser, ManualClock};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn serve_axum(console: &Console) -> SocketAddr {
    let clock = ManualClock::new(start_time());
    let app = routes().layer(
        test_layer(&clock, console, &MemoryStore::new())
            .build()
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn bare_handler(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.extensions().get::<AuthenticatedUser>() {
        Some(user) => json!({ "id": user.id, "username": user.username }).to_string(),
        None => "anonymous".to_owned(),
    };
    Ok(Response::new(Full::from(body)))
}

async fn serve_hyper(console: &Console) -> SocketAddr {
    let clock = ManualClock::new(start_time());
    let service = ServiceBuilder::new()
        .layer(
            test_layer(&clock, console, &MemoryStore::new())
                .build()
                .unwrap(),
        )
        .service(tower::service_fn(bare_handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
            });
        }
    });
    addr
}

async fn call(
    client: &HttpClient,
    request: Request<Full<Bytes>>,
) -> (StatusCode, http::HeaderMap, String) {
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> Request<Full<Bytes>> {
    Request::post(format!("http://{addr}{path}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::from(body.to_string()))
        .unwrap()
}

fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Token {token}"));
    }
    request.body(Full::default()).unwrap()
}

/// Login, verify, a protected request, logout, and the revoked token refused.
async fn full_flow(addr: SocketAddr, console: &Console, protected: &str) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let (status, headers, body) = call(
        &client,
        post(
            addr,
            "/api-auth/login/",
            &json!({ "username": "alice", "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let login: Value = serde_json::from_str(&body).unwrap();
    let challenge = login["challenge"].as_str().unwrap();

    let (status, _, body) = call(
        &client,
        post(
            addr,
            "/api-auth/verify-token/",
            &json!({ "challenge": challenge, "token": console.last_code() }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _, body) = call(&client, get(addr, protected, Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "id": "1", "username": "alice" })
    );

    let (status, _, body) = call(&client, get(addr, protected, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );

    let logout = Request::post(format!("http://{addr}/api-auth/logout/"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::default())
        .unwrap();
    assert_eq!(call(&client, logout).await.0, StatusCode::NO_CONTENT);

    let (status, headers, body) = call(&client, get(addr, protected, Some(&token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Token");
    assert_eq!(body, r#"{"detail":"Invalid token."}"#);
}

#[tokio::test]
async fn axum_router_over_real_http() {
    let console = Console::default();
    let addr = serve_axum(&console).await;
    full_flow(addr, &console, "/api/me").await;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let (status, _, body) = call(&client, get(addr, "/health", None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn bare_hyper_service_over_real_http() {
    let console = Console::default();
    let addr = serve_hyper(&console).await;
    full_flow(addr, &console, "/api/anything").await;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let (status, _, body) = call(&client, get(addr, "/public", None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
}

#[tokio::test]
async fn bad_input_over_real_http() {
    let console = Console::default();
    let addr = serve_hyper(&console).await;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let huge = Request::post(format!("http://{addr}/api-auth/login/"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::from(vec![b' '; 1 << 20]))
        .unwrap();
    assert_eq!(call(&client, huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, headers, _) = call(&client, get(addr, "/api-auth/login/", None)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "POST");
    let malformed = Request::post(format!("http://{addr}/api-auth/login/"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::from("{\"username\": \"al"))
        .unwrap();
    let (status, _, body) = call(&client, malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.starts_with(r#"{"detail":"JSON parse error - "#),
        "{body}"
    );
    // The server is still serving after all that.
    full_flow(addr, &console, "/api/me").await;
}
