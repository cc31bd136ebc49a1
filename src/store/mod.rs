//! State stores: where the layer keeps its state (pending logins and their challenges, auth
//! tokens, failure counts and locks, throttle counters), behind the [`StateStore`] trait.
//!
//! A [`StateStore`] never sees a code, a token or a challenge id in the clear: the layer hands it
//! SHA-256 digests (tokens, challenge ids) and HMAC-SHA256 digests under the server key (codes),
//! so a copy of the store does not let anyone log in or read a code.
//!
//! Every record is filed under an [`AccountKey`], a keyed hash of the user id. The operations
//! that must be atomic ([`StateStore::verify_challenge`], [`StateStore::resend_challenge`],
//! [`StateStore::create_challenge`]) only touch records of one account, which lets a Redis
//! Cluster store keep them in one hash slot.
//!
//! Every operation takes the current time from the caller (the layer's [`Clock`](crate::Clock)),
//! so expiry is decided the same way by every store and can be tested without sleeping.
//!
//! Implementations: [`MemoryStore`] (feature `memory-store`, the default) and `RedisStore`
//! (feature `redis-store`). The conformance suite in `tests/` runs the same scenarios against
//! each of them.

#[cfg(feature = "memory-store")]
mod memory;

#[cfg(feature = "memory-store")]
pub use memory::MemoryStore;

#[cfg(feature = "redis-store")]
mod redis;

#[cfg(feature = "redis-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
pub use self::redis::RedisStore;

mod dyn_store;
mod records;

pub(crate) use dyn_store::DynStateStore;
#[cfg(not(feature = "memory-store"))]
pub(crate) use dyn_store::NoStore;
pub use records::{
    AccountKey, ChallengeInfo, CountedAttempt, CounterState, DigestBytes, Failures, LockoutPolicy,
    NewChallenge, NewToken, PasswordAttempt, ResendOutcome, ResendRequest, StoreError, TokenInfo,
    VerifyAttempt, VerifyOutcome,
};

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Storage of challenges, auth tokens and throttle counters.
///
/// Every record has an expiry; a store must never keep anything forever. Implementations must
/// make each method atomic with respect to the others for the same account: in particular a
/// code verifies at most once however many [`verify_challenge`](Self::verify_challenge) calls
/// race, and a new challenge replaces the old one in one step.
pub trait StateStore: Send + Sync + 'static {
    /// Whether several processes may share this store (a `RedisStore` does, a `MemoryStore`
    /// does not). The layer then refuses to start without an explicit secret key, which every
    /// instance must share. Default `false`.
    fn is_shared(&self) -> bool {
        false
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

    /// Revokes one token. Returns whether it existed.
    fn revoke_token(
        &self,
        account: &AccountKey,
        digest: &DigestBytes,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes every token of the account. Returns how many there were.
    fn revoke_all_tokens(
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
