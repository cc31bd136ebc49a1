//! Two-factor authentication for any tower HTTP service, as one layer.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod config;
mod password;
mod user;

pub mod notify;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, EmailConfig, OtpSettings, TokenType};
pub use password::{hash_password, verify_password, PasswordError};
pub use user::{MemoryUserStore, User, UserStore, UserStoreError};

/// The `redis` crate this crate's [`RedisStore`](store::RedisStore) is built on, so an
/// application uses the matching version (e.g. for
/// [`RedisStore::from_connection_manager`](store::RedisStore::from_connection_manager)).
#[cfg(feature = "redis-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
pub use redis;
