//! The [`SecondFactorStore`] trait: where a user's enrollment lives, durably.

use std::future::Future;
use std::time::SystemTime;

use super::sealing::SealedSecret;
use crate::boxed::BoxFuture;
use crate::store::DigestBytes;

/// A user's authenticator app and recovery codes.
///
/// Built by the layer and read by stores; its fields are public so that a store's own tests
/// can build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The app's secret, sealed for the user.
    pub secret: SealedSecret,
    /// The unused recovery codes.
    pub recovery_codes: RecoveryCodes,
    /// When the enrollment was confirmed.
    pub enrolled_at: SystemTime,
}

/// A user's unused recovery codes, as HMACs (under the secret key named by `key_id`) of the
/// codes the user was shown once. Its `Debug` shows the key id and how many are left.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodes {
    /// The id of the secret key the digests were made with.
    pub key_id: String,
    /// One digest per unused code, in no particular order.
    pub digests: Vec<DigestBytes>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCodes")
            .field("key_id", &self.key_id)
            .field("left", &self.digests.len())
            .finish_non_exhaustive()
    }
}

/// A second-factor store failure. The layer answers 503 to any of them (fail closed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecondFactorStoreError {
    /// The backend could not be reached in time.
    #[error("second-factor store unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with an error or with data it should not hold.
    #[error("second-factor store error: {0}")]
    Backend(String),
}

/// Durable storage of users' second factors, keyed by user id: implement it over the
/// application's own database, next to its users.
///
/// Each method must be atomic: above all [`use_recovery_code`](Self::use_recovery_code), which
/// lets one of any number of concurrent uses of a code win. Stored values are opaque to the
/// store (a sealed secret, digests); it never sees a secret or a code in the clear.
///
/// ```
/// use tower_otp::second_factor::{MemorySecondFactorStore, SecondFactorStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemorySecondFactorStore::new();
/// assert!(store.enrollment("42").await.unwrap().is_none());
/// # }
/// ```
pub trait SecondFactorStore: Send + Sync + 'static {
    /// Whether enrollments outlive the process (a database does; `MemorySecondFactorStore`
    /// does not). The layer then refuses to start without an explicit secret key: secrets
    /// sealed under a random per-process key would not open after a restart. Default `true`,
    /// the safe answer.
    fn is_durable(&self) -> bool {
        true
    }

    /// The user's enrollment, if any.
    fn enrollment(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Enrollment>, SecondFactorStoreError>> + Send;

    /// Stores the user's enrollment, unless the user already has one: then `false`, and
    /// nothing changed.
    fn enroll(
        &self,
        user_id: &str,
        enrollment: &Enrollment,
    ) -> impl Future<Output = Result<bool, SecondFactorStoreError>> + Send;

    /// Removes the user's enrollment (secret and recovery codes). Returns whether there was one.
    fn remove_enrollment(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<bool, SecondFactorStoreError>> + Send;

    /// Replaces the user's recovery codes (the old ones die). `false` if the user has no
    /// enrollment: nothing changed.
    fn replace_recovery_codes(
        &self,
        user_id: &str,
        codes: &RecoveryCodes,
    ) -> impl Future<Output = Result<bool, SecondFactorStoreError>> + Send;

    /// In one atomic step: removes the recovery code with this digest if the user has it, and
    /// answers how many are left; `None` if it was not there (never issued, used, or replaced).
    fn use_recovery_code(
        &self,
        user_id: &str,
        digest: &DigestBytes,
    ) -> impl Future<Output = Result<Option<usize>, SecondFactorStoreError>> + Send;
}

/// The object-safe twin of [`SecondFactorStore`].
pub(crate) trait DynSecondFactorStore: Send + Sync + 'static {
    fn is_durable(&self) -> bool;
    fn enrollment<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Enrollment>, SecondFactorStoreError>>;
    fn enroll<'a>(
        &'a self,
        user_id: &'a str,
        enrollment: &'a Enrollment,
    ) -> BoxFuture<'a, Result<bool, SecondFactorStoreError>>;
    fn remove_enrollment<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, SecondFactorStoreError>>;
    fn replace_recovery_codes<'a>(
        &'a self,
        user_id: &'a str,
        codes: &'a RecoveryCodes,
    ) -> BoxFuture<'a, Result<bool, SecondFactorStoreError>>;
    fn use_recovery_code<'a>(
        &'a self,
        user_id: &'a str,
        digest: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<Option<usize>, SecondFactorStoreError>>;
}

impl<T: SecondFactorStore> DynSecondFactorStore for T {
    fn is_durable(&self) -> bool {
        SecondFactorStore::is_durable(self)
    }
    fn enrollment<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Enrollment>, SecondFactorStoreError>> {
        Box::pin(SecondFactorStore::enrollment(self, user_id))
    }
    fn enroll<'a>(
        &'a self,
        user_id: &'a str,
        enrollment: &'a Enrollment,
    ) -> BoxFuture<'a, Result<bool, SecondFactorStoreError>> {
        Box::pin(SecondFactorStore::enroll(self, user_id, enrollment))
    }
    fn remove_enrollment<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, SecondFactorStoreError>> {
        Box::pin(SecondFactorStore::remove_enrollment(self, user_id))
    }
    fn replace_recovery_codes<'a>(
        &'a self,
        user_id: &'a str,
        codes: &'a RecoveryCodes,
    ) -> BoxFuture<'a, Result<bool, SecondFactorStoreError>> {
        Box::pin(SecondFactorStore::replace_recovery_codes(
            self, user_id, codes,
        ))
    }
    fn use_recovery_code<'a>(
        &'a self,
        user_id: &'a str,
        digest: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<Option<usize>, SecondFactorStoreError>> {
        Box::pin(SecondFactorStore::use_recovery_code(self, user_id, digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_digest() {
        let codes = RecoveryCodes {
            key_id: "0a1b2c3d".into(),
            digests: vec![[0xab; 32]; 3],
        };
        assert_eq!(
            format!("{codes:?}"),
            r#"RecoveryCodes { key_id: "0a1b2c3d", left: 3, .. }"#
        );
    }
}
