//! gRPC through the layer, with a real tonic client over loopback (HTTP/2): the standard health
//! service behind `OtpAuthLayer`. The layer's refusals arrive as gRPC statuses, not JSON.

mod common;

use std::net::SocketAddr;

use axum::Router;
use common::app::{test_layer, Console, PASSWORD};
use tonic::transport::Channel;
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tower_otp::flow::{Client, Login};
use tower_otp::store::{MemoryStore, RedisStore};
use tower_otp::{ManualClock, OtpAuthBuilder, OtpAuthLayer};

/// The health service behind the layer (every gRPC path protected), on a free loopback port.
async fn serve(layer: OtpAuthLayer) -> SocketAddr {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let app: Router = tonic::service::Routes::new(health)
        .into_axum_router()
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn layer(configure: impl FnOnce(OtpAuthBuilder) -> OtpAuthBuilder) -> (OtpAuthLayer, Console) {
    let console = Console::default();
    let clock = ManualClock::new(common::app::start_time());
    let builder = test_layer(&clock, &console, &MemoryStore::new())
        .with_protected_path("/grpc.health.v1.Health/");
    (configure(builder).build().unwrap(), console)
}

async fn health(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

/// A health check carrying `token` (if any) in the `authorization` metadata.
fn check(token: Option<&str>) -> Request<HealthCheckRequest> {
    let mut request = Request::new(HealthCheckRequest::default());
    if let Some(token) = token {
        let value = format!("Token {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Logs alice in through the layer's flow: her token.
async fn token(layer: &OtpAuthLayer, console: &Console) -> String {
    let flow = layer.flow();
    let client = Client::new(None);
    let Login::CodeSent(pending) = flow.login("alice", PASSWORD, &client).await.unwrap() else {
        panic!("a code step");
    };
    flow.verify(&pending.challenge, &console.last_code(), &client)
        .await
        .unwrap()
        .token
}

#[tokio::test]
async fn grpc_calls_need_a_live_token_and_are_refused_in_grpc() {
    let (layer, console) = layer(|layer| layer);
    let addr = serve(layer.clone()).await;
    let mut client = health(addr).await;

    let missing = client.check(check(None)).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert_eq!(
        missing.message(),
        "Authentication credentials were not provided."
    );
    let garbled = client.check(check(Some("nonsense"))).await.unwrap_err();
    assert_eq!(garbled.code(), Code::Unauthenticated, "{garbled:?}");

    let token = token(&layer, &console).await;
    let serving = client.check(check(Some(&token))).await.unwrap();
    assert_eq!(serving.into_inner().status(), ServingStatus::Serving);

    // Two `authorization` values: refused before any lookup, as on HTTP.
    let mut twice = check(Some(&token));
    let again = format!("Token {token}").parse().unwrap();
    twice.metadata_mut().append("authorization", again);
    let refused = client.check(twice).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        refused.message(),
        "Only one Authorization header is allowed."
    );

    layer.revoke_all_tokens("1").await.unwrap();
    let revoked = client.check(check(Some(&token))).await.unwrap_err();
    assert_eq!(revoked.code(), Code::Unauthenticated, "{revoked:?}");
    assert_eq!(revoked.message(), "Invalid token.");
}

#[tokio::test]
async fn a_failing_store_is_unavailable_never_a_pass() {
    // Nothing listens on this port: every store operation fails.
    let port = common::redis_server::free_port();
    let dead = RedisStore::new(format!("redis://127.0.0.1:{port}")).unwrap();
    let (layer, _) = layer(|layer| {
        layer
            .with_store(dead)
            .with_secret_key(b"a test key of at least thirty-two bytes")
    });
    let addr = serve(layer).await;
    let well_formed = format!("{}.{}", "A".repeat(16), "B".repeat(43));
    let refused = health(addr)
        .await
        .check(check(Some(&well_formed)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_eq!(
        refused.message(),
        "Authentication is temporarily unavailable. Try again later."
    );
}
