//! tower-otp in front of a bare hyper `service_fn`, served with hyper (HTTP/1.1).
//!
//! ```text
//! cargo run --example hyper -- [--addr 127.0.0.1:3000] [--users users.json] [--config settings.toml]
//!     [--database 'sqlite://users.db?mode=rwc'] [--django]
//! ```

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::serve::{serve, ServeConfig};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tower::ServiceBuilder;
use tower_otp::AuthenticatedUser;

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> Result<(), String> {
    let setup = common::setup(&["/api/"]).await?;
    let (args, users, metrics) = (setup.args, setup.users, setup.metrics);

    let service = ServiceBuilder::new()
        .layer(setup.layer)
        .service(tower::service_fn(move |request| {
            let (users, metrics) = (users.clone(), metrics.clone());
            async move { Ok::<_, Infallible>(route(&users, &metrics, request).await) }
        }));

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let limits = ServeConfig::default();
    common::banner(
        "hyper",
        listener.local_addr().map_err(|e| e.to_string())?,
        &args,
        &limits,
    );
    serve(listener, service, limits, common::ctrl_c()).await;
    Ok(())
}

async fn route(
    users: &common::Users,
    metrics: &common::Metrics,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/health") => Response::new(Full::from("ok")),
        (&Method::GET, "/metrics") => {
            let (status, text) = metrics.answer();
            Response::builder()
                .status(status)
                .body(Full::from(text))
                .unwrap()
        }
        (&Method::GET, "/api/me") => {
            // The layer only lets authenticated requests reach /api/.
            let user = request
                .extensions()
                .get::<AuthenticatedUser>()
                .expect("the layer protects /api/");
            let body = common::me(users, user).await.to_string();
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::from(body))
                .unwrap()
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::from("not found"))
            .unwrap(),
    }
}
