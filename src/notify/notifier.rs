//! The [`Notifier`] trait and what it is handed: a code to deliver, and its errors.

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::user::User;

/// One code to deliver. Its `Debug` output leaves the code out.
///
/// Built by the layer; its fields are public so that a notifier's own tests can build one.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// The recipient.
    pub user: &'a User,
    /// The code itself. Never log it.
    pub code: &'a str,
    /// How long the code is valid.
    pub ttl: Duration,
    /// When the code was issued.
    pub issued_at: SystemTime,
    /// Extra template context from the application's hook
    /// ([`OtpAuthBuilder::with_extra_context`](crate::OtpAuthBuilder::with_extra_context)).
    pub extra_context: &'a serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for Delivery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("user", self.user)
            .field("code", &"<redacted>")
            .field("ttl", &self.ttl)
            .field("issued_at", &self.issued_at)
            .field("extra_context", self.extra_context)
            .finish()
    }
}

/// A delivery failure. The layer answers 503 and kills the undelivered code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The delivery service could not be reached or refused the message.
    #[error("delivery failed: {0}")]
    Unavailable(String),
    /// The delivery did not finish in time.
    #[error("delivery timed out after {0:?}")]
    Timeout(Duration),
    /// The user has no address to send to.
    #[error("the user has no address to deliver to")]
    NoAddress,
    /// The message could not be built (template or address error).
    #[error("message could not be built: {0}")]
    Message(String),
}

/// Delivers codes to users.
///
/// ```
/// use tower_otp::notify::{Delivery, Notifier, NotifyError};
///
/// struct Sms;
///
/// impl Notifier for Sms {
///     async fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), NotifyError> {
///         // send delivery.code to the user's phone
///         Ok(())
///     }
/// }
/// ```
pub trait Notifier: Send + Sync + 'static {
    /// Delivers one code. Return only once the delivery is accepted by the next hop, so a
    /// failure can be reported to the client.
    fn deliver(
        &self,
        delivery: &Delivery<'_>,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

use crate::boxed::BoxFuture;

/// The object-safe twin of [`Notifier`].
pub(crate) trait DynNotifier: Send + Sync + 'static {
    fn deliver<'a>(&'a self, delivery: &'a Delivery<'a>) -> BoxFuture<'a, Result<(), NotifyError>>;
}

impl<T: Notifier> DynNotifier for T {
    fn deliver<'a>(&'a self, delivery: &'a Delivery<'a>) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(Notifier::deliver(self, delivery))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_leaves_the_code_out() {
        let user = User {
            id: "1".into(),
            username: "alice".into(),
            email: "alice@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            password_hash: "$argon2id$secret-hash".into(),
        };
        let extra = serde_json::Map::new();
        let delivery = Delivery {
            user: &user,
            code: "482913",
            ttl: Duration::from_secs(300),
            issued_at: SystemTime::UNIX_EPOCH,
            extra_context: &extra,
        };
        let debug = format!("{delivery:?}");
        assert!(debug.contains("alice"));
        assert!(!debug.contains("482913"), "{debug}");
        assert!(!debug.contains("secret-hash"), "{debug}");
    }
}
