//! Opening a database by URL, whichever of the compiled-in drivers it names.

use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyPool;

/// How long a request waits for a connection before it fails (503).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the database at `url`: `sqlite://users.db?mode=rwc` (a file, created if
/// missing with `mode=rwc`; `sqlite:///abs/path.db` for an absolute path), `sqlite::memory:`
/// (one connection, kept open: an in-memory database lives as long as its connection) or
/// `postgres://user@host/db` (add `?sslmode=verify-full` for a server across a network). Other
/// schemes are refused. Waiting for a connection is bounded (5 s), so a database that is down
/// or saturated answers 503, not a hung request.
///
/// An application that builds its own pool (`sqlx::AnyPool`) must call
/// `sqlx::any::install_default_drivers()` first; this does.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = tower_otp::sql::connect("sqlite::memory:").await.unwrap();
/// # let _ = pool;
/// # });
/// ```
pub async fn connect(url: &str) -> Result<AnyPool, sqlx::Error> {
    let scheme = url.split(':').next().unwrap_or_default();
    if !["sqlite", "postgres", "postgresql"].contains(&scheme) {
        return Err(sqlx::Error::Configuration(
            format!("{scheme:?}: tower-otp's SQL runs on sqlite: and postgres: URLs").into(),
        ));
    }
    install_default_drivers();
    let options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
    let in_memory = scheme == "sqlite" && (url.contains(":memory:") || url.contains("mode=memory"));
    let options = if in_memory {
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options
    };
    options.connect(url).await
}
