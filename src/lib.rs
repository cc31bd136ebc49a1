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

/// The `lettre` that [`EmailNotifier`](notify::EmailNotifier) is built on, for building a
/// transport or a mailbox with matching versions.
#[cfg(feature = "email")]
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
pub use lettre;
/// The `minijinja` that renders [`EmailNotifier`](notify::EmailNotifier)'s templates.
#[cfg(feature = "email")]
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
pub use minijinja;
