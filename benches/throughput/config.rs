//! The run's configuration, read from the environment (the variables are listed in
//! `throughput.rs`).

use std::time::Duration;

use crate::load::Plan;

pub struct Config {
    pub smoke: bool,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
    /// Each HTTP row is measured in this many slices, one per round over all rows.
    pub rounds: u32,
    pub client_threads: usize,
    pub rss_verifications: u64,
    pub only: Option<Vec<String>>,
    pub redis_url: Option<String>,
    /// The latency probe: connections, and the period of each.
    pub probe_connections: usize,
    pub probe_period: Duration,
    pub storm_connections: usize,
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid value")),
    )
}

impl Config {
    pub fn from_env() -> Self {
        // `cargo bench` passes `--bench`; `cargo test --benches` does not: smoke-test then.
        let under_cargo_test = !std::env::args().any(|a| a == "--bench");
        let smoke =
            under_cargo_test || std::env::var("TOWER_OTP_BENCH_SMOKE").is_ok_and(|v| v != "0");
        let duration = if smoke {
            Duration::from_millis(250)
        } else {
            Duration::from_secs_f64(env("TOWER_OTP_BENCH_SECS").unwrap_or(4.0))
        };
        Self {
            smoke,
            duration,
            warmup: (duration / 4).min(Duration::from_secs(1)),
            connections: env("TOWER_OTP_BENCH_CONNECTIONS").unwrap_or(8),
            rounds: if smoke {
                1
            } else {
                env("TOWER_OTP_BENCH_ROUNDS").unwrap_or(4).max(1)
            },
            client_threads: env("TOWER_OTP_BENCH_CLIENT_THREADS").unwrap_or(2),
            rss_verifications: env("TOWER_OTP_BENCH_RSS_VERIFICATIONS").unwrap_or(if smoke {
                20_000
            } else {
                1_000_000
            }),
            only: std::env::var("TOWER_OTP_BENCH_ONLY")
                .ok()
                .map(|v| v.split(',').map(|w| w.trim().to_owned()).collect()),
            redis_url: std::env::var("TOWER_OTP_BENCH_REDIS_URL").ok(),
            probe_connections: 4,
            probe_period: Duration::from_millis(4),
            storm_connections: 8,
        }
    }

    pub fn wants(&self, key: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|words| words.iter().any(|w| key.contains(w.as_str())))
    }

    pub fn plan(&self) -> Plan {
        Plan {
            connections: self.connections,
            warmup: self.warmup,
            duration: self.duration,
            pace: None,
        }
    }
}
