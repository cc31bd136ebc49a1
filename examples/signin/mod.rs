//! The sign-in page the axum example serves at `/`: plain HTML, CSS and a little JavaScript,
//! no build step. It talks to the layer's endpoints with the session in a cookie (the example
//! runs with `token_transport = "both"`; set `"cookie"` to keep the token out of bodies too).

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("signin.js");
const STYLE: &str = include_str!("signin.css");

/// `GET /`, `/signin.js` and `/signin.css`, to merge into the application's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { serve("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/signin.js",
            get(|| async { serve("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/signin.css",
            get(|| async { serve("text/css; charset=utf-8", STYLE) }),
        )
}

fn serve(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            // Only this origin's own script and style: no inline code, nothing from elsewhere.
            (
                CONTENT_SECURITY_POLICY,
                "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            ),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}
