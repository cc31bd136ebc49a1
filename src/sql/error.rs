//! A database's errors, sorted into the store errors' two kinds, and the bound on how long a
//! database may take.

use std::future::Future;
use std::time::Duration;

use crate::second_factor::SecondFactorStoreError;
use crate::user::UserStoreError;

/// Whether the database could not be reached (or not in time), rather than refusing a query.
fn is_unreachable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

pub(super) fn second_factor_error(error: sqlx::Error) -> SecondFactorStoreError {
    if is_unreachable(&error) {
        SecondFactorStoreError::Unavailable(error.to_string())
    } else {
        SecondFactorStoreError::Backend(error.to_string())
    }
}

pub(super) fn user_error(error: sqlx::Error) -> UserStoreError {
    let kind = if is_unreachable(&error) {
        "users database unavailable"
    } else {
        "users database error"
    };
    UserStoreError(format!("{kind}: {error}"))
}

/// How long one store operation may take by default, all its queries included.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// `operation`, failed as unreachable (a timed-out I/O error) if it takes longer than
/// `timeout`: a database that hangs mid-query fails closed like one that is down. (A change
/// whose COMMIT was sent just before the timeout may have been made all the same: the caller
/// sees a failure, and the next read tells.)
pub(super) async fn bounded<T>(
    timeout: Duration,
    operation: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    tokio::time::timeout(timeout, operation)
        .await
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the database did not answer within {timeout:?}"),
            )))
        })
}
