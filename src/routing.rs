//! Which requests the layer answers itself, which need a token, and which pass through.

use http::{Method, Request};

use crate::config::{same_path, OtpSettings};

/// The endpoints the layer answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// Username and password in, challenge (or token) out.
    Login,
    /// Code in, auth token out.
    Verify,
    /// A new code for a pending login.
    Resend,
    /// Revokes the presented token (or all of the user's).
    Logout,
    /// Starts a logged-in user's authenticator app setup: its secret and QR code.
    TotpSetup,
    /// The app's first code in, the enrollment and its recovery codes out.
    TotpConfirm,
    /// Removes the authenticator app, given a current code.
    TotpDisable,
    /// A new set of recovery codes, given a current app code.
    RecoveryCodes,
}

impl Endpoint {
    /// A short stable name: `login`, `verify`, `resend`, `logout`, `totp_setup`,
    /// `totp_confirm`, `totp_disable`, `recovery_codes`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Verify => "verify",
            Self::Resend => "resend",
            Self::Logout => "logout",
            Self::TotpSetup => "totp_setup",
            Self::TotpConfirm => "totp_confirm",
            Self::TotpDisable => "totp_disable",
            Self::RecoveryCodes => "recovery_codes",
        }
    }
}

/// What the layer does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// One of the layer's own endpoints.
    Endpoint(Endpoint),
    /// Under a protected prefix: a valid token is required.
    Protected,
    /// Anything else: passed on, authenticated if it carries a token.
    Open,
}

/// Where `request` goes. A trailing slash on an endpoint path is optional; a CORS preflight
/// (which never carries credentials) is never held back, so a CORS layer inside can answer it.
pub(crate) fn route<B>(settings: &OtpSettings, request: &Request<B>) -> Route {
    let path = request.uri().path();
    if let Some(endpoint) = endpoint(settings, path) {
        Route::Endpoint(endpoint)
    } else if is_protected(settings, path) && !is_preflight(request) {
        Route::Protected
    } else {
        Route::Open
    }
}

/// The endpoint `path` names, if any (a trailing slash is optional).
fn endpoint(settings: &OtpSettings, path: &str) -> Option<Endpoint> {
    let same = |configured: &str| same_path(configured, path);
    if same(&settings.login_path) {
        Some(Endpoint::Login)
    } else if same(&settings.verify_path) {
        Some(Endpoint::Verify)
    } else if same(&settings.resend_path) {
        Some(Endpoint::Resend)
    } else if same(&settings.logout_path) {
        Some(Endpoint::Logout)
    } else if same(&settings.totp_setup_path) {
        Some(Endpoint::TotpSetup)
    } else if same(&settings.totp_confirm_path) {
        Some(Endpoint::TotpConfirm)
    } else if same(&settings.totp_disable_path) {
        Some(Endpoint::TotpDisable)
    } else if same(&settings.recovery_codes_path) {
        Some(Endpoint::RecoveryCodes)
    } else {
        None
    }
}

/// Whether `path` requires authentication: it starts with a protected prefix, or is a
/// prefix ending in `/` without that slash (`/api/` protects `/api` too, which routers
/// often serve as the same thing).
fn is_protected(settings: &OtpSettings, path: &str) -> bool {
    settings.protected_paths.iter().any(|prefix| {
        path.starts_with(prefix.as_str())
            || prefix
                .strip_suffix('/')
                .is_some_and(|bare| !bare.is_empty() && path == bare)
    })
}

/// A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`.
fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}
