//! The examples' serving function when the process runs out of file descriptors: accepting
//! pauses, the server stays up, and it serves again once connections close. A binary of its
//! own, with one test, because the descriptor limit is the whole process's.
#![cfg(target_os = "linux")]

#[path = "../examples/common/serve.rs"]
mod serve;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use rlimit::Resource;
use serve::{serve, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio::time::timeout;

/// Descriptors left free under the lowered limit: the server accepts this many connections at
/// most, and fails on the next.
const HEADROOM: usize = 4;
const CLIENTS: usize = 4 * HEADROOM;
const BOUND: Duration = Duration::from_secs(10);

async fn ok(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::from("ok")))
}

/// The soft limit under which `free` descriptor numbers are unused (one more once the listing's
/// own descriptor is closed): the kernel hands out the lowest free number, and refuses one at or
/// above the limit.
fn limit_leaving_free(free: usize) -> u64 {
    let open: Vec<usize> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut unused = 0;
    let mut number = 0;
    while unused < free {
        if !open.contains(&number) {
            unused += 1;
        }
        number += 1;
    }
    number as u64
}

async fn get(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn out_of_descriptors_the_server_pauses_accepting_and_recovers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept_failed = Arc::new(Notify::new());
    let config = ServeConfig {
        // Long enough that the server does not free descriptors itself before the test
        // closes its clients.
        header_read_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_secs(60),
        accept_failed: Some(accept_failed.clone()),
    };
    let server = tokio::spawn(serve(
        listener,
        tower::service_fn(ok),
        config,
        std::future::pending(),
    ));

    // Made before the limit is lowered: connecting needs no new descriptor, so only the
    // server's accepts run out.
    let sockets: Vec<TcpSocket> = (0..CLIENTS).map(|_| TcpSocket::new_v4().unwrap()).collect();
    let (soft, hard) = Resource::NOFILE.get().unwrap();
    Resource::NOFILE
        .set(limit_leaving_free(HEADROOM), hard)
        .unwrap();
    let mut clients = Vec::new();
    for socket in sockets {
        clients.push(socket.connect(addr).await.unwrap());
    }

    timeout(BOUND, accept_failed.notified())
        .await
        .expect("the server runs out of descriptors");
    assert!(!server.is_finished(), "the server is still up");

    drop(clients);
    let response = timeout(BOUND, get(addr))
        .await
        .expect("served once the clients are gone");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(!server.is_finished());

    Resource::NOFILE.set(soft, hard).unwrap();
}
