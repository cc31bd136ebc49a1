//! The rows measured over HTTP (pass-through, token checks, verifies, wrong codes and their
//! baselines), in slices interleaved with one another.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use crate::load::{self, NextRequest};
use crate::perf::perf_control;
use crate::requests::{posts, prepare_challenges, same_get, token_gets};
use crate::row::Row;
use crate::servers::AppOf;
use crate::support::verify_body;
use crate::Bench;

/// Verifies per second assumed when no token row ran to size the challenge pool from.
const FALLBACK_RATE: f64 = 50_000.0;

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

impl Bench {
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
        if self.config.wants("token-redis-uncached") {
            let tokens = self.tokens(|s| &s.redis_uncached, n);
            add(
                "token-redis-uncached",
                "token-authenticated GET /api/me, Redis uncached",
                s.redis_uncached.addr,
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
    pub fn measure_http_rows(&mut self) {
        let mut rows = self.http_rows();
        let rounds = self.config.rounds;
        let slice = self.config.plan().slice(rounds);
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
                row.row.add_cpu(used);
            }
        }
        self.rows.extend(rows.into_iter().map(HttpRow::into_row));
    }
}
