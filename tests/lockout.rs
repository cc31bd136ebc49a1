//! Account lockout under concurrency, through the layer, on every store: a burst of wrong
//! passwords sent at once gets no more password checks than the lockout threshold, cannot confirm
//! the right password afterwards, and locks the account exactly as long as the same failures
//! sent one after another.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use common::app::*;
use http::StatusCode;
use serde_json::json;
use tower::ServiceExt;
use tower_otp::notify::ConsoleNotifier;
use tower_otp::store::StateStore;
use tower_otp::{
    AuthEvent, ManualClock, MemoryUserStore, OtpAuthLayer, OtpSettings, PasswordError, User,
    UserStore, UserStoreError,
};

const THRESHOLD: u32 = 10;
const BURST: usize = 40;

/// The demo users, counting how many passwords are compared. The password [`HANG`] is never
/// answered: its check announces itself on `hung` and waits for ever, like a request whose
/// password queues behind a storm until the client gives up.
#[derive(Clone)]
struct CountingUsers {
    users: MemoryUserStore,
    checks: Arc<AtomicUsize>,
    hung: Arc<tokio::sync::Notify>,
}

const HANG: &str = "a check that never finishes";

impl UserStore for CountingUsers {
    async fn find_by_username(&self, username: &str) -> Result<Option<User>, UserStoreError> {
        self.users.find_by_username(username).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<User>, UserStoreError> {
        self.users.find_by_id(id).await
    }

    async fn check_password(&self, user: &User, password: &str) -> Result<bool, PasswordError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if password == HANG {
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        self.users.check_password(user, password).await
    }
}

struct Lab {
    router: Router,
    hung: Arc<tokio::sync::Notify>,
    abandoned: Arc<tokio::sync::Notify>,
    console: Console,
    checks: Arc<AtomicUsize>,
    locks: Arc<Mutex<Vec<SystemTime>>>,
    clock: ManualClock,
}

fn lab(store: impl StateStore) -> Lab {
    let (clock, console) = (ManualClock::new(start_time()), Console::default());
    let checks = Arc::new(AtomicUsize::new(0));
    let locks = Arc::new(Mutex::new(Vec::new()));
    let sink = locks.clone();
    let abandoned = Arc::new(tokio::sync::Notify::new());
    let abandoned_sink = abandoned.clone();
    let hung = Arc::new(tokio::sync::Notify::new());
    let users = CountingUsers {
        users: demo_users(),
        checks: checks.clone(),
        hung: hung.clone(),
    };
    let layer = OtpAuthLayer::builder(users, ConsoleNotifier::with_writer(console.clone()))
        .with_settings({
            let mut s = OtpSettings::default();
            s.lockout_threshold = THRESHOLD;
            s
        })
        .with_clock(clock.clone())
        .with_store(store)
        .with_secret_key(b"a server key shared by every instance!!")
        .with_event_hook(move |event| match event {
            AuthEvent::AccountLocked { until, .. } => sink.lock().unwrap().push(*until),
            AuthEvent::LoginAbandoned { .. } => abandoned_sink.notify_one(),
            _ => {}
        })
        .build()
        .unwrap();
    Lab {
        router: routes().layer(layer),
        hung,
        abandoned,
        console,
        checks,
        locks,
        clock,
    }
}

impl Lab {
    async fn login(&self, username: &str, password: &str) -> Reply {
        let request = json_request(
            "/api-auth/login/",
            &json!({ "username": username, "password": password }),
        );
        Reply::read(self.router.clone().oneshot(request).await.unwrap()).await
    }

    /// `n` logins with a wrong password, all at once; every one is refused alike.
    async fn burst_of_wrong_passwords(&self, username: &str, n: usize) {
        let logins: Vec<_> = (0..n)
            .map(|i| {
                let request = json_request(
                    "/api-auth/login/",
                    &json!({ "username": username, "password": format!("guess {i}") }),
                );
                tokio::spawn(self.router.clone().oneshot(request))
            })
            .collect();
        for login in logins {
            let reply = Reply::read(login.await.unwrap().unwrap()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        }
    }

    fn locks(&self) -> Vec<SystemTime> {
        self.locks.lock().unwrap().clone()
    }
}

async fn a_burst_cannot_confirm_the_password_nor_lengthen_the_lock(store: impl StateStore) {
    let lab = lab(store);
    lab.burst_of_wrong_passwords("alice", BURST).await;
    assert_eq!(
        lab.checks.load(Ordering::SeqCst),
        THRESHOLD as usize,
        "at most the threshold's worth of passwords is compared"
    );

    // The right password, sent after the burst: refused like any other, and nothing is sent.
    let right = lab.login("alice", PASSWORD).await;
    assert_eq!(right.status, StatusCode::BAD_REQUEST, "{}", right.text);
    assert!(lab.console.codes().is_empty(), "no code was sent");
    assert_eq!(lab.checks.load(Ordering::SeqCst), THRESHOLD as usize);

    // The lock is the one the same failures one after another give: the first, not an
    // escalated one.
    for i in 0..BURST {
        let reply = lab.login("zoë", &format!("guess {i}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    let first_lock = start_time() + Duration::from_secs(60);
    assert_eq!(lab.locks(), [first_lock, first_lock]);

    // Once the lock is over, the right password works.
    lab.clock.advance(Duration::from_secs(60));
    let login = lab.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store() {
    a_burst_cannot_confirm_the_password_nor_lengthen_the_lock(tower_otp::store::MemoryStore::new())
        .await;
}

#[cfg(feature = "redis-store")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_single_node() {
    a_burst_cannot_confirm_the_password_nor_lengthen_the_lock(common::redis::single_store()).await;
}

#[cfg(feature = "redis-store")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster() {
    a_burst_cannot_confirm_the_password_nor_lengthen_the_lock(common::redis::cluster_store()).await;
}

async fn an_abandoned_login_does_not_count(store: impl StateStore) {
    let lab = lab(store);
    // Eight wrong passwords, then a login abandoned while its password waits: if that one
    // stayed counted, the next wrong password would be the tenth and lock the account.
    for i in 0..THRESHOLD - 2 {
        let reply = lab.login("alice", &format!("guess {i}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    tokio::select! {
        _ = lab.login("alice", HANG) => panic!("the hung check answered"),
        () = lab.hung.notified() => {}
    }
    // The abandoned request's attempt is taken back in the background, and reported.
    tokio::time::timeout(Duration::from_secs(10), lab.abandoned.notified())
        .await
        .expect("the abandoned login is reported");
    let wrong = lab.login("alice", "one more guess").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        lab.locks().is_empty(),
        "the abandoned login counted: {:?}",
        lab.locks()
    );
    // The tenth failure that counts locks, as always.
    lab.login("alice", "and another").await;
    assert_eq!(lab.locks().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_login_memory_store() {
    an_abandoned_login_does_not_count(tower_otp::store::MemoryStore::new()).await;
}

#[cfg(feature = "redis-store")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_login_redis() {
    an_abandoned_login_does_not_count(common::redis::single_store()).await;
}
