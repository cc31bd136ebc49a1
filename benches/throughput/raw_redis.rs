//! The raw-Redis baselines: handlers doing nothing but what a row cannot avoid on Redis.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use tower_otp::redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::servers::serve;

/// Raw Redis baselines: an axum handler doing one GET, one doing one EVALSHA (of a script that
/// does one GET), on the same kind of connection `RedisStore` uses; and the verify-shaped one:
/// what a verify cannot avoid (a JSON POST read and parsed, 256 fresh bits from the OS, one
/// EVALSHA, a JSON answer) with the same one-GET script.
pub async fn raw_redis_server(url: &str) -> SocketAddr {
    use base64::Engine;
    use rand::RngCore;
    use tower_otp::redis::{AsyncCommands, Client, Script};
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let client = Client::open(url).expect("valid Redis URL");
    let mut manager = ConnectionManager::new_with_config(client, config)
        .await
        .expect("connect to Redis");
    let _: () = manager
        .set("bench:raw", "fast-0")
        .await
        .expect("SET the baseline key");
    let script = Arc::new(Script::new("return redis.call('GET', KEYS[1])"));
    let router = Router::new()
        .route(
            "/get",
            get(
                |State((mut c, _)): State<(ConnectionManager, Arc<Script>)>| async move {
                    let value: String = c.get("bench:raw").await.expect("GET");
                    value
                },
            ),
        )
        .route(
            "/evalsha",
            get(
                |State((mut c, s)): State<(ConnectionManager, Arc<Script>)>| async move {
                    let value: String = s
                        .key("bench:raw")
                        .invoke_async(&mut c)
                        .await
                        .expect("EVALSHA");
                    value
                },
            ),
        )
        .route(
            "/verify-shaped",
            axum::routing::post(
                |State((mut c, s)): State<(ConnectionManager, Arc<Script>)>,
                 axum::Json(body): axum::Json<serde_json::Value>| async move {
                    // A verify reads both fields; a body without them is the row's error.
                    if !(body["challenge"].is_string() && body["token"].is_string()) {
                        return Err(StatusCode::BAD_REQUEST);
                    }
                    let mut secret = [0u8; 32];
                    rand::rngs::OsRng.fill_bytes(&mut secret);
                    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
                    let value: String = s
                        .key("bench:raw")
                        .invoke_async(&mut c)
                        .await
                        .expect("EVALSHA");
                    Ok(axum::Json(
                        serde_json::json!({ "token": token, "value": value }),
                    ))
                },
            ),
        )
        .with_state((manager, script));
    serve(router).await
}
