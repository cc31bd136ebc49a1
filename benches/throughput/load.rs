//! The load loop: hyper HTTP/1.1 clients on keep-alive connections, each sending its next
//! request as soon as the previous answer is read (closed loop), or at a fixed pace (a latency
//! probe), for a fixed time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::MissedTickBehavior;

/// Makes the next request, or `None` when its supply (e.g. of fresh challenges) is used up.
pub type NextRequest = Arc<dyn Fn() -> Option<Request<Full<Bytes>>> + Send + Sync>;

/// How a load is applied.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Requests sent before measuring starts (connections warm, caches hot): not counted.
    pub warmup: Duration,
    /// How long the measurement lasts.
    pub duration: Duration,
    /// `None`: each connection sends back to back; `Some(p)`: each connection sends one request
    /// every `p` (connections staggered evenly), a light load that measures latency.
    pub pace: Option<Duration>,
}

impl Plan {
    /// One of `rounds` slices of this plan: its warm-up and measurement divided by `rounds`.
    pub fn slice(self, rounds: u32) -> Self {
        Self {
            warmup: self.warmup / rounds,
            duration: self.duration / rounds,
            ..self
        }
    }
}

/// What one load run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Answers counted (completed within the measured window).
    pub counted: u64,
    /// Every answer, warm-up included (for costs per request).
    pub total: u64,
    /// The measured window; shorter than planned if the supply ran out.
    pub window: Duration,
    /// Whether the supply of requests ran out before the end.
    pub ran_out: bool,
    /// Answers with another status than expected, over the whole run.
    pub unexpected: u64,
    /// The first unexpected status seen, for the report.
    pub first_unexpected: Option<StatusCode>,
    /// Latencies of the counted answers, sorted, in nanoseconds.
    latencies: Vec<u64>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.counted as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// What went wrong, if anything: unexpected answers, or none at all in the window.
    pub fn problem(&self) -> Option<String> {
        let mut problems = Vec::new();
        if let Some(status) = self.first_unexpected {
            problems.push(format!(
                "{} unexpected answers (first: {status})",
                self.unexpected
            ));
        }
        if self.counted == 0 {
            problems.push("no request completed in the measured window".to_owned());
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// The `q`-quantile latency (0 < q < 1).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank =
            ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        Duration::from_nanos(self.latencies[rank - 1])
    }
}

impl Outcome {
    /// Adds another run's measurements of the same thing (the rows are measured in slices).
    pub fn merge(&mut self, other: Outcome) {
        self.counted += other.counted;
        self.total += other.total;
        self.window += other.window;
        self.ran_out |= other.ran_out;
        self.unexpected += other.unexpected;
        self.first_unexpected = self.first_unexpected.or(other.first_unexpected);
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
    }

    /// An outcome of work measured elsewhere (not over HTTP): every latency is counted.
    pub fn from_latencies(latencies: Vec<Duration>, total: u64, window: Duration) -> Self {
        let mut latencies: Vec<u64> = latencies.iter().map(|l| l.as_nanos() as u64).collect();
        latencies.sort_unstable();
        Self {
            counted: latencies.len() as u64,
            total,
            window,
            latencies,
            ..Self::default()
        }
    }
}

/// One answer: when it completed (relative to the measurement start) and how long it took.
struct Sample {
    completed: Duration,
    latency: Duration,
}

#[derive(Default)]
struct Shared {
    samples: Mutex<Vec<Sample>>,
    total: AtomicU64,
    unexpected: AtomicU64,
    first_unexpected: Mutex<Option<StatusCode>>,
    /// Nanoseconds after the measurement start at which the supply ran out (0: it did not).
    ran_out_at: AtomicU64,
}

/// Runs `plan` against the server at `addr`, expecting `expect` on every answer.
pub async fn run(addr: SocketAddr, plan: Plan, next: NextRequest, expect: StatusCode) -> Outcome {
    let shared = Arc::new(Shared::default());
    let mut senders = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        senders.push(connect(addr).await);
    }
    let start = Instant::now() + plan.warmup;
    let end = start + plan.duration;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, sender)| {
            let (shared, next) = (shared.clone(), next.clone());
            let pace = plan.pace.map(|period| {
                // Staggered, so the connections do not all send at the same instant.
                let offset = period.mul_f64(i as f64 / plan.connections as f64);
                (Instant::now() + offset, period)
            });
            tokio::spawn(connection(sender, start, end, pace, next, expect, shared))
        })
        .collect();
    for task in tasks {
        task.await.expect("a load connection panicked");
    }
    let shared = Arc::into_inner(shared).expect("every connection is done");
    let ran_out_at = shared.ran_out_at.into_inner();
    let window = if ran_out_at == 0 {
        plan.duration
    } else {
        Duration::from_nanos(ran_out_at).min(plan.duration)
    };
    let mut latencies: Vec<u64> = shared
        .samples
        .into_inner()
        .unwrap()
        .into_iter()
        .filter(|s| s.completed <= window)
        .map(|s| s.latency.as_nanos() as u64)
        .collect();
    latencies.sort_unstable();
    Outcome {
        counted: latencies.len() as u64,
        total: shared.total.into_inner(),
        window,
        ran_out: ran_out_at != 0,
        unexpected: shared.unexpected.into_inner(),
        first_unexpected: shared.first_unexpected.into_inner().unwrap(),
        latencies,
    }
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
}

async fn connection(
    mut sender: SendRequest<Full<Bytes>>,
    start: Instant,
    end: Instant,
    pace: Option<(Instant, Duration)>,
    next: NextRequest,
    expect: StatusCode,
    shared: Arc<Shared>,
) {
    let mut ticker = pace.map(|(first, period)| {
        let mut ticker = tokio::time::interval_at(first.into(), period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker
    });
    let mut samples = Vec::new();
    loop {
        if let Some(ticker) = &mut ticker {
            ticker.tick().await;
        }
        if Instant::now() >= end {
            break;
        }
        let Some(request) = next() else {
            let at = Instant::now().saturating_duration_since(start).as_nanos() as u64;
            // The earliest exhaustion wins; the window ends there.
            let _ = shared
                .ran_out_at
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                    (old == 0 || at.max(1) < old).then_some(at.max(1))
                });
            break;
        };
        sender.ready().await.expect("the connection stays open");
        let sent = Instant::now();
        let response = sender.send_request(request).await.expect("an answer");
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .expect("the whole body");
        let done = Instant::now();
        shared.total.fetch_add(1, Ordering::Relaxed);
        if status != expect {
            shared.unexpected.fetch_add(1, Ordering::Relaxed);
            shared
                .first_unexpected
                .lock()
                .unwrap()
                .get_or_insert(status);
        }
        if sent >= start && done <= end {
            samples.push(Sample {
                completed: done - start,
                latency: done - sent,
            });
        }
    }
    shared.samples.lock().unwrap().append(&mut samples);
}
