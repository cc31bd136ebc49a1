//! Redis down, silent or refusing the password: every method fails closed within the timeout,
//! and the store recovers by itself.

use std::time::{Duration, Instant};

use tower_otp::store::{RedisStore, ResendRequest, StateStore, StoreError, VerifyOutcome};

use crate::common::conformance::*;
use crate::common::redis::*;

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
    let url = format!("redis://{}/", crate::common::net::silent_server().await);
    let store = RedisStore::new(url).unwrap().with_timeout(SHORT);
    assert_every_method_fails_closed(&store, SHORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_by_itself_when_redis_comes_back() {
    let port = free_port();
    let server = RedisServer::start(port, &[]);
    let store = store_on(&server);
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
pub(crate) async fn until_ok<T, F, Fut>(within: Duration, mut op: F) -> T
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
            // RESP3's `HELLO` refuses with WRONGPASS, RESP2's `AUTH` as an authentication error.
            Err(StoreError::Unavailable(message))
                if message.contains("uthentication") || message.contains("WRONGPASS") =>
            {
                break
            }
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
