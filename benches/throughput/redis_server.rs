//! The benchmark's own `redis-server`, as the tests start theirs (`tests/common/redis.rs`): a
//! free port, no persistence, its own scratch directory, and tied to this process's lifetime.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server gets to start answering.
const STARTUP: Duration = Duration::from_secs(20);
/// The pause between two probes while waiting for it.
const POLL: Duration = Duration::from_millis(20);

/// A private `redis-server`. It runs under `sh`, which kills it as soon as its stdin (a pipe
/// held by this process) closes: when this value drops, or when the process dies in any way.
pub struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "tower-otp-bench-redis-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"dir=$1; shift; redis-server "$@" & p=$!; read _; kill $p; wait $p; rm -rf "$dir""#)
            .arg("sh")
            .arg(&dir)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh to run redis-server");
        let server = Self { port, child };
        let deadline = Instant::now() + STARTUP;
        while !ping(port) {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not answer PING within {STARTUP:?} \
                 (is it installed? `apt-get install redis-server`, or set TOWER_OTP_BENCH_REDIS_URL)"
            );
            std::thread::sleep(POLL);
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Closing stdin makes the wrapper kill the server and wait for it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
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
