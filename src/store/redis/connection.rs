//! The store's connection to Redis: opened on first use, rebuilt when the connection itself
//! fails.
//!
//! The `redis` crate's `ConnectionManager` reconnects after I/O errors only. A connection whose
//! handshake failed for another reason (Redis restarted with another password, a protocol
//! error) stays failed for good inside it: every later command gets the same error at once. So
//! the store keeps its own handle on the connection and throws it away after any error of the
//! connection (not of a command), at most once per backoff step, which also bounds how often
//! it connects and logs while Redis stays unreachable.
//!
//! Connections the store opens itself speak RESP3 when the client-side cache of token records
//! is on: its invalidations arrive as pushes on the connection (see `token_cache.rs`), and
//! whatever may have lost one (the connection closing or failing) drops the cache.

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::{ClusterClient, ClusterConfig};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{
    Client, ConnectionInfo, ErrorKind, ProtocolVersion, PushInfo, RedisError, RedisResult,
    ServerErrorKind,
};

use super::token_cache::{ClientCacheStatistics, TokenCache};

/// The first wait before the connection is rebuilt again; it doubles up to [`RECONNECT_MAX`].
const RECONNECT_MIN: Duration = Duration::from_millis(100);
/// The longest wait between two rebuilds while Redis keeps failing.
const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// How to connect.
#[derive(Clone)]
pub(super) enum Connector {
    Single(Client),
    /// A manager the application built: it cannot be rebuilt, only used.
    Manager(ConnectionManager),
    /// A cluster from the URLs of some of its nodes.
    ClusterNodes(Vec<ConnectionInfo>),
    /// A cluster client the application built.
    Cluster(Box<ClusterClient>),
}

impl Connector {
    /// Whether the store opens connections itself, so that they can carry the cache's
    /// invalidations: not those of a manager or cluster client the application built, whose
    /// protocol and push handling it chose.
    fn can_track(&self) -> bool {
        matches!(self, Self::Single(_) | Self::ClusterNodes(_))
    }
}

/// An open (or opening) connection; clones share it.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// What clones of a store share: how to connect, the timeout, the connection once open, and
/// the cache of token records read on it.
pub(super) struct Link {
    connector: Connector,
    timeout: Duration,
    /// How many token records the cache is to keep (`None`: no cache), as configured.
    cache_capacity: Option<NonZeroUsize>,
    token_cache: Option<Arc<TokenCache>>,
    current: RwLock<Current>,
    /// Set when the connection was thrown away, until a command succeeds again.
    failing: AtomicBool,
    /// Whether a cluster's nodes were asked once if they speak RESP3.
    probed_resp3: AtomicBool,
}

#[derive(Default)]
struct Current {
    connection: Option<Connection>,
    /// Which connection this is: a failure reported for an older one is ignored.
    generation: u64,
    /// Rebuilds since the last success, for the backoff.
    rebuilds: u32,
    /// No rebuild before this instant.
    next_rebuild: Option<Instant>,
}

impl Link {
    /// A link with a cache of `cache_capacity` token records (none: no cache). A connector
    /// that cannot carry invalidations gets no cache.
    pub(super) fn new(
        connector: Connector,
        timeout: Duration,
        cache_capacity: Option<NonZeroUsize>,
    ) -> Arc<Self> {
        let token_cache = cache_capacity
            .filter(|_| connector.can_track())
            .map(|capacity| Arc::new(TokenCache::new(capacity)));
        Arc::new(Self {
            connector,
            timeout,
            cache_capacity,
            token_cache,
            current: RwLock::default(),
            failing: AtomicBool::new(false),
            probed_resp3: AtomicBool::new(false),
        })
    }

    /// A new link like this one (to be connected anew) with `timeout` and `cache_capacity`.
    pub(super) fn reconfigured(
        &self,
        timeout: Duration,
        cache_capacity: Option<NonZeroUsize>,
    ) -> Arc<Self> {
        Self::new(self.connector.clone(), timeout, cache_capacity)
    }

    pub(super) fn connector(&self) -> &Connector {
        &self.connector
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(super) fn cache_capacity(&self) -> Option<NonZeroUsize> {
        self.cache_capacity
    }

    /// The cache of token records, while in use.
    pub(super) fn token_cache(&self) -> Option<&TokenCache> {
        self.token_cache.as_deref().filter(|cache| cache.is_on())
    }

    /// The counters of the cache of token records, in use or not.
    pub(super) fn client_cache_statistics(&self) -> Option<ClientCacheStatistics> {
        self.token_cache.as_deref().map(TokenCache::statistics)
    }

    pub(super) fn is_open(&self) -> bool {
        self.read().connection.is_some()
    }

    /// The connection, opened if there is none, and its generation.
    pub(super) fn get(&self) -> RedisResult<(Connection, u64)> {
        {
            let current = self.read();
            if let Some(connection) = &current.connection {
                return Ok((connection.clone(), current.generation));
            }
        }
        let mut current = self.write();
        if let Some(connection) = &current.connection {
            return Ok((connection.clone(), current.generation));
        }
        let connection = self.open()?;
        current.generation += 1;
        current.connection = Some(connection.clone());
        Ok((connection, current.generation))
    }

    /// Both constructors are lazy: they connect in the background, bounded by the timeout, and
    /// never block here. With a cache, the connection speaks RESP3 and hands its pushes to it.
    fn open(&self) -> RedisResult<Connection> {
        let handler = self.push_handler();
        let tracking = handler.is_some();
        let cluster_config = |handler| {
            let config = ClusterConfig::new()
                .set_connection_timeout(self.timeout)
                .set_response_timeout(self.timeout);
            match handler {
                Some(handler) => config.set_push_sender(handler),
                None => config,
            }
        };
        Ok(match &self.connector {
            Connector::Single(client) => {
                let mut config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    // Fail the waiting calls soon; the next call starts a new attempt.
                    .set_number_of_retries(1);
                let mut client = client.clone();
                if let Some(handler) = handler {
                    config = config.set_push_sender(handler);
                    client = Client::open(resp3(client.get_connection_info().clone()))?;
                }
                Connection::Single(ConnectionManager::new_lazy_with_config(client, config)?)
            }
            Connector::Manager(manager) => Connection::Single(manager.clone()),
            Connector::ClusterNodes(nodes) => {
                let mut nodes = nodes.clone();
                if tracking {
                    nodes = nodes.into_iter().map(resp3).collect();
                }
                let client = ClusterClient::new(nodes)?;
                Connection::Cluster(
                    client.get_pending_async_connection_with_config(cluster_config(handler)),
                )
            }
            Connector::Cluster(client) => Connection::Cluster(
                client.get_pending_async_connection_with_config(cluster_config(handler)),
            ),
        })
    }

    /// What the connection calls with each push: the cache's handler, if there is a cache.
    fn push_handler(&self) -> Option<impl Fn(PushInfo) -> Result<(), Infallible> + Send + Sync> {
        let cache = self.token_cache.clone().filter(|cache| cache.is_on())?;
        Some(move |push: PushInfo| {
            cache.on_push(&push);
            Ok(())
        })
    }

    /// Reports that connection `generation` failed at `now` (`error`). Unless that connection
    /// was already replaced, or the last rebuild is too recent, it is thrown away so that the
    /// next command opens a new one. Returns how long until that can happen (zero: at once), or
    /// `None` for a connection the store cannot rebuild.
    pub(super) fn failed(&self, generation: u64, error: &str, now: Instant) -> Option<Duration> {
        let wait = self.throw_away(generation, error, now);
        // An invalidation may have been lost with the connection. Dropped only now that a
        // connection thrown away is no longer handed out, so that no read reserved from here on
        // goes to it; every read reserved before is cancelled.
        if let Some(cache) = &self.token_cache {
            cache.drop_all();
        }
        wait
    }

    /// [`failed`](Self::failed) but for the cache.
    fn throw_away(&self, generation: u64, error: &str, now: Instant) -> Option<Duration> {
        if matches!(self.connector, Connector::Manager(_)) {
            return None;
        }
        let mut current = self.write();
        if current.generation != generation || current.connection.is_none() {
            return Some(Duration::ZERO);
        }
        if let Some(at) = current.next_rebuild.filter(|at| now < *at) {
            return Some(at - now);
        }
        current.connection = None;
        current.rebuilds = current.rebuilds.saturating_add(1);
        let wait = RECONNECT_MIN
            .saturating_mul(1 << (current.rebuilds - 1).min(16))
            .min(RECONNECT_MAX);
        current.next_rebuild = Some(now + wait);
        self.failing.store(true, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::warn!(
            error,
            rebuilds = current.rebuilds,
            "tower-otp: the Redis connection failed; a new one is opened on the next command"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = error;
        Some(Duration::ZERO)
    }

    /// The server does not speak RESP3: the cache goes, and with it RESP3, from the next
    /// connection on (the one opened after [`failed`](Self::failed) threw this one away).
    pub(super) fn resp3_refused(&self) {
        if let Some(cache) = &self.token_cache {
            cache.switch_off("the server does not speak RESP3");
        }
    }

    /// Whether `e`, an error of a cluster connection opened with RESP3 for the cache, is the
    /// cluster's nodes refusing RESP3. A cluster client only logs why it could not connect and
    /// then answers that it has no connection: the first time it does, a connection of RESP3 to
    /// a node, within the timeout, tells.
    pub(super) async fn cluster_refuses_resp3(&self, e: &RedisError) -> bool {
        let Connector::ClusterNodes(nodes) = &self.connector else {
            return false;
        };
        if e.kind() != ErrorKind::ClusterConnectionNotFound
            || self.token_cache().is_none()
            || self.probed_resp3.swap(true, Ordering::Relaxed)
        {
            return false;
        }
        let Some(Ok(node)) = nodes.first().map(|node| Client::open(resp3(node.clone()))) else {
            return false;
        };
        let probe = tokio::time::timeout(self.timeout, node.get_multiplexed_async_connection());
        matches!(probe.await, Ok(Err(e)) if is_resp3_refusal(&e))
    }

    /// Reports that a command on connection `generation` succeeded: after failures, the
    /// backoff starts over. A late success on a connection already thrown away says nothing
    /// about the current one.
    pub(super) fn succeeded(&self, generation: u64) {
        if !self.failing.load(Ordering::Relaxed) {
            return;
        }
        let mut current = self.write();
        if current.generation == generation && self.failing.swap(false, Ordering::Relaxed) {
            #[cfg(feature = "tracing")]
            tracing::info!(
                rebuilds = current.rebuilds,
                "tower-otp: the Redis connection works again"
            );
            current.rebuilds = 0;
            current.next_rebuild = None;
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        // Every change under the lock is a few assignments: a panic cannot leave it half-done.
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `e` says the server does not speak RESP3 (before Redis 6, or `HELLO` renamed away).
pub(super) fn is_resp3_refusal(e: &RedisError) -> bool {
    let no_hello = |detail: &str| {
        let detail = detail.trim_start();
        detail.starts_with("unknown command 'HELLO'")
            || detail.starts_with("unknown command `HELLO`")
    };
    e.kind() == ErrorKind::RESP3NotSupported || e.detail().is_some_and(no_hello)
}

/// `info` speaking RESP3, the protocol that carries pushes.
fn resp3(info: ConnectionInfo) -> ConnectionInfo {
    let redis = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    info.set_redis_settings(redis)
}

/// Whether `e` is a failure of the connection rather than Redis's answer to a command: then
/// the connection is rebuilt. Error replies to a command (a script error) and replies of an
/// unexpected shape (`Parse`, `UnexpectedReturnType`: the data, not the connection) leave it
/// alone.
pub(super) fn is_connection_error(e: &RedisError) -> bool {
    match e.kind() {
        // A primary demoted by a failover refuses writes: a new connection finds the new
        // primary (DNS or a proxy in front of the nodes).
        ErrorKind::Server(ServerErrorKind::ReadOnly) => true,
        ErrorKind::Server(_) | ErrorKind::UnexpectedReturnType | ErrorKind::Parse => false,
        // Replies with codes the crate does not name; these two mean the session is not
        // authenticated.
        ErrorKind::Extension => matches!(e.code(), Some("NOAUTH" | "WRONGPASS")),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Arc<Link> {
        let client = Client::open("redis://127.0.0.1:1/").unwrap();
        Link::new(Connector::Single(client), Duration::from_millis(100), None)
    }

    #[test]
    fn connection_errors_are_told_from_replies() {
        let auth = RedisError::from((ErrorKind::AuthenticationFailed, "WRONGPASS"));
        assert!(is_connection_error(&auth));
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_connection_error(&io));
        let script = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "ERR Error running script",
        ));
        assert!(!is_connection_error(&script));
        let shape = RedisError::from((ErrorKind::Parse, "not an integer"));
        assert!(!is_connection_error(&shape));
        let demoted = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ReadOnly),
            "READONLY You can't write against a read only replica.",
        ));
        assert!(is_connection_error(&demoted));
    }

    #[test]
    fn a_refused_hello_is_told_from_other_unknown_commands() {
        let answer = |line: &str| match ::redis::parse_redis_value(line.as_bytes()) {
            Ok(::redis::Value::ServerError(e)) => RedisError::from(e),
            other => panic!("not an error reply: {other:?}"),
        };
        let no_hello = "-ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH'\r\n";
        assert!(is_resp3_refusal(&answer(no_hello)));
        let old = "-ERR unknown command `HELLO`, with args beginning with: `3`, \r\n";
        assert!(is_resp3_refusal(&answer(old)));
        let other = "-ERR unknown command 'EVALSHA', with args beginning with: 'HELLO'\r\n";
        assert!(!is_resp3_refusal(&answer(other)));
        let not_supported = RedisError::from((ErrorKind::RESP3NotSupported, "no"));
        assert!(is_resp3_refusal(&not_supported));
    }

    #[tokio::test]
    async fn a_failed_connection_drops_the_cache() {
        let client = Client::open("redis://127.0.0.1:1/").unwrap();
        let link = Link::new(
            Connector::Single(client),
            Duration::from_millis(100),
            NonZeroUsize::new(16),
        );
        let (_, generation) = link.get().unwrap();
        link.failed(generation, "boom", Instant::now());
        assert!(!link.is_open());
        assert_eq!(link.client_cache_statistics().unwrap().drops, 1);
        // Refused RESP3: no cache from then on.
        link.resp3_refused();
        assert!(link.token_cache().is_none());
        assert!(link.push_handler().is_none());
    }

    #[tokio::test]
    async fn a_failed_connection_is_rebuilt_once_per_backoff_step() {
        let link = link();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let (_, first) = link.get().unwrap();
        assert_eq!(link.failed(first, "boom", t0), Some(Duration::ZERO));
        assert!(!link.is_open(), "thrown away");
        let (_, second) = link.get().unwrap();
        assert_eq!(second, first + 1);
        // Within the backoff the new one is kept, failing fast.
        assert_eq!(link.failed(second, "again", t0 + ms(40)), Some(ms(60)));
        assert!(link.is_open());
        // A late report about the old connection changes nothing.
        assert_eq!(
            link.failed(first, "late", t0 + ms(50)),
            Some(Duration::ZERO)
        );
        assert_eq!(link.get().unwrap().1, second);
        // Past the backoff it goes; the next wait is twice as long, up to the cap.
        assert_eq!(
            link.failed(second, "again", t0 + ms(100)),
            Some(Duration::ZERO)
        );
        let (_, third) = link.get().unwrap();
        assert_eq!(link.failed(third, "again", t0 + ms(150)), Some(ms(150)));
        let mut at = t0 + ms(300);
        for _ in 0..10 {
            assert_eq!(
                link.failed(link.get().unwrap().1, "down", at),
                Some(Duration::ZERO)
            );
            at += RECONNECT_MAX;
        }
        assert_eq!(
            link.failed(link.get().unwrap().1, "down", at - ms(1)),
            Some(ms(1)),
            "capped"
        );
        // A late success on an older connection changes nothing; one on the current one resets
        // the backoff.
        let current = link.get().unwrap().1;
        link.succeeded(current - 1);
        assert_eq!(link.failed(current, "down", at - ms(1)), Some(ms(1)));
        link.succeeded(current);
        assert_eq!(
            link.failed(link.get().unwrap().1, "down", at),
            Some(Duration::ZERO)
        );
        let again = link.get().unwrap().1;
        assert_eq!(link.failed(again, "down", at + ms(1)), Some(ms(99)));
    }
}
