//! The settings themselves: every key, its type and its default.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::LockoutPolicy;

/// Which code generator a challenge uses (`default_token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CodeType {
    /// RFC 6238 TOTP from a fresh random secret per challenge (django-drf-otp's default).
    #[default]
    #[serde(alias = "TOTP")]
    Totp,
    /// RFC 4226 HOTP from a fresh random secret per challenge.
    #[serde(alias = "HOTP")]
    Hotp,
    /// Uniformly random digits straight from the OS's CSPRNG.
    #[serde(alias = "CODE")]
    Code,
}

/// How auth tokens travel between the layer and its clients (`token_transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TokenTransport {
    /// In the answer's body, back in an `Authorization: Token <token>` header (API clients,
    /// mobile apps): django-drf-otp's way, the default.
    #[default]
    Header,
    /// In an `HttpOnly` cookie the layer sets, out of the reach of page scripts (browsers).
    /// State-changing requests authenticated by it must be same-origin (CSRF).
    Cookie,
    /// Both: the cookie is set and the body carries the token too.
    Both,
}

impl TokenTransport {
    /// Whether the layer sets and reads the cookie.
    pub fn uses_cookie(self) -> bool {
        matches!(self, Self::Cookie | Self::Both)
    }

    /// Whether answers carry the token in their body.
    pub fn uses_body(self) -> bool {
        matches!(self, Self::Header | Self::Both)
    }
}

/// The `SameSite` attribute of the token cookie (`cookie_same_site`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their subrequests: the default.
    #[default]
    Lax,
    /// Never sent on requests from other sites.
    Strict,
    /// Sent on every request (then `Secure` is required by browsers).
    None,
}

/// `email_config`: subject and templates of the e-mail that carries the code. Any key may be
/// left out; the others keep their defaults (django-drf-otp replaced the whole table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// Subject line (a template). Default `Verification Token`.
    pub subject: String,
    /// Path of the HTML template; the shipped one when unset.
    pub template_path: Option<PathBuf>,
    /// Path of the plain-text template; the shipped one when unset.
    pub text_template_path: Option<PathBuf>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            subject: "Verification Token".to_owned(),
            template_path: None,
            text_template_path: None,
        }
    }
}

/// Everything configurable, loadable from TOML (or any serde format) with top-level keys.
/// Every key is optional. Durations are whole seconds.
///
/// ```
/// use tower_otp::OtpSettings;
///
/// let settings: OtpSettings = toml::from_str("totp_token_ttl = 120").unwrap();
/// assert_eq!(settings.totp_token_ttl, 120);
/// assert_eq!(settings.token_length, 6);
/// assert!(settings.enable_otp_authentication);
/// ```
///
/// New settings are added in minor releases (the struct is `#[non_exhaustive]`): build one from
/// [`OtpSettings::default`] or a settings file and change its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct OtpSettings {
    /// Two-step login. When `false`, login answers a token right away and verify/resend answer
    /// `Otp authentication is disabled.`. Default `true`.
    pub enable_otp_authentication: bool,
    /// Digits per code, 6 to 10 (TOTP/HOTP: 6 to 8). Default 6.
    pub token_length: u8,
    /// The code generator. Default `totp`.
    pub default_token_type: CodeType,
    /// Lifetime of a code from its issue, in seconds, at most 600. Default 300.
    pub totp_token_ttl: u64,
    /// E-mail subject and templates.
    pub email_config: EmailConfig,

    /// Path of the login endpoint. Default `/api-auth/login/`.
    pub login_path: String,
    /// Path of the verify endpoint. Default `/api-auth/verify-token/`.
    pub verify_path: String,
    /// Path of the resend endpoint. Default `/api-auth/resend-token/`.
    pub resend_path: String,
    /// Path of the logout endpoint. Default `/api-auth/logout/`.
    pub logout_path: String,
    /// Path of the endpoint that starts an authenticator app's setup. Default
    /// `/api-auth/totp/setup/`.
    pub totp_setup_path: String,
    /// Path of the endpoint that confirms it with a first code. Default
    /// `/api-auth/totp/confirm/`.
    pub totp_confirm_path: String,
    /// Path of the endpoint that removes the authenticator app. Default
    /// `/api-auth/totp/disable/`.
    pub totp_disable_path: String,
    /// Path of the endpoint that replaces the recovery codes. Default
    /// `/api-auth/recovery-codes/`.
    pub recovery_codes_path: String,
    /// The issuer authenticator apps show next to the username (your application's name);
    /// non-empty, without `:`. Default `tower-otp`.
    pub totp_issuer: String,
    /// Name of the username field in login bodies (e.g. `email`). Default `username`.
    pub username_field: String,
    /// Largest accepted request body of the endpoints, in bytes. Default 16384.
    pub body_limit: usize,
    /// Seconds an endpoint's request body may take to arrive; then 408. Default 10.
    pub body_read_timeout: u64,
    /// Paths (prefixes) that require authentication: 401 without a valid token. Default none.
    pub protected_paths: Vec<String>,

    /// Verify attempts per challenge, counted before comparing. Default 5.
    pub max_attempts: u32,
    /// Lifetime of a pending login (the challenge) from the password step, in seconds; no
    /// resend extends it. Default 600.
    pub pending_login_ttl: u64,
    /// Seconds between two codes of one challenge. Default 60.
    pub resend_cooldown: u64,
    /// Whether resend takes django-drf-otp 0.0.11's body `{username}` (that user's pending
    /// login), for clients written against it. Anyone who knows a username may then trigger a
    /// resend (within the cooldown, the cap and the per-client limit); `false` takes only
    /// `{challenge}`. Default `true`.
    pub resend_by_username: bool,
    /// Codes one challenge may send, the first included. Default 5.
    pub max_sends: u32,
    /// Logins that start a code step (send a code, or ask for an authenticator app's), per
    /// account per `account_send_window`; then 429 (against e-mail bombing by repeated logins,
    /// and guessing app codes across logins). Also the number of attempts at disabling an app
    /// or renewing recovery codes per window. 0 switches both off. Default 5.
    pub account_send_limit: u64,
    /// The window of `account_send_limit`, in seconds. Default 600.
    pub account_send_window: u64,
    /// An auth token unused this long dies, in seconds. Default 1800.
    pub token_idle_ttl: u64,
    /// An auth token dies this long after its issue, in seconds. Default 43200.
    pub token_absolute_ttl: u64,
    /// Consecutive failures (passwords and codes) that lock an account. Default 10.
    pub lockout_threshold: u32,
    /// First lock, in seconds; it doubles with every further failure. Default 60.
    pub lockout_base: u64,
    /// Longest lock, in seconds. Default 3600.
    pub lockout_max: u64,
    /// Failures are forgotten this long after the last one, in seconds. Default 86400.
    pub lockout_forget_after: u64,
    /// Login attempts per client IP per `login_rate_window`; 0 switches it off. Default 100.
    pub login_rate_limit: u64,
    /// The window of `login_rate_limit`, in seconds. Default 60.
    pub login_rate_window: u64,
    /// Reverse proxies whose `X-Forwarded-For` header is believed. Default none: the client IP
    /// is the connection's peer.
    pub trusted_proxies: Vec<IpAddr>,

    /// How auth tokens travel: `header` (default), `cookie` or `both`.
    pub token_transport: TokenTransport,
    /// Name of the token cookie. Default `otp_token`.
    pub cookie_name: String,
    /// `SameSite` of the token cookie: `lax` (default), `strict` or `none`.
    pub cookie_same_site: SameSite,
    /// `Path` of the token cookie. Default `/`.
    pub cookie_path: String,
    /// `Domain` of the token cookie. Default none: the host that set it.
    pub cookie_domain: Option<String>,
    /// Development only: drop `Secure` from the cookie, so that a browser sends it over plain
    /// HTTP (to `localhost`). Default `false`.
    pub dev_insecure_cookies: bool,
    /// Origins (`https://app.example.com`) besides the request's own from which a
    /// state-changing request authenticated by the cookie is accepted. Default none.
    pub trusted_origins: Vec<String>,
    /// How long a device stays remembered when a verify asks for it (`"remember_device": true`),
    /// in seconds: its logins then skip the code step. 0 switches it off. Default 2592000 (30
    /// days).
    pub remember_device_ttl: u64,
    /// Name of the remembered-device cookie. Default `otp_device`.
    pub device_cookie_name: String,
}

impl Default for OtpSettings {
    fn default() -> Self {
        Self {
            enable_otp_authentication: true,
            token_length: 6,
            default_token_type: CodeType::Totp,
            totp_token_ttl: 300,
            email_config: EmailConfig::default(),
            login_path: "/api-auth/login/".to_owned(),
            verify_path: "/api-auth/verify-token/".to_owned(),
            resend_path: "/api-auth/resend-token/".to_owned(),
            logout_path: "/api-auth/logout/".to_owned(),
            totp_setup_path: "/api-auth/totp/setup/".to_owned(),
            totp_confirm_path: "/api-auth/totp/confirm/".to_owned(),
            totp_disable_path: "/api-auth/totp/disable/".to_owned(),
            recovery_codes_path: "/api-auth/recovery-codes/".to_owned(),
            totp_issuer: "tower-otp".to_owned(),
            username_field: "username".to_owned(),
            body_limit: 16 * 1024,
            body_read_timeout: 10,
            protected_paths: Vec::new(),
            max_attempts: 5,
            pending_login_ttl: 600,
            resend_cooldown: 60,
            resend_by_username: true,
            max_sends: 5,
            account_send_limit: 5,
            account_send_window: 600,
            token_idle_ttl: 30 * 60,
            token_absolute_ttl: 12 * 3600,
            lockout_threshold: 10,
            lockout_base: 60,
            lockout_max: 3600,
            lockout_forget_after: 24 * 3600,
            login_rate_limit: 100,
            login_rate_window: 60,
            trusted_proxies: Vec::new(),
            token_transport: TokenTransport::Header,
            cookie_name: "otp_token".to_owned(),
            cookie_same_site: SameSite::Lax,
            cookie_path: "/".to_owned(),
            cookie_domain: None,
            dev_insecure_cookies: false,
            trusted_origins: Vec::new(),
            remember_device_ttl: 30 * 24 * 3600,
            device_cookie_name: "otp_device".to_owned(),
        }
    }
}

impl OtpSettings {
    /// The endpoint paths, each with the name of its setting.
    pub(crate) fn endpoint_paths(&self) -> [(&'static str, &str); 8] {
        [
            ("login_path", &self.login_path),
            ("verify_path", &self.verify_path),
            ("resend_path", &self.resend_path),
            ("logout_path", &self.logout_path),
            ("totp_setup_path", &self.totp_setup_path),
            ("totp_confirm_path", &self.totp_confirm_path),
            ("totp_disable_path", &self.totp_disable_path),
            ("recovery_codes_path", &self.recovery_codes_path),
        ]
    }

    /// The code lifetime.
    pub fn code_ttl(&self) -> Duration {
        Duration::from_secs(self.totp_token_ttl)
    }

    /// The account lockout policy these settings describe.
    pub fn lockout_policy(&self) -> LockoutPolicy {
        LockoutPolicy {
            threshold: self.lockout_threshold,
            base: Duration::from_secs(self.lockout_base),
            max: Duration::from_secs(self.lockout_max),
            forget_after: Duration::from_secs(self.lockout_forget_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_django_drf_otp() {
        let s = OtpSettings::default();
        assert!(s.enable_otp_authentication);
        assert_eq!(s.token_length, 6);
        assert_eq!(s.default_token_type, CodeType::Totp);
        assert_eq!(s.totp_token_ttl, 300);
        assert_eq!(s.email_config.subject, "Verification Token");
        s.validate().unwrap();
    }

    #[test]
    fn toml_with_top_level_keys_and_partial_tables() {
        let s: OtpSettings = toml::from_str(
            "totp_token_ttl = 120\ndefault_token_type = \"code\"\ntoken_length = 8\n\
             [email_config]\nsubject = \"Your code\"\n",
        )
        .unwrap();
        assert_eq!(s.totp_token_ttl, 120);
        assert_eq!(s.default_token_type, CodeType::Code);
        assert_eq!(s.token_length, 8);
        assert_eq!(s.email_config.subject, "Your code");
        assert_eq!(s.email_config.template_path, None);
        assert_eq!(s.max_attempts, 5);
        s.validate().unwrap();
    }

    #[test]
    fn the_issuer_is_a_name_apps_can_show() {
        for bad in ["", "  ", "Acme:Prod"] {
            let settings = OtpSettings {
                totp_issuer: bad.into(),
                ..OtpSettings::default()
            };
            assert_eq!(
                settings.validate().unwrap_err().keys(),
                ["totp_issuer"],
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<OtpSettings>("totp_token_tll = 120").unwrap_err();
        assert!(err.to_string().contains("totp_token_tll"), "{err}");
    }

    #[test]
    fn validation_names_the_bad_key() {
        type Change = fn(&mut OtpSettings);
        let cases: [(Change, &str); 17] = [
            (|s| s.token_length = 5, "token_length"),
            (|s| s.token_length = 9, "token_length"),
            (|s| s.totp_token_ttl = 601, "totp_token_ttl"),
            (|s| s.verify_path = s.login_path.clone(), "verify_path"),
            (|s| s.login_path = String::new(), "login_path"),
            (|s| s.resend_path = "/".into(), "resend_path"),
            (
                |s| (s.login_path, s.verify_path) = ("/auth/x/".into(), "/auth/x".into()),
                "verify_path",
            ),
            (|s| s.logout_path = "api-auth/logout/".into(), "logout_path"),
            (
                |s| s.protected_paths = vec!["health".into()],
                "protected_paths",
            ),
            (
                |s| s.protected_paths = vec!["/api/?x=1".into()],
                "protected_paths",
            ),
            (|s| s.username_field = "password".into(), "username_field"),
            (|s| s.max_attempts = 0, "max_attempts"),
            (|s| s.cookie_path = "/a;Domain=evil".into(), "cookie_path"),
            (
                |s| s.cookie_domain = Some("x.com; Secure".into()),
                "cookie_domain",
            ),
            (
                |s| s.device_cookie_name = s.cookie_name.clone(),
                "device_cookie_name",
            ),
            (|s| s.cookie_name = "a b".into(), "cookie_name"),
            (|s| s.remember_device_ttl = u64::MAX, "remember_device_ttl"),
        ];
        for (change, key) in cases {
            let mut s = OtpSettings::default();
            change(&mut s);
            assert_eq!(s.validate().unwrap_err().keys(), [key]);
        }
        let mut s = OtpSettings {
            default_token_type: CodeType::Code,
            token_length: 10,
            ..OtpSettings::default()
        };
        s.validate().unwrap();
        s.default_token_type = CodeType::Totp;
        assert_eq!(s.validate().unwrap_err().keys(), ["token_length"]);
    }
}
