//! The layer's own failures.

use std::sync::Arc;

use crate::notify::NotifyError;
use crate::password::PasswordError;
use crate::second_factor::SecondFactorStoreError;
use crate::store::StoreError;
use crate::user::UserStoreError;

/// Why the layer answered 503 itself. It is attached to that response's extensions, so outer
/// layers (logging, metrics) can inspect it: `response.extensions().get::<OtpError>()`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OtpError {
    /// The state store failed.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The user store failed.
    #[error(transparent)]
    Users(Arc<UserStoreError>),
    /// A password could not be checked.
    #[error(transparent)]
    Password(Arc<PasswordError>),
    /// A code could not be delivered.
    #[error(transparent)]
    Notify(Arc<NotifyError>),
    /// The second-factor store failed (or holds a secret the layer's keys do not open).
    #[error(transparent)]
    SecondFactors(Arc<SecondFactorStoreError>),
}

impl From<SecondFactorStoreError> for OtpError {
    fn from(e: SecondFactorStoreError) -> Self {
        Self::SecondFactors(Arc::new(e))
    }
}

impl From<StoreError> for OtpError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

impl From<UserStoreError> for OtpError {
    fn from(e: UserStoreError) -> Self {
        Self::Users(Arc::new(e))
    }
}

impl From<PasswordError> for OtpError {
    fn from(e: PasswordError) -> Self {
        Self::Password(Arc::new(e))
    }
}

impl From<NotifyError> for OtpError {
    fn from(e: NotifyError) -> Self {
        Self::Notify(Arc::new(e))
    }
}
