//! Helpers shared by the integration tests.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod smtp;
#[macro_use]
pub mod conformance;

#[cfg(feature = "redis-store")]
pub mod redis;
