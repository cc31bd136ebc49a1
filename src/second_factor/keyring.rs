//! The layer's secret keys for second factors: the current one seals and digests, retired ones
//! still open what they sealed and match the recovery codes they digested.

use subtle::ConstantTimeEq;

use super::authenticator::AppSecret;
use super::recovery::normalise_recovery_code;
use super::sealing::{open, seal, OpenError, SealedSecret};
use super::store::RecoveryCodes;
use crate::store::DigestBytes;
use crate::token::ServerKey;

/// The current secret key and the retired ones.
#[derive(Debug, Clone)]
pub(crate) struct Keyring {
    current: ServerKey,
    retired: Vec<ServerKey>,
}

impl Keyring {
    pub(crate) fn new(current: ServerKey, retired: Vec<ServerKey>) -> Self {
        Self { current, retired }
    }

    fn by_id(&self, id: &str) -> Option<&ServerKey> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|key| key.id() == id)
    }

    /// Seals an app secret for `user_id` under the current key.
    pub(crate) fn seal(&self, user_id: &str, secret: &AppSecret) -> SealedSecret {
        seal(&self.current, user_id, secret)
    }

    /// Opens an app secret sealed for `user_id` under any of the keys.
    pub(crate) fn open(
        &self,
        user_id: &str,
        sealed: &SealedSecret,
    ) -> Result<AppSecret, OpenError> {
        open(|id| self.by_id(id), user_id, sealed)
    }

    /// What a durable store keeps of fresh recovery codes: their HMACs under the current key.
    pub(crate) fn recovery_codes(&self, user_id: &str, codes: &[String]) -> RecoveryCodes {
        let digests = codes
            .iter()
            .filter_map(|code| normalise_recovery_code(code))
            .map(|code| self.current.recovery_code_digest(user_id, &code))
            .collect();
        RecoveryCodes {
            key_id: self.current.id(),
            digests,
        }
    }

    /// The digest of a presented recovery code (normalised) under the key of `codes`, if it is
    /// one of them. Compared with every stored digest in constant time.
    pub(crate) fn find_recovery_code(
        &self,
        user_id: &str,
        codes: &RecoveryCodes,
        normalised: &str,
    ) -> Option<DigestBytes> {
        let key = self.by_id(&codes.key_id)?;
        let digest = key.recovery_code_digest(user_id, normalised);
        let found = codes.digests.iter().fold(0u8, |found, stored| {
            found | stored.ct_eq(&digest).unwrap_u8()
        });
        (found == 1).then_some(digest)
    }
}
