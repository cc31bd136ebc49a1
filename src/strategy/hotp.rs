use std::time::SystemTime;

use totp_rs::{Algorithm, TotpError};

use super::otp_strategy::{random_secret, OtpStrategy};
use super::totp::totp;

/// RFC 4226 HOTP (HMAC-SHA1) over a fresh 160-bit CSPRNG secret per code, counter 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerChallengeHotpStrategy;

impl OtpStrategy for PerChallengeHotpStrategy {
    fn generate(&self, digits: u8, _now: SystemTime) -> String {
        hotp(&random_secret(), Algorithm::SHA1, digits, 0)
            .expect("a 160-bit secret and 6 to 8 digits are valid HOTP parameters")
    }

    fn max_digits(&self) -> u8 {
        8
    }
}

/// The RFC 4226 HOTP value of `secret` at `counter`: `digits` (6 to 8) digits. HOTP is TOTP
/// with a one-second step read at time `counter`, which is how it is computed here.
pub(crate) fn hotp(
    secret: &[u8],
    algorithm: Algorithm,
    digits: u8,
    counter: u64,
) -> Result<String, TotpError> {
    totp(secret, algorithm, digits, 1, counter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(
                hotp(b"12345678901234567890", Algorithm::SHA1, 6, counter as u64).unwrap(),
                *want
            );
        }
    }

    #[test]
    fn fresh_secret_per_code() {
        let codes: Vec<String> = (0..20)
            .map(|_| PerChallengeHotpStrategy.generate(6, SystemTime::now()))
            .collect();
        assert!(codes.iter().any(|c| *c != codes[0]));
    }
}
