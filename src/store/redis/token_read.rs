//! Token records read through the client-side cache (see `token_cache.rs`): a hit answers
//! from memory; a miss is a tracked read, whose reply fills the cache unless Redis said the key
//! changed meanwhile.

use std::sync::Arc;
use std::time::SystemTime;

use ::redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
use ::redis::{Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult, Value};

use super::connection::Connection;
use super::token_cache::Lookup;
use super::RedisStore;
use crate::store::records::StoreError;

impl RedisStore {
    /// The token record at `key`: from the cache if it has it, else by a tracked read that
    /// fills the cache (a plain `GET` when there is no cache).
    pub(super) async fn read_token(
        &self,
        key: &str,
        now: SystemTime,
    ) -> Result<Option<Arc<str>>, StoreError> {
        let Some(cache) = self.link.token_cache() else {
            return self.plain_read(key).await;
        };
        let reservation = match cache.lookup(key, now) {
            Lookup::Hit(record) => return Ok(Some(record)),
            Lookup::Miss(reservation) => reservation,
        };
        match self
            .request(|connection| tracked_read(connection, key))
            .await?
        {
            Tracked::Read(found) => {
                let found = found.map(Arc::<str>::from);
                reservation.fill(found.clone(), now);
                Ok(found)
            }
            Tracked::Refused(reason) => {
                drop(reservation);
                cache.switch_off(&reason);
                self.plain_read(key).await
            }
        }
    }

    /// `GET key`, nothing cached.
    async fn plain_read(&self, key: &str) -> Result<Option<Arc<str>>, StoreError> {
        // Sized for the key, so the command is built without regrowing.
        let mut read = Cmd::with_capacity(2, 128);
        read.arg("GET").arg(key);
        let found: Option<String> = self.send(&read, None).await?;
        Ok(found.map(Arc::from))
    }

    /// Forgets what the cache holds of `key`, which this process just changed.
    pub(super) fn forget_cached(&self, key: &str) {
        if let Some(cache) = self.link.token_cache() {
            cache.forget(key);
        }
    }

    /// Forgets every cached key that starts with `prefix`.
    pub(super) fn forget_cached_prefix(&self, prefix: &str) {
        if let Some(cache) = self.link.token_cache() {
            cache.forget_prefix(prefix);
        }
    }
}

/// What a tracked read got.
enum Tracked {
    /// The record (`None`: no such key), which Redis now tracks for this connection.
    Read(Option<String>),
    /// Redis refused to track (e.g. an ACL user without `CLIENT TRACKING`): why.
    Refused(String),
}

/// `GET key`, preceded on the same connection by `CLIENT TRACKING ON OPTIN` and `CLIENT CACHING
/// YES`, so that Redis reports any later change of the key on this connection. Tracking is
/// switched on with every read, so it is on whichever connection serves it (a new one after a
/// reconnect, a cluster node's); asking again changes nothing.
async fn tracked_read(connection: Connection, key: &str) -> RedisResult<Tracked> {
    let mut read = ::redis::pipe();
    read.cmd("CLIENT").arg("TRACKING").arg("ON").arg("OPTIN");
    read.cmd("CLIENT").arg("CACHING").arg("YES");
    read.cmd("GET").arg(key);
    // Each reply on its own, error replies included: a refusal to track is not a failure.
    read.ignore_errors();
    let replies: Vec<Value> = match connection {
        Connection::Single(mut c) => read.query_async(&mut c).await?,
        // A cluster client would route the `CLIENT` commands by their first argument as if it
        // were a key: the pipeline goes to the key's primary instead.
        Connection::Cluster(mut c) => {
            let node = SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
            c.route_pipeline(read, 0, 3, node).await?
        }
    };
    let [tracking, caching, found] = <[Value; 3]>::try_from(replies)
        .map_err(|_| RedisError::from((ErrorKind::UnexpectedReturnType, "not three replies")))?;
    for reply in [tracking, caching] {
        if let Value::ServerError(refused) = reply {
            return Ok(Tracked::Refused(refused.to_string()));
        }
    }
    if let Value::ServerError(e) = found {
        return Err(e.into());
    }
    Ok(Tracked::Read(FromRedisValue::from_redis_value(found)?))
}
