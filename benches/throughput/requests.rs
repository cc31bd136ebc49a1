//! The rows' requests: built as the load loop sends them, and the supplies that hand them out
//! (the same GET, token GETs, POSTs of prepared bodies, verifies of fresh challenges).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::Full;

use crate::load::NextRequest;
use crate::servers::{AppOf, Servers};
use crate::support::{login_body, verify_body, wrong_code};

/// A request as the load loop sends it; headers are built beforehand, so that every row's
/// client does the same work per request.
fn request(
    method: Method,
    path: &'static str,
    authorization: Option<&HeaderValue>,
    body: Option<Bytes>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value.clone());
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Full::new(body.unwrap_or_default()))
        .expect("a valid request")
}

/// The same GET forever.
pub fn same_get(path: &'static str) -> NextRequest {
    Arc::new(move || Some(request(Method::GET, path, None, None)))
}

/// GETs with each token in turn.
pub fn token_gets(tokens: Vec<String>) -> NextRequest {
    let tokens: Vec<HeaderValue> = tokens
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Token {t}")).expect("a valid header"))
        .collect();
    let next = AtomicUsize::new(0);
    Arc::new(move || {
        let token = &tokens[next.fetch_add(1, Ordering::Relaxed) % tokens.len()];
        Some(request(Method::GET, "/api/me", Some(token), None))
    })
}

/// POSTs of the bodies in turn; with `once`, each body is sent once and then the supply ends.
pub fn posts(path: &'static str, bodies: Vec<Bytes>, once: bool) -> NextRequest {
    let next = AtomicUsize::new(0);
    Arc::new(move || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let body = if once {
            bodies.get(i)?.clone()
        } else {
            bodies[i % bodies.len()].clone()
        };
        Some(request(Method::POST, path, None, Some(body)))
    })
}

/// Logins of `argon-<i>` users, one per connection (a user's new login replaces its challenge).
pub fn logins(users: usize) -> NextRequest {
    let bodies = (0..users)
        .map(|i| Bytes::from(login_body(&format!("argon-{i}"))))
        .collect();
    posts("/api-auth/login/", bodies, false)
}

/// Logs `count` fresh users in through `app` (many at once) and returns their verify bodies,
/// with the right code or, if `wrong`, a wrong one.
pub async fn prepare_challenges(
    servers: &Arc<Servers>,
    app: AppOf,
    count: usize,
    wrong: bool,
) -> Vec<Bytes> {
    let next = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (servers, next, bodies) = (servers.clone(), next.clone(), bodies.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let user = servers.fresh_user();
                    let (challenge, code) = app(&servers).app.login(&user).await;
                    let code = if wrong { wrong_code(&code) } else { code };
                    let body = Bytes::from(verify_body(&challenge, &code));
                    bodies.lock().unwrap().push(body);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a set-up task panicked");
    }
    Arc::into_inner(bodies).unwrap().into_inner().unwrap()
}
