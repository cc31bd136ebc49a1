//! Opening a database by URL, whichever of the compiled-in drivers it names.

use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyPool;

/// How long a request waits for a connection before it fails (503).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the database at `url`: `sqlite://users.db?mode=rwc` (a file, created if
/// missing with `mode=rwc`), `sqlite::memory:` (one connection, kept open: an in-memory
/// database lives as long as its connection) or `postgres://user@host/db`. Waiting for a
/// connection is bounded (5 s), so a database that is down or saturated answers 503, not a hung
/// request.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = tower_otp::sql::connect("sqlite::memory:").await.unwrap();
/// # let _ = pool;
/// # });
/// ```
pub async fn connect(url: &str) -> Result<AnyPool, sqlx::Error> {
    install_default_drivers();
    let options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
    let options = if url.contains(":memory:") {
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
