//! Recovery codes: ten single-use codes like `k7pq2-mx9tz` for a lost phone, 50 random bits
//! each in Crockford's base32 (no i, l, o, u), read back whatever the case, spaces and dashes.

use rand::rngs::OsRng;
use rand::Rng;

/// Codes per set.
pub(crate) const RECOVERY_CODES: usize = 10;
/// Characters per code, without its dash.
const CODE_CHARS: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A fresh set of recovery codes, from the OS's CSPRNG.
pub(crate) fn generate_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..CODE_CHARS)
                .map(|_| char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())]))
                .collect();
            format!("{}-{}", &chars[..CODE_CHARS / 2], &chars[CODE_CHARS / 2..])
        })
        .collect()
}

/// A code as typed (any case, spaces and dashes anywhere, `i`/`l` for 1 and `o` for 0, as
/// Crockford's base32 reads them) in the form its digest is taken of; `None` if it cannot be a
/// recovery code.
pub(crate) fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\t'))
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    (code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_codes_look_like_the_contract_and_differ() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 11);
            assert_eq!(&code[5..6], "-");
            assert_eq!(
                normalise_recovery_code(code).unwrap(),
                code.replace('-', "")
            );
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn case_spaces_and_dashes_are_ignored() {
        let want = Some("k7pq2mx9tz".to_owned());
        for typed in [
            "k7pq2-mx9tz",
            "K7PQ2-MX9TZ",
            " k7pq2 mx9tz ",
            "k7-pq2-mx-9tz",
            "k7pq2mx9tz",
        ] {
            assert_eq!(normalise_recovery_code(typed), want, "{typed:?}");
        }
        assert_eq!(
            normalise_recovery_code("IO000-00000").as_deref(),
            Some("1000000000")
        );
        for bad in [
            "",
            "123456",
            "k7pq2-mx9t",
            "k7pq2-mx9tzz",
            "k7pq2-mx9tü",
            "u7pq2-mx9tz",
        ] {
            assert_eq!(normalise_recovery_code(bad), None, "{bad:?}");
        }
    }
}
