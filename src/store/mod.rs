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
pub use self::redis::{ClientCacheStatistics, RedisStore};

mod dyn_store;
mod records;
mod state_store;

pub(crate) use dyn_store::DynStateStore;
pub use records::{
    AccountKey, ActiveChallenge, ChallengeInfo, CountedAttempt, CounterState, DigestBytes,
    Failures, LockoutPolicy, NewChallenge, NewToken, PasswordAttempt, PendingAppSetup,
    ResendOutcome, ResendRequest, StoreError, TokenInfo, VerifyAttempt, VerifyOutcome,
};
pub use state_store::{window_end, StateStore};
