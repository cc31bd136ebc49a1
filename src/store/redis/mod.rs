//! [`RedisStore`]: challenges, auth tokens and throttle counters in Redis or Redis Cluster.
//!
//! The user-facing documentation (key layout, script guarantees, failure behaviour, cluster
//! use) is on [`RedisStore`] itself: this module is private, so docs here would not be
//! rendered.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::cluster::ClusterClient;
use ::redis::{
    Client, Cmd, ErrorKind, FromRedisValue, IntoConnectionInfo, RedisError, RedisResult, Script,
    ServerErrorKind,
};

use super::{
    window_end, AccountKey, ChallengeInfo, CounterState, Digest, LockoutPolicy, NewChallenge,
    NewToken, PasswordAttempt, ResendOutcome, ResendRequest, StoreError, TokenInfo, TokenStore,
    VerifyAttempt, VerifyOutcome,
};
use crate::clock::unix_millis;

mod connection;

use connection::{is_connection_error, Connection, Connector, Link};

const DEFAULT_PREFIX: &str = "tower-otp:";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest time or duration handed to Redis, in milliseconds (10^13 ms: year 2286, or 317
/// years). Sums of two such values stay below 10^14, which Lua still prints as an exact integer
/// when it passes a number to a Redis command.
const MAX_MS: u64 = 10_000_000_000_000;

/// A [`TokenStore`] in Redis or Redis Cluster.
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
/// on its own once its record is over. No key lives without a TTL.
///
/// | key | type | fields | TTL | written by |
/// |---|---|---|---|---|
/// | `P{A}:challenge` | hash | `id` (SHA-256 of the challenge id, 32 raw bytes), `code` (HMAC of the code, 32 raw bytes), `user_id`, `username`, `issued_at`, `code_expires_at`, `expires_at`, `attempts`, `sends` | until `expires_at` | `create_challenge`, `resend_challenge`, `verify_challenge` (attempts, consume), `delete_challenge` |
/// | `P{A}:consumed` | string | `<until>:<id><code>`: the last challenge a right code consumed, its id and code (32-byte digests) and `until` (its `expires_at`) | until `until` | `verify_challenge` |
/// | `P{A}:failures` | hash | `count`, `locked_until` (once locked), `forget_at` | until `forget_at` (last failure + `forget_after`, or the lock's end if later) | `count_password_attempt`, `forgive_password_attempt`, `verify_challenge`; deleted by `clear_failures` and a right code |
/// | `P{A}:token:<hex>` | string | `<issued_at>:<expires_at>:<idle_timeout>:<last_used>:<n>:<user_id><username>`, where `last_used` is the idle timer's last restart and `n` the length of `user_id` in bytes; `<hex>` is the token's SHA-256 | until the earlier of `expires_at` and `last_used + idle_timeout`, restarted on use | `issue_token`, `verify_challenge`, `authenticate_token`; deleted by the revokes |
/// | `P{A}:tokens` | sorted set | hex SHA-256 of each token of the account, scored by its `expires_at` | extended to the latest `expires_at` of its tokens | `issue_token`, `verify_challenge` (which also drop members past their `expires_at`); pruned by `authenticate_token`, `revoke_token`, `revoke_all_tokens` |
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
///   the comparison, the consume (challenge deleted, `consumed` written, failures cleared, token
///   stored) or the failure count with its lock, all in one step. A code verifies at most once and
///   at most `max_attempts` codes are ever compared per challenge, however many requests race.
/// - `create_challenge` replaces the account's challenge in one step; `resend_challenge` checks
///   the cooldown and send cap and replaces the code in one step; `delete_challenge` deletes only
///   the named challenge.
/// - `authenticate_token` reads the token with one `GET` and decides absolute and idle expiry
///   from it. Only when the token is over (it is then deleted) or its idle timer was last
///   restarted 1/60 of the idle timeout ago or more (30 s for 30 min) does it run a script, which
///   decides again and restarts the timer in one step. A token in steady use thus costs one plain
///   read per request; it may die up to 1/60 of its idle timeout earlier than if every use
///   restarted the timer, never later. `count_password_attempt` (lock check and count in one
///   step, so that concurrent logins cannot all pass the check before any is counted),
///   `forgive_password_attempt`, the revokes and `hit_counter` are atomic like the scripts above.
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
/// one hash slot. `revoke_all_tokens` deletes token keys it finds in the account's index set; they
/// share the account's hash tag, so they are in the script's slot, as Redis requires.
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
        Ok(Self::from_cluster_client(ClusterClient::new(urls)?))
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
        Self {
            link: Link::new(connector, DEFAULT_TIMEOUT),
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
        self.link = Link::new(self.link.connector().clone(), timeout);
        self
    }

    /// The keys of one account, built in one buffer.
    fn account_keys(&self, account: &AccountKey) -> AccountKeys {
        AccountKeys::new(&self.prefix, account)
    }

    /// Sends `cmd` within the timeout. If `cmd` is the `EVALSHA` of `script` (see [`evalsha`])
    /// and the server does not know the script yet, loads it and sends `cmd` again.
    async fn send<T: FromRedisValue>(
        &self,
        cmd: &Cmd,
        script: Option<&Script>,
    ) -> Result<T, StoreError> {
        let (connection, generation) = self.link.get().map_err(store_error)?;
        let call = async {
            match connection {
                Connection::Single(mut c) => send_on(&mut c, cmd, script).await,
                Connection::Cluster(mut c) => send_on(&mut c, cmd, script).await,
            }
        };
        let timeout = self.link.timeout();
        let error = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => {
                self.link.succeeded();
                return Ok(value);
            }
            Ok(Err(e)) if !is_connection_error(&e) => return Err(store_error(e)),
            Ok(Err(e)) => store_error(e),
            Err(_) => StoreError::Unavailable(format!("no answer from Redis within {timeout:?}")),
        };
        // The connection itself failed: it is rebuilt (with backoff), and the message says so.
        let message = error.to_string();
        Err(
            match self.link.failed(generation, &message, Instant::now()) {
                Some(wait) if wait.is_zero() => with_note(error, "reconnecting"),
                Some(wait) => with_note(error, &format!("reconnecting in {wait:?}")),
                None => error,
            },
        )
    }
}

/// `error` with `note` appended to its message.
fn with_note(error: StoreError, note: &str) -> StoreError {
    match error {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{m} ({note})")),
        StoreError::Backend(m) => StoreError::Backend(format!("{m} ({note})")),
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.link.connector() {
            Connector::Single(_) | Connector::Manager(_) => "single",
            Connector::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("prefix", &self.prefix)
            .field("timeout", &self.link.timeout())
            .field("connected", &self.link.is_open())
            .finish()
    }
}

async fn send_on<C: ConnectionLike, T: FromRedisValue>(
    connection: &mut C,
    cmd: &Cmd,
    script: Option<&Script>,
) -> RedisResult<T> {
    match (cmd.query_async(connection).await, script) {
        (Err(e), Some(script)) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script.load_async(connection).await?;
            cmd.query_async(connection).await
        }
        (result, _) => result,
    }
}

/// The `EVALSHA` command of `script` with `keys` keys; the caller appends keys, then arguments.
///
/// Built by hand rather than with [`Script::key`]/[`Script::arg`], which copy every argument into
/// its own buffer first: this sits on the path of every authenticated request.
fn evalsha(script: &Script, keys: usize) -> Cmd {
    // Room for the largest invocation (verify: 3 + 5 keys + 12 arguments) without regrowing.
    let mut cmd = Cmd::with_capacity(20, 256);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys);
    cmd
}

/// Sorts a Redis error into the store's two kinds, keeping its message.
fn store_error(e: RedisError) -> StoreError {
    let unreachable = e.is_io_error()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::AuthenticationFailed
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        );
    if unreachable {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

/// Builds `P{A}:<kind>` keys of one account, reusing one buffer.
struct AccountKeys {
    buf: String,
    base: usize,
}

impl AccountKeys {
    fn new(prefix: &str, account: &AccountKey) -> Self {
        let mut buf = String::with_capacity(prefix.len() + account.as_str().len() + 80);
        buf.push_str(prefix);
        buf.push('{');
        buf.push_str(account.as_str());
        buf.push_str("}:");
        let base = buf.len();
        Self { buf, base }
    }

    fn key(&mut self, kind: &str) -> &str {
        self.buf.truncate(self.base);
        self.buf.push_str(kind);
        &self.buf
    }

    fn token(&mut self, digest: &Hex) -> &str {
        self.buf.truncate(self.base);
        self.buf.push_str(TOKEN_PREFIX);
        self.buf.push_str(digest.as_str());
        &self.buf
    }

    /// `P{A}:token:`, the start of every token key of the account.
    fn token_prefix(&mut self) -> &str {
        self.key(TOKEN_PREFIX)
    }
}

const CHALLENGE: &str = "challenge";
const CONSUMED: &str = "consumed";
const FAILURES: &str = "failures";
const TOKENS: &str = "tokens";
const TOKEN_PREFIX: &str = "token:";

/// A token record: one string, `<issued_at>:<expires_at>:<idle_timeout>:<last_used>:<n>:`
/// followed by the user id (`n` bytes) and the username, so that reading it is one `GET`.
/// `put_token` in the scripts writes it.
#[derive(Debug, PartialEq)]
struct TokenRecord<'a> {
    issued_at: u64,
    expires_at: u64,
    idle_timeout: u64,
    last_used: u64,
    user_id: &'a str,
    username: &'a str,
}

impl<'a> TokenRecord<'a> {
    fn parse(record: &'a str) -> Result<Self, StoreError> {
        let malformed = || StoreError::Backend("malformed token record".to_owned());
        let mut parts = record.splitn(6, ':');
        // Digits only (no sign), as the scripts' pattern reads them.
        let mut number = || -> Result<u64, StoreError> {
            parts
                .next()
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse().ok())
                .ok_or_else(malformed)
        };
        let (issued_at, expires_at, idle_timeout, last_used) =
            (number()?, number()?, number()?, number()?);
        let user_id_len = usize::try_from(number()?).map_err(|_| malformed())?;
        let rest = parts.next().ok_or_else(malformed)?;
        if !rest.is_char_boundary(user_id_len) {
            return Err(malformed());
        }
        let (user_id, username) = rest.split_at(user_id_len);
        Ok(Self {
            issued_at,
            expires_at,
            idle_timeout,
            last_used,
            user_id,
            username,
        })
    }

    fn info(&self) -> TokenInfo {
        TokenInfo {
            user_id: self.user_id.to_owned(),
            username: self.username.to_owned(),
            issued_at: time_at(self.issued_at),
            expires_at: time_at(self.expires_at),
        }
    }
}

/// `authenticate_token` restarts a token's idle timer only once the last restart is at least
/// 1/`IDLE_RESTART_FRACTION` of the idle timeout old (30 s of the default 30 min): a token in
/// steady use is then read, not written, on almost every request. It may so die up to that much
/// earlier than if every use restarted the timer, never later.
const IDLE_RESTART_FRACTION: u64 = 60;

/// A digest in lowercase hex, on the stack.
struct Hex([u8; 64]);

impl Hex {
    fn new(digest: &Digest) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        Self(out)
    }

    fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Milliseconds since the epoch, capped at [`MAX_MS`].
fn time_ms(t: SystemTime) -> u64 {
    unix_millis(t).min(MAX_MS)
}

/// A duration in milliseconds, capped at [`MAX_MS`].
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX_MS)
}

/// The time `ms` milliseconds after the epoch.
fn time_at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A time in a script's reply.
fn time_from_ms(ms: i64) -> Result<SystemTime, StoreError> {
    u64::try_from(ms)
        .map(time_at)
        .map_err(|_| StoreError::Backend(format!("negative time {ms} in a record")))
}

fn count_from(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Backend(format!("count {n} out of range")))
}

/// Lua shared by the scripts. Numbers handed to `redis.call` stay below 10^14 (see [`MAX_MS`]),
/// so Lua formats them as exact integers.
const LUA_COMMON: &str = r#"
-- Milliseconds from now until `at`, at least 1: a record already over still gets a TTL.
local function ttl(at, now)
  return math.max(at - now, 1)
end

-- When the account's lock ends, if it is locked at `now` (failures past forget_at are gone).
local function lock_end(key, now)
  local f = redis.call('HMGET', key, 'locked_until', 'forget_at')
  local lock, forget = tonumber(f[1]), tonumber(f[2])
  if lock and now < lock and not (forget and now >= forget) then
    return lock
  end
  return nil
end

-- Counts a failure; returns when the lock it set ends, or -1. LockoutPolicy::lock_duration.
local function record_failure(key, now, threshold, base, cap, forget_after)
  local f = redis.call('HMGET', key, 'count', 'forget_at')
  local count, forget = tonumber(f[1]) or 0, tonumber(f[2])
  if forget and now >= forget then
    redis.call('DEL', key)
    count = 0
  end
  count = count + 1
  local locked_until = -1
  if threshold > 0 and count >= threshold then
    locked_until = now + math.min(base * 2 ^ math.min(count - threshold, 31), cap)
    redis.call('HSET', key, 'locked_until', locked_until)
  end
  forget = math.max(now + forget_after, locked_until)
  redis.call('HSET', key, 'count', count, 'forget_at', forget)
  redis.call('PEXPIRE', key, ttl(forget, now))
  return locked_until
end

-- Stores a token and files it in the account's index (scored by its absolute end, so the
-- members of tokens past it are dropped here), whose TTL covers its latest token.
-- The record is the one `TokenRecord::parse` reads.
-- '%.0f', not '%d': Lua's '%d' goes through a C long, 32 bits on some builds; the numbers are
-- below 2^53, where '%.0f' is exact.
local function token_record(issued, expires, idle, last_used, user_id, username)
  return string.format('%.0f:%.0f:%.0f:%.0f:%d:', issued, expires, idle, last_used, #user_id)
    .. user_id .. username
end

local function put_token(key, index, member, now, user_id, username, issued, expires, idle)
  redis.call('SET', key, token_record(issued, expires, idle, issued, user_id, username), 'PX',
    ttl(math.min(expires, issued + idle), now))
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  redis.call('ZADD', index, expires, member)
  local left = ttl(expires, now)
  if redis.call('PTTL', index) < left then
    redis.call('PEXPIRE', index, left)
  end
end
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{LUA_COMMON}{body}"))
}

// Outcome codes of the verify script.
const VERIFIED: i64 = 1;
const MISMATCH: i64 = 2;
const EXPIRED: i64 = 3;
const REPLAYED: i64 = 4;
const NOT_FOUND: i64 = 5;
const LOCKED: i64 = 6;

/// KEYS: challenge, consumed, failures, token, tokens.
/// ARGV: now, wanted challenge id ('' for the active one), code, max attempts, lock threshold,
/// lock base, lock max, forget after, token hex, token issued, token expires, token idle.
/// Returns {outcome, attempts left or lock end, lock end or -1, user id, username}; the token
/// is stored for the challenge's user.
static VERIFY: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = tonumber(ARGV[1])
local wanted = ARGV[2]
local lock = lock_end(KEYS[3], now)
if lock then
  return {6, lock, -1, '', ''}
end
local c = redis.call('HMGET', KEYS[1], 'id', 'code', 'code_expires_at', 'expires_at', 'user_id',
  'username', 'attempts')
local id, expires = c[1], tonumber(c[4])
if id and now >= expires then
  redis.call('DEL', KEYS[1])
  id = false
end
if not id or (wanted ~= '' and wanted ~= id) then
  -- A replay is the consumed challenge's own code again, not any guess at it.
  -- The consumed record is 'until:' then the challenge id and its code, 32 bytes each.
  local used = redis.call('GET', KEYS[2])
  if used then
    local sep = string.find(used, ':', 1, true)
    local used_id = string.sub(used, sep + 1, sep + 32)
    if now < tonumber(string.sub(used, 1, sep - 1)) and (wanted == '' or wanted == used_id)
        and ARGV[3] == string.sub(used, sep + 33) then
      return {4, 0, -1, '', ''}
    end
  end
  return {5, 0, -1, '', ''}
end
if now >= tonumber(c[3]) then
  return {3, 0, -1, '', ''}
end
-- The attempt counts before the comparison; it is stored only if the code is wrong, since a
-- right code deletes the challenge (the script runs atomically either way).
local max = tonumber(ARGV[4])
local attempts = tonumber(c[7]) + 1
if attempts > max then
  redis.call('DEL', KEYS[1])
  return {5, 0, -1, '', ''}
end
-- Both are 32-byte digests: HMACs under a key Redis never sees (see the module docs).
if ARGV[3] == c[2] then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('SET', KEYS[2], c[4] .. ':' .. id .. c[2], 'PX', ttl(expires, now))
  put_token(KEYS[4], KEYS[5], ARGV[9], now, c[5], c[6], tonumber(ARGV[10]), tonumber(ARGV[11]),
    tonumber(ARGV[12]))
  return {1, 0, -1, c[5], c[6]}
end
local left = max - attempts
if left == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'attempts', attempts)
end
local locked_until = record_failure(KEYS[3], now, tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7]), tonumber(ARGV[8]))
return {2, left, locked_until, '', ''}
"#,
    )
});

/// KEYS: challenge. ARGV: id, code, user id, username, issued, code expires, expires.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'code', ARGV[2], 'user_id', ARGV[3],
  'username', ARGV[4], 'issued_at', ARGV[5], 'code_expires_at', ARGV[6], 'expires_at', ARGV[7],
  'attempts', 0, 'sends', 1)
redis.call('PEXPIRE', KEYS[1], ttl(tonumber(ARGV[7]), tonumber(ARGV[5])))
return 1
"#,
    )
});

// Outcome codes of the resend script.
const RESENT: i64 = 1;
const COOLDOWN: i64 = 2;
const EXHAUSTED: i64 = 3;
const NO_CHALLENGE: i64 = 4;

/// KEYS: challenge. ARGV: now, id, code, code ttl, cooldown, max sends.
/// Returns {outcome, cooldown end, user id, username, issued, code expires, sends}.
static RESEND: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'id', 'user_id', 'username', 'issued_at', 'expires_at',
  'sends')
local expires = tonumber(c[5])
if c[1] and now >= expires then
  redis.call('DEL', KEYS[1])
  return {4, 0, '', '', 0, 0, 0}
end
if not c[1] or c[1] ~= ARGV[2] then
  return {4, 0, '', '', 0, 0, 0}
end
local allowed = tonumber(c[4]) + tonumber(ARGV[5])
if now < allowed then
  return {2, allowed, '', '', 0, 0, 0}
end
local sends = tonumber(c[6])
if sends >= tonumber(ARGV[6]) then
  return {3, 0, '', '', 0, 0, 0}
end
local code_expires = math.min(now + tonumber(ARGV[4]), expires)
sends = sends + 1
redis.call('HSET', KEYS[1], 'code', ARGV[3], 'issued_at', now, 'code_expires_at', code_expires,
  'sends', sends)
return {1, 0, c[2], c[3], now, code_expires, sends}
"#,
    )
});

/// KEYS: challenge. ARGV: id. Returns 1 if deleted.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// KEYS: token, tokens. ARGV: token hex, now, user id, username, issued, expires, idle.
static ISSUE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
put_token(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5]),
  tonumber(ARGV[6]), tonumber(ARGV[7]))
return 1
"#,
    )
});

/// KEYS: token, tokens. ARGV: now, token hex.
/// Returns nil, or {user id, username, issued, expires}.
static AUTHENTICATE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local record = redis.call('GET', KEYS[1])
if not record then
  return false
end
local issued, expires, idle, used, n, at = string.match(record,
  '^(%d+):(%d+):(%d+):(%d+):(%d+):()')
-- The same record `TokenRecord::parse` accepted just before, unless something else rewrote it.
if not at or tonumber(n) > #record - at + 1 then
  return redis.error_reply('malformed token record')
end
local now = tonumber(ARGV[1])
issued, expires, idle, used, n = tonumber(issued), tonumber(expires), tonumber(idle),
  tonumber(used), tonumber(n)
if now >= expires or now >= used + idle then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return false
end
local user_id, username = string.sub(record, at, at + n - 1), string.sub(record, at + n)
redis.call('SET', KEYS[1], token_record(issued, expires, idle, now, user_id, username), 'PX',
  ttl(math.min(expires, now + idle), now))
return {user_id, username, issued, expires}
"#,
    )
});

/// KEYS: token, tokens. ARGV: token hex. Returns 1 if the token existed.
static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"#,
    )
});

/// KEYS: tokens. ARGV: the account's token key prefix. Returns how many tokens were deleted.
static REVOKE_ALL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local n = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. member)
end
redis.call('DEL', KEYS[1])
return n
"#,
    )
});

/// KEYS: failures. ARGV: now, threshold, base, max, forget after.
/// Returns {1, lock end} if locked (nothing counted), else {0, lock end or -1} once counted.
static COUNT_PASSWORD_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = tonumber(ARGV[1])
local lock = lock_end(KEYS[1], now)
if lock then
  return {1, lock}
end
return {0, record_failure(KEYS[1], now, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]))}
"#,
    )
});

/// KEYS: failures. ARGV: the end of the lock the forgiven attempt set, or -1.
static FORGIVE_PASSWORD_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local f = redis.call('HMGET', KEYS[1], 'count', 'locked_until')
local count, lock = tonumber(f[1]), tonumber(f[2])
if not count then
  return 0
end
count = math.max(count - 1, 0)
if lock and lock == tonumber(ARGV[1]) then
  redis.call('HDEL', KEYS[1], 'locked_until')
  lock = nil
end
if count == 0 and not lock then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'count', count)
end
return 1
"#,
    )
});

/// KEYS: counter. ARGV: ms until the window ends. Returns the count.
static HIT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
"#,
    )
});

impl TokenStore for RedisStore {
    async fn create_challenge(
        &self,
        account: &AccountKey,
        challenge: &NewChallenge,
    ) -> Result<(), StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&CREATE, 1);
        cmd.arg(keys.key(CHALLENGE))
            .arg(&challenge.id[..])
            .arg(&challenge.code[..])
            .arg(&challenge.user_id)
            .arg(&challenge.username)
            .arg(time_ms(challenge.issued_at))
            .arg(time_ms(challenge.code_expires_at))
            .arg(time_ms(challenge.expires_at));
        self.send::<i64>(&cmd, Some(&CREATE)).await.map(drop)
    }

    async fn verify_challenge(
        &self,
        account: &AccountKey,
        attempt: &VerifyAttempt<'_>,
    ) -> Result<VerifyOutcome, StoreError> {
        let token = attempt.token;
        let token_hex = Hex::new(&token.digest);
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&VERIFY, 5);
        cmd.arg(keys.key(CHALLENGE))
            .arg(keys.key(CONSUMED))
            .arg(keys.key(FAILURES))
            .arg(keys.token(&token_hex))
            .arg(keys.key(TOKENS));
        let wanted: &[u8] = attempt.challenge.map_or(&[], |id| &id[..]);
        let policy = attempt.lockout;
        cmd.arg(time_ms(attempt.now))
            .arg(wanted)
            .arg(&attempt.code[..])
            .arg(attempt.max_attempts)
            .arg(policy.threshold)
            .arg(duration_ms(policy.base))
            .arg(duration_ms(policy.max))
            .arg(duration_ms(policy.forget_after))
            .arg(token_hex.as_str())
            .arg(time_ms(token.issued_at))
            .arg(time_ms(token.expires_at))
            .arg(duration_ms(token.idle_timeout));
        let (outcome, a, b, user_id, username): (i64, i64, i64, String, String) =
            self.send(&cmd, Some(&VERIFY)).await?;
        Ok(match outcome {
            VERIFIED => VerifyOutcome::Verified(TokenInfo {
                user_id,
                username,
                issued_at: token.issued_at,
                expires_at: token.expires_at,
            }),
            MISMATCH => VerifyOutcome::Mismatch {
                attempts_left: count_from(a)?,
                locked_until: if b < 0 { None } else { Some(time_from_ms(b)?) },
            },
            EXPIRED => VerifyOutcome::Expired,
            REPLAYED => VerifyOutcome::Replayed,
            NOT_FOUND => VerifyOutcome::NotFound,
            LOCKED => VerifyOutcome::Locked {
                until: time_from_ms(a)?,
            },
            other => return Err(unexpected_outcome(other)),
        })
    }

    async fn resend_challenge(
        &self,
        account: &AccountKey,
        request: &ResendRequest<'_>,
    ) -> Result<ResendOutcome, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&RESEND, 1);
        cmd.arg(keys.key(CHALLENGE))
            .arg(time_ms(request.now))
            .arg(&request.challenge[..])
            .arg(&request.code[..])
            .arg(duration_ms(request.code_ttl))
            .arg(duration_ms(request.cooldown))
            .arg(request.max_sends);
        let (outcome, until, user_id, username, issued_at, code_expires_at, sends): (
            i64,
            i64,
            String,
            String,
            i64,
            i64,
            i64,
        ) = self.send(&cmd, Some(&RESEND)).await?;
        Ok(match outcome {
            RESENT => ResendOutcome::Resent(ChallengeInfo {
                user_id,
                username,
                issued_at: time_from_ms(issued_at)?,
                code_expires_at: time_from_ms(code_expires_at)?,
                sends: count_from(sends)?,
            }),
            COOLDOWN => ResendOutcome::Cooldown {
                until: time_from_ms(until)?,
            },
            EXHAUSTED => ResendOutcome::Exhausted,
            NO_CHALLENGE => ResendOutcome::NotFound,
            other => return Err(unexpected_outcome(other)),
        })
    }

    async fn delete_challenge(
        &self,
        account: &AccountKey,
        challenge: &Digest,
    ) -> Result<bool, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&DELETE, 1);
        cmd.arg(keys.key(CHALLENGE)).arg(&challenge[..]);
        Ok(self.send::<i64>(&cmd, Some(&DELETE)).await? > 0)
    }

    async fn issue_token(&self, account: &AccountKey, token: &NewToken) -> Result<(), StoreError> {
        let token_hex = Hex::new(&token.digest);
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&ISSUE, 2);
        cmd.arg(keys.token(&token_hex))
            .arg(keys.key(TOKENS))
            .arg(token_hex.as_str())
            .arg(time_ms(token.issued_at))
            .arg(&token.user_id)
            .arg(&token.username)
            .arg(time_ms(token.issued_at))
            .arg(time_ms(token.expires_at))
            .arg(duration_ms(token.idle_timeout));
        self.send::<i64>(&cmd, Some(&ISSUE)).await.map(drop)
    }

    async fn authenticate_token(
        &self,
        account: &AccountKey,
        digest: &Digest,
        now: SystemTime,
    ) -> Result<Option<TokenInfo>, StoreError> {
        let token_hex = Hex::new(digest);
        let mut keys = self.account_keys(account);
        // A token in use is mostly read: one plain GET. The script (a write) only runs when
        // the token is over (to delete it) or its idle timer is due for a restart.
        // Sized for the key, so the command is built without regrowing.
        let mut read = Cmd::with_capacity(2, 128);
        read.arg("GET").arg(keys.token(&token_hex));
        let found: Option<String> = self.send(&read, None).await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let record = TokenRecord::parse(&found)?;
        let now_ms = time_ms(now);
        if now_ms < record.expires_at
            && now_ms < record.last_used.saturating_add(record.idle_timeout)
            && now_ms.saturating_sub(record.last_used) < record.idle_timeout / IDLE_RESTART_FRACTION
        {
            return Ok(Some(record.info()));
        }
        let mut cmd = evalsha(&AUTHENTICATE, 2);
        cmd.arg(keys.token(&token_hex))
            .arg(keys.key(TOKENS))
            .arg(now_ms)
            .arg(token_hex.as_str());
        let found: Option<(String, String, i64, i64)> =
            self.send(&cmd, Some(&AUTHENTICATE)).await?;
        found
            .map(|(user_id, username, issued_at, expires_at)| {
                Ok(TokenInfo {
                    user_id,
                    username,
                    issued_at: time_from_ms(issued_at)?,
                    expires_at: time_from_ms(expires_at)?,
                })
            })
            .transpose()
    }

    async fn revoke_token(
        &self,
        account: &AccountKey,
        digest: &Digest,
    ) -> Result<bool, StoreError> {
        let token_hex = Hex::new(digest);
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&REVOKE, 2);
        cmd.arg(keys.token(&token_hex))
            .arg(keys.key(TOKENS))
            .arg(token_hex.as_str());
        Ok(self.send::<i64>(&cmd, Some(&REVOKE)).await? > 0)
    }

    async fn revoke_all_tokens(&self, account: &AccountKey) -> Result<u64, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&REVOKE_ALL, 1);
        cmd.arg(keys.key(TOKENS)).arg(keys.token_prefix());
        self.send(&cmd, Some(&REVOKE_ALL)).await
    }

    async fn count_password_attempt(
        &self,
        account: &AccountKey,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<PasswordAttempt, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&COUNT_PASSWORD_ATTEMPT, 1);
        cmd.arg(keys.key(FAILURES))
            .arg(time_ms(now))
            .arg(policy.threshold)
            .arg(duration_ms(policy.base))
            .arg(duration_ms(policy.max))
            .arg(duration_ms(policy.forget_after));
        let (locked, until): (i64, i64) = self.send(&cmd, Some(&COUNT_PASSWORD_ATTEMPT)).await?;
        Ok(match (locked, until) {
            (1, until) => PasswordAttempt::Locked {
                until: time_from_ms(until)?,
            },
            (_, until) if until < 0 => PasswordAttempt::Counted { locked_until: None },
            (_, until) => PasswordAttempt::Counted {
                locked_until: Some(time_from_ms(until)?),
            },
        })
    }

    async fn forgive_password_attempt(
        &self,
        account: &AccountKey,
        lock: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&FORGIVE_PASSWORD_ATTEMPT, 1);
        cmd.arg(keys.key(FAILURES))
            .arg(lock.map_or(-1, |lock| i64::try_from(time_ms(lock)).unwrap_or(-1)));
        self.send::<i64>(&cmd, Some(&FORGIVE_PASSWORD_ATTEMPT))
            .await
            .map(drop)
    }

    async fn clear_failures(&self, account: &AccountKey) -> Result<(), StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(keys.key(FAILURES));
        self.send::<i64>(&cmd, None).await.map(drop)
    }

    async fn hit_counter(
        &self,
        key: &str,
        window: Duration,
        now: SystemTime,
    ) -> Result<CounterState, StoreError> {
        let resets_at = window_end(now, window);
        let window_ms = duration_ms(window).max(1);
        let now_ms = time_ms(now);
        let counter = format!("{}rl:{{{key}}}:{}", self.prefix, now_ms / window_ms);
        let ttl = time_ms(resets_at).saturating_sub(now_ms).max(1);
        let mut cmd = evalsha(&HIT, 1);
        cmd.arg(counter).arg(ttl);
        let count: u64 = self.send(&cmd, Some(&HIT)).await?;
        Ok(CounterState { count, resets_at })
    }
}

fn unexpected_outcome(code: i64) -> StoreError {
    StoreError::Backend(format!("unexpected script outcome {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_complete() {
        let mut digest = [0u8; 32];
        digest[0] = 0xab;
        digest[31] = 0x0f;
        let hex = Hex::new(&digest);
        assert_eq!(hex.as_str().len(), 64);
        assert!(hex.as_str().starts_with("ab00"));
        assert!(hex.as_str().ends_with("000f"));
    }

    #[test]
    fn account_keys_share_the_account_hash_tag() {
        let mut keys = AccountKeys::new("p:", &AccountKey::new("acc-1"));
        assert_eq!(keys.key(CHALLENGE), "p:{acc-1}:challenge");
        assert_eq!(
            keys.token(&Hex::new(&[0x11; 32])),
            format!("p:{{acc-1}}:token:{}", "11".repeat(32))
        );
        assert_eq!(keys.token_prefix(), "p:{acc-1}:token:");
        assert_eq!(keys.key(TOKENS), "p:{acc-1}:tokens");
    }

    #[test]
    #[should_panic(expected = "braces")]
    fn prefix_with_braces_is_refused() {
        let _ = RedisStore::new("redis://127.0.0.1/")
            .unwrap()
            .with_prefix("a{b}:");
    }

    #[test]
    fn errors_are_sorted_by_kind() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(store_error(refused), StoreError::Unavailable(_)));
        let script = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "ERR Error running script",
        ));
        assert!(matches!(store_error(script), StoreError::Backend(m) if m.contains("script")));
    }

    #[test]
    fn token_records_parse_with_any_user_id_and_username() {
        let (user_id, username) = ("id:ünï:3", "ghost:ünï:");
        let record = format!("1000:2000:300:1500:{}:{user_id}{username}", user_id.len());
        assert_eq!(
            TokenRecord::parse(&record).unwrap(),
            TokenRecord {
                issued_at: 1000,
                expires_at: 2000,
                idle_timeout: 300,
                last_used: 1500,
                user_id,
                username,
            }
        );
        let empty = TokenRecord::parse("1:2:3:4:0:").unwrap();
        assert_eq!((empty.user_id, empty.username), ("", ""));
    }

    #[test]
    fn malformed_token_records_are_backend_errors() {
        for bad in [
            "",
            "1:2:3:4",
            "1:2:3:4:5",
            "1:2:3:x:0:u",
            "1:2:3:4:9:short",
            "1:2:3:4:1:ü",
            "-1:2:3:4:0:",
            "+1:2:3:4:0:",
            "1::3:4:0:",
            "99999999999999999999:2:3:4:0:",
        ] {
            assert!(
                matches!(TokenRecord::parse(bad), Err(StoreError::Backend(_))),
                "{bad:?} parsed"
            );
        }
    }

    #[test]
    fn huge_durations_are_capped() {
        assert_eq!(duration_ms(Duration::MAX), MAX_MS);
        assert_eq!(duration_ms(Duration::from_millis(1500)), 1500);
    }
}
