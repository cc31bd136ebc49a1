//! The key layout: `P{A}:<kind>` keys of one account (its hash tag `{A}` keeps them in one
//! Redis Cluster slot) and digests in hex.

use crate::store::records::{AccountKey, DigestBytes};

/// Builds `P{A}:<kind>` keys of one account, reusing one buffer.
pub(super) struct AccountKeys {
    buf: String,
    base: usize,
}

impl AccountKeys {
    pub(super) fn new(prefix: &str, account: &AccountKey) -> Self {
        let mut buf = String::with_capacity(prefix.len() + account.as_str().len() + 80);
        buf.push_str(prefix);
        buf.push('{');
        buf.push_str(account.as_str());
        buf.push_str("}:");
        let base = buf.len();
        Self { buf, base }
    }

    pub(super) fn key(&mut self, kind: &str) -> &str {
        self.buf.truncate(self.base);
        self.buf.push_str(kind);
        &self.buf
    }

    /// `P{A}:device:<hex>`, a remembered device.
    pub(super) fn device(&mut self, digest: &Hex) -> &str {
        self.buf.truncate(self.base);
        self.buf.push_str(DEVICE_PREFIX);
        self.buf.push_str(digest.as_str());
        &self.buf
    }

    /// `P{A}:device:`, the start of every device key of the account.
    pub(super) fn device_prefix(&mut self) -> &str {
        self.key(DEVICE_PREFIX)
    }
}

pub(super) const CHALLENGE: &str = "challenge";
pub(super) const FAILURES: &str = "failures";
/// The account's tokens: a hash of token records by the hex of their digest.
pub(super) const TOKENS: &str = "auth_tokens";
pub(super) const DEVICES: &str = "devices";
pub(super) const DEVICE_PREFIX: &str = "device:";
pub(super) const TIME_STEP: &str = "step";
pub(super) const APP_SETUP: &str = "app_setup";

/// A digest in lowercase hex, on the stack.
pub(super) struct Hex([u8; 64]);

impl Hex {
    pub(super) fn new(digest: &DigestBytes) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        Self(out)
    }

    pub(super) fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_complete() {
        let mut digest = [0u8; 32];
        digest[0] = 0xab;
        digest[31] = 0x0f;
        let hex = Hex::new(&digest);
        assert_eq!(hex.as_str().len(), 64);
        assert!(hex.as_str().starts_with("ab00"));
        assert!(hex.as_str().ends_with("000f"));
    }

    #[test]
    fn account_keys_share_the_account_hash_tag() {
        let mut keys = AccountKeys::new("p:", &AccountKey::new("acc-1"));
        assert_eq!(keys.key(CHALLENGE), "p:{acc-1}:challenge");
        assert_eq!(
            keys.device(&Hex::new(&[0x11; 32])),
            format!("p:{{acc-1}}:device:{}", "11".repeat(32))
        );
        assert_eq!(keys.device_prefix(), "p:{acc-1}:device:");
        assert_eq!(keys.key(TOKENS), "p:{acc-1}:auth_tokens");
    }
}
