//! What a [`MemoryStore`](super::MemoryStore) holds: accounts with their challenge, failures
//! and tokens, the tokens by digest, the counters, and the sweep of what expired.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::store::records::{
    AccountKey, ChallengeInfo, CountedAttempt, DigestBytes, Failures, LockoutPolicy, NewChallenge,
    NewToken, PendingAppSetup, TokenInfo,
};

/// The fewest operations between two sweeps of expired records.
const SWEEP_MIN_OPS: usize = 1024;

#[derive(Debug, Default)]
pub(super) struct Inner {
    pub(super) accounts: HashMap<AccountKey, Account>,
    pub(super) tokens: HashMap<DigestBytes, StoredToken>,
    pub(super) counters: HashMap<String, Counter>,
    pub(super) ops_since_sweep: usize,
}

#[derive(Debug, Default)]
pub(super) struct Account {
    pub(super) challenge: Option<StoredChallenge>,
    /// The last challenge consumed by a successful verify, to tell a replay of its code.
    pub(super) consumed: Option<Consumed>,
    pub(super) failures: Option<Failures>,
    pub(super) tokens: HashSet<DigestBytes>,
    /// Remembered devices, by the digest of their secret, with their end.
    pub(super) devices: HashMap<DigestBytes, SystemTime>,
    /// The last authenticator time step accepted, and when it stops mattering.
    pub(super) time_step: Option<(u64, SystemTime)>,
    /// An authenticator setup waiting for its first code.
    pub(super) app_setup: Option<PendingAppSetup>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Consumed {
    pub(super) id: DigestBytes,
    pub(super) code: DigestBytes,
    pub(super) until: SystemTime,
}

#[derive(Debug)]
pub(super) struct StoredChallenge {
    pub(super) record: NewChallenge,
    pub(super) attempts: u32,
    pub(super) sends: u32,
}

impl StoredChallenge {
    pub(super) fn info(&self) -> ChallengeInfo {
        let record = &self.record;
        ChallengeInfo {
            user_id: record.user_id.clone(),
            username: record.username.clone(),
            issued_at: record.issued_at,
            code_expires_at: record.code_expires_at,
            sends: self.sends,
        }
    }
}

#[derive(Debug)]
pub(super) struct StoredToken {
    pub(super) account: AccountKey,
    pub(super) info: TokenInfo,
    pub(super) idle_timeout: Duration,
    pub(super) last_used: SystemTime,
}

impl StoredToken {
    pub(super) fn is_live(&self, now: SystemTime) -> bool {
        now < self.info.expires_at && now < self.last_used + self.idle_timeout
    }
}

#[derive(Debug)]
pub(super) struct Counter {
    pub(super) count: u64,
    pub(super) resets_at: SystemTime,
}

impl Account {
    pub(super) fn is_empty(&self) -> bool {
        self.challenge.is_none()
            && self.consumed.is_none()
            && self.failures.is_none()
            && self.tokens.is_empty()
            && self.devices.is_empty()
            && self.time_step.is_none()
            && self.app_setup.is_none()
    }

    pub(super) fn drop_expired(&mut self, now: SystemTime) {
        if self
            .challenge
            .as_ref()
            .is_some_and(|c| now >= c.record.expires_at)
        {
            self.challenge = None;
        }
        if self.consumed.is_some_and(|c| now >= c.until) {
            self.consumed = None;
        }
        self.devices.retain(|_, until| now < *until);
        if self.time_step.is_some_and(|(_, until)| now >= until) {
            self.time_step = None;
        }
        if self.app_setup.as_ref().is_some_and(|e| now >= e.expires_at) {
            self.app_setup = None;
        }
        if self.failures.as_ref().is_some_and(|f| now >= f.forget_at) {
            self.failures = None;
        }
    }

    pub(super) fn locked_until(&self, now: SystemTime) -> Option<SystemTime> {
        self.failures
            .as_ref()
            .and_then(|f| f.locked_until)
            .filter(|until| now < *until)
    }

    pub(super) fn record_failure(
        &mut self,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Option<SystemTime> {
        let failures = self.failures.get_or_insert(Failures {
            count: 0,
            locked_until: None,
            forget_at: now,
        });
        failures.count = failures.count.saturating_add(1);
        let locked_until = policy.lock_duration(failures.count).map(|d| now + d);
        if locked_until.is_some() {
            failures.locked_until = locked_until;
        }
        failures.forget_at = (now + policy.forget_after).max(locked_until.unwrap_or(now));
        locked_until
    }

    /// Undoes a counted attempt: see [`StateStore::forgive_password_attempt`].
    pub(super) fn forgive(&mut self, attempt: &CountedAttempt) {
        if self.failures == Some(attempt.after) {
            self.failures = attempt.before;
            return;
        }
        let Some(failures) = self.failures.as_mut() else {
            return;
        };
        failures.count = failures.count.saturating_sub(1);
        let lock = attempt.locked_until();
        if lock.is_some() && failures.locked_until == lock {
            failures.locked_until = None;
        }
        if failures.count == 0 && failures.locked_until.is_none() {
            self.failures = None;
        }
    }

    /// See [`StateStore::claim_time_step`](crate::store::StateStore::claim_time_step).
    pub(super) fn claim_time_step(&mut self, step: u64, until: SystemTime) -> bool {
        if self.time_step.is_some_and(|(last, _)| last >= step) {
            return false;
        }
        self.time_step = Some((step, until));
        true
    }

    /// See [`StateStore::fail_app_setup`](crate::store::StateStore::fail_app_setup).
    pub(super) fn fail_app_setup(&mut self, max_failures: u32) -> u32 {
        let Some(pending) = self.app_setup.as_mut() else {
            return 0;
        };
        pending.failures += 1;
        let left = max_failures.saturating_sub(pending.failures);
        if left == 0 {
            self.app_setup = None;
        }
        left
    }
}

impl Inner {
    /// The account's records with everything expired dropped.
    pub(super) fn account(&mut self, key: &AccountKey, now: SystemTime) -> &mut Account {
        let account = self.accounts.entry(key.clone()).or_default();
        account.drop_expired(now);
        account
    }

    pub(super) fn insert_token(&mut self, account: &AccountKey, token: &NewToken) {
        self.account(account, token.issued_at)
            .tokens
            .insert(token.digest);
        self.tokens.insert(
            token.digest,
            StoredToken {
                account: account.clone(),
                info: TokenInfo {
                    user_id: token.user_id.clone(),
                    username: token.username.clone(),
                    issued_at: token.issued_at,
                    expires_at: token.expires_at,
                },
                idle_timeout: token.idle_timeout,
                last_used: token.issued_at,
            },
        );
    }

    pub(super) fn remove_token(&mut self, digest: &DigestBytes) -> Option<StoredToken> {
        let token = self.tokens.remove(digest)?;
        if let Some(account) = self.accounts.get_mut(&token.account) {
            account.tokens.remove(digest);
        }
        Some(token)
    }

    pub(super) fn len(&self) -> usize {
        self.accounts.len() + self.tokens.len() + self.counters.len()
    }

    /// Counts an operation and sweeps everything expired now and then: after as many
    /// operations as there are records, so that on average an operation pays for visiting about
    /// one record, however large the store.
    pub(super) fn tick(&mut self, now: SystemTime) {
        self.ops_since_sweep += 1;
        if self.ops_since_sweep >= self.len().max(SWEEP_MIN_OPS) {
            self.sweep(now);
        }
    }

    pub(super) fn sweep(&mut self, now: SystemTime) {
        self.ops_since_sweep = 0;
        let dead: Vec<DigestBytes> = self
            .tokens
            .iter()
            .filter(|(_, t)| !t.is_live(now))
            .map(|(d, _)| *d)
            .collect();
        for digest in dead {
            self.remove_token(&digest);
        }
        self.accounts.retain(|_, account| {
            account.drop_expired(now);
            !account.is_empty()
        });
        self.counters.retain(|_, c| now < c.resets_at);
    }
}
