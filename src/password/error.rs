//! Why a password could not be hashed or checked.

use std::collections::TryReserveError;

/// A password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Hashing failed (bad parameters, or a stored hash's memory cost that cannot be
    /// allocated), or a stored hash asks for more work than this crate checks (see
    /// [`verify_password`](crate::verify_password)).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The thread that hashes or verifies passwords did not finish the job.
    #[error("password verification task failed: {0}")]
    Task(String),
}

/// Why a stored hash could not be checked, inside the password threads.
pub(super) enum VerifyError {
    /// Not a hash this crate can check: unparsable, another algorithm, unknown or invalid
    /// parameters, no salt or no output.
    Unusable,
    /// Its memory cost could not be allocated.
    OutOfMemory(TryReserveError),
    /// Its costs are above the limits checked here: what it asks for and the limits, said.
    TooCostly(String),
}
