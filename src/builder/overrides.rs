//! What the builder's methods set, kept apart from the settings so that the order of the calls
//! does not matter, and applied over the settings at build time.

use std::net::IpAddr;

use crate::config::OtpSettings;

/// What the builder's methods set, applied over the settings at build time.
#[derive(Default)]
pub(super) struct Overrides {
    pub(super) path_prefix: Option<String>,
    pub(super) login_path: Option<String>,
    pub(super) verify_path: Option<String>,
    pub(super) resend_path: Option<String>,
    pub(super) logout_path: Option<String>,
    pub(super) username_field: Option<String>,
    pub(super) body_limit: Option<usize>,
    pub(super) body_read_timeout: Option<u64>,
    pub(super) protected_paths: Vec<String>,
    pub(super) trusted_proxies: Vec<IpAddr>,
}

impl Overrides {
    /// `settings` with the builder's values over them.
    pub(super) fn apply(self, mut settings: OtpSettings) -> OtpSettings {
        if let Some(prefix) = &self.path_prefix {
            let prefix = prefix.trim_end_matches('/');
            settings.login_path = format!("{prefix}/login/");
            settings.verify_path = format!("{prefix}/verify-token/");
            settings.resend_path = format!("{prefix}/resend-token/");
            settings.logout_path = format!("{prefix}/logout/");
            settings.totp_setup_path = format!("{prefix}/totp/setup/");
            settings.totp_confirm_path = format!("{prefix}/totp/confirm/");
            settings.totp_disable_path = format!("{prefix}/totp/disable/");
            settings.recovery_codes_path = format!("{prefix}/recovery-codes/");
        }
        let paths = [
            (self.login_path, &mut settings.login_path),
            (self.verify_path, &mut settings.verify_path),
            (self.resend_path, &mut settings.resend_path),
            (self.logout_path, &mut settings.logout_path),
        ];
        for (path, slot) in paths {
            if let Some(path) = path {
                *slot = path;
            }
        }
        if let Some(field) = self.username_field {
            settings.username_field = field;
        }
        if let Some(bytes) = self.body_limit {
            settings.body_limit = bytes;
        }
        if let Some(secs) = self.body_read_timeout {
            settings.body_read_timeout = secs;
        }
        for path in self.protected_paths {
            if !settings.protected_paths.contains(&path) {
                settings.protected_paths.push(path);
            }
        }
        for proxy in self.trusted_proxies {
            if !settings.trusted_proxies.contains(&proxy) {
                settings.trusted_proxies.push(proxy);
            }
        }
        settings
    }
}
