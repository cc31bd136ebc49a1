//! Code generators.
//!
//! A strategy only makes codes. The layer keeps an HMAC of each code in the token store and
//! compares the client's code with it in constant time, so a strategy never holds state and
//! the code's lifetime is the challenge's (`totp_token_ttl` from issue), not a TOTP window.
//!
//! Implementations: [`PerChallengeTotpStrategy`] (django-drf-otp's default),
//! [`PerChallengeHotpStrategy`] and [`RandomCodeStrategy`], each drawing its randomness from the
//! OS's CSPRNG. The first two make a code from a fresh random secret per challenge: they are
//! not the TOTP of an authenticator app, whose secret lives with the user.

mod code;
mod hotp;
mod totp;

pub use code::RandomCodeStrategy;
pub use hotp::PerChallengeHotpStrategy;
pub use totp::PerChallengeTotpStrategy;

#[cfg(feature = "__bench")]
pub(crate) use hotp::hotp;
#[cfg(feature = "__bench")]
pub(crate) use totp::totp;

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::CodeType;

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

/// The strategy a `default_token_type` names.
pub(crate) fn for_token_type(kind: CodeType, step: u64) -> Arc<dyn OtpStrategy> {
    match kind {
        CodeType::Totp => Arc::new(PerChallengeTotpStrategy::new(step)),
        CodeType::Hotp => Arc::new(PerChallengeHotpStrategy),
        CodeType::Code => Arc::new(RandomCodeStrategy),
    }
}

/// A fresh 160-bit secret from the OS (RFC 4226 R6 recommends 160 bits).
fn random_secret() -> [u8; 20] {
    use rand::RngCore;
    let mut secret = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}
