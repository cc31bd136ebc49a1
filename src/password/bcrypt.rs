//! Django's bcrypt hashes: `bcrypt_sha256$$2b$<cost>$<salt and hash>` (bcrypt over the
//! lowercase hex of the password's SHA-256, so that no password is cut at bcrypt's 72 bytes)
//! and plain `bcrypt$$2b$…`, checked with the `bcrypt` crate, which compares in constant time.

use sha2::{Digest, Sha256};

use super::error::VerifyError;

/// The highest cost a stored hash may ask for: 2¹⁴ rounds, four times Django's default (12).
/// One check at the limit holds a password thread for about a second; each step above doubles
/// it.
pub(super) const MAX_COST: u32 = 14;

/// The longest password bcrypt reads.
const MAX_PASSWORD_BYTES: usize = 72;

/// bcrypt's lowest cost.
const MIN_COST: u32 = 4;

/// Whether `password` matches `modular`, the modular crypt string after Django's algorithm and
/// its `$` (`$2b$<two-digit cost>$<22 characters of salt, 31 of hash>`), and its cost. With
/// `prehashed`, bcrypt gets the lowercase hex of the password's SHA-256, as Django's
/// `BCryptSHA256PasswordHasher` gives it.
pub(super) fn verify(
    prehashed: bool,
    modular: &str,
    password: &[u8],
) -> Result<(bool, u32), VerifyError> {
    let cost = cost_of(modular).ok_or(VerifyError::Unusable)?;
    if cost < MIN_COST {
        return Err(VerifyError::Unusable);
    }
    if cost > MAX_COST {
        return Err(VerifyError::TooCostly(format!(
            "bcrypt cost ({cost}) is above the limit checked here ({MAX_COST})"
        )));
    }
    let matches = if prehashed {
        let hex: String = Sha256::digest(password)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        bcrypt::verify(hex, modular)
    } else if password.len() > MAX_PASSWORD_BYTES {
        // Refused, not cut to its first 72 bytes (which would let any continuation of those
        // match), as Django with bcrypt 5 refuses it; after the same work as any check, so
        // that a long password does not tell a real user from an unknown one by time.
        let _ = bcrypt::verify(&password[..MAX_PASSWORD_BYTES], modular);
        Ok(false)
    } else {
        bcrypt::verify(password, modular)
    };
    Ok((matches.map_err(|_| VerifyError::Unusable)?, cost))
}

/// The cost of a well-formed modular crypt string of bcrypt (variants 2a, 2b and 2y), or
/// `None`.
fn cost_of(modular: &str) -> Option<u32> {
    let rest = modular
        .strip_prefix("$2a$")
        .or_else(|| modular.strip_prefix("$2b$"))
        .or_else(|| modular.strip_prefix("$2y$"))?;
    let (cost, salt_and_hash) = rest.split_once('$')?;
    let bcrypt_base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
    let well_formed = cost.len() == 2
        && cost.bytes().all(|b| b.is_ascii_digit())
        && salt_and_hash.len() == 53
        && salt_and_hash.bytes().all(bcrypt_base64);
    well_formed.then(|| cost.parse().ok()).flatten()
}

/// A hash of this kind and cost with an all-zero salt and hash: checking a password against it
/// costs what checking a real one does, and no password is expected to match.
#[cfg(test)]
pub(super) fn stand_in(prehashed: bool, cost: u32) -> String {
    let algorithm = if prehashed { "bcrypt_sha256" } else { "bcrypt" };
    format!("{algorithm}$$2b${cost:02}${}", ".".repeat(53))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Django 5.2.19 with bcrypt 5.0.0, rounds = 4: `BCryptSHA256PasswordHasher` and
    // `BCryptPasswordHasher`, `encode("Pässwörd ✓", salt())`, without the algorithm and its `$`.
    const SHA256: &str = "$2b$04$ftOAfylPIGwElQdIxTow7.XgsLUxT4PKGFq.kYmhDGlCDXnstsz0W";
    const PLAIN: &str = "$2b$04$0yUKzIBg3o3hUxW7pqkcTuK/lZULL/a2i7M3gkzxs16YtWf7O6JRq";

    #[test]
    fn a_plain_bcrypt_hash_never_matches_beyond_72_bytes() {
        // bcrypt reads 72 bytes: any continuation of these would match a truncating check.
        let first_72 = "x".repeat(72);
        let modular = ::bcrypt::hash(&first_72, 4).unwrap();
        assert_eq!(checked(false, &modular, &first_72), Some(true));
        let longer = format!("{first_72}and more");
        assert_eq!(checked(false, &modular, &longer), Some(false));
        // Django's SHA-256 variant hashes the whole password first: no such limit there.
        assert_eq!(checked(true, &modular, &longer), Some(false));
    }

    fn checked(prehashed: bool, modular: &str, password: &str) -> Option<bool> {
        match verify(prehashed, modular, password.as_bytes()) {
            Ok((matches, _)) => Some(matches),
            Err(VerifyError::Unusable) => None,
            Err(_) => panic!("{modular}: not refused as unusable"),
        }
    }

    #[test]
    fn django_hashes_verify_with_the_right_password_only() {
        for (prehashed, modular) in [(true, SHA256), (false, PLAIN)] {
            assert_eq!(checked(prehashed, modular, "Pässwörd ✓"), Some(true));
            assert_eq!(checked(prehashed, modular, "Pässwörd ✓ "), Some(false));
            assert_eq!(checked(prehashed, modular, "pässwörd ✓"), Some(false));
        }
        // The hex of the SHA-256 is not the password, and the reverse.
        assert_eq!(checked(false, SHA256, "Pässwörd ✓"), Some(false));
        assert_eq!(checked(true, PLAIN, "Pässwörd ✓"), Some(false));
    }

    #[test]
    fn malformed_hashes_are_unusable() {
        let malformed = [
            String::new(),
            "$2b$04$".to_owned(),
            SHA256.replace("$2b$", "$2x$"),
            SHA256.replace("$2b$04$", "$2b$4$"),
            SHA256.replace("$2b$04$", "$2b$03$"),
            SHA256.replace("$2b$04$", "$2b$0a$"),
            SHA256.replace("$2b$04$", "$2b$$04$"),
            SHA256[..SHA256.len() - 1].to_owned(),
            format!("{SHA256}W"),
            SHA256.replace('.', "+"),
            format!("bcrypt_sha256${SHA256}"),
        ];
        for modular in malformed {
            assert_eq!(checked(true, &modular, "Pässwörd ✓"), None, "{modular:?}");
        }
    }

    #[test]
    fn costs_above_the_limit_are_refused_before_any_work() {
        for cost in [MAX_COST + 1, 31, 99] {
            let modular = SHA256.replace("$2b$04$", &format!("$2b${cost:02}$"));
            assert!(
                matches!(
                    verify(true, &modular, b"pw"),
                    Err(VerifyError::TooCostly(_))
                ),
                "{modular}"
            );
        }
    }

    #[test]
    fn a_stand_in_is_well_formed_and_matches_nothing() {
        for prehashed in [true, false] {
            let stand_in = stand_in(prehashed, 4);
            let modular = stand_in.split_once('$').unwrap().1;
            assert_eq!(checked(prehashed, modular, "Pässwörd ✓"), Some(false));
        }
    }
}
