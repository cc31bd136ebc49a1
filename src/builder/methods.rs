//! The builder's methods: each records one thing and cannot fail.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use serde_json::{Map, Value};

use super::OtpAuthBuilder;
use crate::clock::Clock;
use crate::config::OtpSettings;
use crate::event::AuthEvent;
use crate::notify::Notifier;
use crate::routing::Endpoint;
use crate::second_factor::SecondFactorStore;
use crate::store::StateStore;
use crate::strategy::OtpStrategy;
use crate::user::User;

impl OtpAuthBuilder {
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

    /// How codes are delivered (the notifier given to
    /// [`OtpAuthLayer::builder`](crate::OtpAuthLayer::builder) otherwise). This and
    /// [`with_email`](Self::with_email) each replace what the other set: the last call wins. The
    /// settings' `email_config` configures only the notifier `with_email` makes: a notifier you
    /// build yourself takes its own (`EmailNotifier::with_email_config`).
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

    /// A secret key that was the [secret key](Self::with_secret_key) before it was rotated:
    /// authenticator secrets sealed under it still open, and recovery codes made under it still
    /// match (each names its key by id). Nothing new is sealed with it. Call once per retired
    /// key. Tokens, pending logins and devices remembered under it end with the rotation.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_secret_key(&[2u8; 32]) // the new key
    ///     .with_retired_secret_key(&[1u8; 32]) // the one before
    ///     .build();
    /// assert!(layer.is_ok());
    /// ```
    pub fn with_retired_secret_key(mut self, key: &[u8]) -> Self {
        self.retired_keys.push(key.to_vec());
        self
    }

    /// Where users' authenticator apps and recovery codes live, durably: your implementation
    /// of [`SecondFactorStore`] over your database. Without it, a layer whose state store is
    /// not shared keeps them in memory ([`MemorySecondFactorStore`](crate::second_factor::MemorySecondFactorStore):
    /// lost on restart); a layer with a shared state store (`RedisStore`) has no authenticator
    /// apps, since enrollments kept in one process would not be seen by the others: its logins
    /// send codes, and the app and recovery-code endpoints answer 404 `{"detail":"Not found."}`
    /// to a logged-in user.
    ///
    /// ```
    /// use tower_otp::second_factor::MemorySecondFactorStore;
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let layer = OtpAuthLayer::builder(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_second_factor_store(MemorySecondFactorStore::new())
    ///     .build();
    /// assert!(layer.is_ok());
    /// ```
    pub fn with_second_factor_store(mut self, store: impl SecondFactorStore) -> Self {
        self.second_factors = Some(Arc::new(store));
        self
    }

    /// Puts every endpoint under one prefix: `{prefix}login/`, `{prefix}verify-token/`,
    /// `{prefix}resend-token/`, `{prefix}logout/`, `{prefix}totp/setup/`, `{prefix}totp/confirm/`,
    /// `{prefix}totp/disable/` and `{prefix}recovery-codes/`, over the endpoint paths of the
    /// settings (a path set with one of the methods below still wins).
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
