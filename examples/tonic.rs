//! tower-otp in front of a tonic gRPC server: the standard health service
//! (`grpc.health.v1.Health`) needs a token, and the layer's JSON login endpoints answer beside it
//! on the same port, so a client logs in over HTTP and calls gRPC with the token.
//!
//! ```text
//! cargo run --example tonic -- [--addr 127.0.0.1:3000] [--users users.json] [--config settings.toml]
//!     [--database 'sqlite://users.db?mode=rwc'] [--django]
//! ```

// The other examples' shared module; this one uses its setup, not its HTTP/1.1 server.
#[allow(dead_code)]
mod common;

use axum::routing::get;

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> Result<(), String> {
    let common::Setup { args, layer, .. } = common::setup(&["/grpc.health.v1.Health/"]).await?;

    let (_reporter, health) = tonic_health::server::health_reporter();
    let app = tonic::service::Routes::new(health)
        .into_axum_router()
        .route("/health", get(|| async { "ok" }))
        .layer(layer);

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("tower-otp tonic example listening on http://{addr} (HTTP/1.1 and HTTP/2)");
    println!(
        "routes: gRPC grpc.health.v1.Health/Check (token in the `authorization` metadata), \
         POST /api-auth/{{login,verify-token,resend-token,logout}}/"
    );
    // axum::serve speaks HTTP/1.1 and HTTP/2 (gRPC) on one port. Unlike the other examples it
    // sets no read timeouts: put a proxy with them in front of it in production.
    axum::serve(listener, app)
        .with_graceful_shutdown(common::ctrl_c())
        .await
        .map_err(|e| e.to_string())
}
