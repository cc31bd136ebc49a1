//! [`OtpAuthBuilder`]: everything configurable about the layer, checked at once by
//! [`build`](OtpAuthBuilder::build).

use std::fmt;
use std::sync::Arc;

mod methods;
mod overrides;

use overrides::Overrides;

use crate::clock::{Clock, SystemClock};
use crate::config::{bad, check_path, ConfigErrors, OtpSettings};
use crate::layer::OtpAuthLayer;
use crate::notify::{DynNotifier, Notifier};
use crate::second_factor::{DynSecondFactorStore, Keyring, MemorySecondFactorStore};
use crate::state::{Events, ExtraContextFn, State, SuccessBodyFn};
use crate::store::DynStateStore;
use crate::strategy::{self, OtpStrategy};
use crate::token::{ServerKey, MIN_SERVER_KEY_LEN};
use crate::user::{DynUserStore, UserStore};

/// The configuration of an [`OtpAuthLayer`], from [`OtpAuthLayer::builder`].
///
/// Every method records one thing and cannot fail; [`build`](Self::build) checks the whole
/// configuration at once and reports every problem, each naming its setting. The order of the
/// calls does not matter: a value set by a method wins over the same value in
/// [`with_settings`](Self::with_settings), whenever either is called, and lists (protected
/// paths, trusted proxies) add up. The exceptions are the backends that replace each other
/// (`with_notifier` and `with_email`): there the last call wins.
///
/// ```
/// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer, OtpSettings};
///
/// let settings: OtpSettings = toml::from_str("totp_token_ttl = 120").unwrap();
/// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
///     .with_protected_path("/api/")
///     .with_settings(settings)
///     .with_secret_key(&[7u8; 32]) // from your secrets manager
///     .build()?;
/// assert_eq!(layer.settings().totp_token_ttl, 120);
/// assert_eq!(layer.settings().protected_paths, ["/api/"]);
/// # Ok::<(), tower_otp::ConfigErrors>(())
/// ```
#[must_use]
pub struct OtpAuthBuilder {
    users: Arc<dyn DynUserStore>,
    notifier: Arc<dyn DynNotifier>,
    settings: OtpSettings,
    overrides: Overrides,
    store: Option<(Arc<dyn DynStateStore>, bool)>,
    strategy: Option<Arc<dyn OtpStrategy>>,
    clock: Arc<dyn Clock>,
    secret_key: Option<Vec<u8>>,
    retired_keys: Vec<Vec<u8>>,
    second_factors: Option<Arc<dyn DynSecondFactorStore>>,
    extra_context: Option<Arc<ExtraContextFn>>,
    success_body: Option<Arc<SuccessBodyFn>>,
    events: Events,
    /// SMTP URL and sender of the `EmailNotifier` to build with the settings' `email_config`.
    #[cfg(feature = "email")]
    email: Option<(String, String)>,
}

impl fmt::Debug for OtpAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpAuthBuilder")
            .field("settings", &self.settings)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

// The constructors of `OtpAuthLayer` live here, beside what they start from: the layer itself
// knows nothing of how it is configured (and so imports nothing of this module).
impl OtpAuthLayer {
    /// A layer over your users and a way to deliver codes, with the default settings, a
    /// [`MemoryStore`](crate::store::MemoryStore), the system clock and a random server key.
    /// To configure it, start from [`builder`](Self::builder) instead.
    #[cfg(feature = "memory-store")]
    #[cfg_attr(docsrs, doc(cfg(feature = "memory-store")))]
    pub fn new(users: impl UserStore, notifier: impl Notifier) -> Self {
        Self::builder(users, notifier)
            .build()
            .expect("the default configuration is valid")
    }

    /// The configuration of a layer over your users and a way to deliver codes: every setting,
    /// backend and hook, checked at once by [`OtpAuthBuilder::build`].
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_protected_path("/api/")
    ///     .build()?;
    /// # Ok::<(), tower_otp::ConfigErrors>(())
    /// ```
    pub fn builder(users: impl UserStore, notifier: impl Notifier) -> OtpAuthBuilder {
        OtpAuthBuilder::new(users, notifier)
    }
}

impl OtpAuthBuilder {
    fn new(users: impl UserStore, notifier: impl Notifier) -> Self {
        Self {
            users: Arc::new(users),
            notifier: Arc::new(notifier),
            settings: OtpSettings::default(),
            overrides: Overrides::default(),
            store: None,
            strategy: None,
            clock: Arc::new(SystemClock),
            secret_key: None,
            retired_keys: Vec::new(),
            second_factors: None,
            extra_context: None,
            success_body: None,
            events: Events::default(),
            #[cfg(feature = "email")]
            email: None,
        }
    }

    /// Checks the whole configuration and makes the layer; every problem is reported, each
    /// naming its setting.
    ///
    /// Besides each setting's own rules, a store shared by several instances (a `RedisStore`)
    /// requires an explicit [secret key](Self::with_secret_key): with the default random key
    /// per process, one instance could not verify the codes another sent.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let errors = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_protected_path("api/")
    ///     .with_username_field("password")
    ///     .with_secret_key(b"short")
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(errors.keys(), ["protected_paths", "username_field", "secret_key"]);
    /// ```
    pub fn build(mut self) -> Result<OtpAuthLayer, ConfigErrors> {
        let prefix_problem = (self.overrides.path_prefix.as_deref())
            .and_then(|prefix| check_path("path_prefix", prefix).err());
        if prefix_problem.is_some() {
            // Reported once, as the prefix's problem, not again as each endpoint path's.
            self.overrides.path_prefix = None;
        }
        let settings = self.overrides.apply(self.settings);
        // The code length is checked against the generator that will make the codes: the one
        // `default_token_type` names, or the strategy set with `with_strategy`.
        let (strategy, mut problems) = match self.strategy {
            Some(strategy) => {
                let problems = settings.problems_with(strategy.max_digits(), "this code strategy");
                (strategy, problems)
            }
            None => (
                strategy::for_code_type(settings.default_token_type, settings.totp_token_ttl),
                settings.problems(),
            ),
        };
        problems.extend(prefix_problem);
        #[cfg(feature = "email")]
        let notifier = match &self.email {
            Some((url, from)) => match email_notifier(url, from, &settings.email_config) {
                Ok(notifier) => notifier,
                Err(problem) => {
                    problems.push(problem);
                    self.notifier
                }
            },
            None => self.notifier,
        };
        #[cfg(not(feature = "email"))]
        let notifier = self.notifier;
        let store = self.store.or_else(default_store).ok_or_else(|| {
            bad(
                "store",
                "no state store: call with_store, or enable the `memory-store` feature",
            )
        });
        problems.extend(store.as_ref().err().cloned());
        let shared_store = store.as_ref().is_ok_and(|(_, shared)| *shared);
        let durable_second_factors = self
            .second_factors
            .as_ref()
            .is_some_and(|store| store.is_durable());
        let key = match &self.secret_key {
            Some(key) => ServerKey::new(key).ok_or_else(|| {
                bad(
                    "secret_key",
                    format!("must be at least {MIN_SERVER_KEY_LEN} bytes"),
                )
            }),
            None if shared_store => Err(bad(
                "secret_key",
                "a store shared by several instances needs the same secret key in each of them: \
                 call with_secret_key (without it every process draws its own, and codes sent by \
                 one instance do not verify on another)",
            )),
            None if durable_second_factors => Err(bad(
                "secret_key",
                "a durable second-factor store needs a secret key that outlives the process: \
                 call with_secret_key (without it every process draws its own, and the \
                 authenticator secrets sealed by one do not open after a restart)",
            )),
            None => Ok(ServerKey::random()),
        };
        problems.extend(key.as_ref().err().cloned());
        let retired_keys: Vec<ServerKey> = self
            .retired_keys
            .iter()
            .filter_map(|retired| {
                let key = ServerKey::new(retired);
                if key.is_none() {
                    problems.push(bad(
                        "retired_secret_key",
                        format!("must be at least {MIN_SERVER_KEY_LEN} bytes"),
                    ));
                }
                key
            })
            .collect();
        ConfigErrors::from_list(problems)?;
        let (key, (store, _)) = (key?, store?);
        let second_factors = self.second_factors.or_else(|| {
            (!shared_store)
                .then(|| Arc::new(MemorySecondFactorStore::new()) as Arc<dyn DynSecondFactorStore>)
        });
        Ok(OtpAuthLayer::from_state(State {
            strategy,
            lockout: settings.lockout_policy(),
            settings,
            users: self.users,
            store,
            notifier,
            clock: self.clock,
            keyring: Keyring::new(key.clone(), retired_keys),
            key,
            second_factors,
            extra_context: self.extra_context,
            success_body: self.success_body,
            events: self.events,
            unknown_client_reported: Default::default(),
        }))
    }
}

/// The e-mail notifier [`OtpAuthBuilder::with_email`] asks for, or the problem naming what is
/// wrong.
#[cfg(feature = "email")]
fn email_notifier(
    url: &str,
    from: &str,
    config: &crate::config::EmailConfig,
) -> Result<Arc<dyn DynNotifier>, crate::config::ConfigError> {
    use crate::notify::{EmailNotifier, EmailSetupError};
    let notifier = EmailNotifier::from_url(url, from).and_then(|n| n.with_email_config(config));
    notifier
        .map(|n| Arc::new(n) as Arc<dyn DynNotifier>)
        .map_err(|error| {
            let key = match error {
                EmailSetupError::Url(_) => "smtp_url",
                EmailSetupError::From(_) => "smtp_from",
                _ => "email_config",
            };
            bad(key, error.to_string())
        })
}

/// The default store: a [`MemoryStore`](crate::store::MemoryStore), not shared.
#[cfg(feature = "memory-store")]
fn default_store() -> Option<(Arc<dyn DynStateStore>, bool)> {
    Some((Arc::new(crate::store::MemoryStore::new()), false))
}

#[cfg(not(feature = "memory-store"))]
fn default_store() -> Option<(Arc<dyn DynStateStore>, bool)> {
    None
}
