//! [`OtpAuthBuilder`]: everything configurable about the layer, checked at once by
//! [`build`](OtpAuthBuilder::build).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::config::{bad, check_path, ConfigErrors, OtpSettings};
use crate::event::AuthEvent;
use crate::layer::OtpAuthLayer;
use crate::notify::{DynNotifier, Notifier};
use crate::routing::Endpoint;
use crate::state::{Events, ExtraContextFn, State, SuccessBodyFn};
use crate::store::{DynStateStore, StateStore};
use crate::strategy::{self, OtpStrategy};
use crate::token::{ServerKey, MIN_SERVER_KEY_LEN};
use crate::user::{DynUserStore, User, UserStore};

/// The configuration of an [`OtpAuthLayer`], from [`OtpAuthLayer::builder`].
///
/// Every method records one thing and cannot fail; [`build`](Self::build) checks the whole
/// configuration at once and reports every problem, each naming its setting. The order of the
/// calls does not matter: a value set by a method wins over the same value in
/// [`with_settings`](Self::with_settings), whenever either is called, and lists (protected
/// paths, trusted proxies) add up.
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
    extra_context: Option<Arc<ExtraContextFn>>,
    success_body: Option<Arc<SuccessBodyFn>>,
    events: Events,
    /// SMTP URL and sender of the `EmailNotifier` to build with the settings' `email_config`.
    #[cfg(feature = "email")]
    email: Option<(String, String)>,
}

/// What the builder's methods set, applied over the settings at build time.
#[derive(Default)]
struct Overrides {
    path_prefix: Option<String>,
    login_path: Option<String>,
    verify_path: Option<String>,
    resend_path: Option<String>,
    logout_path: Option<String>,
    username_field: Option<String>,
    body_limit: Option<usize>,
    body_read_timeout: Option<u64>,
    protected_paths: Vec<String>,
    trusted_proxies: Vec<IpAddr>,
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
        let mut problems = settings.problems();
        problems.extend(prefix_problem);
        let strategy = self.strategy.unwrap_or_else(|| {
            strategy::for_token_type(settings.default_token_type, settings.totp_token_ttl)
        });
        let max = strategy.max_digits();
        if settings.token_length > max {
            problems.push(bad(
                "token_length",
                format!(
                    "the code strategy makes at most {max} digits, not {}",
                    settings.token_length
                ),
            ));
        }
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
        let (store, shared_store) = self.store.unwrap_or_else(|| (default_store(), false));
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
            None => Ok(ServerKey::random()),
        };
        problems.extend(key.as_ref().err().cloned());
        ConfigErrors::from_list(problems)?;
        let key = key?;
        crate::password::prepare_dummy_hash();
        Ok(OtpAuthLayer::from_state(State {
            strategy,
            lockout: settings.lockout_policy(),
            settings,
            users: self.users,
            store,
            notifier,
            clock: self.clock,
            key,
            extra_context: self.extra_context,
            success_body: self.success_body,
            events: self.events,
            unknown_client_reported: Default::default(),
        }))
    }

    /// The settings, as from a settings file (default: [`OtpSettings::default`]). Values set by
    /// the other methods win over these, whatever the order of the calls; protected paths and
    /// trusted proxies add up.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer, OtpSettings};
    ///
    /// let settings: OtpSettings = toml::from_str("login_path = \"/signin/\"").unwrap();
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_login_path("/session/new/")
    ///     .with_settings(settings)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(layer.settings().login_path, "/session/new/");
    /// ```
    pub fn with_settings(mut self, settings: OtpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Where challenges, tokens and counters live (default: a
    /// [`MemoryStore`](crate::store::MemoryStore)). A store several instances share (a
    /// `RedisStore`) needs [`with_secret_key`](Self::with_secret_key) too.
    ///
    /// ```
    /// # #[cfg(feature = "memory-store")] {
    /// use tower_otp::{notify::ConsoleNotifier, store::MemoryStore, MemoryUserStore, OtpAuthLayer};
    ///
    /// let store = MemoryStore::new(); // or a `RedisStore` shared by every instance
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_store(store)
    ///     .build()
    ///     .unwrap();
    /// # }
    /// ```
    pub fn with_store(mut self, store: impl StateStore) -> Self {
        let shared = store.is_shared();
        self.store = Some((Arc::new(store), shared));
        self
    }

    /// How codes are delivered (the notifier given to [`OtpAuthLayer::builder`] otherwise).
    pub fn with_notifier(mut self, notifier: impl Notifier) -> Self {
        self.notifier = Arc::new(notifier);
        #[cfg(feature = "email")]
        {
            self.email = None;
        }
        self
    }

    /// Codes go by e-mail: [`build`](Self::build) makes an
    /// [`EmailNotifier`](crate::notify::EmailNotifier) for `smtp_url` (`smtp://host:port`,
    /// `smtps://user:pass@host`, …) sending from `from`, with the subject and templates of the
    /// settings' `email_config`, so the notifier's configuration never has to travel through
    /// your code. A bad URL, sender or template is one of the problems `build` reports (keys
    /// `smtp_url`, `smtp_from`, `email_config`). Replaces the notifier given before.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer, OtpSettings};
    ///
    /// let settings: OtpSettings =
    ///     toml::from_str("[email_config]\nsubject = \"Your code for {{ full_name }}\"").unwrap();
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_settings(settings)
    ///     .with_email("smtp://127.0.0.1:2525", "Example <no-reply@example.com>")
    ///     .build()?;
    /// # Ok::<(), tower_otp::ConfigErrors>(())
    /// ```
    #[cfg(feature = "email")]
    #[cfg_attr(docsrs, doc(cfg(feature = "email")))]
    pub fn with_email(mut self, smtp_url: &str, from: &str) -> Self {
        self.email = Some((smtp_url.to_owned(), from.to_owned()));
        self
    }

    /// How codes are made (default: the one `default_token_type` names). The build fails when
    /// the strategy cannot make codes of `token_length` digits.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, strategy::RandomCodeStrategy, MemoryUserStore, OtpAuthLayer};
    ///
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_strategy(RandomCodeStrategy)
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn with_strategy(mut self, strategy: impl OtpStrategy) -> Self {
        self.strategy = Some(Arc::new(strategy));
        self
    }

    /// The clock every expiry is measured with (default: the system clock). Tests pass a
    /// [`ManualClock`](crate::ManualClock).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The server key codes are HMAC'd under, at least 32 bytes of secret randomness. Every
    /// instance sharing a store must use the same key (the build refuses a shared store
    /// without one); without a store shared, the default is random per process.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let key = [7u8; 32]; // load it from your secrets manager instead
    /// let builder = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new());
    /// assert!(builder.with_secret_key(&key).build().is_ok());
    /// let builder = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new());
    /// assert_eq!(builder.with_secret_key(b"short").build().unwrap_err().keys(), ["secret_key"]);
    /// ```
    pub fn with_secret_key(mut self, key: &[u8]) -> Self {
        self.secret_key = Some(key.to_vec());
        self
    }

    /// Puts all four endpoints under one prefix: `{prefix}login/`, `{prefix}verify-token/`,
    /// `{prefix}resend-token/`, `{prefix}logout/` (a path set one by one still wins).
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_path_prefix("/auth")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(layer.settings().verify_path, "/auth/verify-token/");
    /// ```
    pub fn with_path_prefix(mut self, prefix: &str) -> Self {
        self.overrides.path_prefix = Some(prefix.to_owned());
        self
    }

    /// The login path (default `/api-auth/login/`). Like the other endpoint paths, it must start
    /// with `/`, not be `/` itself, and name a path no other endpoint has (a trailing slash makes
    /// no difference: `/auth/x` and `/auth/x/` are the same endpoint).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let builder = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_login_path("/session/new");
    /// let clash = builder.with_verify_path("/session/new/").build().unwrap_err();
    /// assert_eq!(clash.keys(), ["verify_path"]);
    /// ```
    pub fn with_login_path(mut self, path: &str) -> Self {
        self.overrides.login_path = Some(path.to_owned());
        self
    }

    /// The verify path (default `/api-auth/verify-token/`); see
    /// [`with_login_path`](Self::with_login_path).
    pub fn with_verify_path(mut self, path: &str) -> Self {
        self.overrides.verify_path = Some(path.to_owned());
        self
    }

    /// The resend path (default `/api-auth/resend-token/`); see
    /// [`with_login_path`](Self::with_login_path).
    pub fn with_resend_path(mut self, path: &str) -> Self {
        self.overrides.resend_path = Some(path.to_owned());
        self
    }

    /// The logout path (default `/api-auth/logout/`); see
    /// [`with_login_path`](Self::with_login_path).
    pub fn with_logout_path(mut self, path: &str) -> Self {
        self.overrides.logout_path = Some(path.to_owned());
        self
    }

    /// The name of the username field in login and verify bodies (default `username`; not
    /// `password`, `token` or `challenge`).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_username_field("email")
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn with_username_field(mut self, field: &str) -> Self {
        self.overrides.username_field = Some(field.to_owned());
        self
    }

    /// Reverse proxies whose `X-Forwarded-For` header names the client (for the per-client
    /// login limit), added to the settings' `trusted_proxies`. Without any, the client is the
    /// connection's peer: a `SocketAddr` in the request extensions, or axum's
    /// `ConnectInfo<SocketAddr>` with the `axum` feature.
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_trusted_proxies(["10.0.0.1".parse().unwrap()])
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        self.overrides.trusted_proxies.extend(proxies);
        self
    }

    /// The largest endpoint body accepted, in bytes (default 16 KiB); larger ones get 413.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.overrides.body_limit = Some(bytes);
        self
    }

    /// How long an endpoint's request body may take to arrive (default 10 s, whole seconds,
    /// rounded up); a slower one gets 408. It bounds only the layer's own endpoints: give your
    /// server header-read and idle timeouts too (see the README).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_body_read_timeout(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(layer.settings().body_read_timeout, 5);
    /// ```
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        self.overrides.body_read_timeout = Some(secs);
        self
    }

    /// Requires a valid token for every path starting with `prefix` (which must start with `/`):
    /// without one the layer answers 401 `Authentication credentials were not provided.` and the
    /// inner service is not called. May be called several times; adds to the settings'
    /// `protected_paths`.
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_protected_path("/api/")
    ///     .with_protected_path("/admin/")
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn with_protected_path(mut self, prefix: &str) -> Self {
        self.overrides.protected_paths.push(prefix.to_owned());
        self
    }

    /// Extra template context for each code's message, computed from the login request and
    /// the user (django-drf-otp's `get_extra_context_data`).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_extra_context(|request, _user| {
    ///         let mut context = serde_json::Map::new();
    ///         context.insert("footer".into(), "The Example team".into());
    ///         context
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn with_extra_context<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Parts, &User) -> Map<String, Value> + Send + Sync + 'static,
    {
        self.extra_context = Some(Arc::new(hook));
        self
    }

    /// Adds to (or changes) the JSON body of successful login, verify and resend answers
    /// (django-drf-otp's `get_success_response_data`).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, Endpoint, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_success_body(|endpoint, user, body| {
    ///         if endpoint == Endpoint::Verify {
    ///             body.insert("user_id".into(), user.id.clone().into());
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn with_success_body<F>(mut self, hook: F) -> Self
    where
        F: Fn(Endpoint, &User, &mut Map<String, Value>) + Send + Sync + 'static,
    {
        self.success_body = Some(Arc::new(hook));
        self
    }

    /// Calls `hook` with every [`AuthEvent`]: logins, codes sent and failed, replays, lockouts,
    /// revocations, backend failures. Keep it quick (it runs inside the request); send slow work
    /// elsewhere.
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, AuthEvent, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_event_hook(|event| {
    ///         if let AuthEvent::AccountLocked { account, until, .. } = event {
    ///             eprintln!("account {account} locked until {until:?}");
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn with_event_hook<F>(mut self, hook: F) -> Self
    where
        F: Fn(&AuthEvent) + Send + Sync + 'static,
    {
        self.events.hook = Some(Arc::new(hook));
        self
    }
}

impl Overrides {
    /// `settings` with the builder's values over them.
    fn apply(self, mut settings: OtpSettings) -> OtpSettings {
        if let Some(prefix) = &self.path_prefix {
            let prefix = prefix.trim_end_matches('/');
            settings.login_path = format!("{prefix}/login/");
            settings.verify_path = format!("{prefix}/verify-token/");
            settings.resend_path = format!("{prefix}/resend-token/");
            settings.logout_path = format!("{prefix}/logout/");
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

#[cfg(feature = "memory-store")]
fn default_store() -> Arc<dyn DynStateStore> {
    Arc::new(crate::store::MemoryStore::new())
}

#[cfg(not(feature = "memory-store"))]
fn default_store() -> Arc<dyn DynStateStore> {
    Arc::new(crate::store::NoStore)
}
