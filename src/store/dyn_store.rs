//! The object-safe twin of [`StateStore`], so the layer can hold any store behind an `Arc`;
//! every call through it is timed (`metrics` feature).

use std::time::{Duration, SystemTime};

use crate::boxed::BoxFuture;
use crate::metrics::time_store;

use crate::store::records::{
    AccountKey, ActiveChallenge, CountedAttempt, CounterState, DigestBytes, LockoutPolicy,
    NewChallenge, NewToken, PasswordAttempt, PendingAppSetup, ResendOutcome, ResendRequest,
    StoreError, TokenInfo, VerifyAttempt, VerifyOutcome,
};
use crate::store::state_store::StateStore;

/// The object-safe twin of [`StateStore`], so the layer can hold any store behind an `Arc`
/// without a type parameter.
pub(crate) trait DynStateStore: Send + Sync + 'static {
    fn create_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        challenge: &'a NewChallenge,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn verify_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        attempt: &'a VerifyAttempt<'a>,
    ) -> BoxFuture<'a, Result<VerifyOutcome, StoreError>>;
    fn resend_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        request: &'a ResendRequest<'a>,
    ) -> BoxFuture<'a, Result<ResendOutcome, StoreError>>;
    fn delete_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        challenge: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn active_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        challenge: Option<&'a DigestBytes>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<ActiveChallenge>, StoreError>>;
    fn claim_time_step<'a>(
        &'a self,
        account: &'a AccountKey,
        step: u64,
        until: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn begin_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
        pending: &'a PendingAppSetup,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn pending_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<PendingAppSetup>, StoreError>>;
    fn fail_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
        max_failures: u32,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u32, StoreError>>;
    fn end_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn issue_token<'a>(
        &'a self,
        account: &'a AccountKey,
        token: &'a NewToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn authenticate_token<'a>(
        &'a self,
        account: &'a AccountKey,
        digest: &'a DigestBytes,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<TokenInfo>, StoreError>>;
    fn revoke_token<'a>(
        &'a self,
        account: &'a AccountKey,
        digest: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn revoke_all_tokens<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn remember_device<'a>(
        &'a self,
        account: &'a AccountKey,
        device: &'a DigestBytes,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn is_device_remembered<'a>(
        &'a self,
        account: &'a AccountKey,
        device: &'a DigestBytes,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn revoke_all_devices<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn count_password_attempt<'a>(
        &'a self,
        account: &'a AccountKey,
        now: SystemTime,
        policy: &'a LockoutPolicy,
    ) -> BoxFuture<'a, Result<PasswordAttempt, StoreError>>;
    fn forgive_password_attempt<'a>(
        &'a self,
        account: &'a AccountKey,
        attempt: &'a CountedAttempt,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn clear_failures<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn hit_counter<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CounterState, StoreError>>;
}

impl<T: StateStore> DynStateStore for T {
    fn create_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        challenge: &'a NewChallenge,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(time_store(
            "create_challenge",
            StateStore::create_challenge(self, account, challenge),
        ))
    }
    fn verify_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        attempt: &'a VerifyAttempt<'a>,
    ) -> BoxFuture<'a, Result<VerifyOutcome, StoreError>> {
        Box::pin(time_store(
            "verify_challenge",
            StateStore::verify_challenge(self, account, attempt),
        ))
    }
    fn resend_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        request: &'a ResendRequest<'a>,
    ) -> BoxFuture<'a, Result<ResendOutcome, StoreError>> {
        Box::pin(time_store(
            "resend_challenge",
            StateStore::resend_challenge(self, account, request),
        ))
    }
    fn delete_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        challenge: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(time_store(
            "delete_challenge",
            StateStore::delete_challenge(self, account, challenge),
        ))
    }
    fn active_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        challenge: Option<&'a DigestBytes>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<ActiveChallenge>, StoreError>> {
        Box::pin(time_store(
            "active_challenge",
            StateStore::active_challenge(self, account, challenge, now),
        ))
    }
    fn claim_time_step<'a>(
        &'a self,
        account: &'a AccountKey,
        step: u64,
        until: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(StateStore::claim_time_step(self, account, step, until, now))
    }
    fn begin_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
        pending: &'a PendingAppSetup,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(StateStore::begin_app_setup(self, account, pending, now))
    }
    fn pending_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<PendingAppSetup>, StoreError>> {
        Box::pin(StateStore::pending_app_setup(self, account, now))
    }
    fn fail_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
        max_failures: u32,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u32, StoreError>> {
        Box::pin(StateStore::fail_app_setup(self, account, max_failures, now))
    }
    fn end_app_setup<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(StateStore::end_app_setup(self, account))
    }
    fn issue_token<'a>(
        &'a self,
        account: &'a AccountKey,
        token: &'a NewToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(time_store(
            "issue_token",
            StateStore::issue_token(self, account, token),
        ))
    }
    fn authenticate_token<'a>(
        &'a self,
        account: &'a AccountKey,
        digest: &'a DigestBytes,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<TokenInfo>, StoreError>> {
        Box::pin(time_store(
            "authenticate_token",
            StateStore::authenticate_token(self, account, digest, now),
        ))
    }
    fn revoke_token<'a>(
        &'a self,
        account: &'a AccountKey,
        digest: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(time_store(
            "revoke_token",
            StateStore::revoke_token(self, account, digest),
        ))
    }
    fn revoke_all_tokens<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(time_store(
            "revoke_all_tokens",
            StateStore::revoke_all_tokens(self, account),
        ))
    }
    fn remember_device<'a>(
        &'a self,
        account: &'a AccountKey,
        device: &'a DigestBytes,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(time_store(
            "remember_device",
            StateStore::remember_device(self, account, device, expires_at, now),
        ))
    }
    fn is_device_remembered<'a>(
        &'a self,
        account: &'a AccountKey,
        device: &'a DigestBytes,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(time_store(
            "is_device_remembered",
            StateStore::is_device_remembered(self, account, device, now),
        ))
    }
    fn revoke_all_devices<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(time_store(
            "revoke_all_devices",
            StateStore::revoke_all_devices(self, account),
        ))
    }
    fn count_password_attempt<'a>(
        &'a self,
        account: &'a AccountKey,
        now: SystemTime,
        policy: &'a LockoutPolicy,
    ) -> BoxFuture<'a, Result<PasswordAttempt, StoreError>> {
        Box::pin(time_store(
            "count_password_attempt",
            StateStore::count_password_attempt(self, account, now, policy),
        ))
    }
    fn forgive_password_attempt<'a>(
        &'a self,
        account: &'a AccountKey,
        attempt: &'a CountedAttempt,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(time_store(
            "forgive_password_attempt",
            StateStore::forgive_password_attempt(self, account, attempt, now),
        ))
    }
    fn clear_failures<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(time_store(
            "clear_failures",
            StateStore::clear_failures(self, account),
        ))
    }
    fn hit_counter<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CounterState, StoreError>> {
        Box::pin(time_store(
            "hit_counter",
            StateStore::hit_counter(self, key, window, now),
        ))
    }
}
