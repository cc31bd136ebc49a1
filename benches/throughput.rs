//! Throughput over loopback: the layer served by axum in this process, driven by a hyper client
//! load loop in this process, every row measured the same way in one run and reported as a ratio
//! to baselines measured alongside it. See BENCHMARKS.md for what each row measures.
//!
//! ```text
//! cargo bench --all-features --bench throughput                           # full run
//! TOWER_OTP_BENCH_SMOKE=1 cargo bench --all-features --bench throughput   # every row briefly
//! ```
//!
//! Environment (all optional):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TOWER_OTP_BENCH_SMOKE` | unset | `1`: every row briefly (0.25 s, password rows 1 s), fail on any wrong answer (also the mode when run by `cargo test`) |
//! | `TOWER_OTP_BENCH_SECS` | 4 | measured seconds per row (after a warm-up of a quarter of that, at most 1 s) |
//! | `TOWER_OTP_BENCH_ROUNDS` | 4 | slices each HTTP row is measured in, interleaved with the other rows' |
//! | `TOWER_OTP_BENCH_CONNECTIONS` | 8 | keep-alive connections of the closed-loop rows |
//! | `TOWER_OTP_BENCH_CLIENT_THREADS` | 2 | worker threads of the load generator's runtime |
//! | `TOWER_OTP_BENCH_RSS_VERIFICATIONS` | 1000000 | verifications of the memory check |
//! | `TOWER_OTP_BENCH_ONLY` | unset | comma-separated words: run only the rows whose key contains one (`rss`, `bare`, `pass`, `raw`, `token` (`token-redis`, `token-redis-uncached`, `token-memory`), `verify`, `wrong`, `login`, `storm`) |
//! | `TOWER_OTP_BENCH_REDIS_URL` | unset | use this Redis instead of starting a private `redis-server` |
//! | `TOWER_OTP_BENCH_PERF_CTL` | unset | a `perf record --control=fifo:CTL,ACK -D -1` control FIFO: profiling is enabled only while an HTTP row is measured (not while challenges are prepared) |
//! | `TOWER_OTP_BENCH_PERF_ACK` | unset | that command's ACK FIFO |

mod support;

#[path = "throughput/config.rs"]
mod config;
#[path = "throughput/cpu.rs"]
mod cpu;
#[path = "throughput/http_rows.rs"]
mod http_rows;
#[path = "throughput/load.rs"]
mod load;
#[path = "throughput/password_rows.rs"]
mod password_rows;
#[path = "throughput/perf.rs"]
mod perf;
#[path = "throughput/raw_redis.rs"]
mod raw_redis;
// The tests' private redis-server, shared.
#[path = "../tests/common/redis_server.rs"]
mod redis_server;
#[path = "throughput/report.rs"]
mod report;
#[path = "throughput/requests.rs"]
mod requests;
#[path = "throughput/row.rs"]
mod row;
#[path = "throughput/rss.rs"]
mod rss;
#[path = "throughput/servers.rs"]
mod servers;

use std::sync::Arc;

use config::Config;
use cpu::CpuClock;
use load::Outcome;
use redis_server::RedisServer;
use report::report;
use row::Row;
use rss::{rss_check, PasswordRss};
use servers::{AppOf, Servers};
use support::BenchUsers;
use tokio::runtime::Runtime;

fn main() {
    let config = Config::from_env();
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-server")
        .build()
        .unwrap();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.client_threads)
        .enable_all()
        .thread_name("bench-client")
        .build()
        .unwrap();
    eprintln!(
        "tower-otp throughput benchmark{}",
        if config.smoke { " (smoke mode)" } else { "" }
    );

    let users = BenchUsers::new();
    // First, while the heap is small, so that freed memory of other rows cannot hide growth.
    let rss = config.wants("rss").then(|| {
        eprintln!(
            "memory check: {} verifications ...",
            config.rss_verifications
        );
        server.block_on(rss_check(&users, config.rss_verifications))
    });

    let _redis_server;
    let redis_url = match &config.redis_url {
        Some(url) => url.clone(),
        None => {
            let started = RedisServer::start(redis_server::free_port(), &[]);
            let url = started.url();
            _redis_server = started;
            url
        }
    };
    let servers = Arc::new(server.block_on(Servers::start(users, &redis_url)));
    let mut bench = Bench {
        cpu: CpuClock::new(&redis_url),
        config,
        server,
        client,
        servers,
        rows: Vec::new(),
        password_rss: None,
    };
    bench.measure_http_rows();
    eprintln!("password rows ...");
    bench.measure_password_rows();
    let ok = report(&bench, rss.as_ref(), &redis_url);
    if !ok {
        std::process::exit(1);
    }
}

/// The run: its configuration, the servers' and the load generator's runtimes, the servers
/// under test, and the rows measured so far.
struct Bench {
    config: Config,
    server: Runtime,
    client: Runtime,
    servers: Arc<Servers>,
    cpu: CpuClock,
    rows: Vec<Row>,
    password_rss: Option<PasswordRss>,
}

impl Bench {
    fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }

    /// Tokens of fresh users, one per connection.
    fn tokens(&self, app: AppOf, count: usize) -> Vec<String> {
        let servers = self.servers.clone();
        self.server.block_on(async move {
            let mut tokens = Vec::with_capacity(count);
            for _ in 0..count {
                tokens.push(app(&servers).app.token(&servers.fresh_user()).await);
            }
            tokens
        })
    }

    /// Runs `work`, and makes a row of its outcome and of the CPU used meanwhile.
    fn row_of(
        &mut self,
        key: &'static str,
        label: impl Into<String>,
        work: impl FnOnce(&Self) -> Outcome,
    ) -> Row {
        let before = self.cpu.now();
        let mut row = Row::new(key, label);
        row.outcome = work(self);
        row.cpu = Some(self.cpu.now().since(before));
        row
    }
}
