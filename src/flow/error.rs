//! [`FlowError`]: why the flow refused, or could not answer.

use std::time::{Duration, SystemTime};

use crate::error::OtpError;
use crate::event::AuthEvent;
use crate::metrics::{self, Step};
use crate::state::State;

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
    /// The user already has an authenticator app: remove it first.
    #[error("an authenticator app is already enrolled")]
    AlreadyEnrolled,
    /// The user has no authenticator app.
    #[error("no authenticator app is enrolled")]
    NotEnrolled,
    /// No authenticator setup is waiting for its first code (never started, confirmed,
    /// expired, or ended by too many wrong codes).
    #[error("no authenticator setup is pending")]
    NoPendingSetup,
    /// The pending login waits for an authenticator app's code: there is nothing to resend.
    #[error("this login uses an authenticator app")]
    UsesAuthenticatorApp,
    /// The layer has no [`SecondFactorStore`](crate::second_factor::SecondFactorStore), so no
    /// authenticator apps.
    #[error("authenticator apps are not enabled")]
    AuthenticatorAppsOff,
    /// The auth token is malformed, unknown, revoked or expired.
    #[error("invalid token")]
    InvalidToken,
    /// A backend failed: the flow fails closed.
    #[error(transparent)]
    Unavailable(OtpError),
}

impl FlowError {
    /// The `outcome` label of this refusal in the step counters.
    fn outcome(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::Throttled { .. } => "throttled",
            Self::Locked { .. } => "locked",
            Self::WrongCode => "wrong_code",
            Self::ExpiredCode => "expired_code",
            Self::UnknownChallenge => "unknown_challenge",
            Self::ResendsExhausted => "resends_exhausted",
            Self::OtpDisabled => "otp_disabled",
            Self::InvalidToken => "invalid_token",
            Self::AlreadyEnrolled => "already_enrolled",
            Self::NotEnrolled => "not_enrolled",
            Self::NoPendingSetup => "no_pending_setup",
            Self::UsesAuthenticatorApp => "uses_authenticator_app",
            Self::AuthenticatorAppsOff => "authenticator_apps_off",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// Counts `step` with the outcome of `result` (`success` names a success), and returns it.
pub(super) fn counted<T>(
    step: Step,
    result: Result<T, FlowError>,
    success: impl FnOnce(&T) -> &'static str,
) -> Result<T, FlowError> {
    let outcome = match &result {
        Ok(done) => success(done),
        Err(error) => error.outcome(),
    };
    metrics::step(step, outcome);
    result
}

/// The error for a failed backend, reported as an event.
pub(super) fn unavailable(state: &State, error: impl Into<OtpError>) -> FlowError {
    let error = error.into();
    state.emit(AuthEvent::backend_unavailable(&error));
    FlowError::Unavailable(error)
}

/// `until - now`, zero if `until` has passed.
pub(super) fn time_until(until: SystemTime, now: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or_default()
}
