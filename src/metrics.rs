//! Metrics: what the layer counts and times, recorded through the [`metrics`] facade, so any
//! exporter works (Prometheus, StatsD, OpenTelemetry, …). This file is the only place that
//! names them.
//!
//! Recording needs the `metrics` feature; without it every recording call is empty and
//! nothing of the facade is compiled in. With it and no recorder installed, each call costs
//! a look-up of the (absent) global recorder. Install a recorder (for Prometheus:
//! `metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()`, and serve its
//! handle's `render()` on `GET /metrics`) before the first request; [`describe`] adds the
//! help texts below to the exporter's output.
//!
//! Labels take a few fixed values each: never a user, token, account, challenge or IP.
//!
//! | metric | type | labels | counts or times |
//! |---|---|---|---|
//! | `tower_otp_logins_total` | counter | `outcome` | password steps (`POST` login): `code_sent`, `app_challenge` (a user with an authenticator app: nothing sent), `signed_in` (OTP off), `remembered` (a remembered device), `invalid_credentials`, `throttled`, `unavailable` |
//! | `tower_otp_verifies_total` | counter | `outcome` | code checks: `signed_in`, `wrong_code` (replays included), `expired_code`, `unknown_challenge`, `locked`, `invalid_credentials` and `throttled` (django-drf-otp's body with a password), `otp_disabled`, `unavailable` |
//! | `tower_otp_resends_total` | counter | `outcome` | resends: `code_sent`, `throttled` (cooldown), `resends_exhausted`, `unknown_challenge` (also an unknown, inactive or idle user of the `{username}` body), `uses_authenticator_app`, `otp_disabled`, `unavailable` |
//! | `tower_otp_logouts_total` | counter | `outcome` | logouts: `logged_out`, `invalid_token`, `unavailable` |
//! | `tower_otp_authenticator_changes_total` | counter | `action`, `outcome` | a logged-in user's authenticator steps; `action`: `setup`, `confirm`, `disable`, `recovery_codes`; `outcome`: `done`, `wrong_code`, `already_enrolled`, `not_enrolled`, `no_pending_setup`, `locked`, `throttled`, `authenticator_apps_off`, `unavailable` |
//! | `tower_otp_recovery_codes_used_total` | counter | | recovery codes spent (login or disable) |
//! | `tower_otp_token_checks_total` | counter | `outcome` | requests outside the endpoints that carry a token, or need one: `valid`, `invalid` (unknown, expired, revoked or malformed), `missing` (a protected path without credentials), `forbidden` (a cookie that fails the CSRF check), `unavailable` |
//! | `tower_otp_codes_sent_total` | counter | `method` | codes delivered (login and resend); `method`: `email`, the [`Notifier`](crate::notify::Notifier)'s |
//! | `tower_otp_code_delivery_failures_total` | counter | `method` | codes the notifier could not deliver (the request answered 503) |
//! | `tower_otp_lockouts_total` | counter | | accounts locked by too many failures |
//! | `tower_otp_throttled_total` | counter | `endpoint` | 429 answers: `login`, `verify`, `resend`, `totp_disable`, `recovery_codes` |
//! | `tower_otp_replays_refused_total` | counter | | used codes presented again, refused (e-mailed codes, and authenticator time steps) |
//! | `tower_otp_backend_failures_total` | counter | `backend` | failed backend calls (the flow failed closed): `state_store`, `user_store`, `password_check`, `notifier`, `second_factor_store` |
//! | `tower_otp_store_operation_duration_seconds` | histogram | `operation` | each [`StateStore`](crate::store::StateStore) call, named after its method (`authenticate_token`, `verify_challenge`, …), failed ones included |
//! | `tower_otp_password_queue_wait_seconds` | histogram | | time a password check waited for a hashing thread (from submission until a thread starts it) |
//!
//! The step counters (`logins`, `verifies`, `resends`, `logouts`) count what the
//! [flow](crate::flow) decided, from the layer's endpoints and from
//! [`OtpAuthLayer::flow`](crate::OtpAuthLayer::flow) alike; a body the endpoint could not read
//! (400, 413, 415, …) never reached the flow and is not counted there.

#![cfg_attr(not(feature = "metrics"), allow(unused_variables))]

use std::future::Future;
#[cfg(feature = "metrics")]
use std::time::Instant;

/// Counter: password steps by `outcome`.
pub const LOGINS: &str = "tower_otp_logins_total";
/// Counter: code checks by `outcome`.
pub const VERIFIES: &str = "tower_otp_verifies_total";
/// Counter: resends by `outcome`.
pub const RESENDS: &str = "tower_otp_resends_total";
/// Counter: logouts by `outcome`.
pub const LOGOUTS: &str = "tower_otp_logouts_total";
/// Counter: a logged-in user's authenticator steps, by `action` and `outcome`.
pub const AUTHENTICATOR_CHANGES: &str = "tower_otp_authenticator_changes_total";
/// Counter: recovery codes spent.
pub const RECOVERY_CODES_USED: &str = "tower_otp_recovery_codes_used_total";
/// Counter: token checks of requests outside the endpoints, by `outcome`.
pub const TOKEN_CHECKS: &str = "tower_otp_token_checks_total";
/// Counter: codes delivered, by `method`.
pub const CODES_SENT: &str = "tower_otp_codes_sent_total";
/// Counter: codes that could not be delivered, by `method`.
pub const CODE_DELIVERY_FAILURES: &str = "tower_otp_code_delivery_failures_total";
/// Counter: accounts locked.
pub const LOCKOUTS: &str = "tower_otp_lockouts_total";
/// Counter: 429 answers, by `endpoint`.
pub const THROTTLED: &str = "tower_otp_throttled_total";
/// Counter: replayed codes refused.
pub const REPLAYS_REFUSED: &str = "tower_otp_replays_refused_total";
/// Counter: backend failures, by `backend`.
pub const BACKEND_FAILURES: &str = "tower_otp_backend_failures_total";
/// Histogram: state store call latency in seconds, by `operation`.
pub const STORE_OPERATION_DURATION: &str = "tower_otp_store_operation_duration_seconds";
/// Histogram: seconds a password check waited for a hashing thread.
pub const PASSWORD_QUEUE_WAIT: &str = "tower_otp_password_queue_wait_seconds";

/// The `method` of a code delivered through the [`Notifier`](crate::notify::Notifier).
pub(crate) const METHOD_EMAIL: &str = "email";

/// Gives each metric its help text and unit in the installed recorder (Prometheus: the `# HELP`
/// lines). Call it once, after installing the recorder; recording works without it. Without
/// the `metrics` feature it does nothing.
pub fn describe() {
    #[cfg(feature = "metrics")]
    describe_all();
}

#[cfg(feature = "metrics")]
fn describe_all() {
    use ::metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(LOGINS, "Password steps (login) by outcome.");
    describe_counter!(VERIFIES, "Code checks (verify) by outcome.");
    describe_counter!(RESENDS, "Code resends by outcome.");
    describe_counter!(LOGOUTS, "Logouts by outcome.");
    describe_counter!(
        AUTHENTICATOR_CHANGES,
        "Authenticator app steps of logged-in users, by action and outcome."
    );
    describe_counter!(RECOVERY_CODES_USED, "Recovery codes spent.");
    describe_counter!(TOKEN_CHECKS, "Token checks of requests by outcome.");
    describe_counter!(CODES_SENT, "One-time codes delivered, by method.");
    describe_counter!(CODE_DELIVERY_FAILURES, "Codes that could not be delivered.");
    describe_counter!(LOCKOUTS, "Accounts locked after too many failures.");
    describe_counter!(THROTTLED, "Requests answered 429, by endpoint.");
    describe_counter!(REPLAYS_REFUSED, "Used codes presented again and refused.");
    describe_counter!(BACKEND_FAILURES, "Failed backend calls, by backend.");
    describe_histogram!(
        STORE_OPERATION_DURATION,
        Unit::Seconds,
        "State store call latency, by operation."
    );
    describe_histogram!(
        PASSWORD_QUEUE_WAIT,
        Unit::Seconds,
        "Time a password check waited for a hashing thread."
    );
}

/// A step of the flow that is counted by outcome.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    Login,
    Verify,
    Resend,
    Logout,
    AuthenticatorSetup,
    AuthenticatorConfirm,
    AuthenticatorDisable,
    RecoveryCodes,
}

/// Counts one `step` with its `outcome`.
#[inline]
pub(crate) fn step(step: Step, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    {
        let name = match step {
            Step::Login => LOGINS,
            Step::Verify => VERIFIES,
            Step::Resend => RESENDS,
            Step::Logout => LOGOUTS,
            Step::AuthenticatorSetup => return authenticator_change("setup", outcome),
            Step::AuthenticatorConfirm => return authenticator_change("confirm", outcome),
            Step::AuthenticatorDisable => return authenticator_change("disable", outcome),
            Step::RecoveryCodes => return authenticator_change("recovery_codes", outcome),
        };
        ::metrics::counter!(name, "outcome" => outcome).increment(1);
    }
}

#[cfg(feature = "metrics")]
fn authenticator_change(action: &'static str, outcome: &'static str) {
    ::metrics::counter!(AUTHENTICATOR_CHANGES, "action" => action, "outcome" => outcome)
        .increment(1);
}

/// Counts a recovery code spent.
#[inline]
pub(crate) fn recovery_code_used() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(RECOVERY_CODES_USED).increment(1);
}

/// The outcome of a request's token check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenCheck {
    Valid,
    Invalid,
    Missing,
    Forbidden,
    Unavailable,
}

/// Counts a token check. On every authenticated request: the labels are static, so this
/// allocates nothing.
#[inline]
pub(crate) fn token_check(outcome: TokenCheck) {
    #[cfg(feature = "metrics")]
    match outcome {
        TokenCheck::Valid => ::metrics::counter!(TOKEN_CHECKS, "outcome" => "valid"),
        TokenCheck::Invalid => ::metrics::counter!(TOKEN_CHECKS, "outcome" => "invalid"),
        TokenCheck::Missing => ::metrics::counter!(TOKEN_CHECKS, "outcome" => "missing"),
        TokenCheck::Forbidden => ::metrics::counter!(TOKEN_CHECKS, "outcome" => "forbidden"),
        TokenCheck::Unavailable => {
            ::metrics::counter!(TOKEN_CHECKS, "outcome" => "unavailable")
        }
    }
    .increment(1);
}

/// Counts a code delivered by `method`.
#[inline]
pub(crate) fn code_sent(method: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(CODES_SENT, "method" => method).increment(1);
}

/// Counts a code that could not be delivered by `method`.
#[inline]
pub(crate) fn code_delivery_failed(method: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(CODE_DELIVERY_FAILURES, "method" => method).increment(1);
}

/// Counts an account locked.
#[inline]
pub(crate) fn lockout() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(LOCKOUTS).increment(1);
}

/// Counts a 429 answered at `endpoint`.
#[inline]
pub(crate) fn throttled(endpoint: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(THROTTLED, "endpoint" => endpoint).increment(1);
}

/// Counts a replayed code refused.
#[inline]
pub(crate) fn replay_refused() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(REPLAYS_REFUSED).increment(1);
}

/// Counts a failed call to `backend`.
#[inline]
pub(crate) fn backend_failure(backend: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(BACKEND_FAILURES, "backend" => backend).increment(1);
}

/// `store_call` timed as the state store's `operation`; without the feature, `store_call`
/// itself.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn time_store<F: Future>(operation: &'static str, store_call: F) -> F {
    store_call
}

/// `store_call` timed as the state store's `operation`.
#[cfg(feature = "metrics")]
pub(crate) fn time_store<F: Future>(operation: &'static str, store_call: F) -> TimedStoreCall<F> {
    TimedStoreCall {
        store_call,
        operation,
        started: None,
    }
}

#[cfg(feature = "metrics")]
pin_project_lite::pin_project! {
    /// A store call timed from its first poll to its end. A future of its own rather than an
    /// `async fn`, which would hold the call twice (as its argument, then as what it awaits):
    /// the object-safe store allocates it on every call.
    pub(crate) struct TimedStoreCall<F> {
        #[pin]
        store_call: F,
        operation: &'static str,
        started: Option<Instant>,
    }
}

#[cfg(feature = "metrics")]
impl<F: Future> Future for TimedStoreCall<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        let started = *this.started.get_or_insert_with(Instant::now);
        let output = std::task::ready!(this.store_call.poll(cx));
        ::metrics::histogram!(STORE_OPERATION_DURATION, "operation" => *this.operation)
            .record(started.elapsed());
        std::task::Poll::Ready(output)
    }
}

/// When a password check was queued; empty without the feature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queued {
    #[cfg(feature = "metrics")]
    at: Instant,
}

impl Queued {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            at: Instant::now(),
        }
    }

    /// Records the wait of a password check that a thread starts now.
    #[inline]
    pub(crate) fn started(self) {
        #[cfg(feature = "metrics")]
        ::metrics::histogram!(PASSWORD_QUEUE_WAIT).record(self.at.elapsed());
    }
}
