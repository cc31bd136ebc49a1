//! Redis servers for the tests.
//!
//! `TOWER_OTP_REDIS_URL` (one node) and `TOWER_OTP_REDIS_CLUSTER_URLS` (comma-separated URLs of
//! every primary of a cluster) point the tests at servers you run; otherwise each test binary
//! starts private `redis-server` processes on free ports, once, and they die with it. Every test
//! uses its own random key prefix, so tests share servers without seeing each other's keys.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use rand::RngCore;
use tower_otp::redis;
use tower_otp::store::RedisStore;

pub use super::redis_server::{free_port, free_ports, RedisServer};
use super::redis_server::{require_binary, scratch_dir, POLL, STARTUP};

/// The URL of the shared single-node Redis.
pub fn redis_url() -> &'static str {
    static URL: OnceLock<(String, Option<RedisServer>)> = OnceLock::new();
    &URL.get_or_init(|| match std::env::var("TOWER_OTP_REDIS_URL") {
        // Set but empty counts as unset.
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
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
            Ok(urls) if !urls.is_empty() => {
                (urls.split(',').map(str::to_owned).collect(), Vec::new())
            }
            _ => {
                let nodes = start_cluster(None);
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

/// The hash of the account's auth tokens under `prefix` (`P{A}:auth_tokens`).
pub fn tokens_key(prefix: &str, account: &tower_otp::store::AccountKey) -> String {
    format!("{prefix}{{{}}}:auth_tokens", account.as_str())
}

/// A store on the shared single node, with its own prefix.
pub fn single_store() -> RedisStore {
    RedisStore::new(redis_url())
        .expect("valid URL")
        .with_prefix(random_prefix())
}

/// A store on `server` (a private one, which a test stops and starts), with its own prefix and
/// a short timeout.
pub fn store_on(server: &RedisServer) -> RedisStore {
    RedisStore::new(server.url())
        .expect("valid URL")
        .with_prefix(random_prefix())
        .with_timeout(std::time::Duration::from_millis(500))
}

/// A store on the shared cluster, with its own prefix.
pub fn cluster_store() -> RedisStore {
    RedisStore::cluster(cluster_urls().iter().map(String::as_str))
        .expect("valid URLs")
        .with_prefix(random_prefix())
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

/// Starts a cluster of three primaries (no replicas), with `password` required if given, and
/// waits until every node says `cluster_state:ok`.
pub fn start_cluster(password: Option<&str>) -> Vec<RedisServer> {
    start_cluster_with(password, &[])
}

/// [`start_cluster`] with `extra` arguments for every node.
pub fn start_cluster_with(password: Option<&str>, extra: &[&str]) -> Vec<RedisServer> {
    require_binary("redis-cli");
    let ports = free_ports::<6>();
    let auth = password.map_or_else(Vec::new, |p| vec!["--requirepass", p, "--masterauth", p]);
    let nodes: Vec<RedisServer> = ports
        .chunks_exact(2)
        .map(|pair| {
            let (port, bus) = (pair[0], pair[1]);
            let config = scratch_dir(port).join(format!("nodes-{port}.conf"));
            let bus = bus.to_string();
            let mut args = vec![
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                path_str(&config),
                "--cluster-port",
                &bus,
            ];
            args.extend(&auth);
            args.extend(extra);
            RedisServer::start(port, &args)
        })
        .collect();
    let addresses: Vec<String> = nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.port()))
        .collect();
    let output = redis_cli(password)
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
            let info = redis_cli(password)
                .args(["-p", &node.port().to_string(), "cluster", "info"])
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

/// `redis-cli`, authenticated with `password` if given.
pub fn redis_cli(password: Option<&str>) -> Command {
    let mut cli = Command::new("redis-cli");
    if let Some(password) = password {
        cli.args(["--no-auth-warning", "-a", password]);
    }
    cli
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary directory")
}
