//! Sending to Redis: each command within the store's timeout, a script loaded when the server
//! does not know it yet, a failure of the connection itself turned into a rebuild, and every
//! error sorted into the store's two kinds.

use std::future::Future;
use std::time::Instant;

use ::redis::aio::ConnectionLike;
use ::redis::{Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult, Script, ServerErrorKind};

use super::connection::{is_connection_error, is_resp3_refusal, Connection};
use super::RedisStore;
use crate::store::records::StoreError;

impl RedisStore {
    /// Sends `cmd` within the timeout. If `cmd` is the `EVALSHA` of `script` (see [`evalsha`])
    /// and the server does not know the script yet, loads it and sends `cmd` again.
    pub(super) async fn send<T: FromRedisValue>(
        &self,
        cmd: &Cmd,
        script: Option<&Script>,
    ) -> Result<T, StoreError> {
        self.request(|connection| async move {
            match connection {
                Connection::Single(mut c) => send_on(&mut c, cmd, script).await,
                Connection::Cluster(mut c) => send_on(&mut c, cmd, script).await,
            }
        })
        .await
    }

    /// Runs `call` on the connection within the timeout; a failure of the connection itself
    /// (not of a command) has it rebuilt.
    pub(super) async fn request<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (connection, generation) = self.link.get().map_err(store_error)?;
        let timeout = self.link.timeout();
        // Boxed: the call is large (the client's own future), and every future awaiting a
        // request would otherwise carry it, the token check's too, which most often answers
        // from the cache without one.
        let call = Box::pin(tokio::time::timeout(timeout, call(connection)));
        let error = match call.await {
            Ok(Ok(value)) => {
                self.link.succeeded(generation);
                return Ok(value);
            }
            Ok(Err(e)) => {
                // Boxed: the probe connects to a node, a large future that every request's
                // would otherwise carry, for an error path.
                if is_resp3_refusal(&e) || Box::pin(self.link.cluster_refuses_resp3(&e)).await {
                    // A server without RESP3 refused the handshake: a new connection, without.
                    // (Its message may echo HELLO's arguments, a password among them.)
                    self.link.resp3_refused();
                    StoreError::Unavailable(
                        "Redis does not speak RESP3: the client-side cache is off".to_owned(),
                    )
                } else if is_connection_error(&e) {
                    store_error(e)
                } else {
                    return Err(store_error(e));
                }
            }
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
pub(super) fn evalsha(script: &Script, keys: usize) -> Cmd {
    // Room for the largest invocation (verify: 3 + 3 keys + 12 arguments, about 400 bytes)
    // without regrowing.
    let mut cmd = Cmd::with_capacity(18, 512);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys);
    cmd
}

/// `command key field`, a command on one field of a hash, sized so that it is built without
/// regrowing.
pub(super) fn field_command(command: &str, key: &str, field: &str) -> Cmd {
    let mut cmd = Cmd::with_capacity(3, 160);
    cmd.arg(command).arg(key).arg(field);
    cmd
}

/// Sorts a Redis error into the store's two kinds, keeping its message.
fn store_error(e: RedisError) -> StoreError {
    let unreachable = e.is_io_error()
        || e.is_timeout()
        // A refused password: over RESP3, `HELLO` answers with these codes rather than as an
        // authentication failure.
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH"))
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::store::dyn_store::DynStateStore;
    use crate::store::records::{AccountKey, LockoutPolicy, NewToken, VerifyAttempt};

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

    /// A store call's future is allocated on every request (the object-safe store boxes it), so
    /// it must stay within what glibc's allocator serves from its per-thread cache (up to 1032
    /// bytes): a larger block takes its slow path, which showed in profiles of the verify row.
    /// Cold paths (the cluster's RESP3 probe, the client's own future, a token check's miss
    /// path and its idle timer's restart) are boxed apart.
    #[test]
    fn the_hot_store_calls_futures_stay_small() {
        let store = RedisStore::new("redis://127.0.0.1:1/").unwrap();
        let (account, digest, now) = (AccountKey::new("acc"), [0u8; 32], SystemTime::now());
        let token = NewToken {
            digest,
            user_id: String::new(),
            username: String::new(),
            issued_at: now,
            expires_at: now,
            idle_timeout: Duration::ZERO,
        };
        let lockout = LockoutPolicy::default();
        let attempt = VerifyAttempt {
            challenge: Some(&digest),
            code: &digest,
            now,
            max_attempts: 5,
            lockout: &lockout,
            token: &token,
        };
        // What the layer allocates: the future boxed by the object-safe store (timed with the
        // `metrics` feature).
        let store: &dyn DynStateStore = &store;
        let verify = store.verify_challenge(&account, &attempt);
        let check = store.authenticate_token(&account, &digest, now);
        assert!(size_of_val(&*verify) <= 1024, "{}", size_of_val(&*verify));
        // The token check, on the path of every protected request, well within it (568 bytes
        // with `metrics` now; a copy of the call, as an `async fn` wrapper makes, doubles it).
        assert!(size_of_val(&*check) <= 768, "{}", size_of_val(&*check));
    }
}
