//! No enumeration by timing: unknown user, inactive user, wrong password and locked account
//! take the same time (a dummy argon2 verification with the same parameters stands in for a
//! missing user). Alone in its test binary, so no other test competes for the CPU.

mod common;

use std::time::{Duration, Instant};

use common::app::*;
use http::StatusCode;

fn median<T: PartialOrd + Copy>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_take_the_same_time() {
    // 40 failures lock an account: alice's 32 wrong passwords below stay "wrong".
    let app = TestApp::with(|layer| {
        let settings = {
            let mut s = tower_otp::OtpSettings::default();
            s.lockout_threshold = 40;
            s
        };
        layer.with_settings(settings)
    });
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
    // Warm up, then measure in rounds: each round times every case once, in a rotating order,
    // and each time is taken relative to its round's mean. Load on the machine that drifts
    // from round to round then affects every case alike and cancels out.
    for (user, password) in cases {
        app.login(user, password).await;
    }
    let mut relative: [Vec<f64>; 4] = Default::default();
    let mut absolute: [Vec<Duration>; 4] = Default::default();
    for round in 0..31 {
        let mut times = [Duration::ZERO; 4];
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let (user, password) = cases[i];
            let started = Instant::now();
            let reply = app.login(user, password).await;
            times[i] = started.elapsed();
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        }
        let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / 4.0;
        for i in 0..4 {
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
        "median times (unknown, inactive, wrong, locked): {absolute:?}; \
         relative to their round: {medians:.3?}; spread {spread:.3}"
    );
    assert!(
        spread < 1.15,
        "medians differ by {:.1}%: {medians:.3?}",
        (spread - 1.0) * 100.0
    );
}
