//! Authenticator secrets at rest: sealed with XChaCha20-Poly1305 under a key derived from the
//! layer's secret key, bound to their user, tagged with the id of the key that sealed them.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use super::authenticator::AppSecret;
use crate::token::ServerKey;

/// The format's version, the first part of the text.
const VERSION: &str = "v1";
/// What the sealing key is derived for.
const PURPOSE: &str = "authenticator secret sealing v1";
const NONCE_BYTES: usize = 24;

/// An authenticator app's secret as it is kept at rest:
/// `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
///
/// It is encrypted and authenticated (XChaCha20-Poly1305, a random 192-bit nonce each time)
/// under a key derived from the layer's secret key, and bound to its user: a copy of the
/// storage alone yields no working code, and a sealed secret copied to another user's row does
/// not open. The key id names the secret key that sealed it, so that a new key can be rolled
/// in while old secrets still open
/// ([`with_retired_secret_key`](crate::OtpAuthBuilder::with_retired_secret_key)). Its `Debug`
/// shows the key id only.
///
/// ```
/// use tower_otp::second_factor::SealedSecret;
///
/// let sealed = SealedSecret::from_stored("v1.0a1b2c3d.c2VhbGVk");
/// assert_eq!(sealed.key_id(), Some("0a1b2c3d"));
/// assert_eq!(format!("{sealed:?}"), r#"SealedSecret { key_id: Some("0a1b2c3d"), .. }"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(String);

impl SealedSecret {
    /// A sealed secret as a store read it back (the text [`as_str`](Self::as_str) gave).
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the secret key that sealed it; `None` if the text is not a sealed secret.
    pub fn key_id(&self) -> Option<&str> {
        self.parts().map(|(key_id, _)| key_id)
    }

    fn parts(&self) -> Option<(&str, &str)> {
        let mut parts = self.0.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(VERSION), Some(key_id), Some(sealed)) => Some((key_id, sealed)),
            _ => None,
        }
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

/// Why a sealed secret did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("the sealed secret is sealed with key {0}, which this layer does not have")]
    UnknownKey(String),
    #[error("the sealed secret is malformed or was altered")]
    Corrupt,
}

fn cipher(key: &ServerKey) -> XChaCha20Poly1305 {
    let derived = Zeroizing::new(key.derive(PURPOSE));
    XChaCha20Poly1305::new(derived.as_ref().into())
}

/// What binds a sealed secret to its user (the AEAD's associated data).
fn bound_to(user_id: &str) -> Vec<u8> {
    [
        b"tower-otp authenticator secret\0".as_slice(),
        user_id.as_bytes(),
    ]
    .concat()
}

/// Seals `secret` for `user_id` under `key`.
pub(crate) fn seal(key: &ServerKey, user_id: &str, secret: &AppSecret) -> SealedSecret {
    let mut nonce = [0u8; NONCE_BYTES];
    OsRng.fill_bytes(&mut nonce);
    let aad = bound_to(user_id);
    let payload = Payload {
        msg: secret.as_bytes(),
        aad: &aad,
    };
    let ciphertext = cipher(key)
        .encrypt(XNonce::from_slice(&nonce), payload)
        .unwrap_or_else(|_| unreachable!("encryption of a short message cannot fail"));
    let body = URL_SAFE_NO_PAD.encode([nonce.as_slice(), &ciphertext].concat());
    SealedSecret(format!("{VERSION}.{}.{body}", key.id()))
}

/// Opens a secret sealed for `user_id` with the key `key_for` finds by its id.
pub(crate) fn open<'k>(
    key_for: impl Fn(&str) -> Option<&'k ServerKey>,
    user_id: &str,
    sealed: &SealedSecret,
) -> Result<AppSecret, OpenError> {
    let (key_id, body) = sealed.parts().ok_or(OpenError::Corrupt)?;
    let key = key_for(key_id).ok_or_else(|| OpenError::UnknownKey(key_id.to_owned()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| OpenError::Corrupt)?;
    if bytes.len() <= NONCE_BYTES {
        return Err(OpenError::Corrupt);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
    let aad = bound_to(user_id);
    let payload = Payload {
        msg: ciphertext,
        aad: &aad,
    };
    cipher(key)
        .decrypt(XNonce::from_slice(nonce), payload)
        .map(|plain| AppSecret::from_bytes(Zeroizing::new(plain)))
        .map_err(|_| OpenError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_for_its_user_under_its_key_only() {
        let (key, other_key) = (ServerKey::random(), ServerKey::random());
        let secret = AppSecret::generate();
        let sealed = seal(&key, "42", &secret);
        assert_eq!(sealed.key_id(), Some(key.id().as_str()));
        assert!(!sealed.as_str().contains(&secret.base32()));
        let by_id = |id: &str| (id == key.id()).then_some(&key);
        let opened = open(by_id, "42", &sealed).unwrap();
        assert_eq!(opened.as_bytes(), secret.as_bytes());
        // Another user's row, another key, an altered text: nothing opens.
        assert_eq!(open(by_id, "43", &sealed).unwrap_err(), OpenError::Corrupt);
        assert_eq!(
            open(|_| Some(&other_key), "42", &sealed).unwrap_err(),
            OpenError::Corrupt
        );
        assert_eq!(
            open(|_| None, "42", &sealed).unwrap_err(),
            OpenError::UnknownKey(key.id())
        );
        let mut altered = sealed.as_str().to_owned();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        let altered = SealedSecret::from_stored(altered);
        assert_eq!(open(by_id, "42", &altered).unwrap_err(), OpenError::Corrupt);
        assert_eq!(
            open(by_id, "42", &SealedSecret::from_stored("v1.x")).unwrap_err(),
            OpenError::Corrupt
        );
        // Two seals of one secret differ (fresh nonces).
        assert_ne!(seal(&key, "42", &secret), sealed);
    }
}
