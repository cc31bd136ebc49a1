//! The two-factor flow apart from HTTP: log in, verify a code, resend it, authenticate a token,
//! log out. Typed inputs, typed outcomes and one error enum; what goes over the wire (fields,
//! DRF-shaped bodies, status codes) is decided elsewhere, from these outcomes.
//!
//! [`OtpAuthLayer`](crate::OtpAuthLayer) runs it for its own endpoints; an application runs it
//! from its own handlers through [`OtpAuthLayer::flow`](crate::OtpAuthLayer::flow), with the
//! same stores, limits, lockout and events.

mod account_limit;
mod authenticate;
mod authenticator;
mod client;
mod credentials;
mod delivery;
mod device;
mod enrollment;
mod error;
mod login;
mod logout;
mod outcome;
mod resend;
mod verify;

pub use client::{Client, ExtraContext};
pub use error::FlowError;
pub use outcome::{
    AuthenticatorSetup, CodeMethod, CodeResent, Login, Logout, PendingLogin, RecoveryCodeList,
    SignedIn,
};

use std::fmt;
use std::sync::Arc;

use crate::authenticated::AuthenticatedUser;
use crate::state::State;
use crate::token::{parse_auth_token, Presented};
use crate::user::User;

pub(crate) use authenticate::authenticate;
pub(crate) use device::remember_device;
pub(crate) use enrollment::{
    begin_authenticator_setup, confirm_authenticator, disable_authenticator, replace_recovery_codes,
};
pub(crate) use login::login;
pub(crate) use logout::{logout, revoke_everything};
pub(crate) use resend::{resend, resend_for_username};
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

    /// Sends a new code for the pending login of the user named `username`, as
    /// django-drf-otp 0.0.11's resend body `{username}` asks; the previous code dies, and the
    /// cooldown and the cap on codes apply as to [`resend`](Self::resend).
    ///
    /// An unknown user, an inactive user and a user without a pending login are refused alike,
    /// with [`FlowError::UnknownChallenge`], after the same work; a login waiting for an
    /// authenticator app's code with [`FlowError::UsesAuthenticatorApp`]. The challenge id is
    /// not in the answer: only the client that logged in holds it.
    ///
    /// ```
    /// use tower_otp::flow::{Client, FlowError, Login};
    /// use tower_otp::{hash_password, notify::ConsoleNotifier, ManualClock, MemoryUserStore};
    /// use tower_otp::{OtpAuthLayer, User};
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
    /// let clock = ManualClock::new(std::time::SystemTime::now());
    /// let layer = OtpAuthLayer::builder(users, ConsoleNotifier::new())
    ///     .with_clock(clock.clone())
    ///     .build()?;
    /// let (flow, client) = (layer.flow(), Client::new(None));
    ///
    /// // Nobody named "mallory", and no pending login of alice's: the same refusal.
    /// for name in ["mallory", "alice"] {
    ///     let refused = flow.resend_for_username(name, &client).await;
    ///     assert!(matches!(refused, Err(FlowError::UnknownChallenge)));
    /// }
    /// let Login::CodeSent(_) = flow.login("alice", "correct horse battery staple", &client).await?
    /// else {
    ///     unreachable!("OTP is on by default");
    /// };
    /// clock.advance(std::time::Duration::from_secs(60)); // the resend cooldown
    /// let resent = flow.resend_for_username("alice", &client).await?;
    /// assert_eq!(resent.user.id, "1");
    /// # Ok(()) }
    /// ```
    pub async fn resend_for_username(
        &self,
        username: &str,
        client: &Client<'_>,
    ) -> Result<CodeResent, FlowError> {
        resend_for_username(&self.state, username, client).await
    }

    /// Remembers the client's device for `user` after a completed login: the secret to keep in
    /// the client (the layer's endpoints put it in the device cookie), with which and the right
    /// password later logins skip the code step. `None` when `remember_device_ttl` is 0.
    pub async fn remember_device(
        &self,
        user: &User,
        client: &Client<'_>,
    ) -> Result<Option<String>, FlowError> {
        remember_device(&self.state, user, client).await
    }

    /// Starts setting up an authenticator app for a logged-in user: a fresh secret that waits
    /// 10 minutes for the app's first code ([`confirm_authenticator`](Self::confirm_authenticator)),
    /// replacing an earlier setup. [`FlowError::AlreadyEnrolled`] if the user has an app.
    ///
    /// ```
    /// use std::time::{SystemTime, UNIX_EPOCH};
    ///
    /// use tower_otp::flow::{Client, CodeMethod, Login};
    /// use tower_otp::{hash_password, notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer, User};
    ///
    /// # struct Fixed;
    /// # impl tower_otp::strategy::OtpStrategy for Fixed {
    /// #     fn generate(&self, _: u8, _: SystemTime) -> String { "123456".into() }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let users = MemoryUserStore::new([User {
    /// #     id: "1".into(), username: "alice".into(), email: "alice@example.com".into(),
    /// #     first_name: "Alice".into(), last_name: "Liddell".into(), is_active: true,
    /// #     password_hash: hash_password("correct horse battery staple")?,
    /// # }]);
    /// # let layer = OtpAuthLayer::builder(users, ConsoleNotifier::new()).with_strategy(Fixed).build()?;
    /// let (flow, client) = (layer.flow(), Client::new(None));
    /// # let Login::CodeSent(pending) = flow.login("alice", "correct horse battery staple", &client).await? else { unreachable!() };
    /// # let signed_in = flow.verify(&pending.challenge, "123456", &client).await?;
    /// # let user = flow.authenticate(&signed_in.token).await?;
    /// // `user`: the AuthenticatedUser of a logged-in request.
    /// let setup = flow.begin_authenticator_setup(&user, &client).await?;
    /// assert!(setup.otpauth_url.starts_with("otpauth://totp/tower-otp:alice?secret="));
    ///
    /// // The user's app computes the code from the secret (here totp-rs stands in for it).
    /// let secret = totp_rs::Secret::try_from_base32(&setup.secret)?;
    /// let app = totp_rs::Builder::new().with_secret(secret.as_bytes()).build_noncompliant();
    /// let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    /// let recovery = flow.confirm_authenticator(&user, &app.generate(now).to_string(), &client).await?;
    /// assert_eq!(recovery.0.len(), 10);
    ///
    /// // From now on alice's logins wait for her app's code; nothing is sent.
    /// let Login::CodeSent(pending) = flow.login("alice", "correct horse battery staple", &client).await?
    /// else {
    ///     unreachable!("OTP is on by default");
    /// };
    /// assert_eq!(pending.method, CodeMethod::AuthenticatorApp);
    /// # Ok(()) }
    /// ```
    pub async fn begin_authenticator_setup(
        &self,
        user: &AuthenticatedUser,
        client: &Client<'_>,
    ) -> Result<AuthenticatorSetup, FlowError> {
        begin_authenticator_setup(&self.state, user, client).await
    }

    /// Enrols the app being set up with its first code: from now on the user's logins ask for
    /// the app's codes. Answers the recovery codes, to show the user once. Five wrong codes end
    /// the setup.
    pub async fn confirm_authenticator(
        &self,
        user: &AuthenticatedUser,
        code: &str,
        client: &Client<'_>,
    ) -> Result<RecoveryCodeList, FlowError> {
        confirm_authenticator(&self.state, user, code, client).await
    }

    /// Removes the user's authenticator app, given one of its current codes or a recovery code
    /// (counted like a password by the account lockout). Logins send codes again.
    pub async fn disable_authenticator(
        &self,
        user: &AuthenticatedUser,
        code: &str,
        client: &Client<'_>,
    ) -> Result<(), FlowError> {
        disable_authenticator(&self.state, user, code, client).await
    }

    /// Replaces the user's recovery codes, given a current code of the app; the old ones die.
    pub async fn replace_recovery_codes(
        &self,
        user: &AuthenticatedUser,
        code: &str,
        client: &Client<'_>,
    ) -> Result<RecoveryCodeList, FlowError> {
        replace_recovery_codes(&self.state, user, code, client).await
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
