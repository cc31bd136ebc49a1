//! No enumeration by timing: unknown user, inactive user, wrong password and locked account
//! take the same time (a dummy argon2 verification with the same parameters stands in for a
//! missing user). Alone in its test binary, so no other test competes for the CPU.

mod common;

use std::time::{Duration, Instant};

use common::app::*;
use http::StatusCode;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_take_the_same_time() {
    // 30 failures lock an account: enough for alice's 22 wrong passwords to stay "wrong".
    let app = TestApp::with(|layer| {
        let settings = tower_otp::OtpSettings {
            lockout_threshold: 30,
            ..Default::default()
        };
        layer.with_settings(settings).unwrap()
    });
    // Lock zoë: her refusals skip the failure count but still hash the password.
    for _ in 0..30 {
        app.login("zoë", "wrong").await;
    }
    let cases: [(&str, &str); 4] = [
        ("nobody", PASSWORD), // unknown
        ("bob", PASSWORD),    // inactive
        ("alice", "wrong"),   // wrong password
        ("zoë", PASSWORD),    // locked
    ];
    // Warm up, then interleave the cases so that any drift of the machine hits them all alike.
    for (user, password) in cases {
        app.login(user, password).await;
    }
    let mut samples: [Vec<Duration>; 4] = Default::default();
    for _ in 0..21 {
        for (i, (user, password)) in cases.iter().enumerate() {
            let started = Instant::now();
            let reply = app.login(user, password).await;
            samples[i].push(started.elapsed());
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    let fastest = *medians.iter().min().unwrap();
    let slowest = *medians.iter().max().unwrap();
    let spread = slowest.as_secs_f64() / fastest.as_secs_f64();
    eprintln!("medians (unknown, inactive, wrong, locked): {medians:?}; spread {spread:.3}");
    assert!(
        spread < 1.15,
        "medians differ by {:.1}%: {medians:?}",
        (spread - 1.0) * 100.0
    );
}
