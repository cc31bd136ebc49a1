//! Django's PBKDF2 hashes: `pbkdf2_sha256$<iterations>$<salt>$<base64 key>`, its default
//! hasher, and `pbkdf2_sha1$…`, derived with the `pbkdf2` crate and compared in constant time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::VerifyError;

/// The most iterations a stored hash may ask for: four times Django 5.2's default (1,000,000;
/// Django raises it by about a fifth a release). One check at the limit holds a password
/// thread for about a second; above it, a corrupt or hostile row could hold it for minutes.
pub(super) const MAX_ITERATIONS: u32 = 4_000_000;

/// The hash function under HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Digest {
    Sha1,
    Sha256,
}

impl Digest {
    /// Django's name of the algorithm: the hash's prefix.
    pub(super) fn algorithm(self) -> &'static str {
        match self {
            Self::Sha1 => "pbkdf2_sha1",
            Self::Sha256 => "pbkdf2_sha256",
        }
    }

    /// The length of the key Django derives and stores: the digest's.
    fn key_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// Whether `password` matches `encoded`, what follows the algorithm and its `$`
/// (`<iterations>$<salt>$<base64 key>`), and the iterations it took.
pub(super) fn verify(
    digest: Digest,
    encoded: &str,
    password: &[u8],
) -> Result<(bool, u32), VerifyError> {
    let mut parts = encoded.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(key)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Unusable);
    };
    if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Unusable);
    }
    // Only digits: a count that does not parse is one too large for a u32.
    let iterations = iterations.parse::<u32>().unwrap_or(u32::MAX);
    if iterations == 0 || salt.is_empty() {
        return Err(VerifyError::Unusable);
    }
    if iterations > MAX_ITERATIONS {
        return Err(VerifyError::TooCostly(format!(
            "{} iterations ({iterations}) are above the limit checked here ({MAX_ITERATIONS})",
            digest.algorithm()
        )));
    }
    let expected = STANDARD.decode(key).map_err(|_| VerifyError::Unusable)?;
    if expected.len() != digest.key_len() {
        return Err(VerifyError::Unusable);
    }
    let mut derived = vec![0u8; expected.len()];
    let salt = salt.as_bytes();
    match digest {
        Digest::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut derived),
        Digest::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut derived),
    }
    Ok((derived.ct_eq(&expected).into(), iterations))
}

/// A hash of this digest and iteration count whose key is all zeros: checking a password
/// against it costs what checking a real one does, and no password is expected to match.
#[cfg(test)]
pub(super) fn stand_in(digest: Digest, iterations: u32) -> String {
    let key = STANDARD.encode(vec![0u8; digest.key_len()]);
    format!(
        "{}${iterations}$standinsaltstandin${key}",
        digest.algorithm()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Django 5.2.19's `PBKDF2PasswordHasher().encode("Pässwörd ✓", "s4ltS4LTsalt",
    // 1000)` and its SHA-1 twin.
    const SHA256: &str = "1000$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=";
    const SHA1: &str = "1000$s4ltS4LTsalt$oEDmp+WrrNmkzBKfpLfs3MI047w=";

    fn checked(digest: Digest, encoded: &str, password: &str) -> Option<bool> {
        match verify(digest, encoded, password.as_bytes()) {
            Ok((matches, iterations)) => {
                assert_eq!(iterations, 1000);
                Some(matches)
            }
            Err(VerifyError::Unusable) => None,
            Err(_) => panic!("{encoded}: not refused as unusable"),
        }
    }

    #[test]
    fn django_hashes_verify_with_the_right_password_only() {
        for (digest, encoded) in [(Digest::Sha256, SHA256), (Digest::Sha1, SHA1)] {
            assert_eq!(checked(digest, encoded, "Pässwörd ✓"), Some(true));
            assert_eq!(checked(digest, encoded, "Pässwörd ✓ "), Some(false));
            assert_eq!(checked(digest, encoded, "Passwort ✓"), Some(false));
        }
        // The other digest's key has the wrong length for this one.
        assert_eq!(checked(Digest::Sha256, SHA1, "Pässwörd ✓"), None);
    }

    #[test]
    fn malformed_hashes_are_unusable() {
        let truncated_key = &SHA256[..SHA256.len() - 4];
        let malformed = [
            "",
            "1000",
            "1000$s4ltS4LTsalt",
            "$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=",
            "+1000$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=",
            "0$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=",
            "1000$$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=",
            "1000$s4ltS4LTsalt$not base64!",
            "1000$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=$",
            truncated_key,
        ];
        for encoded in malformed {
            assert_eq!(
                checked(Digest::Sha256, encoded, "Pässwörd ✓"),
                None,
                "{encoded:?}"
            );
        }
    }

    #[test]
    fn iterations_above_the_limit_are_refused_before_any_work() {
        let key = "qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=";
        for iterations in [
            u64::from(MAX_ITERATIONS) + 1,
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let encoded = format!("{iterations}$salt${key}");
            assert!(
                matches!(
                    verify(Digest::Sha256, &encoded, b"pw"),
                    Err(VerifyError::TooCostly(_))
                ),
                "{encoded}"
            );
        }
    }

    #[test]
    fn a_stand_in_is_well_formed_and_matches_nothing() {
        for digest in [Digest::Sha256, Digest::Sha1] {
            let stand_in = stand_in(digest, 1000);
            let encoded = stand_in.split_once('$').unwrap().1;
            assert_eq!(checked(digest, encoded, "Pässwörd ✓"), Some(false));
        }
    }
}
