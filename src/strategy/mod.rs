//! Code generators.
//!
//! A strategy only makes codes. The layer keeps an HMAC of each code in the state store and
//! compares the client's code with it in constant time, so a strategy never holds state and
//! the code's lifetime is the challenge's (`totp_token_ttl` from issue), not a TOTP window.
//!
//! Implementations: [`PerChallengeTotpStrategy`] (django-drf-otp's default),
//! [`PerChallengeHotpStrategy`] and [`RandomCodeStrategy`], each drawing its randomness from the
//! OS's CSPRNG. The first two make a code from a fresh random secret per challenge: they are
//! not the TOTP of an authenticator app, whose secret lives with the user.

mod code;
mod hotp;
mod otp_strategy;
mod totp;

pub use code::RandomCodeStrategy;
pub use hotp::PerChallengeHotpStrategy;
pub use otp_strategy::OtpStrategy;
pub use totp::PerChallengeTotpStrategy;

#[cfg(feature = "__bench")]
pub(crate) use hotp::hotp;
#[cfg(feature = "__bench")]
pub(crate) use totp::totp;

use std::sync::Arc;

use crate::config::CodeType;

/// The strategy a `default_token_type` names.
pub(crate) fn for_code_type(kind: CodeType, step: u64) -> Arc<dyn OtpStrategy> {
    match kind {
        CodeType::Totp => Arc::new(PerChallengeTotpStrategy::new(step)),
        CodeType::Hotp => Arc::new(PerChallengeHotpStrategy),
        CodeType::Code => Arc::new(RandomCodeStrategy),
    }
}
