//! [`OtpAuthLayer`]: the configured layer, cheap to clone, and what an application does with it
//! besides layering (the flow, revocations).

use std::sync::Arc;

use tower_layer::Layer;

use crate::config::OtpSettings;
use crate::event::AuthEvent;
use crate::flow::{revoke_everything, Flow};
use crate::service::OtpAuth;
use crate::state::State;
use crate::store::StoreError;

/// Two-factor authentication for a tower service: the layer that makes [`OtpAuth`], built by
/// [`OtpAuthLayer::builder`] (or [`OtpAuthLayer::new`] with the defaults).
///
/// The layer answers `POST` requests to its login, verify, resend and logout paths itself. On
/// every other request it checks an `Authorization: Token <key>` (or `Bearer <key>`) header:
/// a valid token puts an [`AuthenticatedUser`](crate::AuthenticatedUser) in the request's
/// extensions, an invalid one gets 401, and no header passes the request on untouched (or gets
/// 401 under a [protected path](crate::OtpAuthBuilder::with_protected_path)).
///
/// Cloning is cheap (the configuration sits behind an `Arc`).
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
///
/// let users = MemoryUserStore::new([]);
/// let app: Router = Router::new()
///     .route("/api/me", get(|| async { "hello" }))
///     .layer(
///         OtpAuthLayer::builder(users, ConsoleNotifier::new())
///             .with_protected_path("/api/")
///             .build()
///             .unwrap(),
///     );
/// ```
#[derive(Clone)]
#[must_use]
pub struct OtpAuthLayer {
    state: Arc<State>,
}

impl std::fmt::Debug for OtpAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpAuthLayer")
            .field("settings", &self.state.settings)
            .finish_non_exhaustive()
    }
}

impl OtpAuthLayer {
    pub(crate) fn from_state(state: State) -> Self {
        Self {
            state: Arc::new(state),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &OtpSettings {
        &self.state.settings
    }

    /// The two-factor flow of this layer, to run from your own handlers: the same stores,
    /// limits, lockout and events as the layer's endpoints. See [`Flow`].
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new());
    /// let refused = layer.flow().authenticate("not-a-token").await;
    /// assert!(matches!(refused, Err(tower_otp::flow::FlowError::InvalidToken)));
    /// # }
    /// ```
    pub fn flow(&self) -> Flow {
        Flow::new(self.state.clone())
    }

    /// Revokes every token of a user, at once, wherever they are used (e.g. after a password
    /// change or from an admin action), and forgets every device remembered for the user.
    /// Returns how many tokens the store held.
    pub async fn revoke_all_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let state = &self.state;
        let account = state.key.account_key("user", user_id);
        let revoked = revoke_everything(state, &account).await?;
        state.emit(AuthEvent::TokenRevoked {
            user_id: Some(user_id.to_owned()),
            account,
            client_ip: None,
            all: true,
        });
        Ok(revoked)
    }

    /// Forgets every remembered device of a user: their next logins need a code again. Returns
    /// how many there were. ([`revoke_all_tokens`](Self::revoke_all_tokens) does it too.)
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new());
    /// // e.g. after a password change: every browser must show a code again.
    /// assert_eq!(layer.revoke_all_devices("42").await.unwrap(), 0);
    /// # }
    /// ```
    pub async fn revoke_all_devices(&self, user_id: &str) -> Result<u64, StoreError> {
        let account = self.state.key.account_key("user", user_id);
        self.state.store.revoke_all_devices(&account).await
    }
}

impl<S> Layer<S> for OtpAuthLayer {
    type Service = OtpAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtpAuth::new(inner, self.state.clone())
    }
}
