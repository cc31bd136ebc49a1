use std::time::{SystemTime, UNIX_EPOCH};

use totp_rs::{Algorithm, Builder, TotpError};

use super::otp_strategy::{random_secret, OtpStrategy};

/// RFC 6238 TOTP (HMAC-SHA1) over a fresh 160-bit CSPRNG secret per code, as django-drf-otp
/// does (its secret was partly predictable; this one is not). The step only shapes the code:
/// the code's lifetime is the challenge's.
#[derive(Debug, Clone, Copy)]
pub struct PerChallengeTotpStrategy {
    step: u64,
}

impl PerChallengeTotpStrategy {
    /// A TOTP strategy with time step `step` seconds (the layer uses `totp_token_ttl`).
    pub fn new(step: u64) -> Self {
        Self { step: step.max(1) }
    }
}

impl Default for PerChallengeTotpStrategy {
    fn default() -> Self {
        Self::new(30)
    }
}

impl OtpStrategy for PerChallengeTotpStrategy {
    fn generate(&self, digits: u8, now: SystemTime) -> String {
        let time = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        totp(&random_secret(), Algorithm::SHA1, digits, self.step, time)
            .expect("a 160-bit secret and 6 to 8 digits are valid TOTP parameters")
    }

    fn max_digits(&self) -> u8 {
        8
    }
}

/// The RFC 6238 TOTP value of `secret` at Unix time `time`: `digits` (6 to 8) digits, time step
/// `step` seconds, T0 = 0. Secrets shorter than 128 bits are refused (RFC 4226 R6).
pub(crate) fn totp(
    secret: &[u8],
    algorithm: Algorithm,
    digits: u8,
    step: u64,
    time: u64,
) -> Result<String, TotpError> {
    let totp = Builder::new()
        .with_algorithm(algorithm)
        .with_digits(digits)
        .with_step_duration(step)
        .with_secret(secret)
        .build()?;
    Ok(totp.generate(time).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, with the 20-, 32- and 64-byte seeds of its Appendix A.
    #[test]
    fn rfc6238_appendix_b() {
        let sha1 = b"12345678901234567890".as_slice();
        let sha256 = b"12345678901234567890123456789012".as_slice();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".as_slice();
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, v1, v256, v512) in vectors {
            assert_eq!(totp(sha1, Algorithm::SHA1, 8, 30, time).unwrap(), v1);
            assert_eq!(totp(sha256, Algorithm::SHA256, 8, 30, time).unwrap(), v256);
            assert_eq!(totp(sha512, Algorithm::SHA512, 8, 30, time).unwrap(), v512);
        }
        // The classic trap: the 20-byte seed with SHA-256 gives another value.
        assert_eq!(
            totp(sha1, Algorithm::SHA256, 8, 30, 59).unwrap(),
            "32247374"
        );
    }

    #[test]
    fn refuses_short_secrets_and_bad_digit_counts() {
        assert!(totp(b"too short", Algorithm::SHA1, 6, 30, 0).is_err());
        assert!(totp(&[7; 20], Algorithm::SHA1, 5, 30, 0).is_err());
        assert!(totp(&[7; 20], Algorithm::SHA1, 9, 30, 0).is_err());
    }

    #[test]
    fn generates_fresh_codes_of_the_asked_length() {
        let strategy = PerChallengeTotpStrategy::new(300);
        let now = SystemTime::now();
        let codes: Vec<String> = (0..20).map(|_| strategy.generate(6, now)).collect();
        assert!(codes
            .iter()
            .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        // Fresh secrets: 20 codes at the same instant are not all equal.
        assert!(codes.iter().any(|c| *c != codes[0]));
        assert_eq!(strategy.generate(8, now).len(), 8);
    }
}
