//! Network peers that misbehave, for the fail-closed tests.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// A loopback server that accepts every connection and never sends a byte: a backend that
/// hangs. It lives as long as the test's runtime.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}
