//! An authenticator app's secret and its codes: RFC 6238 with what every app supports
//! (HMAC-SHA1, 6 digits, 30-second steps), ±1 step accepted.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use qrcode::render::svg;
use qrcode::QrCode;
use rand::rngs::OsRng;
use rand::RngCore;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

/// Seconds per time step.
pub(crate) const STEP_SECONDS: u64 = 30;
/// Digits per code.
const DIGITS: u8 = 6;
/// Secret length: 160 bits, RFC 4226's recommendation.
const SECRET_BYTES: usize = 20;

/// An authenticator app's shared secret, in the clear: only ever in memory, wiped on drop.
pub(crate) struct AppSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

impl AppSecret {
    /// 160 fresh bits from the OS's CSPRNG.
    pub(crate) fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub(crate) fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, username: &str) -> Totp {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_step_duration(STEP_SECONDS)
            .with_skew(1)
            .with_secret(self.as_bytes())
            .with_issuer(Some(issuer))
            // The Key URI format forbids ':' in the label's parts; it is only a display name.
            .with_account_name(username.replace(':', "_"))
            .build_noncompliant()
    }

    /// The secret in base32 without padding, as a user types it into an app.
    pub(crate) fn base32(&self) -> String {
        self.totp("-", "-").secret().to_base32()
    }

    /// `otpauth://totp/<issuer>:<username>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`:
    /// the parameters totp-rs leaves out as defaults are spelled out, since some apps do not
    /// assume them.
    pub(crate) fn otpauth_url(&self, issuer: &str, username: &str) -> String {
        let url = self
            .totp(issuer, username)
            .to_url()
            .unwrap_or_else(|_| unreachable!("the issuer is validated and the label has no ':'"));
        format!("{url}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}")
    }

    /// The time step whose code `code` is, among the one holding `now` and one either side; each
    /// candidate is computed and compared in constant time.
    pub(crate) fn matching_step(&self, code: &str, now: SystemTime) -> Option<u64> {
        let seconds = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
        self.totp("-", "-").check(code, seconds)
    }
}

/// `url` as a QR code, an SVG document (black on white, at least 200 px square).
pub(crate) fn qr_svg(url: &str) -> String {
    QrCode::new(url.as_bytes())
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_else(|_| unreachable!("an otpauth URL fits in a QR code"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA1, T = 59 s: 94287082 (8 digits); the last 6 digits.
        let secret = AppSecret::from_bytes(Zeroizing::new(b"12345678901234567890".to_vec()));
        assert_eq!(secret.matching_step("287082", at(59)), Some(1));
    }

    #[test]
    fn one_step_either_side_is_accepted_two_are_not() {
        let secret = AppSecret::generate();
        let totp = secret.totp("-", "-");
        let now = 1_000 * STEP_SECONDS + 7;
        let code_of = |step: u64| totp.generate(step * STEP_SECONDS).to_string();
        for (step, accepted) in [
            (998, false),
            (999, true),
            (1000, true),
            (1001, true),
            (1002, false),
        ] {
            let found = secret.matching_step(&code_of(step), at(now));
            assert_eq!(found, accepted.then_some(step), "step {step}");
        }
        assert_eq!(secret.matching_step("12345", at(now)), None);
        assert_eq!(secret.matching_step("abcdef", at(now)), None);
    }

    #[test]
    fn the_url_names_issuer_user_and_parameters() {
        let secret = AppSecret::generate();
        let url = secret.otpauth_url("Example Co", "alice");
        let base32 = secret.base32();
        assert_eq!(base32.len(), 32, "160 bits, no padding");
        assert_eq!(
            url,
            format!(
                "otpauth://totp/Example%20Co:alice?secret={base32}&issuer=Example%20Co\
                 &algorithm=SHA1&digits=6&period=30"
            )
        );
        assert!(qr_svg(&url).contains("<svg"));
        assert_eq!(format!("{secret:?}"), "AppSecret(<redacted>)");
    }
}
