//! Internals exposed for the crate's own micro-benchmarks (`benches/micro.rs`): token issuing,
//! token hashing and code digests have no public entry point of their own. Not part of the API:
//! hidden from the docs, no semver promise, may change or vanish in any release.

use crate::store::{AccountKey, DigestBytes};

/// A server key, as the layer holds it.
#[derive(Debug, Clone)]
pub struct ServerKey(crate::token::ServerKey);

impl ServerKey {
    /// A random key.
    pub fn random() -> Self {
        Self(crate::token::ServerKey::random())
    }

    /// The account key the layer derives for a user id.
    pub fn account_key(&self, user_id: &str) -> AccountKey {
        self.0.account_key("user", user_id)
    }

    /// What the store keeps of a code.
    pub fn code_digest(&self, account: &AccountKey, code: &str) -> DigestBytes {
        self.0.code_digest(account, code)
    }
}

/// A fresh auth token for `account` and its digest, as a verify issues it.
pub fn new_auth_token(account: &AccountKey) -> (String, DigestBytes) {
    let issued = crate::token::new_auth_token(account);
    (issued.secret, issued.digest)
}

/// What the layer does with a presented token before asking the store: split and hash it.
pub fn parse_auth_token(token: &str) -> Option<(AccountKey, DigestBytes)> {
    crate::token::parse_auth_token(token).map(|p| (p.account, p.digest))
}

/// The RFC 6238 TOTP value (HMAC-SHA1) of a fixed `secret`: what an authenticator computes.
pub fn totp_value(secret: &[u8], digits: u8, step: u64, time: u64) -> String {
    crate::strategy::totp(secret, totp_rs::Algorithm::SHA1, digits, step, time)
        .expect("valid TOTP parameters")
}

/// The RFC 4226 HOTP value (HMAC-SHA1) of a fixed `secret` at `counter`.
pub fn hotp_value(secret: &[u8], digits: u8, counter: u64) -> String {
    crate::strategy::hotp(secret, totp_rs::Algorithm::SHA1, digits, counter)
        .expect("valid HOTP parameters")
}
