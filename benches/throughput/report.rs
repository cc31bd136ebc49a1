//! The report: the machine and the load, the table of rows with their ratios to the
//! baselines, and the targets.

use std::time::Duration;

use crate::cpu::parallelism;
use crate::row::Row;
use crate::rss::{mib, RssReport};
use crate::support::SETTINGS_NOTE;
use crate::Bench;

/// Prints the table and the targets; whether every row answered as expected.
pub fn report(bench: &Bench, rss: Option<&RssReport>, redis_url: &str) -> bool {
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
    // The token-auth p99 during the login storm over that when idle.
    let storm = bench
        .row("storm")
        .zip(bench.row("idle"))
        .map(|(s, i)| ratio_of(s.outcome.quantile(0.99), i.outcome.quantile(0.99)));
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
            "storm" => notes.extend(storm.map(|storm| format!("p99 {storm:.2} × idle"))),
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
        "token-authenticated: Redis / memory",
        over("token-redis", rate("token-memory")),
        0.90,
        true,
    );
    target(
        "token-authenticated, cache off / raw GET",
        over("token-redis-uncached", get),
        0.90,
        true,
    );
    target(
        "verify (Redis) / raw EVALSHA",
        over("verify-redis", evalsha),
        0.60,
        true,
    );
    let redis_cpu = |key: &str| {
        bench
            .row(key)
            .and_then(Row::per_request)
            .map(|c| c.redis.as_secs_f64() * 1e6)
    };
    target(
        "Redis CPU per verify, µs",
        redis_cpu("verify-redis"),
        30.0,
        false,
    );
    if let Some((verify, evalsha)) = redis_cpu("verify-redis").zip(redis_cpu("raw-evalsha")) {
        println!(
            "  {:<44} {:>7.2} (Redis CPU of a verify / of the raw EVALSHA)",
            "Redis CPU: verify / raw EVALSHA",
            verify / evalsha
        );
    }
    // Not a target: how far the unavoidable part of a verify alone gets.
    if let Some(shaped) = over("raw-verify-shaped", evalsha) {
        println!(
            "  {:<44} {shaped:>7.3} (what any verify must do, no store work)",
            "verify-shaped baseline / raw EVALSHA"
        );
    }
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

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn ratio_of(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
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
