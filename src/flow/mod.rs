//! The two-factor flow apart from HTTP: log in, verify a code, resend it, authenticate a token,
//! log out. Typed inputs, typed outcomes and one error enum; what goes over the wire (fields,
//! DRF-shaped bodies, status codes) is decided elsewhere, from these outcomes.
//!
//! [`OtpAuthLayer`](crate::OtpAuthLayer) runs it for its own endpoints; an application runs it
//! from its own handlers through [`OtpAuthLayer::flow`](crate::OtpAuthLayer::flow), with the
//! same stores, limits, lockout and events.

mod authenticate;
mod credentials;
mod delivery;
mod login;
mod logout;
mod resend;
mod verify;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::authenticated::AuthenticatedUser;
use crate::error::OtpError;
use crate::event::AuthEvent;
use crate::state::State;
use crate::token::{parse_auth_token, Presented};
use crate::user::User;

pub(crate) use authenticate::authenticate;
pub(crate) use login::login;
pub(crate) use logout::logout;
pub(crate) use resend::resend;
pub(crate) use verify::{ensure_otp_enabled, verify, verify_with_password};

/// The two-factor flow of a layer, to run from an application's own handlers: the same stores,
/// settings, limits, lockout and events as the layer's endpoints. Cheap to clone.
///
/// In this API the one-time thing is a **code** (delivered to the user) and the bearer thing a
/// **token** (what a successful login hands out); the wire format keeps django-drf-otp's names,
/// where the verify body's `token` field is the code.
///
/// ```
/// use tower_otp::flow::{Client, Login};
/// use tower_otp::{hash_password, notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer, User};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let users = MemoryUserStore::new([User {
///     id: "1".into(),
///     username: "alice".into(),
///     email: "alice@example.com".into(),
///     first_name: "Alice".into(),
///     last_name: "Liddell".into(),
///     is_active: true,
///     password_hash: hash_password("correct horse battery staple")?,
/// }]);
/// let layer = OtpAuthLayer::new(users, ConsoleNotifier::new());
/// let flow = layer.flow();
///
/// let client = Client::new(Some("192.0.2.7".parse()?));
/// let Login::CodeSent(pending) = flow.login("alice", "correct horse battery staple", &client).await?
/// else {
///     unreachable!("OTP is on by default");
/// };
/// // The code went to the console; a wrong one is refused.
/// assert!(flow.verify(&pending.challenge, "not-it", &client).await.is_err());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Flow {
    state: Arc<State>,
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow").finish_non_exhaustive()
    }
}

impl Flow {
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// Checks a username and password and, with OTP on, sends a code; with OTP off, signs in.
    ///
    /// Refuses with [`FlowError::InvalidCredentials`] alike for an unknown user, an inactive
    /// user, a wrong password and a locked account.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &Client<'_>,
    ) -> Result<Login, FlowError> {
        login(&self.state, username, password, client).await
    }

    /// Checks the code of a pending login and signs in.
    pub async fn verify(
        &self,
        challenge: &str,
        code: &str,
        client: &Client<'_>,
    ) -> Result<SignedIn, FlowError> {
        verify(&self.state, challenge, code, client).await
    }

    /// Checks the code of the user's pending login, the user named by username and password
    /// (django-drf-otp 0.0.11's verify body), and signs in.
    pub async fn verify_with_password(
        &self,
        username: &str,
        password: &str,
        code: &str,
        client: &Client<'_>,
    ) -> Result<SignedIn, FlowError> {
        verify_with_password(&self.state, username, password, code, client).await
    }

    /// Sends a new code for a pending login; the previous code dies.
    pub async fn resend(
        &self,
        challenge: &str,
        client: &Client<'_>,
    ) -> Result<PendingLogin, FlowError> {
        resend(&self.state, challenge, client).await
    }

    /// The user a token belongs to, if it is live ([`FlowError::InvalidToken`] otherwise);
    /// restarts its idle timer.
    pub async fn authenticate(&self, token: &str) -> Result<AuthenticatedUser, FlowError> {
        authenticate(&self.state, &presented_token(token)?).await
    }

    /// Revokes a live token, or with [`Logout::Everywhere`] every token of its user.
    pub async fn logout(
        &self,
        token: &str,
        scope: Logout,
        client: &Client<'_>,
    ) -> Result<(), FlowError> {
        logout(&self.state, &presented_token(token)?, scope, client).await
    }
}

fn presented_token(token: &str) -> Result<Presented, FlowError> {
    parse_auth_token(token).ok_or(FlowError::InvalidToken)
}

/// Who is calling: for the per-client login limit and the events, and what to add to the
/// template context of the codes sent to it.
#[derive(Clone, Copy, Default)]
pub struct Client<'a> {
    ip: Option<IpAddr>,
    extra_context: Option<&'a ExtraContext<'a>>,
}

/// Extra template context for a code's message, computed for the user it goes to.
pub type ExtraContext<'a> = dyn Fn(&User) -> Map<String, Value> + Sync + 'a;

impl<'a> Client<'a> {
    /// A client known by its IP, if any. Without one the per-client login limit does not apply
    /// to it (and the layer reports that once, as [`AuthEvent::ClientIpUnknown`]).
    pub fn new(ip: Option<IpAddr>) -> Self {
        Self {
            ip,
            extra_context: None,
        }
    }

    /// Adds template context to the codes sent to this client (the layer's endpoints pass
    /// what [`with_extra_context`](crate::OtpAuthBuilder::with_extra_context) computes from the
    /// request).
    ///
    /// ```
    /// use serde_json::{json, Map, Value};
    /// use tower_otp::{flow::Client, User};
    ///
    /// let footer = |_: &User| -> Map<String, Value> {
    ///     let mut context = Map::new();
    ///     context.insert("footer".into(), json!("Sent from the support desk"));
    ///     context
    /// };
    /// let client = Client::new(None).with_extra_context(&footer);
    /// # let _ = client;
    /// ```
    pub fn with_extra_context(mut self, context: &'a ExtraContext<'a>) -> Self {
        self.extra_context = Some(context);
        self
    }

    /// The client's IP.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The extra template context for a code sent to `user`.
    pub(crate) fn extra_context_for(&self, user: &User) -> Map<String, Value> {
        self.extra_context
            .map(|context| context(user))
            .unwrap_or_default()
    }
}

impl fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("ip", &self.ip)
            .field("extra_context", &self.extra_context.is_some())
            .finish()
    }
}

/// How far a logout reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Logout {
    /// The presented token only.
    ThisToken,
    /// Every token of the user.
    Everywhere,
}

/// What a successful password step led to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Login {
    /// A code is on its way: verify it against the challenge.
    CodeSent(PendingLogin),
    /// OTP is switched off: the password alone signed the user in.
    SignedIn(SignedIn),
}

/// A pending login whose code has been sent.
#[derive(Clone)]
#[non_exhaustive]
pub struct PendingLogin {
    /// The challenge id the client verifies the code against (a secret of the client's).
    pub challenge: String,
    /// When the current code was issued.
    pub issued_at: SystemTime,
    /// How long the current code lives from its issue.
    pub code_ttl: Duration,
    /// The user logging in.
    pub user: User,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("challenge", &"<redacted>")
            .field("issued_at", &self.issued_at)
            .field("code_ttl", &self.code_ttl)
            .field("user", &self.user)
            .finish()
    }
}

/// A completed login: a fresh auth token for the user.
#[derive(Clone)]
#[non_exhaustive]
pub struct SignedIn {
    /// The auth token (`Authorization: Token <token>`); only its digest is stored.
    pub token: String,
    /// The user.
    pub user: User,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .finish()
    }
}

/// Why the flow refused, or could not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// Unknown user, inactive user, wrong password or locked account: one answer for all.
    #[error("unable to log in with the provided credentials")]
    InvalidCredentials,
    /// Too many attempts from this client, codes to this account, or resends too soon.
    #[error("too many requests; try again in {retry_after:?}")]
    Throttled {
        /// How long until a retry may succeed.
        retry_after: Duration,
    },
    /// The account is locked after too many failures; nothing was compared.
    #[error("the account is locked for {retry_after:?}")]
    Locked {
        /// How long until the lock ends.
        retry_after: Duration,
    },
    /// The code was wrong (or already used).
    #[error("wrong code")]
    WrongCode,
    /// The code's lifetime is over.
    #[error("the code has expired")]
    ExpiredCode,
    /// No such pending login: never issued, superseded, over, or out of attempts.
    #[error("no such pending login")]
    UnknownChallenge,
    /// The pending login has sent every code it may: log in again.
    #[error("too many codes were sent for this login")]
    ResendsExhausted,
    /// Two-step login is switched off (`enable_otp_authentication = false`).
    #[error("OTP authentication is disabled")]
    OtpDisabled,
    /// The auth token is malformed, unknown, revoked or expired.
    #[error("invalid token")]
    InvalidToken,
    /// A backend failed: the flow fails closed.
    #[error(transparent)]
    Unavailable(OtpError),
}

/// The error for a failed backend, reported as an event.
fn unavailable(state: &State, error: impl Into<OtpError>) -> FlowError {
    let error = error.into();
    state.emit(AuthEvent::backend_unavailable(&error));
    FlowError::Unavailable(error)
}

/// `until - now`, zero if `until` has passed.
fn time_until(until: SystemTime, now: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or_default()
}
