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
    /// A code is on its way: verify it against the challenge.
    CodeSent(PendingLogin),
    /// OTP is switched off: the password alone signed the user in.
    SignedIn(SignedIn),
    /// The right password from a remembered device: signed in without a code.
    Remembered(SignedIn),
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
