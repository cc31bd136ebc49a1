//! Token records read through the client-side cache (see `token_cache.rs`): a hit answers
//! from memory; a miss is a tracked read, whose reply fills the cache unless Redis said the key
//! changed meanwhile.

use std::sync::Arc;
use std::time::SystemTime;

use ::redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
use ::redis::{
    ErrorKind, FromRedisValue, RedisError, RedisResult, ServerError, ServerErrorKind, Value,
};

use super::connection::Connection;
use super::sending::field_command;
use super::token_cache::TokenCache;
use super::RedisStore;
use crate::store::records::StoreError;

impl RedisStore {
    /// The token record in `field` of the tokens hash `key`: from the cache if it has it, else
    /// read from Redis, and kept if it exists and Redis agrees to report changes of the key.
    pub(super) async fn read_token(
        &self,
        key: &str,
        field: &str,
        now: SystemTime,
    ) -> Result<Option<Arc<str>>, StoreError> {
        let Some(cache) = self.link.token_cache() else {
            return self.plain_read(key, field).await;
        };
        if let Some(record) = cache.get(key, field, now) {
            return Ok(Some(record));
        }
        // Boxed: a token in use is rarely missed, and the reads of a miss would otherwise make
        // every check's future larger, the hits' too.
        Box::pin(self.read_and_track(cache, key, field, now)).await
    }

    /// A record the cache did not have: read, and kept if it exists and Redis agrees to report
    /// changes of its key.
    async fn read_and_track(
        &self,
        cache: &TokenCache,
        key: &str,
        field: &str,
        now: SystemTime,
    ) -> Result<Option<Arc<str>>, StoreError> {
        // A token that does not exist (most often a made-up one) is answered by a plain read,
        // before anything is reserved: Redis would otherwise remember, for each, that this
        // connection wants to hear of its account's tokens, and the reservation of the account
        // would keep its real tokens out of the cache meanwhile.
        let Some(found) = self.plain_read(key, field).await? else {
            return Ok(None);
        };
        // Another check is reading the account's tokens already, and will fill the cache.
        let Some(reservation) = cache.reserve(key, field) else {
            return Ok(Some(found));
        };
        match self
            .request(|connection| tracked_read(connection, key, field))
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
                Ok(Some(found))
            }
            Tracked::NotNow => Ok(Some(found)),
        }
    }

    /// `HGET key field`, nothing cached.
    async fn plain_read(&self, key: &str, field: &str) -> Result<Option<Arc<str>>, StoreError> {
        let found: Option<String> = self.send(&field_command("HGET", key, field), None).await?;
        Ok(found.map(Arc::from))
    }

    /// Forgets what the cache holds of `key`, which this process changed (or tried to).
    pub(super) fn forget_cached(&self, key: &str) {
        if let Some(cache) = self.link.token_cache() {
            cache.forget(key);
        }
    }
}

/// What a tracked read got.
enum Tracked {
    /// The record (`None`: no such key), which Redis now reports changes of on this connection.
    Read(Option<String>),
    /// Redis does not let this user track keys (an ACL without `CLIENT TRACKING`, a server
    /// without the command): why.
    Refused(String),
    /// Not this time, for a reason that passes (the slot is moving between cluster nodes, the
    /// server is busy with a script): nothing is cached.
    NotNow,
}

/// `HGET key field`, preceded on the same connection by `CLIENT TRACKING ON OPTIN` and `CLIENT
/// CACHING YES`, so that Redis reports any later change of the key on this connection. Tracking
/// is switched on with every read, so it is on whichever connection serves it (a new one after a
/// reconnect, a cluster node's); asking again changes nothing.
async fn tracked_read(connection: Connection, key: &str, field: &str) -> RedisResult<Tracked> {
    let mut read = ::redis::pipe();
    read.cmd("CLIENT").arg("TRACKING").arg("ON").arg("OPTIN");
    read.cmd("CLIENT").arg("CACHING").arg("YES");
    read.cmd("HGET").arg(key).arg(field);
    // Each reply on its own, error replies included: a refusal to track is not a failure.
    read.ignore_errors();
    let replies = match connection {
        Connection::Single(mut c) => read.query_async::<Vec<Value>>(&mut c).await,
        // A cluster client would route the `CLIENT` commands by their first argument as if it
        // were a key: the pipeline goes to the key's primary instead.
        Connection::Cluster(mut c) => {
            let node = SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
            let count = read.len();
            c.route_pipeline(read, 0, count, node).await
        }
    };
    let replies = match replies {
        // While a slot migrates, `ASKING` would cover `CLIENT TRACKING`, not the `HGET`.
        Err(e) if passes(e.kind()) => return Ok(Tracked::NotNow),
        replies => replies?,
    };
    let [tracking, caching, found] = <[Value; 3]>::try_from(replies)
        .map_err(|_| RedisError::from((ErrorKind::UnexpectedReturnType, "not three replies")))?;
    for reply in [tracking, caching] {
        if let Value::ServerError(e) = reply {
            return Ok(if refuses_tracking(&e) {
                Tracked::Refused(e.to_string())
            } else {
                Tracked::NotNow
            });
        }
    }
    match found {
        Value::ServerError(e) if e.kind().is_some_and(|k| passes(ErrorKind::Server(k))) => {
            Ok(Tracked::NotNow)
        }
        Value::ServerError(e) => Err(e.into()),
        found => Ok(Tracked::Read(FromRedisValue::from_redis_value(found)?)),
    }
}

/// Whether `e`, Redis's answer to `CLIENT TRACKING` or `CLIENT CACHING`, says that it never
/// will: no permission (ACL), or a command or subcommand it does not know (every Redis version's
/// wording).
fn refuses_tracking(e: &ServerError) -> bool {
    let unknown = e
        .details()
        .is_some_and(|d| d.to_ascii_lowercase().starts_with("unknown"));
    matches!(e.kind(), Some(ServerErrorKind::NoPerm)) || e.code() == "ERR" && unknown
}

/// Whether an error of this kind passes by itself: a slot moving between cluster nodes, a
/// server loading its data.
fn passes(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Server(
            ServerErrorKind::Ask
                | ServerErrorKind::Moved
                | ServerErrorKind::TryAgain
                | ServerErrorKind::BusyLoading
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error Redis answers with `line` (without its `-` and CRLF).
    fn answer(line: &str) -> ServerError {
        match ::redis::parse_redis_value(format!("-{line}\r\n").as_bytes()) {
            Ok(Value::ServerError(e)) => e,
            other => panic!("not an error reply: {other:?}"),
        }
    }

    #[test]
    fn only_a_lasting_refusal_switches_the_cache_off() {
        for refusal in [
            "NOPERM User app has no permissions to run the 'client|tracking' command",
            "NOPERM this user has no permissions to run the 'client' command or its subcommand",
            "ERR unknown subcommand 'TRACKING'. Try CLIENT HELP.",
            "ERR Unknown subcommand or wrong number of arguments for 'TRACKING'. Try CLIENT HELP",
            "ERR unknown command 'CLIENT', with args beginning with: 'TRACKING' 'ON' 'OPTIN' ",
        ] {
            assert!(refuses_tracking(&answer(refusal)), "{refusal}");
        }
        for passing in [
            "MOVED 3999 127.0.0.1:6381",
            "ASK 3999 127.0.0.1:6381",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "LOADING Redis is loading the dataset in memory",
            "BUSY Redis is busy running a script.",
        ] {
            assert!(!refuses_tracking(&answer(passing)), "{passing}");
        }
    }
}
