//! A database's errors, sorted into the store errors' two kinds.

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
