//! Memory under a login storm: checking passwords must not leave the process holding argon2
//! memory per login. Each argon2id check with the default parameters works in 19 MiB; the issue
//! this guards against saw 880–955 MB of RSS after a few hundred concurrent logins, never given
//! back. Alone in its test binary, so that the peak RSS it reads is this test's own.

mod common;

use std::sync::Arc;

use common::app::*;
use http::StatusCode;
use tower_otp::OtpSettings;

/// Peak resident memory allowed for the whole test process (200 MB, in KiB as `/proc` counts).
const PEAK_RSS_LIMIT_KIB: u64 = 200_000_000 / 1024;

/// Logins at once: many more than there are CPUs, as in credential stuffing.
const STORM: usize = 200;

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_storm_keeps_peak_rss_below_200_mb() {
    // Every right password earns a code (no per-account limit on codes sent, and no lockout,
    // which would refuse logins of one account beyond the threshold while the first are still
    // being checked), so each answer shows whether the password was checked right.
    let app = Arc::new(TestApp::with(|layer| {
        let settings = {
            let mut s = OtpSettings::default();
            s.account_send_limit = 0;
            s.lockout_threshold = 0;
            s
        };
        layer.with_settings(settings)
    }));
    let at_start = status_kib("VmRSS");
    // Half real users with their password, half usernames nobody has (each checked against the
    // dummy hash), all at once.
    let storm: Vec<_> = (0..STORM)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let reply = match i % 4 {
                    0 => app.login("alice", PASSWORD).await,
                    1 => app.login("zoë", PASSWORD).await,
                    _ => app.login(&format!("nobody-{i}"), PASSWORD).await,
                };
                reply.status
            })
        })
        .collect();
    for (i, login) in storm.into_iter().enumerate() {
        let expected = if i % 4 < 2 {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(login.await.unwrap(), expected, "login {i}");
    }
    let (rss, peak) = (status_kib("VmRSS"), status_kib("VmHWM"));
    eprintln!(
        "{STORM} concurrent logins: RSS {at_start} KiB before, {rss} KiB after, peak (VmHWM) \
         {peak} KiB"
    );
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "peak RSS {peak} KiB during {STORM} concurrent logins, limit {PEAK_RSS_LIMIT_KIB} KiB"
    );
}
