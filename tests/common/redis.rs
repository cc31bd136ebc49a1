//! Redis servers for the tests.
//!
//! `TOWER_OTP_REDIS_URL` (one node) and `TOWER_OTP_REDIS_CLUSTER_URLS` (comma-separated URLs of
//! every primary of a cluster) point the tests at servers you run; otherwise each test binary
//! starts private `redis-server` processes on free ports, once, and they die with it. Every test
//! uses its own random key prefix, so tests share servers without seeing each other's keys.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::RngCore;
use tower_otp::redis;
use tower_otp::store::RedisStore;

/// How long a server gets to start answering, or a cluster to become ready.
const STARTUP: Duration = Duration::from_secs(20);
/// The pause between two probes while waiting for a server.
const POLL: Duration = Duration::from_millis(20);

/// The URL of the shared single-node Redis.
pub fn redis_url() -> &'static str {
    static URL: OnceLock<(String, Option<RedisServer>)> = OnceLock::new();
    &URL.get_or_init(|| match std::env::var("TOWER_OTP_REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = RedisServer::start(free_port(), &[]);
            (server.url(), Some(server))
        }
    })
    .0
}

/// The URLs of every primary of the shared Redis Cluster.
pub fn cluster_urls() -> &'static [String] {
    static URLS: OnceLock<(Vec<String>, Vec<RedisServer>)> = OnceLock::new();
    &URLS
        .get_or_init(|| match std::env::var("TOWER_OTP_REDIS_CLUSTER_URLS") {
            Ok(urls) => (urls.split(',').map(str::to_owned).collect(), Vec::new()),
            Err(_) => {
                let nodes = start_cluster();
                (nodes.iter().map(RedisServer::url).collect(), nodes)
            }
        })
        .0
}

/// A key prefix no other test uses.
pub fn random_prefix() -> String {
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("test-{hex}:")
}

/// A store on the shared single node, with its own prefix.
pub fn single_store() -> RedisStore {
    RedisStore::new(redis_url())
        .expect("valid URL")
        .with_prefix(random_prefix())
}

/// A store on the shared cluster, with its own prefix.
pub fn cluster_store() -> RedisStore {
    RedisStore::cluster(cluster_urls().iter().map(String::as_str))
        .expect("valid URLs")
        .with_prefix(random_prefix())
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct ports nothing listens on right now.
pub fn free_ports<const N: usize>() -> [u16; N] {
    // Held together, so the system cannot hand out one port twice.
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("bound address").port())
}

/// Every key under `prefix` on the given nodes, with its `PTTL` (-1: no TTL).
pub async fn keys_with_ttl(node_urls: &[String], prefix: &str) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    for url in node_urls {
        let client = redis::Client::open(url.as_str()).expect("valid URL");
        let mut con = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to a node");
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut con)
                .await
                .expect("SCAN");
            for key in keys {
                let ttl: i64 = redis::cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut con)
                    .await
                    .expect("PTTL");
                found.push((key, ttl));
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    found
}

/// A `redis-server` process that stops when dropped, and in any case when the test process
/// exits: it runs under `sh`, which kills it as soon as its stdin (a pipe held by this process)
/// closes.
pub struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    /// Starts `redis-server` on `port` without persistence, plus `extra` arguments, and waits
    /// until it answers `PING`.
    pub fn start(port: u16, extra: &[&str]) -> Self {
        require_binary("redis-server");
        // The server's own directory: dump files or cluster state never land in the repository.
        let dir = scratch_dir(port);
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"dir=$1; shift; redis-server "$@" & p=$!; read _; kill $p; wait $p; rm -rf "$dir""#)
            .arg("sh")
            .arg(&dir)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let server = Self { port, child };
        server.wait_for_ping();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server and waits until it is gone.
    pub fn stop(self) {
        drop(self);
    }

    fn wait_for_ping(&self) {
        let deadline = Instant::now() + STARTUP;
        while !ping(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within {STARTUP:?}",
                self.port
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Closing stdin makes the wrapper kill the server and wait for it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Where the server on `port` keeps its files; removed when it stops.
fn scratch_dir(port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tower-otp-redis-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Whether a server on `port` answers `PING`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

fn require_binary(name: &str) {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{name}` not found: the Redis tests need a local Redis \
         (`apt-get install redis-server`, which also installs redis-cli), \
         or set TOWER_OTP_REDIS_URL and TOWER_OTP_REDIS_CLUSTER_URLS"
    );
}

/// Starts a cluster of three primaries (no replicas) and waits until every node says
/// `cluster_state:ok`.
fn start_cluster() -> Vec<RedisServer> {
    require_binary("redis-cli");
    let ports = free_ports::<6>();
    let nodes: Vec<RedisServer> = ports
        .chunks_exact(2)
        .map(|pair| {
            let (port, bus) = (pair[0], pair[1]);
            let config = scratch_dir(port).join(format!("nodes-{port}.conf"));
            RedisServer::start(
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    path_str(&config),
                    "--cluster-port",
                    &bus.to_string(),
                ],
            )
        })
        .collect();
    let addresses: Vec<String> = nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.port))
        .collect();
    let output = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli --cluster create");
    assert!(
        output.status.success(),
        "redis-cli --cluster create failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let deadline = Instant::now() + STARTUP;
    for node in &nodes {
        loop {
            let info = Command::new("redis-cli")
                .args(["-p", &node.port.to_string(), "cluster", "info"])
                .output()
                .expect("run redis-cli cluster info");
            if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the test cluster was not ready within {STARTUP:?}"
            );
            std::thread::sleep(POLL);
        }
    }
    nodes
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary directory")
}
