//! The [`StateStore`] trait: what a store of the layer's state must do, atomically.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::records::{
    AccountKey, ActiveChallenge, CountedAttempt, CounterState, DigestBytes, LockoutPolicy,
    NewChallenge, NewToken, PasswordAttempt, PendingAppSetup, ResendOutcome, ResendRequest,
    StoreError, TokenInfo, VerifyAttempt, VerifyOutcome,
};

/// Storage of challenges, auth tokens and throttle counters.
///
/// Every record has an expiry; a store must never keep anything forever. Implementations must
/// make each method atomic with respect to the others for the same account: in particular a
/// code verifies at most once however many [`verify_challenge`](Self::verify_challenge) calls
/// race, and a new challenge replaces the old one in one step.
pub trait StateStore: Send + Sync + 'static {
    /// Whether several processes may share this store (a `RedisStore` does, a `MemoryStore`
    /// does not). The layer then refuses to start without an explicit secret key, which every
    /// instance must share. Default `true`, the safe answer: a store that lives in one process
    /// only says so.
    fn is_shared(&self) -> bool {
        true
    }

    /// Stores a new challenge for `account`, replacing (and so killing) any previous one.
    fn create_challenge(
        &self,
        account: &AccountKey,
        challenge: &NewChallenge,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// In one atomic step: refuses if the account is locked; finds the live challenge; refuses
    /// an expired code; counts the attempt (before comparing) and kills the challenge when the
    /// attempts are used up; compares the code in constant time; on a match consumes the
    /// challenge, clears the account's failures and stores `attempt.token`; on a mismatch counts
    /// an account failure (possibly locking it).
    fn verify_challenge(
        &self,
        account: &AccountKey,
        attempt: &VerifyAttempt<'_>,
    ) -> impl Future<Output = Result<VerifyOutcome, StoreError>> + Send;

    /// Replaces the code of a live challenge, respecting the cooldown and the send cap.
    fn resend_challenge(
        &self,
        account: &AccountKey,
        request: &ResendRequest<'_>,
    ) -> impl Future<Output = Result<ResendOutcome, StoreError>> + Send;

    /// Deletes the account's challenge if its id is `challenge` (used when a code could not be
    /// delivered). Returns whether something was deleted.
    fn delete_challenge(
        &self,
        account: &AccountKey,
        challenge: &DigestBytes,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The account's live challenge, without touching it; with `challenge`, only if it is the
    /// one with that id. A login waiting for an authenticator app is looked up by its id, to
    /// know whose app it is; django-drf-otp 0.0.11's resend body names a user, not a
    /// challenge, whose code is then resent by the id found here.
    fn active_challenge(
        &self,
        account: &AccountKey,
        challenge: Option<&DigestBytes>,
        now: SystemTime,
    ) -> impl Future<Output = Result<Option<ActiveChallenge>, StoreError>> + Send;

    /// In one atomic step: records that the account's authenticator code of time step `step`
    /// was accepted, unless this step or a later one already was (then `false`: a replay, RFC
    /// 6238 section 5.2). The record lives until `until`, when the step can no longer be
    /// presented.
    fn claim_time_step(
        &self,
        account: &AccountKey,
        step: u64,
        until: SystemTime,
        now: SystemTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores an authenticator setup waiting for its first code, replacing any previous one.
    fn begin_app_setup(
        &self,
        account: &AccountKey,
        pending: &PendingAppSetup,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The account's live pending setup, if any.
    fn pending_app_setup(
        &self,
        account: &AccountKey,
        now: SystemTime,
    ) -> impl Future<Output = Result<Option<PendingAppSetup>, StoreError>> + Send;

    /// In one atomic step: counts a wrong code against the pending setup and ends it when
    /// `max_failures` are reached. Returns the failures left (0: it ended, or there was none).
    fn fail_app_setup(
        &self,
        account: &AccountKey,
        max_failures: u32,
        now: SystemTime,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Ends the pending setup (confirmed). Returns whether there was one.
    fn end_app_setup(
        &self,
        account: &AccountKey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores an auth token without a challenge (OTP switched off).
    fn issue_token(
        &self,
        account: &AccountKey,
        token: &NewToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Looks a token up. A token past its absolute or idle expiry is deleted and not returned;
    /// a live one has its idle timer restarted. A store may skip the restart while the last one
    /// is recent (`RedisStore`: within 1/60 of the idle timeout, to spare a write per request):
    /// the token then dies up to that much earlier, never later.
    fn authenticate_token(
        &self,
        account: &AccountKey,
        digest: &DigestBytes,
        now: SystemTime,
    ) -> impl Future<Output = Result<Option<TokenInfo>, StoreError>> + Send;

    /// Revokes one token. Returns whether the store held it (a token past its end that the store
    /// had not removed yet counts).
    fn revoke_token(
        &self,
        account: &AccountKey,
        digest: &DigestBytes,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes every token of the account. Returns how many the store held, those past their
    /// end that it had not removed yet included.
    fn revoke_all_tokens(
        &self,
        account: &AccountKey,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Remembers a device (a browser that verified a code and asked to be remembered) until
    /// `expires_at`, by the digest of its secret.
    fn remember_device(
        &self,
        account: &AccountKey,
        device: &DigestBytes,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the device is remembered for the account at `now`.
    fn is_device_remembered(
        &self,
        account: &AccountKey,
        device: &DigestBytes,
        now: SystemTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets every remembered device of the account. Returns how many there were.
    fn revoke_all_devices(
        &self,
        account: &AccountKey,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// In one atomic step, before a password is compared: refuses if the account is locked
    /// (counting nothing), else counts the attempt as a failure in advance, locking the account
    /// if this failure reaches the policy's threshold.
    ///
    /// Counting before the comparison is what bounds guessing under concurrency: however many
    /// requests race, at most `policy.threshold` password checks of an account are admitted
    /// while it is not locked, and attempts refused while it is locked do not extend the lock.
    /// A right password then takes its count back with
    /// [`forgive_password_attempt`](Self::forgive_password_attempt).
    fn count_password_attempt(
        &self,
        account: &AccountKey,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<PasswordAttempt, StoreError>> + Send;

    /// Takes back an attempt [`count_password_attempt`](Self::count_password_attempt) counted
    /// whose password turned out right, or whose comparison never finished. If the account's
    /// failures are still exactly `attempt.after`, they become `attempt.before` again (lock and
    /// forgetting time included); if other attempts were counted since, there is one failure
    /// fewer, and the lock this attempt set is lifted if it is still in place.
    fn forgive_password_attempt(
        &self,
        account: &AccountKey,
        attempt: &CountedAttempt,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets the account's failures (a successful login).
    fn clear_failures(
        &self,
        account: &AccountKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts a hit on a fixed-window counter named `key` (e.g. login attempts of one client
    /// IP); windows are aligned to multiples of `window` since the Unix epoch.
    fn hit_counter(
        &self,
        key: &str,
        window: Duration,
        now: SystemTime,
    ) -> impl Future<Output = Result<CounterState, StoreError>> + Send;
}

/// The end of the fixed window of length `window` that holds `now` (windows are aligned to
/// multiples of `window` since the Unix epoch). Stores use it for [`StateStore::hit_counter`].
pub fn window_end(now: SystemTime, window: Duration) -> SystemTime {
    let window_ms = window.as_millis().max(1);
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let end = (now_ms / window_ms + 1) * window_ms;
    UNIX_EPOCH + Duration::from_millis(u64::try_from(end).unwrap_or(u64::MAX))
}
