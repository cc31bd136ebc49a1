//! Memory: RSS and its peak from `/proc/self/status`, the memory check (RSS over a million
//! verifications on a `MemoryStore`), and the RSS over the password rows.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tower_otp::store::MemoryStore;
use tower_otp::ManualClock;

use crate::support::{App, BenchUsers};

/// `verifications` logins and verifies through `oneshot` on a `MemoryStore`, with a manual clock
/// moving one second per verification (so tokens, challenges and markers expire along the way,
/// as in 11 days of traffic), over 1000 users. RSS after the first tenth, and at the
/// end.
pub async fn rss_check(users: &BenchUsers, verifications: u64) -> RssReport {
    let clock = ManualClock::new(SystemTime::now());
    let store = MemoryStore::new();
    let app = Arc::new(App::new(users, |layer| {
        layer.with_store(store.clone()).with_clock(clock.clone())
    }));
    // One task: with several, one preempted between its login and its verify could find its
    // code expired by the others' clock moves.
    let run = |count: u64| {
        let (app, clock) = (app.clone(), clock.clone());
        async move {
            for i in 0..count {
                let _token = app.token(&format!("fast-{}", i % 1000)).await;
                clock.advance(Duration::from_secs(1));
            }
        }
    };
    let warmup = verifications / 10;
    run(warmup).await;
    let (rss_before, records_before) = (status_kib("VmRSS"), store.len());
    run(verifications - warmup).await;
    RssReport {
        verifications,
        warmup,
        rss_before,
        rss_after: status_kib("VmRSS"),
        records_before,
        records_after: store.len(),
    }
}

/// RSS before and after many verifications on a `MemoryStore`.
pub struct RssReport {
    pub verifications: u64,
    pub warmup: u64,
    pub rss_before: u64,
    pub rss_after: u64,
    pub records_before: usize,
    pub records_after: usize,
}

impl RssReport {
    pub fn growth(&self) -> f64 {
        self.rss_after as f64 / self.rss_before as f64 - 1.0
    }

    pub fn flat(&self) -> bool {
        // Allocator noise: a few percent, or 1 MiB on a small heap.
        self.rss_after <= (self.rss_before as f64 * 1.05) as u64 + 1024 * 1024
    }
}

/// RSS (KiB) over the password rows: before, after, and the peak (`VmHWM`) since they started.
pub struct PasswordRss {
    pub before: u64,
    pub after: u64,
    pub peak: u64,
    /// Whether the peak could be reset when they started (`/proc/self/clear_refs`); if not, it
    /// is the whole run's.
    pub peak_reset: bool,
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`), 0 if unreadable.
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sets the peak RSS (`VmHWM`) back to the current RSS (Linux 4.0 or later); whether it could.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
