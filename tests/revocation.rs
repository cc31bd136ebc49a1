//! A revocation on one instance reaches every other within 10 ms, with the client-side cache
//! of tokens on Redis: two layers on two connections to one Redis (and to one cluster), a token
//! cached by one, a logout or a revoke-all through the other, timed from the revoking call's
//! return to the first refusal. A binary of its own, so that no other test competes for the
//! CPUs while it measures.
#![cfg(feature = "redis-store")]

mod common;

use std::time::Duration;

use common::app::*;
use common::redis::{random_prefix, redis_url};
use http::StatusCode;
use tower_otp::notify::ConsoleNotifier;
use tower_otp::second_factor::MemorySecondFactorStore;
use tower_otp::store::RedisStore;
use tower_otp::{ManualClock, OtpAuthLayer, OtpSettings};

const KEY: &[u8] = b"a server key shared by every instance!!";

/// One application instance on `store`; no limit on codes per account, so that it may log in
/// over and over.
fn instance(store: RedisStore, console: &Console, clock: &ManualClock) -> TestApp {
    let mut settings = OtpSettings::default();
    settings.account_send_limit = 0;
    settings.login_rate_limit = 0;
    let layer = OtpAuthLayer::builder(demo_users(), ConsoleNotifier::with_writer(console.clone()))
        .with_settings(settings)
        .with_clock(clock.clone())
        .with_store(store)
        .with_second_factor_store(MemorySecondFactorStore::new())
        .with_secret_key(KEY)
        .with_protected_path("/api/")
        .build()
        .unwrap();
    TestApp::around(layer, clock, console, &Default::default())
}

/// Two instances on `stores`: a token A has answered from its cache is refused by A within
/// 10 ms of B's logout, or of B revoking all of the user's tokens (as after deactivating them).
async fn assert_revocations_reach_within_10_ms(deployment: &str, stores: [RedisStore; 2]) {
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    // A clone shares the store's connection and cache.
    let cached = stores[0].clone();
    let [a, b] = stores.map(|store| instance(store, &console, &clock));
    let mut slowest = Duration::ZERO;
    for round in 0..10 {
        let token = a.token_for("alice", PASSWORD).await;
        assert_eq!(a.get("/api/me", Some(&token)).await.status, StatusCode::OK);
        let hits = cached.client_cache_statistics().unwrap().hits;
        assert_eq!(a.get("/api/me", Some(&token)).await.status, StatusCode::OK);
        assert_eq!(cached.client_cache_statistics().unwrap().hits, hits + 1);
        if round % 2 == 0 {
            assert_eq!(b.logout(&token).await.status, StatusCode::NO_CONTENT);
        } else {
            assert_eq!(b.layer.revoke_all_tokens("1").await.unwrap(), 1);
        }
        slowest = slowest.max(a.refused_within(&token, Duration::from_millis(10)).await);
    }
    println!("{deployment}: slowest refusal on the other instance {slowest:?}");
}

/// One test, one node then the cluster, so that the two do not compete either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_every_instance_within_10_ms() {
    let prefix = random_prefix();
    let single = || RedisStore::new(redis_url()).unwrap().with_prefix(&prefix);
    assert_revocations_reach_within_10_ms("one node", [single(), single()]).await;
    let prefix = random_prefix();
    let cluster = || common::redis::cluster_store().with_prefix(&prefix);
    assert_revocations_reach_within_10_ms("cluster", [cluster(), cluster()]).await;
}
