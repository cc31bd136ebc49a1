//! [`MemorySecondFactorStore`]: enrollments in memory, for examples and tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use subtle::ConstantTimeEq;

use super::store::{Enrollment, RecoveryCodes, SecondFactorStore, SecondFactorStoreError};
use crate::store::DigestBytes;

/// Enrollments in this process's memory: lost on restart, not shared between instances. For
/// examples, tests and single-process development; implement [`SecondFactorStore`] over your
/// database for anything else. Cheap to clone (clones share the enrollments).
///
/// ```
/// use tower_otp::second_factor::MemorySecondFactorStore;
/// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
///
/// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
///     .with_second_factor_store(MemorySecondFactorStore::new())
///     .build()
///     .unwrap();
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySecondFactorStore {
    enrollments: Arc<Mutex<HashMap<String, Enrollment>>>,
}

impl MemorySecondFactorStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Enrollment>> {
        // A panic while holding the lock leaves the map consistent: every change is one call.
        self.enrollments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SecondFactorStore for MemorySecondFactorStore {
    fn is_durable(&self) -> bool {
        false
    }

    async fn enrollment(
        &self,
        user_id: &str,
    ) -> Result<Option<Enrollment>, SecondFactorStoreError> {
        Ok(self.lock().get(user_id).cloned())
    }

    async fn enroll(
        &self,
        user_id: &str,
        enrollment: &Enrollment,
    ) -> Result<bool, SecondFactorStoreError> {
        let mut enrollments = self.lock();
        if enrollments.contains_key(user_id) {
            return Ok(false);
        }
        enrollments.insert(user_id.to_owned(), enrollment.clone());
        Ok(true)
    }

    async fn remove_enrollment(&self, user_id: &str) -> Result<bool, SecondFactorStoreError> {
        Ok(self.lock().remove(user_id).is_some())
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        codes: &RecoveryCodes,
    ) -> Result<bool, SecondFactorStoreError> {
        Ok(match self.lock().get_mut(user_id) {
            Some(enrollment) => {
                enrollment.recovery_codes = codes.clone();
                true
            }
            None => false,
        })
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        digest: &DigestBytes,
    ) -> Result<Option<usize>, SecondFactorStoreError> {
        let mut enrollments = self.lock();
        let Some(enrollment) = enrollments.get_mut(user_id) else {
            return Ok(None);
        };
        let digests = &mut enrollment.recovery_codes.digests;
        // Every stored digest is compared, in constant time.
        let found = digests.iter().enumerate().fold(None, |found, (i, stored)| {
            if bool::from(stored.ct_eq(digest)) {
                Some(i)
            } else {
                found
            }
        });
        Ok(found.map(|i| {
            digests.swap_remove(i);
            digests.len()
        }))
    }
}
