//! What the flow answers when it succeeds: a login's outcome, a pending login, a signed-in user.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::user::User;

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
    /// A code is on its way, or the user's authenticator app shows it
    /// ([`PendingLogin::method`]): verify it against the challenge.
    CodeSent(PendingLogin),
    /// OTP is switched off: the password alone signed the user in.
    SignedIn(SignedIn),
    /// The right password from a remembered device: signed in without a code.
    Remembered(SignedIn),
}

/// Where the code of a pending login comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeMethod {
    /// The notifier delivered it (e-mail; on the wire `"method": "email"`).
    Delivered,
    /// The user's authenticator app shows it; a recovery code does too (on the wire
    /// `"method": "totp"`). Nothing was sent.
    AuthenticatorApp,
}

impl CodeMethod {
    /// The name on the wire: `email` or `totp`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "email",
            Self::AuthenticatorApp => "totp",
        }
    }
}

/// A pending login waiting for its code (sent, or shown by the user's authenticator app).
#[derive(Clone)]
#[non_exhaustive]
pub struct PendingLogin {
    /// The challenge id the client verifies the code against (a secret of the client's).
    pub challenge: String,
    /// Where the code comes from.
    pub method: CodeMethod,
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
            .field("method", &self.method)
            .field("issued_at", &self.issued_at)
            .field("code_ttl", &self.code_ttl)
            .field("user", &self.user)
            .finish()
    }
}

/// A new code sent for the pending login of a user named by username
/// ([`Flow::resend_for_username`](super::Flow::resend_for_username)): a [`PendingLogin`]
/// without its challenge id, which only the client that logged in holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CodeResent {
    /// When the new code was issued.
    pub issued_at: SystemTime,
    /// How long it lives from its issue.
    pub code_ttl: Duration,
    /// The user logging in.
    pub user: User,
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

/// An authenticator app's setup, to show the user once: the secret as text, as an `otpauth://`
/// URL and as a QR code of that URL. It waits for the app's first code
/// ([`Flow::confirm_authenticator`](super::Flow::confirm_authenticator)).
#[derive(Clone)]
#[non_exhaustive]
pub struct AuthenticatorSetup {
    /// The secret in base32 without padding (160 random bits), to type into an app.
    pub secret: String,
    /// `otpauth://totp/<issuer>:<username>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
    pub otpauth_url: String,
    /// The URL as a QR code, an SVG document.
    pub qr_svg: String,
}

impl fmt::Debug for AuthenticatorSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorSetup").finish_non_exhaustive()
    }
}

/// Fresh recovery codes, to show the user once (only their HMACs are kept).
#[derive(Clone)]
pub struct RecoveryCodeList(pub Vec<String>);

impl fmt::Debug for RecoveryCodeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodeList(<{} codes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret_and_no_recovery_code() {
        let setup = AuthenticatorSetup {
            secret: "JBSWY3DPEHPK3PXP".into(),
            otpauth_url: "otpauth://totp/x:alice?secret=JBSWY3DPEHPK3PXP".into(),
            qr_svg: "<svg/>".into(),
        };
        assert_eq!(format!("{setup:?}"), "AuthenticatorSetup { .. }");
        let codes = RecoveryCodeList(vec!["k7pq2-mx9tz".into()]);
        assert_eq!(format!("{codes:?}"), "RecoveryCodeList(<1 codes redacted>)");
    }
}
