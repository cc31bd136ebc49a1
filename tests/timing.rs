//! No enumeration by timing: unknown user, inactive user, wrong password and locked account
//! take the same time (a dummy verification with the format and cost of the stored hashes
//! stands in for a missing user), with argon2 hashes and with Django's PBKDF2 ones. Alone in its
//! test binary, and one test at a time, so no other test competes for the CPU.

mod common;

use std::time::{Duration, Instant};

use common::app::*;
use http::StatusCode;
use tokio::sync::Mutex;

/// Held by each test, so that they run one at a time.
static ALONE: Mutex<()> = Mutex::const_new(());

fn median<T: PartialOrd + Copy>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_take_the_same_time() {
    let _alone = ALONE.lock().await;
    let app = TestApp::with(|layer| layer.with_settings(no_lockout()));
    // Lock zoë: her refusals skip the failure count but still hash the password.
    for _ in 0..40 {
        app.login("zoë", "wrong").await;
    }
    let cases: [(&str, &str); 4] = [
        ("nobody", PASSWORD), // unknown
        ("bob", PASSWORD),    // inactive
        ("alice", "wrong"),   // wrong password
        ("zoë", PASSWORD),    // locked
    ];
    assert_same_time(&app, &cases).await;
}

/// A Django project's users: with the store's stand-in a PBKDF2 hash of the same iterations, an
/// unknown user is checked as long as a real one, not for the argon2 check of this crate's own
/// hashes (which takes a different time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_take_the_same_time_with_django_hashes() {
    let _alone = ALONE.lock().await;
    // Made by Django 5.2.19's PBKDF2PasswordHasher from `PASSWORD`, with 20,000 iterations: far
    // from an argon2 check's time in this build, and quick enough for the test.
    const DJANGO_HASH: &str =
        "pbkdf2_sha256$20000$HM1KLOFnG70BpsdC9GPod1$V2ZtFbK5/ga+0Jt1DLmvwlMDR0r5FcfDJUpt9ygLwpE=";
    let user = |id: &str, username: &str, is_active| tower_otp::User {
        id: id.into(),
        username: username.into(),
        email: format!("{username}@example.com"),
        first_name: String::new(),
        last_name: String::new(),
        is_active,
        password_hash: DJANGO_HASH.into(),
    };
    const STAND_IN: &str =
        "pbkdf2_sha256$20000$standinsaltstandin$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let users =
        tower_otp::MemoryUserStore::new([user("1", "django", true), user("2", "off", false)])
            .with_stand_in_hash(STAND_IN);
    let app = TestApp::of(users, |layer| layer.with_settings(no_lockout()));
    let cases = [
        ("nobody", PASSWORD), // unknown
        ("off", PASSWORD),    // inactive
        ("django", "wrong"),  // wrong password
    ];
    assert_same_time(&app, &cases).await;
}

/// 40 failures lock an account: the 32 refusals of a case below stay what they are.
fn no_lockout() -> tower_otp::OtpSettings {
    let mut settings = tower_otp::OtpSettings::default();
    settings.lockout_threshold = 40;
    settings
}

/// Each case is a refused login, and they take the same time.
async fn assert_same_time(app: &TestApp, cases: &[(&str, &str)]) {
    // Warm up, then measure in rounds: each round times every case once, in a rotating order,
    // and each time is taken relative to its round's mean. Load on the machine that drifts
    // from round to round then affects every case alike and cancels out.
    for (user, password) in cases {
        app.login(user, password).await;
    }
    let mut relative = vec![Vec::new(); cases.len()];
    let mut absolute = vec![Vec::new(); cases.len()];
    for round in 0..31 {
        let mut times = vec![Duration::ZERO; cases.len()];
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let (user, password) = cases[i];
            let started = Instant::now();
            let reply = app.login(user, password).await;
            times[i] = started.elapsed();
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        }
        let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / cases.len() as f64;
        for i in 0..cases.len() {
            relative[i].push(times[i].as_secs_f64() / mean);
            absolute[i].push(times[i]);
        }
    }
    let medians: Vec<f64> = relative.into_iter().map(median).collect();
    let absolute: Vec<Duration> = absolute.into_iter().map(median).collect();
    let fastest = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = medians.iter().copied().fold(0.0, f64::max);
    let spread = slowest / fastest;
    eprintln!(
        "median times of {cases:?}: {absolute:?}; \
         relative to their round: {medians:.3?}; spread {spread:.3}"
    );
    assert!(
        spread < 1.15,
        "medians differ by {:.1}%: {medians:.3?}",
        (spread - 1.0) * 100.0
    );
}
