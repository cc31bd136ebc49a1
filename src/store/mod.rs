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

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A SHA-256 or HMAC-SHA256 digest.
pub type DigestBytes = [u8; 32];

/// The store's name for an account: a keyed hash of the user id, URL-safe, never the id itself.
///
/// The layer derives it; stores treat it as an opaque string and may embed it in key names
/// (for Redis Cluster it is the hash tag).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey(String);

impl AccountKey {
    /// Wraps an already derived key. Only characters `[A-Za-z0-9_-]` are meaningful; the layer
    /// never produces anything else.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A challenge to store: one pending login waiting for its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChallenge {
    /// SHA-256 of the challenge id the client holds.
    pub id: DigestBytes,
    /// The user being logged in.
    pub user_id: String,
    /// The user's username, as the user store knows it.
    pub username: String,
    /// HMAC of the code under the server key.
    pub code: DigestBytes,
    /// When the current code was issued.
    pub issued_at: SystemTime,
    /// When the current code stops being accepted.
    pub code_expires_at: SystemTime,
    /// When the pending login itself ends (no resend can extend it). The record's TTL.
    pub expires_at: SystemTime,
}

/// What a store tells about a challenge after a resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeInfo {
    /// The user being logged in.
    pub user_id: String,
    /// The user's username.
    pub username: String,
    /// When the current code was issued.
    pub issued_at: SystemTime,
    /// When the current code stops being accepted.
    pub code_expires_at: SystemTime,
    /// Codes sent for this challenge so far, the first one included.
    pub sends: u32,
}

/// An auth token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// SHA-256 of the token the client holds.
    pub digest: DigestBytes,
    /// The authenticated user.
    pub user_id: String,
    /// The user's username.
    pub username: String,
    /// When the token was issued.
    pub issued_at: SystemTime,
    /// Absolute end of the token's life.
    pub expires_at: SystemTime,
    /// The token dies when unused for this long.
    pub idle_timeout: Duration,
}

/// A valid auth token, as returned by [`StateStore::authenticate_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The authenticated user.
    pub user_id: String,
    /// The user's username.
    pub username: String,
    /// When the token was issued.
    pub issued_at: SystemTime,
    /// Absolute end of the token's life.
    pub expires_at: SystemTime,
}

/// Account lockout after consecutive failures (wrong passwords and wrong codes together).
///
/// After `threshold` consecutive failures the account is locked for `base`; every further
/// failure once the lock is over doubles the lock, up to `max` (attempts made while it is locked
/// are refused without being counted). Failures are forgotten `forget_after` after the last
/// one, or at once on a successful login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures before the first lock.
    pub threshold: u32,
    /// The first lock's duration.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
    /// How long failures are remembered after the last one.
    pub forget_after: Duration,
}

impl LockoutPolicy {
    /// How long the account is locked after `failures` consecutive failures, if at all.
    pub fn lock_duration(&self, failures: u32) -> Option<Duration> {
        if self.threshold == 0 || failures < self.threshold {
            return None;
        }
        let doublings = (failures - self.threshold).min(32);
        Some(
            self.base
                .saturating_mul(1u32 << doublings.min(31))
                .min(self.max),
        )
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 10,
            base: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            forget_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// One verification attempt of a code, for [`StateStore::verify_challenge`].
#[derive(Debug, Clone)]
pub struct VerifyAttempt<'a> {
    /// SHA-256 of the challenge id the client sent; `None` means the account's active challenge
    /// (the django-drf-otp compatible body, which carries username and password instead).
    pub challenge: Option<&'a DigestBytes>,
    /// HMAC of the code the client sent.
    pub code: &'a DigestBytes,
    /// The current time.
    pub now: SystemTime,
    /// Attempts allowed per challenge; the attempt is counted before the comparison.
    pub max_attempts: u32,
    /// Account lockout: a wrong code counts as a failure, a right one clears them.
    pub lockout: &'a LockoutPolicy,
    /// The auth token to issue if the code is right. It is stored for the challenge's user:
    /// its `user_id` and `username` are ignored and taken from the challenge.
    pub token: &'a NewToken,
}

/// The result of [`StateStore::verify_challenge`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyOutcome {
    /// The code was right: the challenge is consumed and the token stored.
    Verified(TokenInfo),
    /// The code was wrong. `attempts_left == 0` means the challenge is now dead.
    Mismatch {
        /// Attempts left on this challenge.
        attempts_left: u32,
        /// Set when this failure locked the account.
        locked_until: Option<SystemTime>,
    },
    /// The code's lifetime is over. Nothing was counted.
    Expired,
    /// The code of a challenge already consumed by a successful verify was sent again (a
    /// replay). A wrong code for a consumed challenge is `NotFound`.
    Replayed,
    /// No such live challenge (never issued, superseded, out of attempts or past its life).
    NotFound,
    /// The account is locked: nothing was compared or counted.
    Locked {
        /// When the lock ends.
        until: SystemTime,
    },
}

/// The result of [`StateStore::count_password_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordAttempt {
    /// The account is locked: the password must not be compared. Nothing was counted.
    Locked {
        /// When the lock ends.
        until: SystemTime,
    },
    /// The attempt was counted as a failure: compare the password now, and if it is right (or
    /// the comparison never finishes), [forgive](StateStore::forgive_password_attempt) it.
    Counted(CountedAttempt),
}

/// An account's remembered failures (wrong passwords and codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Consecutive failures.
    pub count: u32,
    /// The end of the last lock set, if any (it may be over).
    pub locked_until: Option<SystemTime>,
    /// When the failures are forgotten.
    pub forget_at: SystemTime,
}

/// A password attempt [`StateStore::count_password_attempt`] counted: the account's failures
/// just before and just after, so that forgiving it can undo exactly what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedAttempt {
    /// The failures before this attempt (`None`: none remembered).
    pub before: Option<Failures>,
    /// The failures with this attempt counted.
    pub after: Failures,
}

impl CountedAttempt {
    /// The lock this attempt set, if it reached the threshold (it stands if the password is
    /// wrong).
    pub fn locked_until(&self) -> Option<SystemTime> {
        let before = self.before.and_then(|b| b.locked_until);
        self.after.locked_until.filter(|lock| before != Some(*lock))
    }
}

/// A resend request, for [`StateStore::resend_challenge`].
#[derive(Debug, Clone)]
pub struct ResendRequest<'a> {
    /// SHA-256 of the challenge id.
    pub challenge: &'a DigestBytes,
    /// HMAC of the new code.
    pub code: &'a DigestBytes,
    /// The current time.
    pub now: SystemTime,
    /// Lifetime of the new code (capped by the challenge's own end).
    pub code_ttl: Duration,
    /// Minimum time between two codes of one challenge.
    pub cooldown: Duration,
    /// Most codes one challenge may send, the first included.
    pub max_sends: u32,
}

/// The result of [`StateStore::resend_challenge`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResendOutcome {
    /// The new code replaced the old one, which no longer verifies.
    Resent(ChallengeInfo),
    /// Too early: nothing changed.
    Cooldown {
        /// When a resend will be allowed.
        until: SystemTime,
    },
    /// The challenge has sent all the codes it may: nothing changed.
    Exhausted,
    /// No such live challenge.
    NotFound,
}

/// A fixed-window counter's state after a hit, for [`StateStore::hit_counter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterState {
    /// Hits in the current window, this one included.
    pub count: u64,
    /// When the current window ends.
    pub resets_at: SystemTime,
}

/// A store failure. The layer answers 503 to any of them (fail closed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached in time.
    #[error("token store unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with an error or with data it should not hold.
    #[error("token store error: {0}")]
    Backend(String),
}

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

use crate::boxed::BoxFuture;

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
        Box::pin(StateStore::create_challenge(self, account, challenge))
    }
    fn verify_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        attempt: &'a VerifyAttempt<'a>,
    ) -> BoxFuture<'a, Result<VerifyOutcome, StoreError>> {
        Box::pin(StateStore::verify_challenge(self, account, attempt))
    }
    fn resend_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        request: &'a ResendRequest<'a>,
    ) -> BoxFuture<'a, Result<ResendOutcome, StoreError>> {
        Box::pin(StateStore::resend_challenge(self, account, request))
    }
    fn delete_challenge<'a>(
        &'a self,
        account: &'a AccountKey,
        challenge: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(StateStore::delete_challenge(self, account, challenge))
    }
    fn issue_token<'a>(
        &'a self,
        account: &'a AccountKey,
        token: &'a NewToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(StateStore::issue_token(self, account, token))
    }
    fn authenticate_token<'a>(
        &'a self,
        account: &'a AccountKey,
        digest: &'a DigestBytes,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<TokenInfo>, StoreError>> {
        Box::pin(StateStore::authenticate_token(self, account, digest, now))
    }
    fn revoke_token<'a>(
        &'a self,
        account: &'a AccountKey,
        digest: &'a DigestBytes,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(StateStore::revoke_token(self, account, digest))
    }
    fn revoke_all_tokens<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(StateStore::revoke_all_tokens(self, account))
    }
    fn count_password_attempt<'a>(
        &'a self,
        account: &'a AccountKey,
        now: SystemTime,
        policy: &'a LockoutPolicy,
    ) -> BoxFuture<'a, Result<PasswordAttempt, StoreError>> {
        Box::pin(StateStore::count_password_attempt(
            self, account, now, policy,
        ))
    }
    fn forgive_password_attempt<'a>(
        &'a self,
        account: &'a AccountKey,
        attempt: &'a CountedAttempt,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(StateStore::forgive_password_attempt(
            self, account, attempt, now,
        ))
    }
    fn clear_failures<'a>(
        &'a self,
        account: &'a AccountKey,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(StateStore::clear_failures(self, account))
    }
    fn hit_counter<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CounterState, StoreError>> {
        Box::pin(StateStore::hit_counter(self, key, window, now))
    }
}

/// The store of a layer built without the `memory-store` feature and without
/// [`with_store`](crate::OtpAuthBuilder::with_store): everything fails closed, with a message
/// that says what is missing.
#[cfg(not(feature = "memory-store"))]
pub(crate) struct NoStore;

#[cfg(not(feature = "memory-store"))]
impl NoStore {
    fn error<T>() -> Result<T, StoreError> {
        Err(StoreError::Unavailable(
            "no token store configured: call OtpAuthBuilder::with_store or enable the \
             `memory-store` feature"
                .to_owned(),
        ))
    }
}

#[cfg(not(feature = "memory-store"))]
impl StateStore for NoStore {
    async fn create_challenge(&self, _: &AccountKey, _: &NewChallenge) -> Result<(), StoreError> {
        Self::error()
    }
    async fn verify_challenge(
        &self,
        _: &AccountKey,
        _: &VerifyAttempt<'_>,
    ) -> Result<VerifyOutcome, StoreError> {
        Self::error()
    }
    async fn resend_challenge(
        &self,
        _: &AccountKey,
        _: &ResendRequest<'_>,
    ) -> Result<ResendOutcome, StoreError> {
        Self::error()
    }
    async fn delete_challenge(&self, _: &AccountKey, _: &DigestBytes) -> Result<bool, StoreError> {
        Self::error()
    }
    async fn issue_token(&self, _: &AccountKey, _: &NewToken) -> Result<(), StoreError> {
        Self::error()
    }
    async fn authenticate_token(
        &self,
        _: &AccountKey,
        _: &DigestBytes,
        _: SystemTime,
    ) -> Result<Option<TokenInfo>, StoreError> {
        Self::error()
    }
    async fn revoke_token(&self, _: &AccountKey, _: &DigestBytes) -> Result<bool, StoreError> {
        Self::error()
    }
    async fn revoke_all_tokens(&self, _: &AccountKey) -> Result<u64, StoreError> {
        Self::error()
    }
    async fn count_password_attempt(
        &self,
        _: &AccountKey,
        _: SystemTime,
        _: &LockoutPolicy,
    ) -> Result<PasswordAttempt, StoreError> {
        Self::error()
    }
    async fn forgive_password_attempt(
        &self,
        _: &AccountKey,
        _: &CountedAttempt,
        _: SystemTime,
    ) -> Result<(), StoreError> {
        Self::error()
    }
    async fn clear_failures(&self, _: &AccountKey) -> Result<(), StoreError> {
        Self::error()
    }
    async fn hit_counter(
        &self,
        _: &str,
        _: Duration,
        _: SystemTime,
    ) -> Result<CounterState, StoreError> {
        Self::error()
    }
}
