//! The store conformance suite against `RedisStore` on one node and on a cluster, plus what only
//! Redis can show: TTLs on every key, failing closed, recovering, several instances as one.
//!
//! Needs `redis-server` and `redis-cli` (see `tests/common/redis.rs`).
#![cfg(feature = "redis-store")]

#[path = "../common/mod.rs"]
mod common;

mod client_cache;
mod faults;
mod instances;
mod records;

mod single {
    crate::store_conformance_tests!(async { crate::common::redis::single_store() });
}

mod cluster {
    crate::store_conformance_tests!(async { crate::common::redis::cluster_store() });
}
