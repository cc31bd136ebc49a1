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
//! | `TOWER_OTP_BENCH_ONLY` | unset | comma-separated words: run only the rows whose key contains one (`rss`, `bare`, `pass`, `raw`, `token`, `verify`, `wrong`, `login`, `storm`) |
//! | `TOWER_OTP_BENCH_REDIS_URL` | unset | use this Redis instead of starting a private `redis-server` |
//! | `TOWER_OTP_BENCH_PERF_CTL` | unset | a `perf record --control=fifo:CTL,ACK -D -1` control FIFO: profiling is enabled only while an HTTP row is measured (not while challenges are prepared) |
//! | `TOWER_OTP_BENCH_PERF_ACK` | unset | that command's ACK FIFO |

mod support;

#[path = "throughput/load.rs"]
mod load;
// The tests' private redis-server, shared.
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use load::{NextRequest, Outcome, Plan};
use redis_server::RedisServer;
use support::{
    login_body, routes, verify_body, wrong_code, App, BenchUsers, PASSWORD, SETTINGS_NOTE,
};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tower_otp::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tower_otp::store::{MemoryStore, RedisStore, StateStore};
use tower_otp::ManualClock;

/// Verifies per second assumed when no token row ran to size the challenge pool from.
const FALLBACK_RATE: f64 = 50_000.0;

struct Config {
    smoke: bool,
    duration: Duration,
    warmup: Duration,
    connections: usize,
    /// Each HTTP row is measured in this many slices, one per round over all rows.
    rounds: u32,
    client_threads: usize,
    rss_verifications: u64,
    only: Option<Vec<String>>,
    redis_url: Option<String>,
    /// The latency probe: connections, and the period of each.
    probe_connections: usize,
    probe_period: Duration,
    storm_connections: usize,
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
    fn from_env() -> Self {
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

    fn wants(&self, key: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|words| words.iter().any(|w| key.contains(w.as_str())))
    }

    fn plan(&self) -> Plan {
        Plan {
            connections: self.connections,
            warmup: self.warmup,
            duration: self.duration,
            pace: None,
        }
    }
}

/// The servers under test, all on `server`'s runtime, each on its own loopback port.
struct Servers {
    bare: SocketAddr,
    memory: Served,
    redis: Served,
    raw: SocketAddr,
    users: BenchUsers,
    /// Every `fast-<n>` user is used once: a new login would kill a challenge still in use.
    next_user: AtomicU64,
}

/// Picks one of the [`Servers`]' apps.
type AppOf = fn(&Servers) -> &Served;

/// The server key of the served apps: `build()` refuses a shared store (Redis) without an
/// explicit one.
const SECRET_KEY: &[u8] = b"the throughput bench's server key, 32+ bytes";

/// An app and where it is served.
struct Served {
    app: App,
    addr: SocketAddr,
}

impl Served {
    async fn start(users: &BenchUsers, store: impl StateStore) -> Self {
        let app = App::new(users, |layer| {
            layer.with_store(store).with_secret_key(SECRET_KEY)
        });
        Self {
            addr: serve(app.router.clone()).await,
            app,
        }
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// Raw Redis baselines: an axum handler doing one GET, one doing one EVALSHA (of a script that
/// does one GET), on the same kind of connection `RedisStore` uses; and the verify-shaped one:
/// what a verify cannot avoid (a JSON POST read and parsed, 256 fresh bits from the OS, one
/// EVALSHA, a JSON answer) with the same one-GET script.
async fn raw_redis_server(url: &str) -> SocketAddr {
    use base64::Engine;
    use rand::RngCore;
    use tower_otp::redis::{AsyncCommands, Client, Script};
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let client = Client::open(url).expect("valid Redis URL");
    let mut manager = ConnectionManager::new_with_config(client, config)
        .await
        .expect("connect to Redis");
    let _: () = manager
        .set("bench:raw", "fast-0")
        .await
        .expect("SET the baseline key");
    let script = Arc::new(Script::new("return redis.call('GET', KEYS[1])"));
    let router = Router::new()
        .route(
            "/get",
            get(
                |State((mut c, _)): State<(ConnectionManager, Arc<Script>)>| async move {
                    let value: String = c.get("bench:raw").await.expect("GET");
                    value
                },
            ),
        )
        .route(
            "/evalsha",
            get(
                |State((mut c, s)): State<(ConnectionManager, Arc<Script>)>| async move {
                    let value: String = s
                        .key("bench:raw")
                        .invoke_async(&mut c)
                        .await
                        .expect("EVALSHA");
                    value
                },
            ),
        )
        .route(
            "/verify-shaped",
            axum::routing::post(
                |State((mut c, s)): State<(ConnectionManager, Arc<Script>)>,
                 axum::Json(body): axum::Json<serde_json::Value>| async move {
                    // A verify reads both fields; a body without them is the row's error.
                    if !(body["challenge"].is_string() && body["token"].is_string()) {
                        return Err(StatusCode::BAD_REQUEST);
                    }
                    let mut secret = [0u8; 32];
                    rand::rngs::OsRng.fill_bytes(&mut secret);
                    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
                    let value: String = s
                        .key("bench:raw")
                        .invoke_async(&mut c)
                        .await
                        .expect("EVALSHA");
                    Ok(axum::Json(
                        serde_json::json!({ "token": token, "value": value }),
                    ))
                },
            ),
        )
        .with_state((manager, script));
    serve(router).await
}

impl Servers {
    async fn start(users: BenchUsers, redis_url: &str) -> Self {
        let redis_store = RedisStore::new(redis_url)
            .expect("valid Redis URL")
            .with_prefix("bench:");
        Self {
            bare: serve(routes()).await,
            memory: Served::start(&users, MemoryStore::new()).await,
            redis: Served::start(&users, redis_store).await,
            raw: raw_redis_server(redis_url).await,
            users,
            next_user: AtomicU64::new(0),
        }
    }

    fn fresh_user(&self) -> String {
        format!("fast-{}", self.next_user.fetch_add(1, Ordering::Relaxed))
    }
}

/// Logs `count` fresh users in through `app` (many at once) and returns their verify bodies,
/// with the right code or, if `wrong`, a wrong one.
async fn prepare_challenges(
    servers: &Arc<Servers>,
    app: AppOf,
    count: usize,
    wrong: bool,
) -> Vec<Bytes> {
    let next = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (servers, next, bodies) = (servers.clone(), next.clone(), bodies.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let user = servers.fresh_user();
                    let (challenge, code) = app(&servers).app.login(&user).await;
                    let code = if wrong { wrong_code(&code) } else { code };
                    let body = Bytes::from(verify_body(&challenge, &code));
                    bodies.lock().unwrap().push(body);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a set-up task panicked");
    }
    Arc::into_inner(bodies).unwrap().into_inner().unwrap()
}

/// A request as the load loop sends it; headers are built beforehand, so that every row's
/// client does the same work per request.
fn request(
    method: Method,
    path: &'static str,
    authorization: Option<&HeaderValue>,
    body: Option<Bytes>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value.clone());
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Full::new(body.unwrap_or_default()))
        .expect("a valid request")
}

/// The same GET forever.
fn same_get(path: &'static str) -> NextRequest {
    Arc::new(move || Some(request(Method::GET, path, None, None)))
}

/// GETs with each token in turn.
fn token_gets(tokens: Vec<String>) -> NextRequest {
    let tokens: Vec<HeaderValue> = tokens
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Token {t}")).expect("a valid header"))
        .collect();
    let next = AtomicUsize::new(0);
    Arc::new(move || {
        let token = &tokens[next.fetch_add(1, Ordering::Relaxed) % tokens.len()];
        Some(request(Method::GET, "/api/me", Some(token), None))
    })
}

/// POSTs of the bodies in turn; with `once`, each body is sent once and then the supply ends.
fn posts(path: &'static str, bodies: Vec<Bytes>, once: bool) -> NextRequest {
    let next = AtomicUsize::new(0);
    Arc::new(move || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let body = if once {
            bodies.get(i)?.clone()
        } else {
            bodies[i % bodies.len()].clone()
        };
        Some(request(Method::POST, path, None, Some(body)))
    })
}

/// Sends `command` to a waiting `perf record --control=fifo:CTL,ACK -D -1` when
/// `TOWER_OTP_BENCH_PERF_CTL` names its control FIFO (and waits for the ACK FIFO's answer when
/// `TOWER_OTP_BENCH_PERF_ACK` names it), so that a profile holds the measured load only.
fn perf_control(command: &str) {
    use std::io::{Read, Write};
    let Ok(control) = std::env::var("TOWER_OTP_BENCH_PERF_CTL") else {
        return;
    };
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(&control)
        .unwrap_or_else(|e| panic!("open the perf control FIFO {control}: {e}"));
    writeln!(fifo, "{command}").expect("write to the perf control FIFO");
    if let Ok(ack) = std::env::var("TOWER_OTP_BENCH_PERF_ACK") {
        let mut answer = [0u8; 4];
        std::fs::File::open(&ack)
            .and_then(|mut f| f.read_exact(&mut answer))
            .unwrap_or_else(|e| panic!("read the perf ACK FIFO {ack}: {e}"));
    }
}

/// CPU time used so far, read before and after each measurement.
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    /// This process: the servers and the load generator.
    process: Duration,
    /// The Redis server.
    redis: Duration,
    /// Commands the Redis server executed, those a script calls included (`INFO stats`
    /// `total_commands_processed`).
    redis_commands: u64,
}

impl Cpu {
    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            process: self.process.saturating_sub(before.process),
            redis: self.redis.saturating_sub(before.redis),
            // Less the `INFO` that read `before`, which counts itself only afterwards.
            redis_commands: self
                .redis_commands
                .saturating_sub(before.redis_commands)
                .saturating_sub(1),
        }
    }

    fn add(&mut self, other: Cpu) {
        self.process += other.process;
        self.redis += other.redis;
        self.redis_commands += other.redis_commands;
    }
}

struct CpuClock {
    redis: tower_otp::redis::Connection,
}

impl CpuClock {
    fn new(redis_url: &str) -> Self {
        let client = tower_otp::redis::Client::open(redis_url).expect("valid Redis URL");
        Self {
            redis: client.get_connection().expect("connect to Redis"),
        }
    }

    fn now(&mut self) -> Cpu {
        let process = process_cpu();
        // Two sections in one INFO: Redis 7 or later (older servers answer with an error, and
        // the Redis columns then read 0).
        let info: String = tower_otp::redis::cmd("INFO")
            .arg("cpu")
            .arg("stats")
            .query(&mut self.redis)
            .unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(key, _)| *key == name)
                .and_then(|(_, value)| value.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Cpu {
            process,
            redis: Duration::from_secs_f64(field("used_cpu_sys") + field("used_cpu_user")),
            redis_commands: field("total_commands_processed") as u64,
        }
    }
}

/// CPU time of this process, from `/proc/self/stat` (clock ticks of 1/100 s).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name: state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields
        .get(11..13)
        .map(|t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// A row's [`Cpu`] divided by its requests.
struct PerRequest {
    process: Duration,
    redis: Duration,
    redis_commands: f64,
}

/// One line of the table.
struct Row {
    key: &'static str,
    label: String,
    outcome: Outcome,
    /// CPU used while it was measured (warm-ups included); `None` when other work shared it.
    cpu: Option<Cpu>,
    notes: Vec<String>,
    /// Problems found besides the row's own answers.
    errors: Vec<String>,
}

impl Row {
    fn new(key: &'static str, label: impl Into<String>) -> Self {
        Self {
            key,
            label: label.into(),
            outcome: Outcome::default(),
            cpu: Some(Cpu::default()),
            notes: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn per_second(&self) -> f64 {
        self.outcome.per_second()
    }

    fn per_request(&self) -> Option<PerRequest> {
        let n = u32::try_from(self.outcome.total).ok().filter(|&n| n > 0)?;
        self.cpu.map(|c| PerRequest {
            process: c.process / n,
            redis: c.redis / n,
            redis_commands: c.redis_commands as f64 / f64::from(n),
        })
    }

    fn problem(&self) -> Option<String> {
        let problems: Vec<String> = self
            .errors
            .iter()
            .cloned()
            .chain(self.outcome.problem())
            .collect();
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// Where the requests of an HTTP row come from.
enum Source {
    /// The same supply for every slice.
    Fixed(NextRequest),
    /// Verifies of fresh challenges: before each slice (outside the measurement) enough users
    /// log in through the app's layer for the slice at the expected rate.
    FreshChallenges {
        app: AppOf,
        /// The row whose rate bounds this one's, to size the first slice's supply.
        bounded_by: &'static str,
    },
}

/// A row measured over HTTP, in slices interleaved with the other rows.
struct HttpRow {
    row: Row,
    addr: SocketAddr,
    source: Source,
    expect: StatusCode,
    /// Fresh challenges prepared for it, and how long that took (outside the measurement).
    prepared: usize,
    preparing: Duration,
    /// Slices whose supply of fresh challenges ran out before their end.
    ran_out: u32,
}

impl HttpRow {
    fn into_row(mut self) -> Row {
        if self.prepared > 0 {
            self.row.notes.push(format!(
                "{} challenges prepared in {:.1} s",
                self.prepared,
                self.preparing.as_secs_f64()
            ));
        }
        if self.ran_out > 0 {
            self.row.notes.push(format!(
                "challenges ran out early in {} slices",
                self.ran_out
            ));
        }
        self.row
    }
}

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

    /// Wrong-code verifies: one challenge per connection, each taking wrong codes all along.
    fn wrong_codes(&self, app: AppOf) -> NextRequest {
        let servers = self.servers.clone();
        let count = self.config.connections;
        let bodies = self
            .server
            .block_on(async move { prepare_challenges(&servers, app, count, true).await });
        posts("/api-auth/verify-token/", bodies, false)
    }

    /// The HTTP rows, in the order they are measured in each round: each target's pair side by
    /// side.
    fn http_rows(&self) -> Vec<HttpRow> {
        let s = &self.servers;
        let n = self.config.connections;
        let mut rows = Vec::new();
        let mut add = |key, label: &str, addr, source, expect| {
            if self.config.wants(key) {
                rows.push(HttpRow {
                    row: Row::new(key, label),
                    addr,
                    source,
                    expect,
                    prepared: 0,
                    preparing: Duration::ZERO,
                    ran_out: 0,
                });
            }
        };
        let fixed = |next| Source::Fixed(next);
        let ok = StatusCode::OK;
        add(
            "bare",
            "bare axum: GET /health",
            s.bare,
            fixed(same_get("/health")),
            ok,
        );
        add(
            "pass",
            "axum + layer, no credentials (pass-through)",
            s.memory.addr,
            fixed(same_get("/health")),
            ok,
        );
        add(
            "raw-get",
            "baseline: handler doing 1 Redis GET",
            s.raw,
            fixed(same_get("/get")),
            ok,
        );
        if self.config.wants("token-redis") {
            let tokens = self.tokens(|s| &s.redis, n);
            add(
                "token-redis",
                "token-authenticated GET /api/me, Redis",
                s.redis.addr,
                fixed(token_gets(tokens)),
                ok,
            );
        }
        add(
            "raw-evalsha",
            "baseline: handler doing 1 Redis EVALSHA",
            s.raw,
            fixed(same_get("/evalsha")),
            ok,
        );
        // Bodies of a verify's shape and size (the handler only parses them).
        let shaped: Vec<Bytes> = (0..n)
            .map(|i| {
                Bytes::from(verify_body(
                    &format!("{i:0>16}.{}", "x".repeat(43)),
                    "123456",
                ))
            })
            .collect();
        add(
            "raw-verify-shaped",
            "baseline: verify-shaped POST + 1 EVALSHA",
            s.raw,
            fixed(posts("/verify-shaped", shaped, false)),
            ok,
        );
        add(
            "verify-redis",
            "verify (fresh challenge), Redis",
            s.redis.addr,
            Source::FreshChallenges {
                app: |s| &s.redis,
                bounded_by: "token-redis",
            },
            ok,
        );
        if self.config.wants("wrong-redis") {
            let next = self.wrong_codes(|s| &s.redis);
            add(
                "wrong-redis",
                "wrong-code verify, Redis",
                s.redis.addr,
                fixed(next),
                StatusCode::BAD_REQUEST,
            );
        }
        if self.config.wants("token-memory") {
            let tokens = self.tokens(|s| &s.memory, n);
            add(
                "token-memory",
                "token-authenticated GET /api/me, memory",
                s.memory.addr,
                fixed(token_gets(tokens)),
                ok,
            );
        }
        add(
            "verify-memory",
            "verify (fresh challenge), memory",
            s.memory.addr,
            Source::FreshChallenges {
                app: |s| &s.memory,
                bounded_by: "token-memory",
            },
            ok,
        );
        if self.config.wants("wrong-memory") {
            let next = self.wrong_codes(|s| &s.memory);
            add(
                "wrong-memory",
                "wrong-code verify, memory",
                s.memory.addr,
                fixed(next),
                StatusCode::BAD_REQUEST,
            );
        }
        rows
    }

    /// Measures the HTTP rows in `rounds` slices each, one slice of every row per round, so a
    /// drift of the machine's speed during the run hits every row alike.
    fn measure_http_rows(&mut self) {
        let mut rows = self.http_rows();
        let rounds = self.config.rounds;
        let slice = Plan {
            duration: self.config.duration / rounds,
            warmup: self.config.warmup / rounds,
            ..self.config.plan()
        };
        for round in 0..rounds {
            eprintln!("round {} of {rounds} ...", round + 1);
            for i in 0..rows.len() {
                let next = match rows[i].source {
                    Source::Fixed(ref next) => next.clone(),
                    Source::FreshChallenges { app, bounded_by } => {
                        // Verify does strictly more than a token check: its rate is below that
                        // row's, and after a first slice, about its own.
                        let rate = if rows[i].row.outcome.counted > 0 {
                            rows[i].row.per_second()
                        } else {
                            rows.iter()
                                .find(|r| r.row.key == bounded_by && r.row.outcome.counted > 0)
                                .map_or(FALLBACK_RATE, |r| r.row.per_second())
                        };
                        let time = (slice.warmup + slice.duration).as_secs_f64();
                        let count = (rate * time * 1.5) as usize + 1000;
                        let servers = self.servers.clone();
                        let started = Instant::now();
                        let bodies = self
                            .server
                            .block_on(prepare_challenges(&servers, app, count, false));
                        rows[i].prepared += count;
                        rows[i].preparing += started.elapsed();
                        posts("/api-auth/verify-token/", bodies, true)
                    }
                };
                let row = &mut rows[i];
                let before = self.cpu.now();
                perf_control("enable");
                let outcome = self
                    .client
                    .block_on(load::run(row.addr, slice, next, row.expect));
                perf_control("disable");
                let used = self.cpu.now().since(before);
                row.ran_out += u32::from(outcome.ran_out);
                row.row.outcome.merge(outcome);
                if let Some(cpu) = &mut row.row.cpu {
                    cpu.add(used);
                }
            }
        }
        self.rows.extend(rows.into_iter().map(HttpRow::into_row));
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

    /// argon2id alone, then logins (each one argon2id verification), then the login storm,
    /// with the RSS they take; last, argon2id as it ran before the password pool, whose
    /// memory would distort any figure measured after it.
    fn measure_password_rows(&mut self) {
        let rss_before = status_kib("VmRSS");
        let peak_reset = reset_peak_rss();
        // At tens of milliseconds a request, a smoke run's fraction of a second is too short.
        let plan = Plan {
            duration: self.config.duration.max(Duration::from_secs(1)),
            warmup: self.config.warmup.max(Duration::from_millis(250)),
            ..self.config.plan()
        };
        let threads = parallelism();
        let memory = self.servers.memory.addr;
        if self.config.wants("login") {
            let label = format!("argon2id verify_password alone, {threads} at a time");
            let mut row = self.row_of("argon2", label, |b| {
                b.server
                    .block_on(argon2_rate(&b.servers.users, threads, plan, verify_on_pool))
            });
            row.notes.push("the reference for the login row".to_owned());
            self.rows.push(row);
            let row = self.row_of("login", "login (argon2id), memory", |b| {
                let logins = logins(plan.connections);
                b.client
                    .block_on(load::run(memory, plan, logins, StatusCode::OK))
            });
            self.rows.push(row);
        }
        if self.config.wants("storm") {
            let tokens = self.tokens(|s| &s.memory, self.config.probe_connections);
            let probe = Plan {
                connections: self.config.probe_connections,
                pace: Some(self.config.probe_period),
                ..plan
            };
            let rate = probe.connections as f64 / self.config.probe_period.as_secs_f64();
            let label = format!("token-auth probe ({rate:.0} req/s), idle");
            let row = self.row_of("idle", label, |b| {
                let gets = token_gets(tokens.clone());
                b.client
                    .block_on(load::run(memory, probe, gets, StatusCode::OK))
            });
            self.rows.push(row);

            let storm = Plan {
                connections: self.config.storm_connections,
                ..plan
            };
            let (probe_outcome, storm_outcome) = self.client.block_on(async move {
                let logins = logins(storm.connections);
                let storm = tokio::spawn(load::run(memory, storm, logins, StatusCode::OK));
                let probe = load::run(memory, probe, token_gets(tokens), StatusCode::OK).await;
                (probe, storm.await.expect("the storm panicked"))
            });
            let label = format!("token-auth probe ({rate:.0} req/s), login storm");
            let mut row = Row::new("storm", label);
            row.outcome = probe_outcome;
            // The CPU of the storm's logins is not the probe's.
            row.cpu = None;
            row.notes.push(format!(
                "storm: {} connections logging in, {:.1} logins/s",
                storm.connections,
                storm_outcome.per_second()
            ));
            if let Some(problem) = storm_outcome.problem() {
                row.errors.push(format!("login storm: {problem}"));
            }
            self.rows.push(row);
        }
        if self.config.wants("login") || self.config.wants("storm") {
            self.password_rss = Some(PasswordRss {
                before: rss_before,
                after: status_kib("VmRSS"),
                peak: status_kib("VmHWM"),
                peak_reset,
            });
        }
        if self.config.wants("login") {
            self.compare_with_blocking_pool(plan, threads);
        }
    }

    /// argon2id as it ran before the password pool, in slices alternating with the pool's (so
    /// that a drift of the shared machine hits both alike): a row, with the pool's rate over
    /// the same slices as a ratio.
    fn compare_with_blocking_pool(&mut self, plan: Plan, threads: usize) {
        let rounds = self.config.rounds;
        let slice = Plan {
            duration: plan.duration / rounds,
            warmup: plan.warmup / rounds,
            ..plan
        };
        let label = format!("argon2id, spawn_blocking as before, {threads} at a time");
        let mut row = Row::new("argon2-blocking", label);
        let mut pool = Outcome::default();
        let rss_before = status_kib("VmRSS");
        for _ in 0..rounds {
            let users = &self.servers.users;
            pool.merge(
                self.server
                    .block_on(argon2_rate(users, threads, slice, verify_on_pool)),
            );
            let before = self.cpu.now();
            let outcome =
                self.server
                    .block_on(argon2_rate(users, threads, slice, verify_on_blocking_pool));
            row.outcome.merge(outcome);
            if let Some(cpu) = &mut row.cpu {
                cpu.add(self.cpu.now().since(before));
            }
        }
        row.notes.push(format!(
            "the pool's rate in alternate slices: {:.2} × this; RSS {:.1} → {:.1} MiB",
            pool.per_second() / row.per_second(),
            mib(rss_before),
            mib(status_kib("VmRSS"))
        ));
        self.rows.push(row);
    }
}

/// Logins of `argon-<i>` users, one per connection (a user's new login replaces its challenge).
fn logins(users: usize) -> NextRequest {
    let bodies = (0..users)
        .map(|i| Bytes::from(login_body(&format!("argon-{i}"))))
        .collect();
    posts("/api-auth/login/", bodies, false)
}

/// `threads` tasks verifying the benchmark password with argon2id with `verify`, back to back,
/// as the login endpoint does.
async fn argon2_rate<F>(
    users: &BenchUsers,
    threads: usize,
    plan: Plan,
    verify: fn(Arc<str>) -> F,
) -> Outcome
where
    F: Future<Output = bool> + Send + 'static,
{
    let hash = users.argon2_hash();
    let start = Instant::now() + plan.warmup;
    let end = start + plan.duration;
    let tasks: Vec<_> = (0..threads)
        .map(|_| {
            let hash = hash.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut total = 0;
                while Instant::now() < end {
                    let sent = Instant::now();
                    assert!(verify(hash.clone()).await, "argon2id verification failed");
                    let done = Instant::now();
                    total += 1;
                    if sent >= start && done <= end {
                        latencies.push(done - sent);
                    }
                }
                (latencies, total)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut total = 0;
    for task in tasks {
        let (l, t) = task.await.unwrap();
        latencies.extend(l);
        total += t;
    }
    Outcome::from_latencies(latencies, total, plan.duration)
}

/// The library's verification (the default `UserStore::check_password`): on its password pool.
async fn verify_on_pool(hash: Arc<str>) -> bool {
    tower_otp::verify_password(hash.to_string(), PASSWORD.to_owned())
        .await
        .expect("argon2 verification")
}

/// Verification as the library did it before its password pool: each on Tokio's blocking pool,
/// at most one per CPU at a time, argon2's memory allocated for each hash.
async fn verify_on_blocking_pool(hash: Arc<str>) -> bool {
    use argon2::{Argon2, PasswordHash, PasswordVerifier};
    static TURNS: LazyLock<Arc<Semaphore>> =
        LazyLock::new(|| Arc::new(Semaphore::new(parallelism())));
    let turn = TURNS
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let parsed = PasswordHash::new(&hash).expect("the benchmark hash parses");
        Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .expect("argon2 verification")
}

/// RSS (KiB) over the password rows: before, after, and the peak (`VmHWM`) since they started.
struct PasswordRss {
    before: u64,
    after: u64,
    peak: u64,
    /// Whether the peak could be reset when they started (`/proc/self/clear_refs`); if not, it
    /// is the whole run's.
    peak_reset: bool,
}

/// RSS before and after many verifications on a `MemoryStore`.
struct RssReport {
    verifications: u64,
    warmup: u64,
    rss_before: u64,
    rss_after: u64,
    records_before: usize,
    records_after: usize,
}

impl RssReport {
    fn growth(&self) -> f64 {
        self.rss_after as f64 / self.rss_before as f64 - 1.0
    }

    fn flat(&self) -> bool {
        // Allocator noise: a few percent, or 1 MiB on a small heap.
        self.rss_after <= (self.rss_before as f64 * 1.05) as u64 + 1024 * 1024
    }
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`), 0 if unreadable.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sets the peak RSS (`VmHWM`) back to the current RSS (Linux 4.0 or later); whether it could.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `verifications` logins and verifies through `oneshot` on a `MemoryStore`, with a manual clock
/// moving one second per verification (so tokens, challenges and markers expire along the way,
/// as in 11 days of traffic), over 1000 users. RSS after the first tenth, and at the
/// end.
async fn rss_check(users: &BenchUsers, verifications: u64) -> RssReport {
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

fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

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

/// Prints the table and the targets; whether every row answered as expected.
fn report(bench: &Bench, rss: Option<&RssReport>, redis_url: &str) -> bool {
    let config = &bench.config;
    let rate = |key: &str| bench.row(key).map(Row::per_second);
    let (bare, get, evalsha) = (rate("bare"), rate("raw-get"), rate("raw-evalsha"));
    println!();
    println!(
        "tower-otp throughput: {} CPUs ({}), {}, Redis {} (private, loopback)",
        parallelism(),
        cpu_model(),
        rustc_version(),
        redis_version(redis_url),
    );
    println!(
        "load: {} keep-alive HTTP/1.1 connections (hyper client, closed loop, {} threads) and \
         the servers ({} Tokio workers) in this process; {:.2} s measured per row after \
         {:.2} s warm-up, HTTP rows in {} interleaved slices",
        config.connections,
        config.client_threads,
        parallelism(),
        config.duration.as_secs_f64(),
        config.warmup.as_secs_f64(),
        config.rounds,
    );
    println!("{SETTINGS_NOTE}");
    if config.smoke {
        println!(
            "SMOKE RUN: rows too short for the figures to mean anything; checks that every row works"
        );
    }
    println!();
    println!(
        "{:<46} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8} {:>8} {:>9} {:>8}  notes",
        "row",
        "req/s",
        "p50",
        "p99",
        "×bare",
        "×GET",
        "×EVALSHA",
        "CPU/req",
        "Redis/req",
        "cmds/req"
    );
    let ratio = |value: f64, base: Option<f64>| {
        base.map_or("-".to_owned(), |b| format!("{:.2}", value / b))
    };
    let mut ok = true;
    for row in &bench.rows {
        let http = !matches!(
            row.key,
            "argon2" | "argon2-blocking" | "login" | "idle" | "storm"
        );
        let mut notes = Vec::new();
        if let Some(problem) = row.problem() {
            ok = false;
            notes.push(format!("ERROR: {problem}"));
        }
        match row.key {
            "login" => notes.extend(
                rate("argon2")
                    .map(|argon2| format!("{:.2} × the argon2id rate", row.per_second() / argon2)),
            ),
            "storm" => notes.extend(bench.row("idle").map(|idle| {
                let p99 = row.outcome.quantile(0.99);
                format!(
                    "p99 {:.2} × idle",
                    ratio_of(p99, idle.outcome.quantile(0.99))
                )
            })),
            _ => {}
        }
        notes.extend(row.notes.iter().cloned());
        let (x_bare, x_get, x_evalsha) = if http {
            let r = row.per_second();
            (ratio(r, bare), ratio(r, get), ratio(r, evalsha))
        } else {
            ("-".into(), "-".into(), "-".into())
        };
        let cost = row.per_request();
        let line = format!(
            "{:<46} {:>8.0} {:>8} {:>8} {:>6} {:>6} {:>8} {:>8} {:>9} {:>8}  {}",
            row.label,
            row.per_second(),
            micros(row.outcome.quantile(0.50)),
            micros(row.outcome.quantile(0.99)),
            x_bare,
            x_get,
            x_evalsha,
            cost.as_ref().map_or("-".to_owned(), |c| micros(c.process)),
            cost.as_ref().map_or("-".to_owned(), |c| micros(c.redis)),
            cost.as_ref()
                .map_or("-".to_owned(), |c| format!("{:.1}", c.redis_commands)),
            notes.join("; "),
        );
        println!("{}", line.trim_end());
    }
    println!();
    println!(
        "CPU/req: CPU time of this process (servers and load generator) per request; Redis/req: \
         the Redis server's; cmds/req: commands Redis executed per request, counting an EVALSHA and \
         each command its script calls."
    );
    println!("targets (ratios measured side by side in this run):");
    let target = |name: &str, value: Option<f64>, bound: f64, at_least: bool| {
        let Some(value) = value else {
            println!("  {name:<44} not measured");
            return;
        };
        let met = if at_least {
            value >= bound
        } else {
            value <= bound
        };
        // Shown rounded towards missing, so that the figure never contradicts the verdict.
        let (sign, shown) = if at_least {
            ("≥", (value * 1000.0).floor() / 1000.0)
        } else {
            ("≤", (value * 1000.0).ceil() / 1000.0)
        };
        println!(
            "  {name:<44} {shown:>7.3} ({sign} {bound:.2}) {}",
            if met { "met" } else { "MISSED" }
        );
    };
    let over = |a: &str, b: Option<f64>| rate(a).zip(b).map(|(a, b)| a / b);
    target("pass-through / bare axum", over("pass", bare), 0.95, true);
    target(
        "token-authenticated (Redis) / raw GET",
        over("token-redis", get),
        0.90,
        true,
    );
    target(
        "verify (Redis) / raw EVALSHA",
        over("verify-redis", evalsha),
        0.80,
        true,
    );
    // Not a target: how far the unavoidable part of a verify alone gets.
    if let Some(shaped) = over("raw-verify-shaped", evalsha) {
        println!(
            "  {:<44} {shaped:>7.3} (what any verify must do, no store work)",
            "verify-shaped baseline / raw EVALSHA"
        );
    }
    let storm = bench
        .row("storm")
        .zip(bench.row("idle"))
        .map(|(s, i)| ratio_of(s.outcome.quantile(0.99), i.outcome.quantile(0.99)));
    target(
        "token-auth p99 during login storm / idle",
        storm,
        2.0,
        false,
    );
    let rss_name = "RSS over the verifications, MemoryStore";
    match rss {
        Some(rss) => println!(
            "  {rss_name:<44} {:>+6.1}% ({} → {} KiB RSS from verification {} to {}; store \
             records {} → {}) {}",
            rss.growth() * 100.0,
            rss.rss_before,
            rss.rss_after,
            rss.warmup,
            rss.verifications,
            rss.records_before,
            rss.records_after,
            if rss.flat() {
                "flat: met"
            } else {
                "GROWS: MISSED"
            },
        ),
        None => println!("  {rss_name:<44} not measured"),
    }
    // Not a ratio: what logins cost in memory, which the pool bounds by its threads (one
    // argon2 block each), whatever the number of logins.
    let rss_name = "peak RSS over the password rows";
    match &bench.password_rss {
        Some(rss) => println!(
            "  {rss_name:<44} {:>7.1} MiB (+{:.1} on the {:.1} MiB before them{}; {:.1} after)",
            mib(rss.peak),
            mib(rss.peak.saturating_sub(rss.before)),
            mib(rss.before),
            if rss.peak_reset {
                ""
            } else {
                ", peak not reset: the whole run's"
            },
            mib(rss.after),
        ),
        None => println!("  {rss_name:<44} not measured"),
    }
    ok
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ratio_of(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn rustc_version() -> String {
    std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "rustc ?".to_owned(), |v| v.trim().to_owned())
}

fn redis_version(url: &str) -> String {
    let info: Option<String> = tower_otp::redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .and_then(|mut c| tower_otp::redis::cmd("INFO").arg("server").query(&mut c))
        .ok();
    info.and_then(|i| {
        i.lines()
            .find_map(|l| l.strip_prefix("redis_version:").map(str::to_owned))
    })
    .unwrap_or_else(|| "?".to_owned())
}
