//! Serving a service over TCP so that no client can hold the server: every wait on a client is
//! bounded, and running out of descriptors pauses accepting instead of ending the server.
//!
//! HTTP/1.1 only: hyper's HTTP/2 server has no header-read or idle timeout, and HTTP/2 belongs
//! behind TLS, which a reverse proxy in front of this server terminates.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::{Service, ServiceBuilder};
use tower_http::timeout::TimeoutLayer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a client may take to send a request head, counted from the accept or from the end
/// of the previous response. Since hyper 1.6 the same timer runs while a keep-alive connection
/// waits for its next request, so this is the idle limit too: slow headers and idle
/// connections both cost an attacker a reconnect every 10 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take from its head to its response, the arrival of its body
/// included: a body that stalls or trickles in gets 408, and so does a handler that hangs.
/// Longer than the layer's own `body_read_timeout` (10 s by default), so that on the layer's
/// endpoints a stalled body gets the layer's own 408 first.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The first pause after a failed accept; it doubles on each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);

/// The longest pause: running out of descriptors usually lasts until some connections time
/// out, and the accept after this pause picks up the connections that queued meanwhile.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The limits of [`serve`]: [`ServeConfig::default`] is what the examples run with; the tests
/// shorten them.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// Woken after each failed accept, so that a test can wait for one rather than sleep.
    pub accept_failed: Option<Arc<Notify>>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            accept_failed: None,
        }
    }
}

impl fmt::Display for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request head within {:?} of connecting or of the previous response \
             (so idle connections close then too), response within {:?} of the head (else 408)",
            self.header_read_timeout, self.request_timeout
        )
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish for at most the request timeout. Each request carries the peer's `SocketAddr` in its
/// extensions, where the layer's per-client login limit looks for it.
pub async fn serve<S, B>(
    listener: TcpListener,
    app: S,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut accept_errors = AcceptErrors::new(config.accept_failed.clone());
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept_errors.accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let service = ServiceBuilder::new()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(peer);
                request
            })
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                config.request_timeout,
            ))
            // `TimeoutLayer` makes its 408 from the body type's `Default`, which the layer's
            // response body does not have.
            .map_response(|response: Response<B>| {
                response.map(|body| UnsyncBoxBody::new(body.map_err(Into::into)))
            })
            .service(app.clone());
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            // Timeouts and clients that leave end connections with an error: nothing to do.
            let _ = connection.await;
        });
    }

    drop(listener);
    // Requests in flight get their answer within the request timeout; what remains after it is
    // a client slow to read its response, not worth holding the shutdown for.
    let _ = tokio::time::timeout(config.request_timeout, graceful.shutdown()).await;
}

/// Accepts with a pause after each failure that is not a client's but the server's (out of
/// descriptors, buffers or memory: `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, or anything
/// unforeseen), as axum's `serve` and hyper 0.14's `AddrIncoming` do, but with a short first
/// pause that grows, so that a brief shortage costs little and a long one does not spin.
struct AcceptErrors {
    /// The next pause while failures come in a row.
    pause: Option<Duration>,
    /// A server held at its descriptor limit fails again after every accept that succeeds,
    /// so failures are counted and reported at most once per [`REPORT_INTERVAL`].
    last_report: Option<Instant>,
    unreported: u64,
    notify: Option<Arc<Notify>>,
}

const REPORT_INTERVAL: Duration = Duration::from_secs(10);

impl AcceptErrors {
    fn new(notify: Option<Arc<Notify>>) -> Self {
        Self {
            pause: None,
            last_report: None,
            unreported: 0,
            notify,
        }
    }

    async fn accept(&mut self, listener: &TcpListener) -> (TcpStream, SocketAddr) {
        loop {
            match listener.accept().await {
                Ok(accepted) => {
                    self.pause = None;
                    return accepted;
                }
                Err(e) if is_client_gone(&e) => continue,
                Err(e) => {
                    self.unreported += 1;
                    if self
                        .last_report
                        .is_none_or(|at| at.elapsed() >= REPORT_INTERVAL)
                    {
                        eprintln!(
                            "accept failed: {e} (failures since the last report: {}); \
                             retrying after pauses of {FIRST_BACKOFF:?} to {MAX_BACKOFF:?}",
                            self.unreported
                        );
                        self.last_report = Some(Instant::now());
                        self.unreported = 0;
                    }
                    let pause = self
                        .pause
                        .map_or(FIRST_BACKOFF, |pause| (pause * 2).min(MAX_BACKOFF));
                    self.pause = Some(pause);
                    if let Some(notify) = &self.notify {
                        notify.notify_one();
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

/// Failures of one connection, which its client gave up on or the network lost before the
/// accept (Linux's accept(2) reports a pending network error of the new connection as its own):
/// the listener is fine and the next connection can be accepted at once.
fn is_client_gone(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted
            | ConnectionReset
            | ConnectionRefused
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
            | PermissionDenied
    )
}
