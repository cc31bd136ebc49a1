//! The examples' serving function over real sockets: a client that is slow or silent is cut off
//! within the configured limits, and other clients are served meanwhile. The limits are short
//! here; the upper bounds the tests wait are long, so a loaded machine does not fail them.

#[path = "../examples/common/serve.rs"]
mod serve;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serve::{serve, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tower::ServiceBuilder;
use tower_otp::notify::ConsoleNotifier;
use tower_otp::{MemoryUserStore, OtpAuthLayer};

const HEADER_READ: Duration = Duration::from_millis(300);
const REQUEST: Duration = Duration::from_millis(300);
/// What "promptly" means on a loaded machine: far above the limits, far below forever.
const BOUND: Duration = Duration::from_secs(10);

fn limits() -> ServeConfig {
    ServeConfig {
        header_read_timeout: HEADER_READ,
        request_timeout: REQUEST,
        accept_failed: None,
    }
}

/// Answers with the peer address the serving function inserted, once the whole body is in.
async fn peer_after_body(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let peer = request.extensions().get::<SocketAddr>().copied();
    Ok(match (peer, request.into_body().collect().await) {
        (Some(peer), Ok(_)) => Response::new(Full::from(peer.to_string())),
        (None, _) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Full::from("no peer address"))
            .unwrap(),
        (_, Err(_)) => Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Full::from("body failed"))
            .unwrap(),
    })
}

/// The layer in front, as in the examples: its response body has no `Default`, which the
/// serving function must cope with.
async fn start_with_shutdown(
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (SocketAddr, JoinHandle<()>) {
    let app = ServiceBuilder::new()
        .layer(OtpAuthLayer::new(
            MemoryUserStore::default(),
            ConsoleNotifier::new(),
        ))
        .service_fn(peer_after_body);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tokio::spawn(serve(listener, app, limits(), shutdown)))
}

async fn start() -> SocketAddr {
    start_with_shutdown(std::future::pending()).await.0
}

/// Reads one response whose body has a `Content-Length`, leaving the connection open.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut bytes = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        let n = timeout(BOUND, stream.read(&mut chunk))
            .await
            .expect("the response arrives")
            .unwrap();
        assert!(n > 0, "closed before a whole response");
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .expect("a content-length")
            .parse()
            .unwrap();
        if body.len() >= length {
            let status = head[9..12].parse().unwrap();
            return (status, body.to_owned());
        }
    }
}

/// Waits until the server closes the connection, and returns what it sent before and how long
/// after `since` it closed.
async fn wait_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut bytes = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        match timeout(BOUND, stream.read(&mut chunk)).await {
            Err(_) => panic!("the server left the connection open for {BOUND:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    (
        String::from_utf8_lossy(&bytes).into_owned(),
        since.elapsed(),
    )
}

const GET: &[u8] = b"GET /peer HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test]
async fn a_half_sent_head_is_cut_off_while_other_clients_are_served() {
    let addr = start().await;
    let started = Instant::now();
    let mut slowloris = TcpStream::connect(addr).await.unwrap();
    slowloris
        .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        .await
        .unwrap();

    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(GET).await.unwrap();
    assert_eq!(
        read_response(&mut client).await,
        (200, client.local_addr().unwrap().to_string()),
        "served, with its peer address"
    );

    let (_, after) = wait_closed(&mut slowloris, started).await;
    assert!(
        after >= HEADER_READ,
        "closed by the timeout, after {after:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_is_closed() {
    let addr = start().await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let (sent, after) = wait_closed(&mut silent, started).await;
    assert!(
        after >= HEADER_READ,
        "closed by the timeout, after {after:?}"
    );
    assert!(!sent.starts_with("HTTP/1.1 2"), "{sent}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let addr = start().await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    // Two requests on one connection: keep-alive works until the connection idles.
    for _ in 0..2 {
        client.write_all(GET).await.unwrap();
        assert_eq!(read_response(&mut client).await.0, 200);
    }
    let (sent, _) = wait_closed(&mut client, Instant::now()).await;
    assert_eq!(sent, "", "nothing more after the responses");
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408_or_a_close() {
    let addr = start().await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    client
        .write_all(b"POST /peer HTTP/1.1\r\nHost: test\r\nContent-Length: 50\r\n\r\n{")
        .await
        .unwrap();
    let (sent, after) = wait_closed(&mut client, started).await;
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "a timeout answer, not: {sent}"
    );
    assert!(after >= REQUEST, "cut off by the timeout, after {after:?}");
}

#[tokio::test]
async fn shutdown_ends_serving_with_a_keep_alive_connection_open() {
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, server) = start_with_shutdown(async {
        let _ = stopped.await;
    })
    .await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(GET).await.unwrap();
    assert_eq!(read_response(&mut idle).await.0, 200);

    stop.send(()).unwrap();
    timeout(BOUND, server)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
