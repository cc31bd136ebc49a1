//! Micro-benchmarks of the hot paths: code generation per strategy, token issuing and hashing,
//! password hashing, and the layer's flows through `ServiceExt::oneshot` on a `MemoryStore`.
//!
//! ```text
//! cargo bench --bench micro                 # everything
//! cargo bench --bench micro -- layer/       # one group
//! cargo bench --bench micro -- --test       # each benchmark once, as a smoke test
//! ```
//!
//! Compare the `layer/` rows with each other (`bare_router` is the same router without the
//! layer); absolute times depend on the machine.

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{header, Request, StatusCode};
use support::{
    login_body, post_json, routes, verify_request, wrong_code, App, BenchUsers, PASSWORD,
};
use tower::ServiceExt;
use tower_otp::__bench::{hotp_value, totp_value};
use tower_otp::__bench::{new_auth_token, parse_auth_token, ServerKey};
use tower_otp::store::MemoryStore;
use tower_otp::strategy::RandomCodeStrategy;
use tower_otp::strategy::{OtpStrategy, PerChallengeHotpStrategy, PerChallengeTotpStrategy};
use tower_otp::{hash_password, verify_password};

fn strategies(c: &mut Criterion) {
    let mut group = c.benchmark_group("strategy");
    let now = SystemTime::now();
    // A fresh code: a new 160-bit secret from the OS, then the HOTP/TOTP value (or digits).
    group.bench_function("generate/totp", |b| {
        let s = PerChallengeTotpStrategy::new(300);
        b.iter(|| s.generate(black_box(6), now))
    });
    group.bench_function("generate/hotp", |b| {
        b.iter(|| PerChallengeHotpStrategy.generate(black_box(6), now))
    });
    group.bench_function("generate/random_code", |b| {
        b.iter(|| RandomCodeStrategy.generate(black_box(6), now))
    });
    // The value alone, from a fixed secret: what an authenticator app computes to verify.
    let secret = b"12345678901234567890";
    group.bench_function("value/totp", |b| {
        b.iter(|| totp_value(black_box(secret), 6, 30, black_box(59)))
    });
    group.bench_function("value/hotp", |b| {
        b.iter(|| hotp_value(black_box(secret), 6, black_box(7)))
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let mut group = c.benchmark_group("token");
    let key = ServerKey::random();
    let account = key.account_key("42");
    let (token, _) = new_auth_token(&account);
    // 256 bits from the OS, base64url, SHA-256: what every verify issues.
    group.bench_function("issue", |b| b.iter(|| new_auth_token(black_box(&account))));
    // What every token-authenticated request does before the store lookup.
    group.bench_function("parse_and_hash", |b| {
        b.iter(|| parse_auth_token(black_box(&token)).unwrap())
    });
    // Code verification compares HMACs of codes: one per verify (and one per code sent).
    group.bench_function("code_digest", |b| {
        b.iter(|| key.code_digest(black_box(&account), black_box("123456")))
    });
    group.bench_function("account_key", |b| {
        b.iter(|| key.account_key(black_box("42")))
    });
    group.finish();
}

fn passwords(c: &mut Criterion) {
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    let hash = hash_password(PASSWORD).unwrap();
    group.bench_function("hash_argon2id", |b| b.iter(|| hash_password(PASSWORD)));
    let rt = runtime();
    group.bench_function("verify_argon2id", |b| {
        b.to_async(&rt)
            .iter(|| verify_password(hash.clone(), PASSWORD.to_owned()))
    });
    group.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every `fast-<n>` user logs in once: a second login would kill the first one's challenge.
fn fresh_user() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("fast-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Token {token}"));
    }
    request.body(Body::empty()).unwrap()
}

fn layer_flows(c: &mut Criterion) {
    let rt = runtime();
    let app = App::new(&BenchUsers::new(), |layer| {
        layer.with_store(MemoryStore::new())
    });
    let bare = routes();
    let mut group = c.benchmark_group("layer");

    group.bench_function("bare_router", |b| {
        b.to_async(&rt).iter(|| async {
            let response = bare.clone().oneshot(get("/health", None)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        })
    });
    group.bench_function("pass_through", |b| {
        b.to_async(&rt).iter(|| async {
            let response = app.router.clone().oneshot(get("/health", None)).await;
            assert_eq!(response.unwrap().status(), StatusCode::OK);
        })
    });

    let token = rt.block_on(app.token(&fresh_user()));
    group.bench_function("token_authenticated", |b| {
        b.to_async(&rt).iter(|| async {
            let response = app
                .router
                .clone()
                .oneshot(get("/api/me", Some(&token)))
                .await;
            assert_eq!(response.unwrap().status(), StatusCode::OK);
        })
    });

    // Each verify consumes a challenge: prepare them outside the timed part.
    group.bench_function("verify", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let app = &app;
            async move {
                let mut requests = Vec::with_capacity(iters as usize);
                for _ in 0..iters {
                    let (challenge, code) = app.login(&fresh_user()).await;
                    requests.push(verify_request(&challenge, &code));
                }
                let started = Instant::now();
                for request in requests {
                    let response = app.router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                }
                started.elapsed()
            }
        })
    });

    let (challenge, code) = rt.block_on(app.login(&fresh_user()));
    let wrong = wrong_code(&code);
    group.bench_function("wrong_code_verify", |b| {
        b.to_async(&rt).iter_batched(
            || verify_request(&challenge, &wrong),
            |request| async {
                let response = app.router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            },
            BatchSize::SmallInput,
        )
    });

    // The password step with argon2id: one hash verification on the blocking pool.
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    let argon2_rt = tokio::runtime::Runtime::new().unwrap();
    group.bench_function("login_argon2id", |b| {
        b.to_async(&argon2_rt).iter(|| async {
            let request = post_json("/api-auth/login/", login_body("argon-1"));
            let response = app.router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        })
    });
    group.finish();
}

criterion_group!(benches, strategies, tokens, passwords, layer_flows);
criterion_main!(benches);
