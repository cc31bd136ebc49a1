//! The password rows: argon2id alone, logins, the token-auth probe idle and during a login
//! storm, and argon2id as it ran before the password pool.

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::sync::Semaphore;

use crate::cpu::parallelism;
use crate::load::{self, Outcome, Plan};
use crate::requests::{logins, token_gets};
use crate::row::Row;
use crate::rss::{mib, reset_peak_rss, status_kib, PasswordRss};
use crate::support::{BenchUsers, PASSWORD};
use crate::Bench;

impl Bench {
    /// argon2id alone, then logins (each one argon2id verification), then the login storm,
    /// with the RSS they take; last, argon2id as it ran before the password pool, whose
    /// memory would distort any figure measured after it.
    pub fn measure_password_rows(&mut self) {
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
        let slice = plan.slice(rounds);
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
            row.add_cpu(self.cpu.now().since(before));
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
