//! The servers under test: bare axum, and axum with the layer over a `MemoryStore` and over a
//! `RedisStore` (with and without its client-side cache), each on its own loopback port, with the raw-Redis baselines beside them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::serve::ListenerExt;
use axum::Router;
use tower_otp::store::{MemoryStore, RedisStore, StateStore};

use crate::raw_redis::raw_redis_server;
use crate::support::{routes, App, BenchUsers};

/// The servers under test, all on `server`'s runtime, each on its own loopback port.
pub struct Servers {
    pub bare: SocketAddr,
    pub memory: Served,
    pub redis: Served,
    /// On Redis with the client-side cache of tokens off.
    pub redis_uncached: Served,
    pub raw: SocketAddr,
    pub users: BenchUsers,
    /// Every `fast-<n>` user is used once: a new login would kill a challenge still in use.
    next_user: AtomicU64,
}

/// Picks one of the [`Servers`]' apps.
pub type AppOf = fn(&Servers) -> &Served;

/// The server key of the served apps: `build()` refuses a shared store (Redis) without an
/// explicit one.
const SECRET_KEY: &[u8] = b"the throughput bench's server key, 32+ bytes";

/// An app and where it is served.
pub struct Served {
    pub app: App,
    pub addr: SocketAddr,
}

impl Served {
    pub async fn start(users: &BenchUsers, store: impl StateStore) -> Self {
        let app = App::new(users, |layer| {
            layer.with_store(store).with_secret_key(SECRET_KEY)
        });
        Self {
            addr: serve(app.router.clone()).await,
            app,
        }
    }
}

impl Servers {
    pub async fn start(users: BenchUsers, redis_url: &str) -> Self {
        let redis_store = RedisStore::new(redis_url)
            .expect("valid Redis URL")
            .with_prefix("bench:");
        let uncached_store = RedisStore::new(redis_url)
            .expect("valid Redis URL")
            .with_prefix("bench-uncached:")
            .with_client_cache(false);
        Self {
            bare: serve(routes()).await,
            memory: Served::start(&users, MemoryStore::new()).await,
            redis: Served::start(&users, redis_store).await,
            redis_uncached: Served::start(&users, uncached_store).await,
            raw: raw_redis_server(redis_url).await,
            users,
            next_user: AtomicU64::new(0),
        }
    }

    pub fn fresh_user(&self) -> String {
        format!("fast-{}", self.next_user.fetch_add(1, Ordering::Relaxed))
    }
}

pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}
