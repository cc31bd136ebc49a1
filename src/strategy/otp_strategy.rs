//! The [`OtpStrategy`] trait, and the fresh secret the per-challenge strategies draw from.

use std::sync::Arc;
use std::time::SystemTime;

/// Makes one-time codes.
///
/// ```
/// use std::time::SystemTime;
/// use tower_otp::strategy::{OtpStrategy, RandomCodeStrategy};
///
/// let code = RandomCodeStrategy.generate(8, SystemTime::now());
/// assert_eq!(code.len(), 8);
/// assert!(code.bytes().all(|b| b.is_ascii_digit()));
/// ```
pub trait OtpStrategy: Send + Sync + 'static {
    /// A fresh code of `digits` decimal digits (the layer asks for 6 to 10; TOTP and HOTP
    /// support 6 to 8). `now` is the layer's clock.
    fn generate(&self, digits: u8, now: SystemTime) -> String;

    /// The longest code this strategy makes; the layer refuses a longer `token_length` when it
    /// is built. Default 10.
    fn max_digits(&self) -> u8 {
        10
    }
}

impl<T: OtpStrategy + ?Sized> OtpStrategy for Arc<T> {
    fn generate(&self, digits: u8, now: SystemTime) -> String {
        (**self).generate(digits, now)
    }

    fn max_digits(&self) -> u8 {
        (**self).max_digits()
    }
}

/// A fresh 160-bit secret from the OS (RFC 4226 R6 recommends 160 bits).
pub(super) fn random_secret() -> [u8; 20] {
    use rand::RngCore;
    let mut secret = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}
