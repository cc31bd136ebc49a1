//! Secrets the layer hands out and what it keeps of them: challenge ids, auth tokens, code
//! digests and account keys.
//!
//! A challenge id or auth token is `<account key>.<random>`: 128 random bits for a challenge,
//! 256 for a token, from the OS's CSPRNG, base64url without padding. The account key prefix
//! tells the store where the account's records live (the hash tag on Redis Cluster) and is a
//! keyed hash, so it does not reveal the user id. Stores only ever see SHA-256 digests of ids
//! and tokens and HMACs of codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest as _, Sha256};

use crate::store::{AccountKey, DigestBytes};

/// Characters of an account key: 12 bytes of HMAC, base64url.
const ACCOUNT_KEY_LEN: usize = 16;
/// Random bytes in a challenge id (128 bits).
const CHALLENGE_BYTES: usize = 16;
/// Random bytes in an auth token (256 bits).
const TOKEN_BYTES: usize = 32;

/// The server key: HMACs of codes and account keys are computed under it. Every instance of
/// an application that shares a store must use the same key.
#[derive(Clone)]
pub(crate) struct ServerKey(Vec<u8>);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// A secret handed to a client, and the digest the store keeps of it.
pub(crate) struct Issued {
    pub(crate) secret: String,
    pub(crate) digest: DigestBytes,
}

/// A secret a client sent back, split into what the store needs.
#[derive(Debug)]
pub(crate) struct Presented {
    pub(crate) account: AccountKey,
    pub(crate) digest: DigestBytes,
}

/// Minimum server key length, in bytes.
pub(crate) const MIN_SERVER_KEY_LEN: usize = 32;

impl ServerKey {
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        (key.len() >= MIN_SERVER_KEY_LEN).then(|| Self(key.to_vec()))
    }

    pub(crate) fn random() -> Self {
        Self(random_bytes::<32>().to_vec())
    }

    fn hmac(&self, parts: &[&[u8]]) -> DigestBytes {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in parts {
            // Length-prefixed, so that no two different part lists hash the same bytes.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The store's key for a user id (or, for names that match no user, a normalised username).
    pub(crate) fn account_key(&self, kind: &str, id: &str) -> AccountKey {
        let mac = self.hmac(&[b"account", kind.as_bytes(), id.as_bytes()]);
        AccountKey::new(URL_SAFE_NO_PAD.encode(&mac[..12]))
    }

    /// What the store keeps of a code: an HMAC bound to the account.
    pub(crate) fn code_digest(&self, account: &AccountKey, code: &str) -> DigestBytes {
        self.hmac(&[b"code", account.as_str().as_bytes(), code.as_bytes()])
    }

    /// What a challenge waiting for an authenticator app keeps instead of a code's digest. No
    /// code's digest can equal it (another label), so only the flow's own verdict "the app code
    /// matched" satisfies such a challenge.
    pub(crate) fn app_challenge_digest(&self, account: &AccountKey) -> DigestBytes {
        self.hmac(&[b"app challenge", account.as_str().as_bytes()])
    }

    /// What a durable store keeps of a recovery code (normalised): an HMAC bound to the user.
    pub(crate) fn recovery_code_digest(&self, user_id: &str, code: &str) -> DigestBytes {
        self.hmac(&[b"recovery code", user_id.as_bytes(), code.as_bytes()])
    }

    /// A 256-bit key for `purpose`, derived from this one.
    pub(crate) fn derive(&self, purpose: &str) -> [u8; 32] {
        self.hmac(&[b"derive", purpose.as_bytes()])
    }

    /// This key's id: 8 hex digits that name it in what it sealed, never revealing it.
    pub(crate) fn id(&self) -> String {
        let mac = self.hmac(&[b"key id"]);
        mac[..4].iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

pub(crate) fn sha256(data: &[u8]) -> DigestBytes {
    Sha256::digest(data).into()
}

fn issue<const N: usize>(account: &AccountKey) -> Issued {
    let secret = format!("{account}.{}", URL_SAFE_NO_PAD.encode(random_bytes::<N>()));
    let digest = sha256(secret.as_bytes());
    Issued { secret, digest }
}

/// What a pending login waits for. It is written into the challenge id (an app's ends in
/// `.totp`), so that the id's digest covers it: a client cannot change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengeKind {
    /// A code the notifier delivered.
    Delivered,
    /// A code from the user's authenticator app (or a recovery code).
    App,
}

const APP_CHALLENGE_SUFFIX: &str = ".totp";

/// A fresh challenge id for `account`.
pub(crate) fn new_challenge_id(account: &AccountKey, kind: ChallengeKind) -> Issued {
    let issued = issue::<CHALLENGE_BYTES>(account);
    match kind {
        ChallengeKind::Delivered => issued,
        ChallengeKind::App => {
            let secret = issued.secret + APP_CHALLENGE_SUFFIX;
            let digest = sha256(secret.as_bytes());
            Issued { secret, digest }
        }
    }
}

/// A fresh auth token for `account`.
pub(crate) fn new_auth_token(account: &AccountKey) -> Issued {
    issue::<TOKEN_BYTES>(account)
}

fn parse(presented: &str, random_bytes: usize) -> Option<Presented> {
    let (account, random) = presented.split_once('.')?;
    let random_len = (random_bytes * 8).div_ceil(6);
    let url_safe = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (account.len() == ACCOUNT_KEY_LEN
        && random.len() == random_len
        && url_safe(account)
        && url_safe(random))
    .then(|| Presented {
        account: AccountKey::new(account),
        digest: sha256(presented.as_bytes()),
    })
}

/// Splits a challenge id from a client; `None` if it cannot be one of ours.
pub(crate) fn parse_challenge_id(presented: &str) -> Option<(Presented, ChallengeKind)> {
    match presented.strip_suffix(APP_CHALLENGE_SUFFIX) {
        Some(bare) => parse(bare, CHALLENGE_BYTES).map(|parsed| {
            let digest = sha256(presented.as_bytes());
            (Presented { digest, ..parsed }, ChallengeKind::App)
        }),
        None => parse(presented, CHALLENGE_BYTES).map(|parsed| (parsed, ChallengeKind::Delivered)),
    }
}

/// Splits an auth token from a client; `None` if it cannot be one of ours.
pub(crate) fn parse_auth_token(presented: &str) -> Option<Presented> {
    parse(presented, TOKEN_BYTES)
}

/// A fresh remembered-device secret for `account`: 256 random bits, shaped like a token.
pub(crate) fn new_device_secret(account: &AccountKey) -> Issued {
    let issued = issue::<TOKEN_BYTES>(account);
    Issued {
        digest: device_digest(&issued.secret),
        ..issued
    }
}

/// The account and digest of a presented device secret, if it is well-formed.
pub(crate) fn parse_device_secret(presented: &str) -> Option<Presented> {
    parse(presented, TOKEN_BYTES).map(|parsed| Presented {
        digest: device_digest(presented),
        ..parsed
    })
}

/// What a device secret is kept as: its SHA-256 under a label of its own, so that no device's
/// digest can equal a token's, whichever store keeps both.
fn device_digest(secret: &str) -> DigestBytes {
    let mut hasher = Sha256::new();
    hasher.update(b"tower-otp remembered device\0");
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_secrets_parse_back_to_their_account_and_digest() {
        let key = ServerKey::random();
        let account = key.account_key("user", "42");
        let token = new_auth_token(&account);
        let parsed = parse_auth_token(&token.secret).unwrap();
        assert_eq!(parsed.account, account);
        assert_eq!(parsed.digest, token.digest);
        assert_eq!(token.secret.len(), 16 + 1 + 43);
        let challenge = new_challenge_id(&account, ChallengeKind::Delivered);
        let (parsed, kind) = parse_challenge_id(&challenge.secret).unwrap();
        assert_eq!(
            (parsed.digest, kind),
            (challenge.digest, ChallengeKind::Delivered)
        );
        // An app's challenge says so, under its digest: without the suffix it is another id.
        let app = new_challenge_id(&account, ChallengeKind::App);
        let (parsed, kind) = parse_challenge_id(&app.secret).unwrap();
        assert_eq!((parsed.digest, kind), (app.digest, ChallengeKind::App));
        let stripped = app.secret.strip_suffix(".totp").unwrap();
        let (parsed, kind) = parse_challenge_id(stripped).unwrap();
        assert_ne!(parsed.digest, app.digest);
        assert_eq!(kind, ChallengeKind::Delivered);
        // Each kind only parses as itself.
        assert!(parse_challenge_id(&token.secret).is_none());
        assert!(parse_auth_token(&challenge.secret).is_none());
        // A device secret is token-shaped, but its digest is of its own kind.
        let device = new_device_secret(&account);
        let parsed = parse_device_secret(&device.secret).unwrap();
        assert_eq!((parsed.account, parsed.digest), (account, device.digest));
        let as_token = parse_auth_token(&device.secret).unwrap();
        assert_ne!(as_token.digest, device.digest);
    }

    #[test]
    fn malformed_secrets_do_not_parse() {
        for bad in [
            "",
            ".",
            "abc",
            "a.b",
            "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ.x",
            &"a".repeat(200),
        ] {
            assert!(parse_auth_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn fresh_secrets_differ() {
        let account = ServerKey::random().account_key("user", "1");
        assert_ne!(
            new_auth_token(&account).secret,
            new_auth_token(&account).secret
        );
    }

    #[test]
    fn digests_are_keyed_and_bound_to_account() {
        let (a, b) = (ServerKey::random(), ServerKey::random());
        let acc = a.account_key("user", "1");
        assert_ne!(acc, b.account_key("user", "1"), "account keys are keyed");
        assert_ne!(acc, a.account_key("name", "1"), "kinds are separated");
        assert_eq!(a.code_digest(&acc, "123456"), a.code_digest(&acc, "123456"));
        assert_ne!(a.code_digest(&acc, "123456"), b.code_digest(&acc, "123456"));
        let other = a.account_key("user", "2");
        assert_ne!(
            a.code_digest(&acc, "123456"),
            a.code_digest(&other, "123456")
        );
    }
}
