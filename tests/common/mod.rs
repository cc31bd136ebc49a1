//! Helpers shared by the integration tests.
#![allow(dead_code, unused_imports)]

#[cfg(all(feature = "axum", feature = "memory-store"))]
pub mod app;
#[cfg(all(feature = "axum", feature = "memory-store"))]
pub mod authenticator;
pub mod net;
pub mod smtp;
#[macro_use]
pub mod conformance;

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis-store")]
pub mod redis;
pub mod redis_server;
