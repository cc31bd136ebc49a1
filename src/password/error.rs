//! Why a password could not be hashed or checked.

/// A password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Hashing failed (bad parameters, or a stored hash's memory cost that cannot be
    /// allocated).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The thread that hashes or verifies passwords did not finish the job.
    #[error("password verification task failed: {0}")]
    Task(String),
}
