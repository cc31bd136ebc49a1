//! Settings: [`OtpSettings`] mirrors django-drf-otp's `OTP_SETTINGS` (same keys, lower case,
//! same defaults) and adds tower-otp's own knobs, every one with a safe default.

mod settings;
mod validation;

pub use settings::{CodeType, EmailConfig, OtpSettings, SameSite, TokenTransport};
pub(crate) use validation::{bad, check_path, same_path};
pub use validation::{ConfigError, ConfigErrors};
