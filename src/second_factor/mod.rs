//! Second factors a user enrols: an authenticator app (RFC 6238 TOTP) and recovery codes.
//!
//! An enrollment is the user's durable data: it lives in a [`SecondFactorStore`] that the
//! application implements over its own database, like the [`UserStore`](crate::UserStore)
//! ([`MemorySecondFactorStore`] for examples and tests). It holds the app's secret
//! [sealed](SealedSecret) under a key derived from the layer's secret key, and the recovery
//! codes as HMACs under it: a copy of the storage alone yields no working code.
//!
//! What is ephemeral (a pending setup, the last accepted time step, attempt counters) lives in
//! the layer's [`StateStore`](crate::store::StateStore), with TTLs.

mod authenticator;
mod keyring;
mod memory;
mod recovery;
mod sealing;
mod store;

pub use memory::MemorySecondFactorStore;
pub use sealing::SealedSecret;
pub use store::{Enrollment, RecoveryCodes, SecondFactorStore, SecondFactorStoreError};

pub(crate) use authenticator::{qr_svg, AppSecret, STEP_SECONDS};
pub(crate) use keyring::Keyring;
pub(crate) use recovery::{generate_recovery_codes, normalise_recovery_code};
pub(crate) use store::DynSecondFactorStore;
