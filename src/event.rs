//! Security events: what happened, to whom, from where. Never a password, code, token or
//! secret.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::store::AccountKey;

/// Why a password step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginFailure {
    /// No user has this username.
    UnknownUser,
    /// The user exists but is not active.
    InactiveUser,
    /// The password was wrong.
    WrongPassword,
    /// The account is locked after too many failures (the password was not looked at).
    Locked,
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeFailure {
    /// The code was wrong.
    Mismatch,
    /// The code's lifetime was over.
    Expired,
    /// No live challenge (unknown, superseded, dead after too many attempts).
    UnknownChallenge,
    /// The account is locked.
    Locked,
}

/// Something that happened in the two-factor flow, for audit logs and alerts (see
/// [`OtpAuthLayer::with_event_hook`](crate::OtpAuthLayer::with_event_hook)). With the
/// `tracing` feature each one is also a `tracing` event.
///
/// Every event names the account (the store's opaque key, stable per user) and, where the layer
/// knows them, the user id and the client IP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// A login completed: a token was issued.
    LoginSucceeded {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A password step was refused.
    LoginFailed {
        /// The user, when the username names one.
        user_id: Option<String>,
        /// The account (for an unknown username: one derived from the normalised name).
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
        /// Why.
        reason: LoginFailure,
    },
    /// A code was sent (login or resend).
    CodeSent {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A code could not be delivered (the login answered 503).
    CodeDeliveryFailed {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A code was refused.
    CodeFailed {
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
        /// Why.
        reason: CodeFailure,
    },
    /// A code that had already been used was presented again: someone else may have it.
    CodeReplayed {
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// Too many failures locked the account.
    AccountLocked {
        /// The account.
        account: AccountKey,
        /// The client whose failure locked it, when known.
        client_ip: Option<IpAddr>,
        /// When the lock ends.
        until: SystemTime,
    },
    /// Tokens were revoked.
    TokenRevoked {
        /// The user, when known.
        user_id: Option<String>,
        /// The account.
        account: AccountKey,
        /// The client, when known (`None` for the API call).
        client_ip: Option<IpAddr>,
        /// Whether all the user's tokens were revoked, or one.
        all: bool,
    },
}

impl AuthEvent {
    /// A short stable name: `login_succeeded`, `code_failed`, ….
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoginSucceeded { .. } => "login_succeeded",
            Self::LoginFailed { .. } => "login_failed",
            Self::CodeSent { .. } => "code_sent",
            Self::CodeDeliveryFailed { .. } => "code_delivery_failed",
            Self::CodeFailed { .. } => "code_failed",
            Self::CodeReplayed { .. } => "code_replayed",
            Self::AccountLocked { .. } => "account_locked",
            Self::TokenRevoked { .. } => "token_revoked",
        }
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn trace(&self) {
        match self {
            Self::LoginSucceeded {
                user_id,
                account,
                client_ip,
            }
            | Self::CodeSent {
                user_id,
                account,
                client_ip,
            } => tracing::info!(
                event = self.name(), user_id = %user_id, account = %account,
                client_ip = ?client_ip, "tower-otp"
            ),
            Self::CodeDeliveryFailed {
                user_id,
                account,
                client_ip,
            } => tracing::warn!(
                event = self.name(), user_id = %user_id, account = %account,
                client_ip = ?client_ip, "tower-otp"
            ),
            Self::LoginFailed {
                user_id,
                account,
                client_ip,
                reason,
            } => tracing::warn!(
                event = self.name(), user_id = ?user_id, account = %account,
                client_ip = ?client_ip, reason = ?reason, "tower-otp"
            ),
            Self::CodeFailed {
                account,
                client_ip,
                reason,
            } => tracing::warn!(
                event = self.name(), account = %account, client_ip = ?client_ip,
                reason = ?reason, "tower-otp"
            ),
            Self::CodeReplayed { account, client_ip } => tracing::warn!(
                event = self.name(), account = %account, client_ip = ?client_ip, "tower-otp"
            ),
            Self::AccountLocked {
                account,
                client_ip,
                until,
            } => tracing::warn!(
                event = self.name(), account = %account, client_ip = ?client_ip,
                until = ?until, "tower-otp"
            ),
            Self::TokenRevoked {
                user_id,
                account,
                client_ip,
                all,
            } => tracing::info!(
                event = self.name(), user_id = ?user_id, account = %account,
                client_ip = ?client_ip, all = all, "tower-otp"
            ),
        }
    }
}
