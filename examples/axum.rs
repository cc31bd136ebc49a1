//! tower-otp in front of an axum `Router`.
//!
//! ```text
//! cargo run --example axum -- [--addr 127.0.0.1:3000] [--users users.json] [--config settings.toml]
//! ```

mod common;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::{routing::get, Extension, Json, Router};
use tower::util::MapRequestLayer;
use tower_otp::AuthenticatedUser;

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> Result<(), String> {
    let common::Setup { args, users, layer } = common::setup()?;

    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api/me", get(me))
        .with_state(users)
        .layer(layer)
        // The per-client login limit reads the peer address as a plain `SocketAddr` (with the
        // crate's `axum` feature it reads `ConnectInfo` itself).
        .layer(MapRequestLayer::new(|mut request: Request| {
            if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
                let peer = *peer;
                request.extensions_mut().insert(peer);
            }
            request
        }));

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    common::banner(
        "axum",
        listener.local_addr().map_err(|e| e.to_string())?,
        &args,
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

/// The layer answers 401 on /api/ without a valid token, so the extension is always there.
/// (With the `axum` feature, `user: AuthenticatedUser` works as an extractor too.)
async fn me(
    State(users): State<common::Users>,
    Extension(user): Extension<AuthenticatedUser>,
) -> Json<serde_json::Value> {
    Json(common::me(&users, &user).await)
}
