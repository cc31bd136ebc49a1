//! The records a [`StateStore`](super::StateStore) stores and answers with, and its errors.

use std::time::{Duration, SystemTime};

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
///
/// Built by the layer and read by stores; its fields are public so that a store's own tests
/// (and the conformance suite) can build one. Not `#[non_exhaustive]` on purpose: a new field
/// would change what every store must honour, a breaking change either way.
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

/// The live challenge of an account, as
/// [`StateStore::active_challenge`](super::StateStore::active_challenge) answers it: whose it
/// is, enough to resend its code by id, and to tell a login waiting for an authenticator app
/// (whose challenge keeps a digest no code has) from one waiting for a delivered code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveChallenge {
    /// SHA-256 of the challenge id.
    pub id: DigestBytes,
    /// HMAC of its current code, as the last create or resend stored it.
    pub code: DigestBytes,
    /// The user being logged in.
    pub user_id: String,
}

/// An auth token to store.
///
/// Built by the layer and read by stores; its fields are public so that a store's own tests
/// (and the conformance suite) can build one. Not `#[non_exhaustive]` on purpose: a new field
/// would change what every store must honour, a breaking change either way.
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

/// A valid auth token, as returned by [`StateStore::authenticate_token`](super::StateStore::authenticate_token).
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

/// An authenticator app being set up: its secret (sealed, opaque to the store) waits for the
/// first code from the app. Its `Debug` leaves the sealed secret out.
///
/// Built by the layer and read by stores; its fields are public so that a store's own tests
/// (and the conformance suite) can build one.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAppSetup {
    /// The sealed secret, as text.
    pub sealed_secret: String,
    /// When the setup ends unconfirmed. The record's TTL.
    pub expires_at: SystemTime,
    /// Wrong codes so far (a new setup starts with none, whatever this says).
    pub failures: u32,
}

impl std::fmt::Debug for PendingAppSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAppSetup")
            .field("expires_at", &self.expires_at)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
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

/// One verification attempt of a code, for [`StateStore::verify_challenge`](super::StateStore::verify_challenge).
///
/// Built by the layer and read by stores; its fields are public so that a store's own tests
/// (and the conformance suite) can build one. Not `#[non_exhaustive]` on purpose: a new field
/// would change what every store must honour, a breaking change either way.
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

/// The result of [`StateStore::verify_challenge`](super::StateStore::verify_challenge).
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

/// The result of [`StateStore::count_password_attempt`](super::StateStore::count_password_attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordAttempt {
    /// The account is locked: the password must not be compared. Nothing was counted.
    Locked {
        /// When the lock ends.
        until: SystemTime,
    },
    /// The attempt was counted as a failure: compare the password now, and if it is right (or
    /// the comparison never finishes), [forgive](super::StateStore::forgive_password_attempt) it.
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

/// A password attempt [`StateStore::count_password_attempt`](super::StateStore::count_password_attempt) counted: the account's failures
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

/// A resend request, for [`StateStore::resend_challenge`](super::StateStore::resend_challenge).
///
/// Built by the layer and read by stores; its fields are public so that a store's own tests
/// (and the conformance suite) can build one. Not `#[non_exhaustive]` on purpose: a new field
/// would change what every store must honour, a breaking change either way.
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

/// The result of [`StateStore::resend_challenge`](super::StateStore::resend_challenge).
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

/// A fixed-window counter's state after a hit, for [`StateStore::hit_counter`](super::StateStore::hit_counter).
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
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with an error or with data it should not hold.
    #[error("state store error: {0}")]
    Backend(String),
}
