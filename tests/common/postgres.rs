//! PostgreSQL for the tests: `TOWER_OTP_POSTGRES_URL` (a server you run, whose user may create
//! databases) or else a private server, started once per test binary on a free port with its
//! own data directory (`initdb`, trust authentication, loopback only) and stopped with the
//! process. Every test gets a database of its own.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use rand::RngCore;

use super::redis_server::{free_port, POLL, STARTUP};

/// A private `postgres` process, stopped when the test process exits: it runs under `sh`,
/// which stops it as soon as its stdin (a pipe held by this process) closes.
pub struct PostgresServer {
    port: u16,
    child: Child,
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The directory of the PostgreSQL server binaries (Debian keeps them out of `PATH`).
fn binaries() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file());
    let newest = versions.max();
    newest.unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries under /usr/lib/postgresql: install them \
             (`apt-get install postgresql`), or point the tests at a server of your own with \
             TOWER_OTP_POSTGRES_URL"
        )
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
    })
}

/// `program` as the `postgres` system user when this process is root (PostgreSQL refuses to
/// run as root), else as ourselves.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PostgresServer {
    /// `initdb` in a fresh directory, then `postgres` on `port`, waiting until it accepts
    /// connections.
    pub fn start(port: u16) -> Self {
        let bin = binaries();
        let dir =
            std::env::temp_dir().join(format!("tower-otp-postgres-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a data directory");
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown the data directory to postgres");
        }
        let data = dir.join("data");
        let initdb = as_server_user(&bin.join("initdb"))
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let server = bin.join("postgres");
        let child = Command::new("sh")
            .arg("-c")
            // Stopped through its own pid file: as root the server runs under `runuser`, which
            // ignores the signals a fast shutdown takes.
            .arg(
                r#"dir=$1; shift; "$@" & p=$!; read _;
                   kill -INT "$(head -n 1 "$dir/data/postmaster.pid")"; wait $p; rm -rf "$dir""#,
            )
            .arg("sh")
            .arg(&dir)
            .args(as_command_line(as_server_user(&server)))
            .args(["-D"])
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let server = Self { port, child };
        server.wait_until_ready(&bin);
        server
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn wait_until_ready(&self, bin: &Path) {
        let deadline = Instant::now() + STARTUP;
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres on port {} not ready within {STARTUP:?}",
                self.port
            );
            std::thread::sleep(POLL);
        }
    }
}

/// A command's program and arguments, to run it under `sh`.
fn as_command_line(command: Command) -> Vec<std::ffi::OsString> {
    std::iter::once(command.get_program().to_owned())
        .chain(command.get_args().map(ToOwned::to_owned))
        .collect()
}

/// The URL of the shared server's maintenance database.
pub fn server_url() -> &'static str {
    static URL: OnceLock<(String, Option<PostgresServer>)> = OnceLock::new();
    &URL.get_or_init(|| match std::env::var("TOWER_OTP_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let server = PostgresServer::start(free_port());
            (server.url(), Some(server))
        }
    })
    .0
}

/// A fresh, empty database on the shared server, and its URL.
pub async fn fresh_database() -> String {
    let mut bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let name: String = std::iter::once("tower_otp_test_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let admin = tower_otp::sql::connect(server_url())
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create a test database");
    admin.close().await;
    let (url, query) = match server_url().split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (server_url(), String::new()),
    };
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}{query}")
}
