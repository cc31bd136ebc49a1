//! [`MemoryStore`]: everything in one process's memory.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;

mod inner;

use inner::{Consumed, Counter, Inner, StoredChallenge};

use crate::store::records::{
    AccountKey, ActiveChallenge, CountedAttempt, CounterState, DigestBytes, LockoutPolicy,
    NewChallenge, NewToken, PasswordAttempt, PendingAppSetup, ResendOutcome, ResendRequest,
    StoreError, TokenInfo, VerifyAttempt, VerifyOutcome,
};
use crate::store::state_store::window_end;
use crate::store::state_store::StateStore;

/// A [`StateStore`] in the memory of one process: the embedded default, for development, tests
/// and single-instance deployments. Records disappear on restart, and several instances of an
/// application do not share it (use `RedisStore` for that).
///
/// Every operation runs under one lock, which makes each of them atomic. Expired records are
/// dropped when touched, and by a sweep once there have been as many operations since the last
/// one as the store holds records (at least 1024): a sweep visits every record, so this costs
/// O(1) per operation on average whatever the size, and memory stays within a small multiple
/// of the live records.
///
/// Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records held (accounts with any record, tokens and counters), expired ones
    /// not yet swept included. For tests and metrics.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every expired record now rather than at the next periodic sweep.
    pub fn sweep(&self, now: SystemTime) {
        self.lock().sweep(now);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a record half-written (every mutation
        // is a single assignment), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T>(&self, now: SystemTime, f: impl FnOnce(&mut Inner) -> T) -> Result<T, StoreError> {
        let mut inner = self.lock();
        inner.tick(now);
        Ok(f(&mut inner))
    }
}

impl StateStore for MemoryStore {
    fn is_shared(&self) -> bool {
        false
    }

    async fn create_challenge(
        &self,
        account: &AccountKey,
        challenge: &NewChallenge,
    ) -> Result<(), StoreError> {
        self.with(challenge.issued_at, |inner| {
            inner.account(account, challenge.issued_at).challenge = Some(StoredChallenge {
                record: challenge.clone(),
                attempts: 0,
                sends: 1,
            });
        })
    }

    async fn verify_challenge(
        &self,
        account: &AccountKey,
        attempt: &VerifyAttempt<'_>,
    ) -> Result<VerifyOutcome, StoreError> {
        let now = attempt.now;
        self.with(now, |inner| {
            let acc = inner.account(account, now);
            if let Some(until) = acc.locked_until(now) {
                return VerifyOutcome::Locked { until };
            }
            let matches_id = |id: &DigestBytes| {
                attempt
                    .challenge
                    .is_none_or(|wanted| bool::from(wanted.ct_eq(id)))
            };
            let Some(challenge) = acc.challenge.as_mut().filter(|c| matches_id(&c.record.id))
            else {
                // A replay is the consumed challenge's own code again, not any guess at it.
                let replayed = acc
                    .consumed
                    .is_some_and(|c| matches_id(&c.id) && bool::from(c.code.ct_eq(attempt.code)));
                return if replayed {
                    VerifyOutcome::Replayed
                } else {
                    VerifyOutcome::NotFound
                };
            };
            if now >= challenge.record.code_expires_at {
                return VerifyOutcome::Expired;
            }
            challenge.attempts += 1;
            if challenge.attempts > attempt.max_attempts {
                acc.challenge = None;
                return VerifyOutcome::NotFound;
            }
            if bool::from(challenge.record.code.ct_eq(attempt.code)) {
                let NewChallenge {
                    id,
                    user_id,
                    username,
                    code,
                    expires_at,
                    ..
                } = challenge.record.clone();
                acc.challenge = None;
                acc.consumed = Some(Consumed {
                    id,
                    code,
                    until: expires_at,
                });
                acc.failures = None;
                let token = NewToken {
                    user_id,
                    username,
                    ..attempt.token.clone()
                };
                inner.insert_token(account, &token);
                return VerifyOutcome::Verified(TokenInfo {
                    user_id: token.user_id,
                    username: token.username,
                    issued_at: token.issued_at,
                    expires_at: token.expires_at,
                });
            }
            let attempts_left = attempt.max_attempts - challenge.attempts;
            if attempts_left == 0 {
                acc.challenge = None;
            }
            let locked_until = acc.record_failure(now, attempt.lockout);
            VerifyOutcome::Mismatch {
                attempts_left,
                locked_until,
            }
        })
    }

    async fn resend_challenge(
        &self,
        account: &AccountKey,
        request: &ResendRequest<'_>,
    ) -> Result<ResendOutcome, StoreError> {
        let now = request.now;
        self.with(now, |inner| {
            let acc = inner.account(account, now);
            let Some(challenge) = acc
                .challenge
                .as_mut()
                .filter(|c| bool::from(c.record.id.ct_eq(request.challenge)))
            else {
                return ResendOutcome::NotFound;
            };
            let allowed_at = challenge.record.issued_at + request.cooldown;
            if now < allowed_at {
                return ResendOutcome::Cooldown { until: allowed_at };
            }
            if challenge.sends >= request.max_sends {
                return ResendOutcome::Exhausted;
            }
            let record = &mut challenge.record;
            record.code = *request.code;
            record.issued_at = now;
            record.code_expires_at = (now + request.code_ttl).min(record.expires_at);
            challenge.sends += 1;
            ResendOutcome::Resent(challenge.info())
        })
    }

    async fn delete_challenge(
        &self,
        account: &AccountKey,
        challenge: &DigestBytes,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(acc) = inner.accounts.get_mut(account) else {
            return Ok(false);
        };
        let matches = acc
            .challenge
            .as_ref()
            .is_some_and(|c| bool::from(c.record.id.ct_eq(challenge)));
        if matches {
            acc.challenge = None;
        }
        Ok(matches)
    }

    async fn active_challenge(
        &self,
        account: &AccountKey,
        challenge: Option<&DigestBytes>,
        now: SystemTime,
    ) -> Result<Option<ActiveChallenge>, StoreError> {
        self.with(now, |inner| {
            let acc = inner.account(account, now);
            acc.challenge
                .as_ref()
                .filter(|c| challenge.is_none_or(|id| bool::from(c.record.id.ct_eq(id))))
                .map(|c| ActiveChallenge {
                    id: c.record.id,
                    code: c.record.code,
                    user_id: c.record.user_id.clone(),
                })
        })
    }

    async fn claim_time_step(
        &self,
        account: &AccountKey,
        step: u64,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.with(now, |inner| {
            inner.account(account, now).claim_time_step(step, until)
        })
    }

    async fn begin_app_setup(
        &self,
        account: &AccountKey,
        pending: &PendingAppSetup,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.with(now, |inner| {
            inner.account(account, now).app_setup = Some(PendingAppSetup {
                failures: 0,
                ..pending.clone()
            });
        })
    }

    async fn pending_app_setup(
        &self,
        account: &AccountKey,
        now: SystemTime,
    ) -> Result<Option<PendingAppSetup>, StoreError> {
        self.with(now, |inner| inner.account(account, now).app_setup.clone())
    }

    async fn fail_app_setup(
        &self,
        account: &AccountKey,
        max_failures: u32,
        now: SystemTime,
    ) -> Result<u32, StoreError> {
        self.with(now, |inner| {
            inner.account(account, now).fail_app_setup(max_failures)
        })
    }

    async fn end_app_setup(&self, account: &AccountKey) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        Ok(inner
            .accounts
            .get_mut(account)
            .and_then(|acc| acc.app_setup.take())
            .is_some())
    }

    async fn issue_token(&self, account: &AccountKey, token: &NewToken) -> Result<(), StoreError> {
        self.with(token.issued_at, |inner| inner.insert_token(account, token))
    }

    async fn authenticate_token(
        &self,
        account: &AccountKey,
        digest: &DigestBytes,
        now: SystemTime,
    ) -> Result<Option<TokenInfo>, StoreError> {
        self.with(now, |inner| {
            let token = inner.tokens.get_mut(digest)?;
            if token.account != *account {
                return None;
            }
            if !token.is_live(now) {
                inner.remove_token(digest);
                return None;
            }
            token.last_used = now;
            Some(token.info.clone())
        })
    }

    async fn revoke_token(
        &self,
        account: &AccountKey,
        digest: &DigestBytes,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner
            .tokens
            .get(digest)
            .is_none_or(|t| t.account != *account)
        {
            return Ok(false);
        }
        Ok(inner.remove_token(digest).is_some())
    }

    async fn revoke_all_tokens(&self, account: &AccountKey) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let digests: Vec<DigestBytes> = inner
            .accounts
            .get_mut(account)
            .map(|acc| acc.tokens.drain().collect())
            .unwrap_or_default();
        for digest in &digests {
            inner.tokens.remove(digest);
        }
        Ok(digests.len() as u64)
    }

    async fn remember_device(
        &self,
        account: &AccountKey,
        device: &DigestBytes,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.with(now, |inner| {
            inner
                .account(account, now)
                .devices
                .insert(*device, expires_at);
        })
    }

    async fn is_device_remembered(
        &self,
        account: &AccountKey,
        device: &DigestBytes,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.with(now, |inner| {
            // Digests of 256-bit secrets: looked up, so the lookup's timing tells nothing.
            inner.account(account, now).devices.contains_key(device)
        })
    }

    async fn revoke_all_devices(&self, account: &AccountKey) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let revoked = inner
            .accounts
            .get_mut(account)
            .map(|acc| std::mem::take(&mut acc.devices).len())
            .unwrap_or(0);
        Ok(revoked as u64)
    }

    async fn count_password_attempt(
        &self,
        account: &AccountKey,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<PasswordAttempt, StoreError> {
        self.with(now, |inner| {
            let acc = inner.account(account, now);
            if let Some(until) = acc.locked_until(now) {
                return PasswordAttempt::Locked { until };
            }
            let before = acc.failures;
            acc.record_failure(now, policy);
            PasswordAttempt::Counted(CountedAttempt {
                before,
                after: acc.failures.expect("a failure was just recorded"),
            })
        })
    }

    async fn forgive_password_attempt(
        &self,
        account: &AccountKey,
        attempt: &CountedAttempt,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        if let Some(acc) = self.lock().accounts.get_mut(account) {
            acc.drop_expired(now);
            acc.forgive(attempt);
        }
        Ok(())
    }

    async fn clear_failures(&self, account: &AccountKey) -> Result<(), StoreError> {
        if let Some(acc) = self.lock().accounts.get_mut(account) {
            acc.failures = None;
        }
        Ok(())
    }

    async fn hit_counter(
        &self,
        key: &str,
        window: Duration,
        now: SystemTime,
    ) -> Result<CounterState, StoreError> {
        let resets_at = window_end(now, window);
        self.with(now, |inner| {
            let counter = inner.counters.entry(key.to_owned()).or_insert(Counter {
                count: 0,
                resets_at,
            });
            if counter.resets_at != resets_at {
                *counter = Counter {
                    count: 0,
                    resets_at,
                };
            }
            counter.count += 1;
            CounterState {
                count: counter.count,
                resets_at,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[tokio::test]
    async fn records_nobody_touches_again_are_swept_by_later_operations() {
        let store = MemoryStore::new();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for i in 0..5000 {
            store
                .hit_counter(&format!("client-{i}"), Duration::from_secs(1), t0)
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 5000);
        // Once they are over, as many operations as there are records bring a sweep.
        let later = t0 + Duration::from_secs(10);
        for _ in 0..5000 {
            store
                .hit_counter("other", Duration::from_secs(60), later)
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 1);
    }
}
