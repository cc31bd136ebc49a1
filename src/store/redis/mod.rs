//! [`RedisStore`]: challenges, auth tokens and throttle counters in Redis or Redis Cluster.
//!
//! The user-facing documentation (key layout, script guarantees, failure behaviour, cluster
//! use) is on [`RedisStore`] itself: this module is private, so docs here would not be
//! rendered.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::cluster::ClusterClient;
use ::redis::{Client, IntoConnectionInfo, RedisResult};

use crate::store::records::AccountKey;
#[cfg(doc)]
use crate::store::records::StoreError;

mod connection;
mod keys;
mod operations;
mod record;
mod scripts;
mod second_factor;
mod sending;
mod token_cache;
mod token_read;

use connection::{Connector, Link};
use keys::AccountKeys;
pub use token_cache::ClientCacheStatistics;

const DEFAULT_PREFIX: &str = "tower-otp:";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A [`StateStore`](super::StateStore) in Redis or Redis Cluster.
///
/// Several instances of an application share one Redis and behave as one: a code sent by one
/// instance verifies on another, a token revoked on one is dead on all of them.
///
/// # Example
///
/// ```no_run
/// use std::time::Duration;
/// use tower_otp::store::RedisStore;
///
/// # fn main() -> Result<(), tower_otp::redis::RedisError> {
/// // One node (or a primary behind a proxy); reconnects by itself.
/// let store = RedisStore::new("redis://127.0.0.1:6379/")?
///     .with_prefix("myapp:otp:")
///     .with_timeout(Duration::from_secs(1));
///
/// // Redis Cluster: any reachable nodes, the client discovers the rest.
/// let cluster = RedisStore::cluster(["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"])?;
/// # let _ = (store, cluster);
/// # Ok(())
/// # }
/// ```
///
/// Nothing connects until the first operation, so an application starts while Redis is down
/// and serves as soon as it is back.
///
/// # Key layout
///
/// `P` is the prefix ([`RedisStore::with_prefix`], default `tower-otp:`), `A` the
/// [`AccountKey`]. Times are milliseconds since the Unix epoch, decided with the `now` the caller
/// passes; key TTLs are derived from them (expiry − `now`, at least 1 ms), so every key disappears
/// on its own once its records are over. No key lives without a TTL. (A hash of several records,
/// the tokens', lives until its last one's end; those over before are removed as it grows.)
///
/// | key | type | fields | TTL | written by |
/// |---|---|---|---|---|
/// | `P{A}:challenge` | hash | the live challenge: `id` (SHA-256 of the challenge id, 32 raw bytes), `code` (HMAC of the code, 32 raw bytes), `user_id`, `username`, `issued_at`, `code_expires_at`, `expires_at`, `attempts`, `sends`; without `id` there is none, and its other fields mean nothing (a consume, a delete, an expiry or the last attempt removes `id` only). The last challenge a right code consumed: `consumed` (its `<id><code>`, 32-byte digests) and `consumed_until` (its `expires_at`), kept when later challenges are written | until the latest `expires_at` written to it (`create_challenge` only extends it) | `create_challenge` (every field of the live challenge), `resend_challenge`, `verify_challenge` (attempts, consume), `delete_challenge` |
/// | `P{A}:failures` | hash | `count`, `locked_until` (once locked), `forget_at` | until `forget_at` (last failure + `forget_after`, or the lock's end if later) | `count_password_attempt`, `forgive_password_attempt`, `verify_challenge`; deleted by `clear_failures` and a right code |
/// | `P{A}:auth_tokens` | hash | the account's tokens: field `<hex>`, the token's SHA-256, holds `<issued_at>:<expires_at>:<idle_timeout>:<last_used>:<n>:<user_id><username>`, where `last_used` is the idle timer's last restart and `n` the length of `user_id` in bytes. `prune_at`: how many tokens (fields other than `prune_at`) the hash must hold before those past their end are next removed (twice the live ones after the last pruning, at least 16) | extended to the latest `expires_at` of its tokens | `issue_token`, `verify_challenge` (which prune it, see `prune_at`), `authenticate_token` (idle timer restarted; a token over removed); `revoke_token` removes a field, `revoke_all_tokens` deletes the key |
/// | `P{A}:device:<hex>` | string | `<expires_at>` of a remembered device; `<hex>` is the SHA-256 of its secret | until `expires_at` | `remember_device`, `is_device_remembered`; deleted by `revoke_all_devices` |
/// | `P{A}:devices` | sorted set | hex SHA-256 of each remembered device of the account, scored by its `expires_at` | extended to the latest `expires_at` of its devices | `remember_device` (which also drops members past their end); emptied by `revoke_all_devices` |
/// | `Prl:{K}:<n>` | string | hit count of counter `K` in window number `n` (`now / window`) | until the window's end | `hit_counter` |
///
/// The braces are part of the key: they are Redis Cluster hash tags, so all keys of one account
/// live in one slot and a script may touch them together; each counter window has its own slot.
///
/// # What the scripts guarantee
///
/// Every operation that reads and then writes is one Lua script (sent with `EVALSHA`, loaded on
/// demand), and Redis runs a script with nothing else in between:
///
/// - `verify_challenge`: lock check, challenge lookup, expiry check, the attempt counted before
///   the comparison, the consume (challenge ended, its consumed record kept, failures cleared, token
///   stored) or the failure count with its lock, all in one step. A code verifies at most once and
///   at most `max_attempts` codes are ever compared per challenge, however many requests race.
/// - `create_challenge` replaces the account's challenge in one step; `resend_challenge` checks
///   the cooldown and send cap and replaces the code in one step; `delete_challenge` deletes only
///   the named challenge.
/// - `authenticate_token` reads the token (from the client-side cache, else from Redis)
///   and decides absolute and idle expiry from it. Only when the token is over (it is then
///   deleted) or its idle timer was last restarted 1/60 of the idle timeout ago or more (30 s
///   for 30 min) does it run a script, which decides again and restarts the timer in one step.
///   A token in steady use thus costs Redis a few reads per minute and instance (see the
///   client-side cache below), not one per request; it may die up to 1/60 of its idle timeout
///   earlier than if every use restarted the timer, never later. `count_password_attempt` (lock check and count in one
///   step, so that concurrent logins cannot all pass the check before any is counted),
///   `forgive_password_attempt`, the revokes and `hit_counter` are atomic like the scripts above.
///
/// # Client-side cache of tokens
///
/// A token check is the one operation on the path of every protected request, so a store made
/// by [`new`](Self::new) or [`cluster`](Self::cluster) keeps the token records it reads in
/// the process and answers from there, at memory speed, while Redis stays the one place that
/// decides: its connections speak RESP3 and ask Redis to track the tokens hash of each token
/// record read (`CLIENT TRACKING ON OPTIN`), and Redis reports every change of such a key (a
/// logout, [`revoke_all_tokens`](super::StateStore::revoke_all_tokens), a new token of the
/// account, the idle timer's restart, the key's expiry) as a push on the connection, which drops
/// the account's records. Absolute and idle expiry are still decided on every check from the
/// record's own times.
///
/// - **Revocation stays immediate:** a token revoked through one instance is refused by this
///   one as soon as Redis's push arrives: within 10 ms in the tests (two instances on one
///   Redis, and on a cluster), at once by the instance that revoked it.
/// - **Never stale after a fault:** whatever may have lost a push drops the whole cache: the
///   connection closing (Redis restarted, `CLIENT KILL`, a failover), as soon as the client
///   sees it close (microseconds in the tests), and any failure of the connection itself (an
///   I/O error, a timeout). An entry is read again at the latest 10 s after it was read,
///   whatever Redis says: that bounds what a connection broken without either side noticing
///   could keep, and on a cluster, a node's connection the cluster client replaced on its own
///   (after a failed health check while it refreshed its slots) without reporting it.
/// - **No race:** a read reserves its key (the account's tokens) before it is sent, and Redis's
///   push for a change cancels the reservation, so a record changed while it was being read is
///   never kept.
/// - Only records that exist are tracked: a check of a made-up token is one plain read, which
///   leaves Redis nothing to remember (and reserves nothing). Redis tracks an account's tokens
///   as one key, so any change of them has every instance read that account's cached tokens
///   again (a plain read, then the tracked one): a new token of the account, a logout, and each
///   token's idle timer restart (every 1/60 of the idle timeout, 30 s of 30 min), so an account
///   with `n` tokens in use is read again about every 30 s / `n`. A record is also read again
///   at the latest 10 s after the last read.
/// - Bounded: 10 000 records by default
///   ([`with_client_cache_capacity`](Self::with_client_cache_capacity)), the accounts least
///   recently used dropped first. [`client_cache_statistics`](Self::client_cache_statistics)
///   counts hits, misses and invalidations.
///
/// It needs Redis 6 or later (RESP3): with an older server (whose refusal of RESP3 fails the
/// first requests with 503 while the store reconnects without it), or an ACL user without
/// `CLIENT TRACKING` and `CLIENT CACHING`, the store goes on without it, every check reading
/// Redis (said once with the `tracing` feature, and in the statistics). Switch it off with
/// [`with_client_cache(false)`](Self::with_client_cache) if a revocation must be refused by
/// the very next request on every instance rather than within milliseconds. A store made from
/// your own [connection manager](Self::from_connection_manager) or
/// [cluster client](Self::from_cluster_client) has no cache: the store cannot choose their
/// protocol or receive their pushes.
///
/// # Secrets at rest
///
/// The store only receives digests: SHA-256 of challenge ids and tokens, HMAC-SHA256 of codes
/// under a server key that Redis never sees. A copy of the database lets nobody log in or read a
/// code. The scripts compare code digests with Lua's `==` on two 32-byte strings (interned,
/// so in effect a pointer comparison); even if its timing leaked how much of a digest matched,
/// that would tell nothing about the code, since the attacker cannot compute the HMAC.
///
/// # Failures
///
/// Every operation is bounded by [`RedisStore::with_timeout`] (2 s by default), which also bounds
/// connecting and each response. A connection failure or timeout answers
/// [`StoreError::Unavailable`]; an error reply or a record that does not parse answers
/// [`StoreError::Backend`]. The layer answers 503 to both: it fails closed.
///
/// The store recovers by itself once Redis is back; nothing needs restarting. After any failure
/// of the connection rather than of a command (lost or refused connection, timeout, a handshake
/// or authentication that failed, e.g. Redis restarted with another password) the store throws
/// the connection away and opens a new one on the next operation: at once the first time, then
/// at most once per backoff step (100 ms, doubling up to 2 s) while Redis keeps failing, so that
/// a dead Redis is not hammered. Each rebuild is logged (`tracing` feature, at `warn`) and said
/// in the error message (`… (reconnecting)`), and the first success afterwards is logged at
/// `info`. A store made [from a connection manager](Self::from_connection_manager) relies on
/// that manager's own reconnection instead, which only follows I/O errors.
///
/// # Redis Cluster
///
/// [`RedisStore::cluster`] works with an unchanged key layout: each script only touches keys of
/// one account, which share its hash tag and so its slot, as Redis requires. `revoke_all_devices`
/// deletes device keys it finds in the account's index; they share the account's hash tag, so
/// they are in the script's slot.
///
/// # Clones and configuration
///
/// Clones are cheap and share the connection. Configure with [`with_prefix`](Self::with_prefix)
/// and [`with_timeout`](Self::with_timeout) before use; the connection opens on the first
/// operation, inside the caller's Tokio runtime.
#[derive(Clone)]
pub struct RedisStore {
    link: Arc<Link>,
    prefix: Arc<str>,
}

impl RedisStore {
    /// A store on one Redis server, e.g. `redis://127.0.0.1:6379/` or
    /// `redis://:password@host:6379/2`. The connection reconnects by itself.
    ///
    /// Fails only on an invalid URL; nothing connects until the first operation.
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// let store = tower_otp::store::RedisStore::new("redis://127.0.0.1:6379/")?;
    /// # Ok(()) }
    /// ```
    pub fn new(url: impl IntoConnectionInfo) -> RedisResult<Self> {
        Ok(Self::with_connector(Connector::Single(Client::open(url)?)))
    }

    /// A store over a connection manager you configured yourself (TLS, credentials, retries).
    /// Its own connection and response timeouts stay as you set them; the store's timeout
    /// still bounds every operation.
    ///
    /// The store cannot rebuild a manager it did not make: after a failed handshake (e.g. a
    /// refused password) the manager keeps failing until the process restarts. Prefer
    /// [`RedisStore::new`] with a URL carrying the credentials (`rediss://` for TLS), which
    /// recovers by itself.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_otp::redis::RedisError> {
    /// use tower_otp::redis::{aio::ConnectionManager, Client};
    ///
    /// let manager = ConnectionManager::new(Client::open("redis://127.0.0.1/")?).await?;
    /// let store = tower_otp::store::RedisStore::from_connection_manager(manager);
    /// # Ok(()) }
    /// ```
    pub fn from_connection_manager(manager: ConnectionManager) -> Self {
        Self::with_connector(Connector::Manager(manager))
    }

    /// A store on a Redis Cluster, from the URLs of some of its nodes.
    ///
    /// Fails only on invalid URLs; nothing connects until the first operation.
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// let store = tower_otp::store::RedisStore::cluster([
    ///     "redis://127.0.0.1:7000/",
    ///     "redis://127.0.0.1:7001/",
    /// ])?;
    /// # Ok(()) }
    /// ```
    pub fn cluster<T: IntoConnectionInfo>(urls: impl IntoIterator<Item = T>) -> RedisResult<Self> {
        let nodes = urls
            .into_iter()
            .map(IntoConnectionInfo::into_connection_info)
            .collect::<RedisResult<Vec<_>>>()?;
        // Refuses what a cluster client refuses (no nodes, mixed protocols) now, not later.
        ClusterClient::new(nodes.clone())?;
        Ok(Self::with_connector(Connector::ClusterNodes(nodes)))
    }

    /// A store on a Redis Cluster through a client you configured yourself (TLS, credentials,
    /// retries). The store sets the connection and response timeouts to its own.
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// use tower_otp::redis::cluster::ClusterClient;
    ///
    /// let client = ClusterClient::builder(["redis://127.0.0.1:7000/"]).retries(2).build()?;
    /// let store = tower_otp::store::RedisStore::from_cluster_client(client);
    /// # Ok(()) }
    /// ```
    pub fn from_cluster_client(client: ClusterClient) -> Self {
        Self::with_connector(Connector::Cluster(Box::new(client)))
    }

    fn with_connector(connector: Connector) -> Self {
        let cache_capacity = NonZeroUsize::new(token_cache::DEFAULT_CAPACITY);
        Self {
            link: Link::new(connector, DEFAULT_TIMEOUT, cache_capacity),
            prefix: DEFAULT_PREFIX.into(),
        }
    }

    /// Sets the prefix of every key (default `tower-otp:`), e.g. to share a Redis between
    /// applications.
    ///
    /// # Panics
    ///
    /// If `prefix` contains `{` or `}`: that would change the keys' Redis Cluster hash tags.
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// let store = tower_otp::store::RedisStore::new("redis://127.0.0.1/")?.with_prefix("shop:2fa:");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        assert!(
            !prefix.contains(['{', '}']),
            "a RedisStore key prefix must not contain braces (Redis Cluster hash tags)"
        );
        self.prefix = prefix.into();
        self
    }

    /// Bounds every operation, and each connection attempt and response, to `timeout`
    /// (default 2 s). Past it, the operation fails with [`StoreError::Unavailable`].
    ///
    /// A store from a URL or a cluster client opens a new connection for the new timeout on
    /// first use (clones made before keep the old one), so set the timeout before cloning.
    /// A store from a connection manager keeps that manager, and its timeouts.
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// use std::time::Duration;
    ///
    /// let store = tower_otp::store::RedisStore::new("redis://127.0.0.1/")?
    ///     .with_timeout(Duration::from_millis(500));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.link = self.link.reconfigured(timeout, self.link.cache_capacity());
        self
    }

    /// Switches the client-side cache of token records on (the default; with the capacity set
    /// by [`with_client_cache_capacity`](Self::with_client_cache_capacity) if the cache is on,
    /// else 10 000) or off; see [the type's documentation](Self#client-side-cache-of-tokens).
    /// Like [`with_timeout`](Self::with_timeout), it takes effect with a new connection: set it
    /// before cloning.
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// // Every token check reads Redis: a revocation is refused by the very next request on
    /// // every instance, not within milliseconds.
    /// let store = tower_otp::store::RedisStore::new("redis://127.0.0.1/")?.with_client_cache(false);
    /// assert!(store.client_cache_statistics().is_none());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_client_cache(self, enabled: bool) -> Self {
        let entries = match (enabled, self.link.cache_capacity()) {
            (false, _) => 0,
            (true, Some(entries)) => entries.get(),
            (true, None) => token_cache::DEFAULT_CAPACITY,
        };
        self.with_client_cache_capacity(entries)
    }

    /// Sets how many token records the client-side cache keeps (default 10 000, about 3 MB;
    /// rounded up to a multiple of 16, its number of locks), the tokens of the accounts least
    /// recently used dropped first; 0 switches the cache off. Memory grows with the records,
    /// not up front. Takes effect with a new connection, like
    /// [`with_client_cache`](Self::with_client_cache).
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// let store = tower_otp::store::RedisStore::new("redis://127.0.0.1/")?
    ///     .with_client_cache_capacity(100_000);
    /// assert_eq!(store.client_cache_statistics().unwrap().entries, 0);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_client_cache_capacity(mut self, entries: usize) -> Self {
        self.link = self
            .link
            .reconfigured(self.link.timeout(), NonZeroUsize::new(entries));
        self
    }

    /// The client-side cache's counters, or `None` when this store has no cache (switched
    /// off, or made from a connection manager or cluster client of yours).
    ///
    /// ```
    /// # fn main() -> Result<(), tower_otp::redis::RedisError> {
    /// let store = tower_otp::store::RedisStore::new("redis://127.0.0.1/")?;
    /// let stats = store.client_cache_statistics().expect("on by default");
    /// assert_eq!((stats.hits, stats.misses), (0, 0));
    /// # Ok(()) }
    /// ```
    pub fn client_cache_statistics(&self) -> Option<ClientCacheStatistics> {
        self.link.client_cache_statistics()
    }

    /// The keys of one account, built in one buffer.
    fn account_keys(&self, account: &AccountKey) -> AccountKeys {
        AccountKeys::new(&self.prefix, account)
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.link.connector() {
            Connector::Single(_) | Connector::Manager(_) => "single",
            Connector::ClusterNodes(_) | Connector::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("prefix", &self.prefix)
            .field("timeout", &self.link.timeout())
            .field("client_cache", &self.client_cache_statistics())
            .field("connected", &self.link.is_open())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "braces")]
    fn prefix_with_braces_is_refused() {
        let _ = RedisStore::new("redis://127.0.0.1/")
            .unwrap()
            .with_prefix("a{b}:");
    }

    #[test]
    fn the_cache_settings_survive_the_other_settings() {
        let capacity = |store: &RedisStore| store.link.cache_capacity().map(NonZeroUsize::get);
        let store = RedisStore::new("redis://127.0.0.1/").unwrap();
        assert_eq!(capacity(&store), Some(token_cache::DEFAULT_CAPACITY));
        let store = store
            .with_client_cache_capacity(32)
            .with_timeout(Duration::from_millis(50))
            .with_client_cache(true);
        assert_eq!(capacity(&store), Some(32));
        assert_eq!(store.link.timeout(), Duration::from_millis(50));
        let store = store.with_client_cache(false).with_timeout(DEFAULT_TIMEOUT);
        assert_eq!(capacity(&store), None);
        assert!(store.client_cache_statistics().is_none());
        assert_eq!(
            capacity(&store.with_client_cache(true)),
            Some(token_cache::DEFAULT_CAPACITY)
        );
    }
}
