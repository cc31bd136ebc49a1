//! The store conformance suite against `RedisStore` on one node and on a cluster, plus what only
//! Redis can show: TTLs on every key, failing closed, recovering, several instances as one.
//!
//! Needs `redis-server` and `redis-cli` (see `tests/common/redis.rs`).
#![cfg(feature = "redis-store")]

mod common;

use std::time::{Duration, Instant};

use common::conformance::*;
use common::redis::*;
use tower_otp::redis::{aio::ConnectionManager, Client};
use tower_otp::store::{
    RedisStore, ResendOutcome, ResendRequest, StateStore, StoreError, VerifyOutcome,
};

mod single {
    crate::store_conformance_tests!(async { crate::common::redis::single_store() });
}

mod cluster {
    crate::store_conformance_tests!(async { crate::common::redis::cluster_store() });
}

/// Runs every kind of write, so that every kind of key exists afterwards.
async fn run_every_flow(store: &RedisStore) {
    let now = t0();
    // A verified challenge: consumed marker, token, token index; a wrong code before it: failures.
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, now))
        .await
        .unwrap();
    let tok = token(now);
    assert!(matches!(
        verify(store, &account, Some(&id), &random_digest(), now, &tok).await,
        VerifyOutcome::Mismatch { .. }
    ));
    let right = verify(store, &account, Some(&id), &code, now + secs(1), &tok).await;
    assert!(matches!(right, VerifyOutcome::Verified(_)), "{right:?}");
    assert!(matches!(
        verify(store, &account, None, &code, now + secs(2), &tok).await,
        VerifyOutcome::Replayed
    ));
    let other = random_account();
    store
        .count_password_attempt(&other, now, &LOCKOUT)
        .await
        .unwrap();

    // A pending challenge after a resend.
    let (account, id) = (random_account(), random_digest());
    store
        .create_challenge(&account, &challenge(id, random_digest(), now))
        .await
        .unwrap();
    let resent = store
        .resend_challenge(
            &account,
            &ResendRequest {
                challenge: &id,
                code: &random_digest(),
                now: now + secs(60),
                code_ttl: secs(300),
                cooldown: secs(60),
                max_sends: 3,
            },
        )
        .await
        .unwrap();
    assert!(matches!(resent, ResendOutcome::Resent(_)), "{resent:?}");

    // A token issued directly and used; a locked account; a counter.
    let account = random_account();
    let tok = token(now);
    store.issue_token(&account, &tok).await.unwrap();
    assert!(store
        .authenticate_token(&account, &tok.digest, now + secs(60))
        .await
        .unwrap()
        .is_some());
    let locked = random_account();
    let mut until = None;
    for _ in 0..LOCKOUT.threshold {
        until = password_failure(store, &locked, now).await;
    }
    assert_eq!(until, Some(now + secs(60)));
    let count = store
        .hit_counter("ip:192.0.2.1", secs(60), now)
        .await
        .unwrap();
    assert_eq!(count.count, 1);
}

async fn assert_every_key_has_a_ttl(store: RedisStore, prefix: &str, nodes: &[String]) {
    let store = store.with_prefix(prefix);
    run_every_flow(&store).await;
    let keys = keys_with_ttl(nodes, prefix).await;
    for kind in [
        ":challenge",
        ":consumed",
        ":failures",
        ":token:",
        ":tokens",
        "rl:{ip:192.0.2.1}:",
    ] {
        assert!(
            keys.iter().any(|(key, _)| key.contains(kind)),
            "no `{kind}` key among {keys:?}"
        );
    }
    // The longest-lived record is the failures (forget_after = 1 day after the last failure).
    let longest = (LOCKOUT.forget_after.as_millis() + 1) as i64;
    for (key, ttl) in &keys {
        assert!(
            *ttl > 0 && *ttl <= longest,
            "{key} has PTTL {ttl} (-1 = no TTL)"
        );
    }
}

#[tokio::test]
async fn every_key_has_a_ttl_single() {
    assert_every_key_has_a_ttl(single_store(), &random_prefix(), &[redis_url().to_owned()]).await;
}

#[tokio::test]
async fn every_key_has_a_ttl_cluster() {
    assert_every_key_has_a_ttl(cluster_store(), &random_prefix(), cluster_urls()).await;
}

/// Calls every method once and checks each fails with `Unavailable` within `timeout` + a margin.
async fn assert_every_method_fails_closed(store: &RedisStore, timeout: Duration) {
    let deadline = timeout + Duration::from_secs(1);
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    let tok = token(t0());
    macro_rules! check {
        ($name:literal, $call:expr) => {{
            let start = Instant::now();
            let result = $call.await;
            let elapsed = start.elapsed();
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{}: expected Unavailable, got {:?}",
                $name,
                result
            );
            assert!(
                elapsed <= deadline,
                "{} took {elapsed:?}, more than {deadline:?}",
                $name
            );
        }};
    }
    let attempt = tower_otp::store::VerifyAttempt {
        challenge: Some(&id),
        code: &code,
        now: t0(),
        max_attempts: 5,
        lockout: &LOCKOUT,
        token: &tok,
    };
    let resend = ResendRequest {
        challenge: &id,
        code: &code,
        now: t0(),
        code_ttl: secs(300),
        cooldown: secs(60),
        max_sends: 3,
    };
    check!(
        "create_challenge",
        store.create_challenge(&account, &challenge(id, code, t0()))
    );
    check!(
        "verify_challenge",
        store.verify_challenge(&account, &attempt)
    );
    check!(
        "resend_challenge",
        store.resend_challenge(&account, &resend)
    );
    check!("delete_challenge", store.delete_challenge(&account, &id));
    check!("issue_token", store.issue_token(&account, &tok));
    check!(
        "authenticate_token",
        store.authenticate_token(&account, &tok.digest, t0())
    );
    check!("revoke_token", store.revoke_token(&account, &tok.digest));
    check!("revoke_all_tokens", store.revoke_all_tokens(&account));
    check!(
        "count_password_attempt",
        store.count_password_attempt(&account, t0(), &LOCKOUT)
    );
    let attempt = tower_otp::store::CountedAttempt {
        before: None,
        after: tower_otp::store::Failures {
            count: 1,
            locked_until: None,
            forget_at: t0() + secs(60),
        },
    };
    check!(
        "forgive_password_attempt",
        store.forgive_password_attempt(&account, &attempt, t0())
    );
    check!("clear_failures", store.clear_failures(&account));
    check!("hit_counter", store.hit_counter("ip:x", secs(60), t0()));
}

const SHORT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn fails_closed_when_nothing_listens() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let store = RedisStore::new(url).unwrap().with_timeout(SHORT);
    assert_every_method_fails_closed(&store, SHORT).await;
}

#[tokio::test]
async fn cluster_fails_closed_when_nothing_listens() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let store = RedisStore::cluster([url]).unwrap().with_timeout(SHORT);
    assert_every_method_fails_closed(&store, SHORT).await;
}

#[tokio::test]
async fn fails_closed_when_the_server_never_answers() {
    // Accepts every connection and keeps it open without a byte of answer.
    let url = format!("redis://{}/", common::net::silent_server().await);
    let store = RedisStore::new(url).unwrap().with_timeout(SHORT);
    assert_every_method_fails_closed(&store, SHORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_by_itself_when_redis_comes_back() {
    let port = free_port();
    let server = RedisServer::start(port, &[]);
    let store = RedisStore::new(server.url())
        .unwrap()
        .with_prefix(random_prefix())
        .with_timeout(Duration::from_millis(500));
    let account = random_account();
    store
        .count_password_attempt(&account, t0(), &LOCKOUT)
        .await
        .unwrap();

    server.stop();
    let down = store.count_password_attempt(&account, t0(), &LOCKOUT).await;
    assert!(
        matches!(down, Err(StoreError::Unavailable(_))),
        "expected Unavailable while Redis is down, got {down:?}"
    );

    let server = RedisServer::start(port, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let recovered = loop {
        match store.hit_counter("ip:back", secs(60), t0()).await {
            Ok(state) => break state,
            Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the store did not recover: {e}"),
        }
    };
    assert_eq!(recovered.count, 1);
    // The new server started empty: the scripts load again and the flows work.
    let (id, code) = (random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    assert!(matches!(
        verify(&store, &account, Some(&id), &code, t0(), &token(t0())).await,
        VerifyOutcome::Verified(_)
    ));
    drop(server);
}

/// Polls `op` until it succeeds, for at most `within`; panics with the last error otherwise.
async fn until_ok<T, F, Fut>(within: Duration, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = Instant::now() + within;
    loop {
        match op().await {
            Ok(value) => return value,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no success within {within:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_redis_refused_its_password() {
    let port = free_port();
    let url = format!("redis://:right-password@127.0.0.1:{port}/");
    let server = RedisServer::start(port, &["--requirepass", "right-password"]);
    let store = RedisStore::new(url.as_str())
        .unwrap()
        .with_prefix(random_prefix())
        .with_timeout(Duration::from_millis(500));
    store.hit_counter("ip:a", secs(60), t0()).await.unwrap();

    // Redis comes back with another password: the store fails closed...
    server.stop();
    let server = RedisServer::start(port, &["--requirepass", "another-password"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.hit_counter("ip:a", secs(60), t0()).await {
            Err(StoreError::Unavailable(message)) if message.contains("uthentication") => break,
            Err(StoreError::Unavailable(_)) | Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("expected an authentication failure, got {other:?}"),
        }
    }

    // ...and once it is back with the right one, the same store works again within seconds.
    server.stop();
    let back = Instant::now();
    let server = RedisServer::start(port, &["--requirepass", "right-password"]);
    let state = until_ok(Duration::from_secs(10), || {
        store.hit_counter("ip:b", secs(60), t0())
    })
    .await;
    assert_eq!(state.count, 1);
    println!("recovered {:?} after Redis was back", back.elapsed());
    drop(server);
}

/// Runs `redis-cli` on every node with `password`; panics unless each answers `OK`.
fn on_every_node(nodes: &[RedisServer], password: &str, command: &[&str]) {
    for node in nodes {
        let output = redis_cli(Some(password))
            .args(["-p", &node.port().to_string()])
            .args(command)
            .output()
            .expect("run redis-cli");
        let reply = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && !reply.contains("ERR"),
            "{command:?} on port {}: {reply}",
            node.port()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_recovers_after_redis_refused_its_password() {
    let nodes = start_cluster(Some("right-password"));
    let urls = nodes
        .iter()
        .map(|node| format!("redis://:right-password@127.0.0.1:{}/", node.port()));
    let store = RedisStore::cluster(urls)
        .unwrap()
        .with_prefix(random_prefix())
        .with_timeout(Duration::from_millis(500));

    // The first connection is refused...
    on_every_node(
        &nodes,
        "right-password",
        &["CONFIG", "SET", "requirepass", "another"],
    );
    let first = store.hit_counter("ip:a", secs(60), t0()).await;
    assert!(
        matches!(first, Err(StoreError::Unavailable(_))),
        "{first:?}"
    );
    // ...which is not kept once the password is right.
    on_every_node(
        &nodes,
        "another",
        &["CONFIG", "SET", "requirepass", "right-password"],
    );
    until_ok(Duration::from_secs(10), || {
        store.hit_counter("ip:a", secs(60), t0())
    })
    .await;

    // Every node now wants another password and drops its clients: the store fails closed...
    on_every_node(
        &nodes,
        "right-password",
        &["CONFIG", "SET", "requirepass", "another"],
    );
    on_every_node(&nodes, "another", &["CLIENT", "KILL", "TYPE", "normal"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.hit_counter("ip:a", secs(60), t0()).await {
            Err(StoreError::Unavailable(_)) => break,
            Ok(_) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("expected the store to fail closed, got {other:?}"),
        }
    }

    // ...and works again within seconds once the password is the right one again.
    on_every_node(
        &nodes,
        "another",
        &["CONFIG", "SET", "requirepass", "right-password"],
    );
    let back = Instant::now();
    let state = until_ok(Duration::from_secs(10), || {
        store.hit_counter("ip:b", secs(60), t0())
    })
    .await;
    assert_eq!(state.count, 1);
    println!("recovered {:?} after the cluster was back", back.elapsed());
}

/// A challenge created through one store verifies through the other exactly once, and tokens
/// are shared.
async fn assert_instances_behave_as_one(a: RedisStore, b: RedisStore) {
    let account = random_account();
    let (id, code) = (random_digest(), random_digest());
    a.create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    assert!(matches!(
        verify(&b, &account, Some(&id), &code, t0() + secs(5), &tok).await,
        VerifyOutcome::Verified(_)
    ));
    assert_eq!(
        verify(&a, &account, Some(&id), &code, t0() + secs(6), &token(t0())).await,
        VerifyOutcome::Replayed
    );
    assert!(a
        .authenticate_token(&account, &tok.digest, t0() + secs(7))
        .await
        .unwrap()
        .is_some());
    assert!(b.revoke_token(&account, &tok.digest).await.unwrap());
    assert_eq!(
        a.authenticate_token(&account, &tok.digest, t0() + secs(8))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn two_instances_on_one_redis_behave_as_one() {
    let prefix = random_prefix();
    let a = RedisStore::new(redis_url()).unwrap().with_prefix(&prefix);
    // The other through a connection manager of its own, as an application may build it.
    let manager = ConnectionManager::new(Client::open(redis_url()).unwrap())
        .await
        .unwrap();
    let b = RedisStore::from_connection_manager(manager).with_prefix(&prefix);
    assert_instances_behave_as_one(a, b).await;
}

#[tokio::test]
async fn two_instances_on_one_cluster_behave_as_one() {
    let prefix = random_prefix();
    let a = RedisStore::cluster(cluster_urls().iter().map(String::as_str))
        .unwrap()
        .with_prefix(&prefix);
    let b = RedisStore::cluster(cluster_urls().iter().map(String::as_str))
        .unwrap()
        .with_prefix(&prefix);
    assert_instances_behave_as_one(a, b).await;
}

#[tokio::test]
async fn prefixes_keep_stores_apart() {
    let (a, b) = (single_store(), single_store());
    let account = random_account();
    let tok = token(t0());
    a.issue_token(&account, &tok).await.unwrap();
    assert_eq!(
        b.authenticate_token(&account, &tok.digest, t0())
            .await
            .unwrap(),
        None
    );
    assert!(a
        .authenticate_token(&account, &tok.digest, t0())
        .await
        .unwrap()
        .is_some());
}

/// The account's token index drops the members of tokens past their absolute end whenever a
/// token is stored, so an account that logs in often does not pile up dead members.
#[tokio::test]
async fn token_index_is_pruned_of_expired_tokens() {
    use common::conformance::{random_account, t0, token};
    use std::time::Duration;
    use tower_otp::store::{NewToken, StateStore};

    let prefix = common::redis::random_prefix();
    let store = tower_otp::store::RedisStore::new(common::redis::redis_url())
        .unwrap()
        .with_prefix(prefix.as_str());
    let account = random_account();
    for _ in 0..5 {
        let short = NewToken {
            expires_at: t0() + Duration::from_secs(10),
            ..token(t0())
        };
        store.issue_token(&account, &short).await.unwrap();
    }
    let index = format!("{prefix}{{{account}}}:tokens");
    let client = tower_otp::redis::Client::open(common::redis::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let card = |con: &mut tower_otp::redis::aio::MultiplexedConnection| {
        let index = index.clone();
        let mut con = con.clone();
        async move {
            tower_otp::redis::cmd("ZCARD")
                .arg(&index)
                .query_async::<i64>(&mut con)
                .await
                .unwrap()
        }
    };
    assert_eq!(card(&mut con).await, 5);
    let later = t0() + Duration::from_secs(20);
    store.issue_token(&account, &token(later)).await.unwrap();
    assert_eq!(card(&mut con).await, 1, "the five dead members are gone");
    assert_eq!(store.revoke_all_tokens(&account).await.unwrap(), 1);
}

/// A token in steady use is only read: its idle timer restarts once the last restart is at
/// least 1/60 of the idle timeout old (30 s of 30 min). It dies at most that much earlier than
/// with a restart on every use, never later.
#[tokio::test]
async fn the_idle_timer_restarts_once_a_sixtieth_of_the_timeout_has_passed() {
    let store = single_store();
    let alive = |account, tok: &tower_otp::store::NewToken, at| {
        let (store, digest) = (store.clone(), tok.digest);
        async move {
            store
                .authenticate_token(&account, &digest, at)
                .await
                .unwrap()
                .is_some()
        }
    };
    // Used 20 s after its issue: read only, the timer still runs from the issue.
    let (account, tok) = (random_account(), token(t0()));
    store.issue_token(&account, &tok).await.unwrap();
    assert!(alive(account.clone(), &tok, t0() + secs(20)).await);
    assert!(!alive(account, &tok, t0() + secs(1800)).await);
    // Used 30 s after its issue: the timer restarts.
    let (account, tok) = (random_account(), token(t0()));
    store.issue_token(&account, &tok).await.unwrap();
    assert!(alive(account.clone(), &tok, t0() + secs(30)).await);
    assert!(alive(account.clone(), &tok, t0() + secs(1829)).await);
    assert!(!alive(account, &tok, t0() + secs(1829 + 1800)).await);
}

/// A token record that does not parse (written by something else, or by an older layout) is a
/// backend error, whether or not the idle timer is due for a restart (the script that restarts
/// it runs only once the record has parsed): never a login, never a silent miss.
#[tokio::test]
async fn a_garbled_token_record_fails_closed() {
    let prefix = random_prefix();
    let store = RedisStore::new(redis_url())
        .unwrap()
        .with_prefix(prefix.as_str());
    let (account, tok) = (random_account(), token(t0()));
    store.issue_token(&account, &tok).await.unwrap();
    assert!(store
        .authenticate_token(&account, &tok.digest, t0())
        .await
        .unwrap()
        .is_some());

    let client = Client::open(redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = tower_otp::redis::cmd("KEYS")
        .arg(format!("{prefix}*:token:*"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    for garbage in ["not a record", "1:2:3:4:99:short", "1:2:3"] {
        let _: () = tower_otp::redis::cmd("SET")
            .arg(&keys[0])
            .arg(garbage)
            .arg("KEEPTTL")
            .query_async(&mut con)
            .await
            .unwrap();
        // Whether or not the idle timer is due: the record is parsed before anything is decided.
        for at in [t0(), t0() + secs(1200)] {
            let result = store.authenticate_token(&account, &tok.digest, at).await;
            assert!(
                matches!(result, Err(StoreError::Backend(_))),
                "{garbage:?} at {at:?}: {result:?}"
            );
        }
    }
}
