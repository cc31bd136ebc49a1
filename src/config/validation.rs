//! Checking settings: every problem found at once, each naming its key.

use super::settings::{CodeType, OtpSettings, SameSite};

/// Settings that make no sense, reported when the layer is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tower-otp setting `{key}`: {reason}")]
pub struct ConfigError {
    /// The setting at fault.
    pub key: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Every problem of a configuration, found at once (see [`OtpSettings::validate`] and
/// [`OtpAuthBuilder::build`](crate::OtpAuthBuilder::build)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_list(.0))]
pub struct ConfigErrors(Vec<ConfigError>);

fn display_list(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl ConfigErrors {
    /// `Ok` for no problems.
    pub(crate) fn from_list(errors: Vec<ConfigError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self(errors))
        }
    }

    /// The problems, in the order the settings list them.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// The keys at fault, in order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.key).collect()
    }
}

pub(crate) fn bad(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        reason: reason.into(),
    }
}

/// The longest a browser keeps a cookie (RFC 6265bis §5.6.2: 400 days).
const MAX_COOKIE_AGE_SECS: u64 = 400 * 24 * 3600;

/// Whether two paths name the same endpoint: a trailing slash is optional, as routers treat it.
pub(crate) fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A path the layer can match: absolute, nothing but a path (no query, fragment or spaces).
pub(crate) fn check_path(key: &'static str, path: &str) -> Result<(), ConfigError> {
    if !path.starts_with('/') {
        return Err(bad(
            key,
            format!("{path:?} must start with `/` (as a request's path does)"),
        ));
    }
    if path.contains(|c: char| c == '?' || c == '#' || c.is_whitespace() || c.is_control()) {
        return Err(bad(
            key,
            format!("{path:?} must be a bare path, without a query, fragment or spaces"),
        ));
    }
    Ok(())
}

/// An endpoint's path: a [path](check_path) other than the site's root, which it would capture.
fn check_endpoint_path(key: &'static str, path: &str) -> Result<(), ConfigError> {
    check_path(key, path)?;
    if path.trim_end_matches('/').is_empty() {
        return Err(bad(key, "must not be the root path `/`"));
    }
    Ok(())
}

/// The error for an endpoint path that names the same endpoint as another one.
fn collision(key: &'static str, other: &str) -> ConfigError {
    bad(
        key,
        format!("names the same path as {other} (a trailing slash makes no difference)"),
    )
}

impl OtpSettings {
    /// Checks every value and reports every problem at once, each naming its key. The layer's
    /// [`build`](crate::OtpAuthBuilder::build) runs it on the settings it ends up with.
    ///
    /// ```
    /// use tower_otp::OtpSettings;
    ///
    /// let settings: OtpSettings =
    ///     toml::from_str("token_length = 4\nprotected_paths = [\"health\"]").unwrap();
    /// let errors = settings.validate().unwrap_err();
    /// assert_eq!(errors.keys(), ["token_length", "protected_paths"]);
    /// ```
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        ConfigErrors::from_list(self.problems())
    }

    /// Every problem of these settings, with codes made by the generator `default_token_type`
    /// names.
    pub(crate) fn problems(&self) -> Vec<ConfigError> {
        let max_digits = match self.default_token_type {
            CodeType::Code => 10,
            CodeType::Totp | CodeType::Hotp => 8,
        };
        let generator = format!("{:?} codes", self.default_token_type);
        self.problems_with(max_digits, &generator)
    }

    /// Every problem of these settings, with codes made by `generator`, which makes codes of at
    /// most `max_digits` digits.
    pub(crate) fn problems_with(&self, max_digits: u8, generator: &str) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if !(6..=max_digits).contains(&self.token_length) {
            problems.push(bad(
                "token_length",
                format!(
                    "must be between 6 and {max_digits} for {generator}, got {}",
                    self.token_length
                ),
            ));
        }
        if !(1..=600).contains(&self.totp_token_ttl) {
            problems.push(bad("totp_token_ttl", "must be between 1 and 600 seconds"));
        } else if self.pending_login_ttl < self.totp_token_ttl {
            // Only against a valid code lifetime: a bad one is reported once, as its own.
            problems.push(bad("pending_login_ttl", "must be at least totp_token_ttl"));
        }
        let paths = self.endpoint_paths();
        for (i, (key, path)) in paths.iter().enumerate() {
            if let Err(problem) = check_endpoint_path(key, path) {
                problems.push(problem);
            } else if let Some((other, _)) =
                paths[..i].iter().find(|(_, other)| same_path(other, path))
            {
                problems.push(collision(key, other));
            }
        }
        problems.extend(
            self.protected_paths
                .iter()
                .filter_map(|prefix| check_path("protected_paths", prefix).err()),
        );
        if self.totp_issuer.trim().is_empty() || self.totp_issuer.contains(':') {
            problems.push(bad(
                "totp_issuer",
                "must be a non-empty name without ':' (authenticator apps show it)",
            ));
        }
        if self.username_field.is_empty()
            || ["password", "token", "challenge"].contains(&self.username_field.as_str())
        {
            problems.push(bad(
                "username_field",
                "must be a non-empty name other than password, token or challenge",
            ));
        }
        let positive = [
            ("body_limit", self.body_limit as u64),
            ("max_attempts", u64::from(self.max_attempts)),
            ("max_sends", u64::from(self.max_sends)),
            ("body_read_timeout", self.body_read_timeout),
            ("token_idle_ttl", self.token_idle_ttl),
            ("token_absolute_ttl", self.token_absolute_ttl),
            ("lockout_base", self.lockout_base),
            ("lockout_forget_after", self.lockout_forget_after),
            ("login_rate_window", self.login_rate_window),
            ("account_send_window", self.account_send_window),
        ];
        for (key, _) in positive.iter().filter(|(_, v)| *v == 0) {
            problems.push(bad(key, "must be positive"));
        }
        for (key, name) in [
            ("cookie_name", &self.cookie_name),
            ("device_cookie_name", &self.device_cookie_name),
        ] {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid {
                problems.push(bad(
                    key,
                    "must be a non-empty cookie name (letters, digits and !#$%&'*+-.^_`|~)",
                ));
            }
        }
        if self.cookie_name == self.device_cookie_name {
            problems.push(bad("device_cookie_name", "must differ from cookie_name"));
        }
        problems.extend(check_path("cookie_path", &self.cookie_path).err());
        if self.cookie_path.contains(';') {
            problems.push(bad("cookie_path", "must not contain `;`"));
        }
        if let Some(domain) = &self.cookie_domain {
            let valid = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                problems.push(bad(
                    "cookie_domain",
                    "must be a host name (letters, digits, `-` and `.`)",
                ));
            }
        }
        // Browsers keep a cookie at most 400 days (RFC 6265bis), whatever it asks for.
        if self.remember_device_ttl > MAX_COOKIE_AGE_SECS {
            problems.push(bad(
                "remember_device_ttl",
                format!("must be at most {MAX_COOKIE_AGE_SECS} (400 days)"),
            ));
        }
        if self.cookie_same_site == SameSite::None && self.dev_insecure_cookies {
            problems.push(bad(
                "cookie_same_site",
                "`none` needs a Secure cookie: browsers refuse it with dev_insecure_cookies",
            ));
        }
        for origin in &self.trusted_origins {
            let parsed = http::Uri::try_from(origin.as_str());
            let is_origin = parsed.as_ref().is_ok_and(|uri| {
                uri.scheme().is_some()
                    && uri.authority().is_some()
                    && matches!(uri.path(), "" | "/")
                    && uri.query().is_none()
            });
            if !is_origin {
                problems.push(bad(
                    "trusted_origins",
                    format!("{origin:?} is not an origin like `https://app.example.com`"),
                ));
            }
        }
        if self.lockout_max < self.lockout_base {
            problems.push(bad("lockout_max", "must be at least lockout_base"));
        }
        problems
    }
}
