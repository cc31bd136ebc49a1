//! Notifiers: how a code reaches the user.
//!
//! Implementations: [`ConsoleNotifier`] (development) and `EmailNotifier` (feature `email`).

mod console;
#[cfg(feature = "email")]
mod email;
mod notifier;

pub use console::ConsoleNotifier;
#[cfg(feature = "email")]
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
pub use email::{EmailNotifier, EmailSetupError};
pub(crate) use notifier::DynNotifier;
pub use notifier::{Delivery, Notifier, NotifyError};
