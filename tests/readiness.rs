//! `OtpAuth` calls the very inner service instance that `poll_ready` prepared.

mod common;

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use axum::body::Body;
use common::app::*;
use http::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};
use tower_otp::store::MemoryStore;
use tower_otp::ManualClock;

/// A service that must be polled ready before each call; its clones start unready.
struct MustBeReady {
    ready: bool,
}

impl Clone for MustBeReady {
    fn clone(&self) -> Self {
        Self { ready: false }
    }
}

impl Service<Request<Body>> for MustBeReady {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Body>) -> Self::Future {
        assert!(self.ready, "called without poll_ready");
        self.ready = false;
        ready(Ok(Response::new(Body::from("inner"))))
    }
}

#[tokio::test]
async fn the_ready_instance_is_the_one_called() {
    let console = Console::default();
    let clock = ManualClock::new(start_time());
    let store = MemoryStore::new();
    let mut service = test_layer(&clock, &console, &store)
        .build()
        .unwrap()
        .layer(MustBeReady { ready: false });

    // Pass-through and authenticated requests both reach the inner service.
    for _ in 0..3 {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(Request::get("/public").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(Reply::read(response).await.text, "inner");
    }

    // Log in through the same service, then use the token: the inner service is reached.
    let send = |request: Request<Body>| {
        let service = service.clone();
        async move { Reply::read(service.oneshot(request).await.unwrap()).await }
    };
    let login = send(json_request(
        "/api-auth/login/",
        &serde_json::json!({ "username": "alice", "password": PASSWORD }),
    ))
    .await;
    let verify = send(json_request(
        "/api-auth/verify-token/",
        &serde_json::json!({ "challenge": login.str("challenge"), "token": console.last_code() }),
    ))
    .await;
    let authenticated = send(
        Request::get("/public")
            .header("authorization", format!("Token {}", verify.str("token")))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(authenticated.status, StatusCode::OK);
    assert_eq!(authenticated.text, "inner");
}
