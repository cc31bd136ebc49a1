//! Security events: what happened, to whom, from where. Never a password, code, token or
//! secret.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::error::OtpError;
use crate::metrics;
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

/// A backend the layer depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// The [`StateStore`](crate::store::StateStore).
    StateStore,
    /// The [`UserStore`](crate::UserStore).
    UserStore,
    /// The password check ([`UserStore::check_password`](crate::UserStore::check_password)).
    PasswordCheck,
    /// The [`Notifier`](crate::notify::Notifier) that delivers codes.
    Notifier,
    /// The [`SecondFactorStore`](crate::second_factor::SecondFactorStore).
    SecondFactorStore,
}

impl Backend {
    /// A short stable name: `state_store`, `user_store`, `password_check`, `notifier`,
    /// `second_factor_store`.
    pub fn name(self) -> &'static str {
        match self {
            Self::StateStore => "state_store",
            Self::UserStore => "user_store",
            Self::PasswordCheck => "password_check",
            Self::Notifier => "notifier",
            Self::SecondFactorStore => "second_factor_store",
        }
    }
}

/// Something that happened in the two-factor flow, for audit logs and alerts (see
/// [`OtpAuthBuilder::with_event_hook`](crate::OtpAuthBuilder::with_event_hook)). With the
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
    /// A backend failed: the flow failed closed (the layer answers 503). Logged at `error` with
    /// the `tracing` feature, at most once a second (the line says how many were left out).
    BackendUnavailable {
        /// Which backend.
        backend: Backend,
        /// The backend's error message.
        error: String,
    },
    /// A browser that verified a code asked to be remembered: its logins of this account skip
    /// the code step until the device expires or is revoked.
    DeviceRemembered {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A login skipped the code step: the right password from a remembered device.
    DeviceUsed {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A logged-in user started setting up an authenticator app (its secret was handed out).
    AuthenticatorSetupStarted {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// The user confirmed the app with its first code: logins ask for the app's codes now, and the
    /// user's remembered devices were forgotten.
    AuthenticatorEnrolled {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// The user removed the authenticator app (with a current code): logins send codes again, the
    /// recovery codes died, and the user's remembered devices were forgotten.
    AuthenticatorDisabled {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// The user replaced the recovery codes (with a current app code): the old ones died.
    RecoveryCodesReplaced {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A recovery code was used (it is spent).
    RecoveryCodeUsed {
        /// The user.
        user_id: String,
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
        /// Recovery codes left.
        remaining: usize,
    },
    /// An authenticator code of a time step already accepted for the account (or one before
    /// it) was refused: someone may have seen the user's code.
    TimeStepReplayed {
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A login ended before its password's answer was known (the client went away while the
    /// password waited for a thread, or the password could not be checked): its attempt was
    /// taken back, so a slow server does not count failures nobody made.
    LoginAbandoned {
        /// The account.
        account: AccountKey,
        /// The client, when known.
        client_ip: Option<IpAddr>,
    },
    /// A login arrived without a known client IP, so the per-client login limit did not
    /// apply to it. Reported once per layer: put the peer `SocketAddr` in the request
    /// extensions (axum: `into_make_service_with_connect_info::<SocketAddr>()`), and behind a
    /// proxy configure `trusted_proxies`. Logged at `warn` with the `tracing` feature.
    ClientIpUnknown,
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
            Self::BackendUnavailable { .. } => "backend_unavailable",
            Self::ClientIpUnknown => "client_ip_unknown",
            Self::LoginAbandoned { .. } => "login_abandoned",
            Self::DeviceRemembered { .. } => "device_remembered",
            Self::DeviceUsed { .. } => "device_used",
            Self::AuthenticatorSetupStarted { .. } => "authenticator_setup_started",
            Self::AuthenticatorEnrolled { .. } => "authenticator_enrolled",
            Self::AuthenticatorDisabled { .. } => "authenticator_disabled",
            Self::RecoveryCodesReplaced { .. } => "recovery_codes_replaced",
            Self::RecoveryCodeUsed { .. } => "recovery_code_used",
            Self::TimeStepReplayed { .. } => "time_step_replayed",
        }
    }

    /// The event for a 503 answered because of `error`.
    pub(crate) fn backend_unavailable(error: &OtpError) -> Self {
        let backend = match error {
            OtpError::Store(_) => Backend::StateStore,
            OtpError::Users(_) => Backend::UserStore,
            OtpError::Password(_) => Backend::PasswordCheck,
            OtpError::Notify(_) => Backend::Notifier,
            OtpError::SecondFactors(_) => Backend::SecondFactorStore,
        };
        Self::BackendUnavailable {
            backend,
            error: error.to_string(),
        }
    }

    /// Counts the event in the metrics it feeds (with the `metrics` feature).
    pub(crate) fn measure(&self) {
        match self {
            Self::CodeSent { .. } => metrics::code_sent(metrics::METHOD_EMAIL),
            Self::CodeDeliveryFailed { .. } => metrics::code_delivery_failed(metrics::METHOD_EMAIL),
            Self::AccountLocked { .. } => metrics::lockout(),
            Self::CodeReplayed { .. } | Self::TimeStepReplayed { .. } => metrics::replay_refused(),
            Self::RecoveryCodeUsed { .. } => metrics::recovery_code_used(),
            Self::BackendUnavailable { backend, .. } => metrics::backend_failure(backend.name()),
            _ => {}
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
            | Self::DeviceRemembered {
                user_id,
                account,
                client_ip,
            }
            | Self::DeviceUsed {
                user_id,
                account,
                client_ip,
            }
            | Self::AuthenticatorSetupStarted {
                user_id,
                account,
                client_ip,
            }
            | Self::AuthenticatorEnrolled {
                user_id,
                account,
                client_ip,
            }
            | Self::AuthenticatorDisabled {
                user_id,
                account,
                client_ip,
            }
            | Self::RecoveryCodesReplaced {
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
            Self::LoginAbandoned { account, client_ip } => tracing::info!(
                event = self.name(), account = %account, client_ip = ?client_ip, "tower-otp"
            ),
            Self::RecoveryCodeUsed {
                user_id,
                account,
                client_ip,
                remaining,
            } => tracing::warn!(
                event = self.name(), user_id = %user_id, account = %account,
                client_ip = ?client_ip, remaining, "tower-otp"
            ),
            Self::CodeReplayed { account, client_ip }
            | Self::TimeStepReplayed { account, client_ip } => tracing::warn!(
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
            Self::ClientIpUnknown => tracing::warn!(
                event = self.name(),
                "tower-otp: a login arrived without a client IP, so the per-client login limit \
                 is off for such logins; put the peer SocketAddr in the request extensions (axum: \
                 into_make_service_with_connect_info::<SocketAddr>()), and behind a proxy set \
                 trusted_proxies"
            ),
            Self::BackendUnavailable { backend, error } => {
                static BUDGET: LogBudget = LogBudget::new();
                if let Some(left_out) = BUDGET.admit(LogBudget::now_ms()) {
                    tracing::error!(
                        event = self.name(), backend = backend.name(), error = %error,
                        left_out, "tower-otp"
                    );
                }
            }
        }
    }
}

/// At most one log line per second: a backend outage under load would otherwise write one line
/// per request.
#[cfg(feature = "tracing")]
struct LogBudget {
    /// When the last line was written, in ms since the process's first log ([`Self::now_ms`]);
    /// `u64::MAX`: never.
    last_ms: std::sync::atomic::AtomicU64,
    /// Lines left out since.
    left_out: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "tracing")]
impl LogBudget {
    const INTERVAL_MS: u64 = 1000;

    const fn new() -> Self {
        Self {
            last_ms: std::sync::atomic::AtomicU64::new(u64::MAX),
            left_out: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn now_ms() -> u64 {
        static START: std::sync::LazyLock<std::time::Instant> =
            std::sync::LazyLock::new(std::time::Instant::now);
        u64::try_from(START.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Whether a line may be written at `now_ms`; if so, how many were left out before it.
    fn admit(&self, now_ms: u64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let last = self.last_ms.load(Relaxed);
        let due = last == u64::MAX || now_ms.saturating_sub(last) >= Self::INTERVAL_MS;
        if due
            && self
                .last_ms
                .compare_exchange(last, now_ms, Relaxed, Relaxed)
                .is_ok()
        {
            return Some(self.left_out.swap(0, Relaxed));
        }
        self.left_out.fetch_add(1, Relaxed);
        None
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use super::LogBudget;

    #[test]
    fn one_line_a_second_and_the_count_of_those_left_out() {
        let budget = LogBudget::new();
        assert_eq!(budget.admit(5), Some(0));
        for ms in 6..1005 {
            assert_eq!(budget.admit(ms), None);
        }
        assert_eq!(budget.admit(1005), Some(999));
        assert_eq!(budget.admit(1006), None);
        assert_eq!(budget.admit(2005), Some(1));
    }
}
