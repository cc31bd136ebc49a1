//! The client-side cache of token records: answered from memory, yet never stale once Redis
//! has said otherwise, whatever the timing, and dropped whenever a word from Redis may have been
//! lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tower_otp::redis::{self, Client};
use tower_otp::store::{AccountKey, ClientCacheStatistics, NewToken, RedisStore, StateStore};

use crate::common::conformance::*;
use crate::common::redis::*;
use crate::faults::until_ok;

/// How late another instance may still accept a revoked token here: far below the 10 s a stale
/// entry would live, far above the milliseconds a push takes (the 10 ms bound is asserted in
/// tests/revocation.rs, a binary that measures with nothing else running).
const REVOCATION_BOUND: Duration = Duration::from_secs(1);

fn stats(store: &RedisStore) -> ClientCacheStatistics {
    store.client_cache_statistics().expect("the cache is on")
}

async fn issue(store: &RedisStore) -> (AccountKey, NewToken) {
    let (account, tok) = (random_account(), token(t0()));
    store.issue_token(&account, &tok).await.unwrap();
    (account, tok)
}

/// A token issued on `store`, then checked twice there: the second time from its cache.
async fn cached_token(store: &RedisStore) -> (AccountKey, NewToken) {
    let (account, tok) = issue(store).await;
    assert!(is_accepted(store, &account, &tok).await);
    let hits = stats(store).hits;
    assert!(is_accepted(store, &account, &tok).await);
    assert_eq!(stats(store).hits, hits + 1, "answered from the cache");
    (account, tok)
}

/// Deletes the token from its account's hash, as another client would.
fn delete_token(key: &str, tok: &NewToken) -> redis::Cmd {
    let mut cmd = redis::cmd("HDEL");
    cmd.arg(key).arg(hex(&tok.digest));
    cmd
}

async fn is_accepted(store: &RedisStore, account: &AccountKey, tok: &NewToken) -> bool {
    store
        .authenticate_token(account, &tok.digest, t0() + secs(1))
        .await
        .unwrap()
        .is_some()
}

/// Checks the token on `store` until it is refused, for at most `within`; returns how long that
/// took, or panics.
pub(crate) async fn refused_within(
    store: &RedisStore,
    account: &AccountKey,
    tok: &NewToken,
    within: Duration,
) -> Duration {
    let since = Instant::now();
    while is_accepted(store, account, tok).await {
        assert!(
            since.elapsed() < within,
            "still accepted {within:?} after it was revoked"
        );
        // A check answered from the cache never waits: let the runtime's other tasks (the
        // connection's) run, as between a server's requests.
        tokio::task::yield_now().await;
    }
    since.elapsed()
}

/// A connection of the test's own to the server at `url`.
async fn connect_admin(url: &str) -> redis::aio::MultiplexedConnection {
    Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Kills every other client of the server `admin` is connected to; how many.
async fn kill_other_clients(admin: &mut redis::aio::MultiplexedConnection) -> u64 {
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(admin)
        .await
        .unwrap()
}

/// Waits (without sleeping) until `done` holds, for at most `within`.
async fn until(within: Duration, mut done: impl FnMut() -> bool) {
    let since = Instant::now();
    while !done() {
        assert!(since.elapsed() < within, "not within {within:?}");
        tokio::task::yield_now().await;
    }
}

/// `a` revokes tokens `b` has cached: `b` refuses each within [`REVOCATION_BOUND`], measured
/// from the revoking call's return.
async fn revocations_reach_the_other_instance(a: RedisStore, b: RedisStore) {
    let mut slowest = Duration::ZERO;
    for round in 0..10 {
        let (account, tok) = cached_token(&b).await;
        if round % 2 == 0 {
            assert!(a.revoke_token(&account, &tok.digest).await.unwrap());
        } else {
            assert_eq!(a.revoke_all_tokens(&account).await.unwrap(), 1);
        }
        slowest = slowest.max(refused_within(&b, &account, &tok, REVOCATION_BOUND).await);
    }
    println!("slowest refusal after a revocation: {slowest:?}");
}

fn pair(make: impl Fn() -> RedisStore) -> (RedisStore, RedisStore) {
    let prefix = random_prefix();
    (make().with_prefix(&prefix), make().with_prefix(&prefix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_a_caching_instance() {
    let (a, b) = pair(|| RedisStore::new(redis_url()).unwrap());
    revocations_reach_the_other_instance(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_a_caching_instance_on_a_cluster() {
    let (a, b) = pair(cluster_store);
    revocations_reach_the_other_instance(a, b).await;
}

/// A read of the token on `b` races its revocation on `a`, over and over, the revocation sent
/// a little later each round (0 to 1.5 ms, swept, so that it lands before, during and after the
/// read's round trips): whichever Redis runs first, `b` never goes on accepting it. (A cache
/// that keeps a reply whose invalidation was handled before the reply reached the reader fails
/// this.)
async fn a_read_racing_a_revocation_never_leaves_a_stale_entry(a: RedisStore, b: RedisStore) {
    let mut tracked_first = 0;
    for round in 0..300u64 {
        let (account, tok) = issue(&a).await;
        let invalidations = stats(&b).invalidations;
        let read = tokio::spawn({
            let (b, account, digest) = (b.clone(), account.clone(), tok.digest);
            async move {
                b.authenticate_token(&account, &digest, t0() + secs(1))
                    .await
            }
        });
        // An offset in time, not a wait for something: spinning keeps it short and exact.
        let offset = Instant::now() + Duration::from_micros(round % 100 * 15);
        while Instant::now() < offset {
            std::hint::spin_loop();
        }
        assert!(a.revoke_token(&account, &tok.digest).await.unwrap());
        read.await.unwrap().unwrap();
        refused_within(&b, &account, &tok, REVOCATION_BOUND).await;
        tracked_first += u32::from(stats(&b).invalidations > invalidations);
    }
    println!("the tracked read ran before the revocation in {tracked_first} of 300 rounds");
    assert!(
        tracked_first > 0,
        "some reads were tracked before their revocation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_racing_a_revocation_never_leaves_a_stale_entry_on_one_node() {
    let (a, b) = pair(|| RedisStore::new(redis_url()).unwrap());
    a_read_racing_a_revocation_never_leaves_a_stale_entry(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_racing_a_revocation_never_leaves_a_stale_entry_on_a_cluster() {
    let (a, b) = pair(cluster_store);
    a_read_racing_a_revocation_never_leaves_a_stale_entry(a, b).await;
}

/// Redis forgets, with a connection, which keys it must report to it. A change made while the
/// connection is gone would never be reported: the cache must be gone first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_drops_the_cache() {
    // A server of its own: the kill below takes every client of the server.
    let server = RedisServer::start(free_port(), &[]);
    let prefix = random_prefix();
    let store = RedisStore::new(server.url()).unwrap().with_prefix(&prefix);
    let (account, tok) = cached_token(&store).await;
    let drops = stats(&store).drops;

    let mut admin = connect_admin(&server.url()).await;
    let killed: u64 = kill_other_clients(&mut admin).await;
    assert_eq!(killed, 1, "the store's connection");
    // Deleted behind the store's back: nobody is left to tell it.
    let key = tokens_key(&prefix, &account);
    let deleted: u64 = delete_token(&key, &tok)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "the token is in {key}");

    let since = Instant::now();
    until(Duration::from_secs(1), || stats(&store).drops > drops).await;
    println!("cache dropped {:?} after the kill", since.elapsed());
    assert!(!is_accepted(&store, &account, &tok).await);
}

/// Redis restarts (empty, as without persistence) while a token is cached: the token is refused
/// from then on, never answered from the cache; new tokens work once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_redis_is_never_answered_for_from_the_cache() {
    let port = free_port();
    let server = RedisServer::start(port, &[]);
    let store = store_on(&server);
    let (account, tok) = cached_token(&store).await;
    let drops = stats(&store).drops;

    server.stop();
    until(Duration::from_secs(1), || stats(&store).drops > drops).await;
    let server = RedisServer::start(port, &[]);
    let refused = until_ok(Duration::from_secs(10), || {
        store.authenticate_token(&account, &tok.digest, t0() + secs(2))
    })
    .await;
    assert_eq!(refused, None);
    let (account, tok) = issue(&store).await;
    assert!(is_accepted(&store, &account, &tok).await);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_every_check_reads_redis() {
    let prefix = random_prefix();
    let a = RedisStore::new(redis_url()).unwrap().with_prefix(&prefix);
    let b = RedisStore::new(redis_url())
        .unwrap()
        .with_prefix(&prefix)
        .with_client_cache(false);
    assert!(b.client_cache_statistics().is_none());
    let (account, tok) = issue(&a).await;
    assert!(is_accepted(&b, &account, &tok).await);
    assert!(a.revoke_token(&account, &tok.digest).await.unwrap());
    // No invalidation to wait for: the very next check reads Redis.
    assert!(!is_accepted(&b, &account, &tok).await);
}

/// The cache never answers past what the record says: a cached token past its idle time is
/// refused, and the idle timer still restarts on use.
#[tokio::test]
async fn a_cached_record_is_judged_by_its_own_times() {
    let store = single_store();
    let account = random_account();
    let ms = Duration::from_millis;
    // Its timer restarts on a use 1/60 of the idle timeout (100 ms) after the last restart.
    let short = || NewToken {
        idle_timeout: secs(6),
        ..token(t0())
    };

    let tok = short();
    store.issue_token(&account, &tok).await.unwrap();
    let at = |after| store.authenticate_token(&account, &tok.digest, t0() + after);
    assert!(at(ms(10)).await.unwrap().is_some(), "read and cached");
    let hits = stats(&store).hits;
    assert!(at(ms(20)).await.unwrap().is_some());
    assert_eq!(stats(&store).hits, hits + 1, "from the cache");
    // Past its idle time: the cached record says so.
    assert!(at(secs(6) + ms(10)).await.unwrap().is_none());
    assert_eq!(stats(&store).hits, hits + 2, "judged from the cache");

    let tok = short();
    store.issue_token(&account, &tok).await.unwrap();
    let at = |after| store.authenticate_token(&account, &tok.digest, t0() + after);
    assert!(at(ms(10)).await.unwrap().is_some(), "read and cached");
    // Due for a restart: the timer restarts in Redis...
    assert!(at(secs(3)).await.unwrap().is_some());
    // ...so 8 s after it was issued, 5 s after the restart, the token lives.
    assert!(at(secs(8)).await.unwrap().is_some());
}

/// An ACL user may not use `CLIENT TRACKING`: the store then works without its cache, reading
/// Redis on every check, instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_permission_to_track_every_check_reads_redis() {
    let server = RedisServer::start(free_port(), &[]);
    let mut admin = connect_admin(&server.url()).await;
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("app")
        .arg("on")
        .arg(">app-password")
        .arg("~*")
        .arg("+@all")
        .arg("-client")
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://app:app-password@127.0.0.1:{}/", server.port());
    let prefix = random_prefix();
    let store = RedisStore::new(url.as_str()).unwrap().with_prefix(&prefix);
    let (account, tok) = issue(&store).await;
    assert!(is_accepted(&store, &account, &tok).await);
    assert!(is_accepted(&store, &account, &tok).await);
    let stats = stats(&store);
    assert!(!stats.in_use);
    assert_eq!((stats.hits, stats.entries), (0, 0));
    // Revoked by someone else: no cache, so refused at once.
    let other = RedisStore::new(server.url()).unwrap().with_prefix(&prefix);
    assert!(other.revoke_token(&account, &tok.digest).await.unwrap());
    assert!(!is_accepted(&store, &account, &tok).await);
}

/// Redis's count of keys it tracks for clients (`INFO stats`).
async fn tracked_keys(url: &str) -> u64 {
    let mut admin = connect_admin(url).await;
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut admin)
        .await
        .unwrap();
    let line = info
        .lines()
        .find_map(|line| line.strip_prefix("tracking_total_keys:"))
        .expect("tracking_total_keys in INFO stats");
    line.trim().parse().unwrap()
}

/// Checks of made-up tokens leave Redis nothing to remember: only a record that exists is read
/// with tracking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_tokens_are_not_tracked() {
    let server = RedisServer::start(free_port(), &[]);
    let store = RedisStore::new(server.url())
        .unwrap()
        .with_prefix(random_prefix());
    for _ in 0..50 {
        let (account, tok) = (random_account(), token(t0()));
        assert!(!is_accepted(&store, &account, &tok).await);
    }
    assert_eq!(tracked_keys(&server.url()).await, 0);
    cached_token(&store).await;
    assert_eq!(tracked_keys(&server.url()).await, 1);
}

/// Made-up tokens of an account that has a real one, checked all the while: the real one is
/// cached all the same (a check reserves the account's tokens for its tracked read only once
/// it has found its record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_tokens_of_an_account_do_not_keep_its_real_one_out_of_the_cache() {
    let store = RedisStore::new(redis_url())
        .unwrap()
        .with_prefix(random_prefix());
    let (account, real) = issue(&store).await;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (stop, guesses) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let guessing = tokio::spawn({
        let (store, account) = (store.clone(), account.clone());
        let (stop, guesses) = (stop.clone(), guesses.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let made_up = token(t0());
                assert!(!is_accepted(&store, &account, &made_up).await);
                guesses.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    until(REVOCATION_BOUND, || guesses.load(Ordering::Relaxed) > 0).await;
    let mut hits = 0;
    for _ in 0..20 {
        let before = stats(&store).hits;
        assert!(is_accepted(&store, &account, &real).await);
        hits += stats(&store).hits - before;
    }
    stop.store(true, Ordering::Relaxed);
    guessing.await.unwrap();
    let guesses = guesses.load(Ordering::Relaxed);
    // The first check reads it; every later one is answered from the cache.
    assert_eq!(hits, 19, "{guesses} made-up checks alongside");
}

/// Another token of the account, issued through another instance, changes the account's tokens
/// hash: the cached token is read again, and still accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_token_of_the_account_has_the_cached_one_read_again() {
    let (a, b) = pair(|| RedisStore::new(redis_url()).unwrap());
    let (account, first) = cached_token(&b).await;
    let invalidations = stats(&b).invalidations;
    a.issue_token(&account, &token(t0())).await.unwrap();
    until(REVOCATION_BOUND, || stats(&b).invalidations > invalidations).await;
    let misses = stats(&b).misses;
    assert!(is_accepted(&b, &account, &first).await);
    assert_eq!(stats(&b).misses, misses + 1, "read again");
    assert!(is_accepted(&b, &account, &first).await);
    assert_eq!(stats(&b).misses, misses + 1, "then answered from the cache");
}

/// A server without RESP3 (before Redis 6; here `HELLO` is renamed away): the store works
/// without its cache instead of failing.
async fn a_server_without_resp3_is_used_without_the_cache(store: RedisStore) {
    let issued = until_ok(Duration::from_secs(5), || async {
        let (account, tok) = (random_account(), token(t0()));
        store
            .issue_token(&account, &tok)
            .await
            .map(|()| (account, tok))
    })
    .await;
    let (account, tok) = issued;
    assert!(is_accepted(&store, &account, &tok).await);
    assert!(is_accepted(&store, &account, &tok).await);
    let stats = stats(&store);
    assert!(!stats.in_use);
    assert_eq!(stats.hits, 0);
}

const NO_HELLO: [&str; 3] = ["--rename-command", "HELLO", ""];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_resp3_is_used_without_the_cache() {
    let server = RedisServer::start(free_port(), &NO_HELLO);
    a_server_without_resp3_is_used_without_the_cache(store_on(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_resp3_is_used_without_the_cache() {
    let nodes = start_cluster_with(None, &NO_HELLO);
    let store = RedisStore::cluster(nodes.iter().map(RedisServer::url))
        .unwrap()
        .with_prefix(random_prefix())
        .with_timeout(Duration::from_millis(500));
    a_server_without_resp3_is_used_without_the_cache(store).await;
}

/// On a cluster too: the connections to every node killed, a cached token deleted behind the
/// store's back, the cache is dropped and the token refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cluster_connection_drops_the_cache() {
    // A cluster of its own: the kill takes every client of its nodes.
    let nodes = start_cluster(None);
    let prefix = random_prefix();
    let store = RedisStore::cluster(nodes.iter().map(RedisServer::url))
        .unwrap()
        .with_prefix(&prefix);
    let (account, tok) = cached_token(&store).await;
    let drops = stats(&store).drops;

    let key = tokens_key(&prefix, &account);
    let mut deleted = 0;
    for node in &nodes {
        let mut admin = connect_admin(&node.url()).await;
        let _: u64 = kill_other_clients(&mut admin).await;
        // Only the key's own node has it; the others answer MOVED.
        let gone: redis::RedisResult<u64> = delete_token(&key, &tok).query_async(&mut admin).await;
        deleted += gone.unwrap_or(0);
    }
    assert_eq!(deleted, 1, "the token is in {key}");

    let since = Instant::now();
    until(Duration::from_secs(2), || stats(&store).drops > drops).await;
    println!("cache dropped {:?} after the kill", since.elapsed());
    let refused = until_ok(Duration::from_secs(10), || {
        store.authenticate_token(&account, &tok.digest, t0() + secs(2))
    })
    .await;
    assert_eq!(refused, None);
}
