//! The layer on `RedisStore`: the whole flow, two application instances sharing one Redis, and
//! failing closed (503) while Redis is down or hanging, then recovering by itself.
#![cfg(feature = "redis-store")]

mod common;

use std::time::{Duration, Instant};

use common::app::*;
use common::redis::{free_port, random_prefix, redis_url, store_on, RedisServer};
use http::StatusCode;
use serde_json::json;
use tower_otp::notify::ConsoleNotifier;
use tower_otp::second_factor::MemorySecondFactorStore;
use tower_otp::store::RedisStore;
use tower_otp::{ManualClock, OtpAuthLayer, OtpSettings};

const KEY: &[u8] = b"a server key shared by every instance!!";

/// One application instance: its own layer and Redis client, the shared key and prefix.
fn instance(store: RedisStore, console: &Console, clock: &ManualClock) -> TestApp {
    let factors = MemorySecondFactorStore::new();
    instance_with(store, console, clock, factors, OtpSettings::default())
}

/// An instance whose users' second factors live in `factors` (the application's database).
fn instance_with(
    store: RedisStore,
    console: &Console,
    clock: &ManualClock,
    factors: MemorySecondFactorStore,
    settings: OtpSettings,
) -> TestApp {
    let layer = OtpAuthLayer::builder(demo_users(), ConsoleNotifier::with_writer(console.clone()))
        .with_settings(settings)
        .with_clock(clock.clone())
        .with_store(store)
        .with_second_factor_store(factors)
        .with_secret_key(KEY)
        .with_protected_path("/api/")
        .build()
        .unwrap();
    TestApp::around(layer, clock, console, &Default::default())
}

fn store(prefix: &str) -> RedisStore {
    RedisStore::new(redis_url()).unwrap().with_prefix(prefix)
}

#[tokio::test]
async fn the_whole_flow_on_redis() {
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let app = instance(store(&random_prefix()), &console, &clock);
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(
        app.get("/api/me", Some(&token)).await.json["username"],
        "alice"
    );
    // Expiry follows the layer's clock, also on Redis.
    clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Two instances on `stores` (one Redis, or one cluster) sharing one second-factor store.
async fn an_app_code_wins_once_across_instances(stores: [RedisStore; 2]) {
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let factors = MemorySecondFactorStore::new();
    let settings = common::authenticator::race_settings();
    let [a, b] = stores
        .map(|store| instance_with(store, &console, &clock, factors.clone(), settings.clone()));
    common::authenticator::a_code_wins_once_across_two_instances(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_code_wins_once_across_instances_on_redis() {
    let prefix = random_prefix();
    an_app_code_wins_once_across_instances([store(&prefix), store(&prefix)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_code_wins_once_across_instances_on_a_cluster() {
    let prefix = random_prefix();
    let cluster = || common::redis::cluster_store().with_prefix(&prefix);
    an_app_code_wins_once_across_instances([cluster(), cluster()]).await;
}

#[tokio::test]
async fn two_instances_sharing_redis_behave_as_one() {
    let prefix = random_prefix();
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let a = instance(store(&prefix), &console, &clock);
    let b = instance(store(&prefix), &console, &clock);

    // Log in on A, verify on B, use the token on either.
    let login = a.login("alice", PASSWORD).await;
    let verify = b.verify(login.str("challenge"), &console.last_code()).await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    let token = verify.str("token");
    assert_eq!(a.get("/api/me", Some(token)).await.status, StatusCode::OK);
    assert_eq!(b.get("/api/me", Some(token)).await.status, StatusCode::OK);

    // A code used on one instance is used on both.
    assert_eq!(
        a.verify(login.str("challenge"), &console.last_code())
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Log out on B: refused on A (which caches it) within milliseconds (timed in
    // tests/revocation.rs).
    let logout = b.logout(token).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    a.refused_within(token, Duration::from_secs(1)).await;

    // Resend cooldowns and attempt counts are shared too.
    let login = a.login("alice", PASSWORD).await;
    clock.advance(Duration::from_secs(30));
    let early = b
        .post_json(
            "/api-auth/resend-token/",
            json!({ "challenge": login.str("challenge") }),
        )
        .await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(early.header("retry-after"), Some("30"));
}

/// A token the layer would accept the form of, for probing a dead store.
async fn well_formed_token() -> String {
    let app = TestApp::new();
    app.token_for("alice", PASSWORD).await
}

async fn assert_fails_closed(app: &TestApp, timeout: Duration) {
    let token = well_formed_token().await;
    let started = Instant::now();
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        login.text
    );
    assert_eq!(
        login.text,
        r#"{"detail":"Authentication is temporarily unavailable. Try again later."}"#
    );
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE);
    let verify = app
        .verify("AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", "123456")
        .await;
    assert_eq!(verify.status, StatusCode::SERVICE_UNAVAILABLE);
    // Each of the three requests waited at most about one timeout.
    assert!(
        started.elapsed() < 3 * timeout + Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Two Authorization headers are refused before the store is asked.
    let twice = app
        .send(
            http::Request::get("/api/me")
                .header(http::header::AUTHORIZATION, format!("Token {token}"))
                .header(http::header::AUTHORIZATION, format!("Token {token}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.text);
    // Public routes do not need Redis.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.console.codes().is_empty(),
        "no code is sent without a store"
    );
}

#[tokio::test]
async fn redis_down_fails_closed_then_recovers_by_itself() {
    let port = free_port();
    let timeout = Duration::from_millis(500);
    let store = RedisStore::new(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .with_prefix(random_prefix())
        .with_timeout(timeout);
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let app = instance(store, &console, &clock);
    assert_fails_closed(&app, timeout).await;

    // Redis comes up on that port: the same layer serves again, without a restart.
    let _server = RedisServer::start(port, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let login = app.login("alice", PASSWORD).await;
        if login.status == StatusCode::OK {
            break;
        }
        assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "no recovery within 20 s");
    }
    assert_eq!(console.codes().len(), 1);
}

/// Redis restarts (empty, as without persistence) while the layer has a token in its cache:
/// from then on the token is refused, never answered from the cache (503 while Redis is away,
/// then 401), and fresh logins work once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_cached_before_redis_restarted_is_refused() {
    let port = free_port();
    let server = RedisServer::start(port, &[]);
    let store = store_on(&server);
    let cached = store.clone();
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let app = instance(store, &console, &clock);
    let token = app.token_for("alice", PASSWORD).await;
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let before = cached.client_cache_statistics().unwrap();
    assert_eq!(before.hits, 1, "the second check came from the cache");

    server.stop();
    // The client sees the connection close; nothing else tells it.
    let since = Instant::now();
    while cached.client_cache_statistics().unwrap().drops == before.drops {
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "cache not dropped"
        );
        tokio::task::yield_now().await;
    }
    let _server = RedisServer::start(port, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app.get("/api/me", Some(&token)).await.status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "never from the cache"
        );
        assert!(Instant::now() < deadline, "Redis not back within 20 s");
    }
    let fresh = app.token_for("alice", PASSWORD).await;
    assert_eq!(
        app.get("/api/me", Some(&fresh)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn hanging_redis_fails_closed_within_the_timeout() {
    // Accepts connections and never answers.
    let addr = common::net::silent_server().await;
    let timeout = Duration::from_millis(500);
    let store = RedisStore::new(format!("redis://{addr}/"))
        .unwrap()
        .with_timeout(timeout);
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let app = instance(store, &console, &clock);
    assert_fails_closed(&app, timeout).await;
}

#[test]
fn a_shared_store_without_a_secret_key_is_refused() {
    let console = Console::default();
    let refused = OtpAuthLayer::builder(demo_users(), ConsoleNotifier::with_writer(console))
        .with_store(store(&random_prefix()))
        .build()
        .unwrap_err();
    assert_eq!(refused.keys(), ["secret_key"]);
    assert!(refused.to_string().contains("shared"), "{refused}");
    // The memory store is not shared: its random per-process key is fine.
    let alone = OtpAuthLayer::builder(demo_users(), ConsoleNotifier::new())
        .with_store(tower_otp::store::MemoryStore::new())
        .build();
    assert!(alone.is_ok());
}
