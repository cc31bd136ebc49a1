//! tower-otp in front of an axum `Router`, with a sign-in page at `/`.
//!
//! ```text
//! cargo run --example axum -- [--addr 127.0.0.1:3000] [--users users.json] [--config settings.toml]
//!     [--database 'sqlite://users.db?mode=rwc'] [--django]
//! ```

mod common;
mod signin;

use axum::extract::State;
use axum::{routing::get, Extension, Json, Router};
use common::serve::{serve, ServeConfig};
use tower_otp::AuthenticatedUser;

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> Result<(), String> {
    let setup = common::setup(&["/api/"]).await?;
    let (args, users, metrics) = (setup.args, setup.users, setup.metrics);

    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(move || async move { metrics.answer() }))
        .route("/api/me", get(me))
        .merge(signin::routes())
        .with_state(users)
        .layer(setup.layer);

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let limits = ServeConfig::default();
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    common::banner("axum", addr, &args, &limits);
    println!("sign-in page: http://{addr}/");
    serve(listener, app, limits, common::ctrl_c()).await;
    Ok(())
}

/// The layer answers 401 on /api/ without a valid token, so the extension is always there.
/// (With the `axum` feature, `user: AuthenticatedUser` works as an extractor too.)
async fn me(
    State(users): State<common::Users>,
    Extension(user): Extension<AuthenticatedUser>,
) -> Json<serde_json::Value> {
    Json(common::me(&users, &user).await)
}
