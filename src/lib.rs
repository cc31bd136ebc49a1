//! Two-factor authentication for any tower HTTP service, as one layer.
//!
//! [`OtpAuthLayer`] wraps an axum `Router`, a hyper `service_fn`, a tonic server or any other
//! tower service of `http::Request`s. It answers four endpoints itself, wire-compatible with
//! the Python package django-drf-otp:
//!
//! | request | answer |
//! |---|---|
//! | `POST /api-auth/login/` `{username, password}` | a code goes to the user; `{"detail", "otp_ttl", "otp_created_date", "challenge"}` |
//! | `POST /api-auth/verify-token/` `{challenge, token}` | `{"token": "<key>"}` |
//! | `POST /api-auth/resend-token/` `{challenge}` | a new code, the old one dies |
//! | `POST /api-auth/logout/` with `Authorization: Token <key>` | 204, the token is revoked |
//!
//! Every other request passes through; one with `Authorization: Token <key>` (or `Bearer`)
//! reaches your service with an [`AuthenticatedUser`] in its extensions, and paths marked
//! [protected](OtpAuthBuilder::with_protected_path) answer 401 without one.
//!
//! The parts are pluggable: a [`UserStore`] (your users; [`MemoryUserStore`] for examples), a
//! [`StateStore`](store::StateStore) ([`MemoryStore`](store::MemoryStore) by default,
//! `RedisStore` with the `redis-store` feature), a [`Notifier`](notify::Notifier)
//! ([`ConsoleNotifier`](notify::ConsoleNotifier) for development, `EmailNotifier` with the
//! `email` feature) and an [`OtpStrategy`](strategy::OtpStrategy). The [`flow`] itself is
//! public too, for applications that run it from their own handlers.
//!
//! Names: in the Rust API the one-time thing is a **code** (sent to the user) and the bearer
//! thing a **token** (handed out by a successful verify); the wire and the settings keep
//! django-drf-otp's names, where the verify body's `token` and `token_length` mean the code.
//!
//! ```
//! use axum::{routing::get, Extension, Router};
//! use tower_otp::{hash_password, notify::ConsoleNotifier, AuthenticatedUser, MemoryUserStore, OtpAuthLayer, User};
//!
//! let users = MemoryUserStore::new([User {
//!     id: "1".into(),
//!     username: "alice".into(),
//!     email: "alice@example.com".into(),
//!     first_name: "Alice".into(),
//!     last_name: "Liddell".into(),
//!     is_active: true,
//!     password_hash: hash_password("correct horse battery staple").unwrap(),
//! }]);
//!
//! let app: Router = Router::new()
//!     .route("/api/me", get(|Extension(user): Extension<AuthenticatedUser>| async move { user.username }))
//!     .layer(
//!         OtpAuthLayer::builder(users, ConsoleNotifier::new())
//!             .with_protected_path("/api/")
//!             .build()
//!             .unwrap(),
//!     );
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(unreachable_pub)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticated;
mod body;
mod boxed;
mod builder;
mod client;
mod clock;
mod config;
mod cookies;
mod error;
mod event;
mod future;
mod grpc;
mod layer;
mod password;
mod response;
mod routing;
mod service;
mod state;
mod token;
mod user;
mod wire;

#[cfg(feature = "__bench")]
#[doc(hidden)]
pub mod __bench;
pub mod flow;
pub mod metrics;
pub mod notify;
pub mod second_factor;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub mod sql;
pub mod store;
pub mod strategy;

pub use authenticated::AuthenticatedUser;
#[cfg(feature = "axum")]
pub use authenticated::NotAuthenticated;
pub use body::ResponseBody;
pub use builder::OtpAuthBuilder;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    CodeType, ConfigError, ConfigErrors, EmailConfig, OtpSettings, SameSite, TokenTransport,
};
pub use error::OtpError;
pub use event::{AuthEvent, Backend, CodeFailure, LoginFailure};
pub use future::ResponseFuture;
pub use layer::OtpAuthLayer;
pub use password::{
    hash_password, verify_password, PasswordError, ARGON2_STAND_IN, DJANGO_PBKDF2_STAND_IN,
};
pub use routing::Endpoint;
pub use service::OtpAuth;
pub use user::{MemoryUserStore, User, UserStore, UserStoreError};

/// The `lettre` that [`EmailNotifier`](notify::EmailNotifier) is built on, for building a
/// transport or a mailbox with matching versions.
#[cfg(feature = "email")]
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
pub use lettre;
/// The `redis` that [`RedisStore`](store::RedisStore) is built on, for building a connection
/// manager or a cluster client with matching versions.
#[cfg(feature = "redis-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
pub use redis;

/// The `sqlx` that the [`sql`] stores are built on, for pools and errors of matching versions.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use sqlx;

// The README's Rust snippets compile and run as doctests.
#[cfg(all(doctest, feature = "redis-store", feature = "email"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
