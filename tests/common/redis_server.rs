//! A private `redis-server` on a free port, for the tests (`tests/common/redis.rs`) and the
//! throughput benchmark: no persistence, its own scratch directory, and tied to the lifetime of
//! the process that started it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to start answering, or a cluster to become ready.
pub const STARTUP: Duration = Duration::from_secs(20);
/// The pause between two probes while waiting for a server.
pub const POLL: Duration = Duration::from_millis(20);

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

    pub fn port(&self) -> u16 {
        self.port
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
pub fn scratch_dir(port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tower-otp-redis-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Whether a server on `port` answers `PING` (a server that wants a password first answers
/// `NOAUTH`, which counts: it is up).
pub fn ping(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && (&reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH"))
}

pub fn require_binary(name: &str) {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{name}` not found: install Redis (`apt-get install redis-server`, which also \
         installs redis-cli), or point the tests at servers of your own with \
         TOWER_OTP_REDIS_URL and TOWER_OTP_REDIS_CLUSTER_URLS (the benchmark: \
         TOWER_OTP_BENCH_REDIS_URL)"
    );
}
