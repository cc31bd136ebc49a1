use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use serde_json::{Map, Value};
use tower_layer::Layer;

use crate::clock::{Clock, SystemClock};
use crate::config::{
    check_endpoint_path, check_path, collision, same_path, ConfigError, OtpSettings,
};
use crate::event::AuthEvent;
use crate::flow::Flow;
use crate::notify::Notifier;
use crate::routing::Endpoint;
use crate::service::OtpAuth;
use crate::state::State;
use crate::store::{DynTokenStore, StoreError, TokenStore};
use crate::strategy::{self, OtpStrategy};
use crate::token::{ServerKey, MIN_SERVER_KEY_LEN};
use crate::user::{User, UserStore};

/// Two-factor authentication for a tower service: the configuration and builder of
/// [`OtpAuth`].
///
/// The layer answers `POST` requests to its login, verify, resend and logout paths itself. On
/// every other request it checks an `Authorization: Token <key>` (or `Bearer <key>`) header:
/// a valid token puts an [`AuthenticatedUser`](crate::AuthenticatedUser) in the request's
/// extensions, an invalid one gets 401, and no header passes the request on untouched (or gets
/// 401 under a [protected path](Self::with_protected_path)).
///
/// Cloning is cheap (the configuration sits behind an `Arc`).
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
///
/// let users = MemoryUserStore::new([]);
/// let app: Router = Router::new()
///     .route("/api/me", get(|| async { "hello" }))
///     .layer(OtpAuthLayer::new(users, ConsoleNotifier::new()).with_protected_path("/api/").unwrap());
/// ```
#[derive(Clone)]
#[must_use]
pub struct OtpAuthLayer {
    state: Arc<State>,
}

impl std::fmt::Debug for OtpAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpAuthLayer")
            .field("settings", &self.state.settings)
            .finish_non_exhaustive()
    }
}

impl OtpAuthLayer {
    /// A layer over your users and a way to deliver codes, with the default settings, a
    /// [`MemoryStore`](crate::store::MemoryStore), the system clock and a random server key.
    ///
    /// Several instances sharing one store (e.g. Redis) must share a server key too:
    /// see [`with_secret_key`](Self::with_secret_key).
    pub fn new(users: impl UserStore, notifier: impl Notifier) -> Self {
        let settings = OtpSettings::default();
        crate::password::prepare_dummy_hash();
        Self {
            state: Arc::new(State {
                strategy: strategy::for_token_type(
                    settings.default_token_type,
                    settings.totp_token_ttl,
                ),
                custom_strategy: false,
                lockout: settings.lockout_policy(),
                settings,
                users: Arc::new(users),
                store: default_store(),
                notifier: Arc::new(notifier),
                clock: Arc::new(SystemClock),
                key: ServerKey::random(),
                extra_context: None,
                success_body: None,
                events: Default::default(),
                unknown_client_reported: Default::default(),
            }),
        }
    }

    fn state_mut(&mut self) -> &mut State {
        Arc::make_mut(&mut self.state)
    }

    /// Replaces the settings, after checking them.
    ///
    /// Protected paths and trusted proxies configured before are kept (added to those of
    /// `settings`), so protection is never dropped by accident. Every other setting is
    /// replaced: call `with_settings` first, then the `with_*` methods that change one setting.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer, OtpSettings};
    ///
    /// let settings: OtpSettings = toml::from_str("totp_token_ttl = 120").unwrap();
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_settings(settings)
    ///     .unwrap();
    /// assert_eq!(layer.settings().totp_token_ttl, 120);
    /// ```
    pub fn with_settings(mut self, mut settings: OtpSettings) -> Result<Self, ConfigError> {
        settings.validate()?;
        let state = self.state_mut();
        let strategy = if state.custom_strategy {
            state.strategy.clone()
        } else {
            strategy::for_token_type(settings.default_token_type, settings.totp_token_ttl)
        };
        check_digits(&*strategy, settings.token_length)?;
        let old = &state.settings;
        for path in &old.protected_paths {
            if !settings.protected_paths.contains(path) {
                settings.protected_paths.push(path.clone());
            }
        }
        for proxy in &old.trusted_proxies {
            if !settings.trusted_proxies.contains(proxy) {
                settings.trusted_proxies.push(*proxy);
            }
        }
        state.strategy = strategy;
        state.lockout = settings.lockout_policy();
        state.settings = settings;
        Ok(self)
    }

    /// The current settings.
    pub fn settings(&self) -> &OtpSettings {
        &self.state.settings
    }

    /// Where challenges, tokens and counters live (default: a
    /// [`MemoryStore`](crate::store::MemoryStore)).
    ///
    /// ```
    /// # #[cfg(feature = "memory-store")] {
    /// use tower_otp::{notify::ConsoleNotifier, store::MemoryStore, MemoryUserStore, OtpAuthLayer};
    ///
    /// let store = MemoryStore::new(); // or a `RedisStore` shared by every instance
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_store(store);
    /// # }
    /// ```
    pub fn with_store(mut self, store: impl TokenStore) -> Self {
        self.state_mut().store = Arc::new(store);
        self
    }

    /// How codes are delivered.
    pub fn with_notifier(mut self, notifier: impl Notifier) -> Self {
        self.state_mut().notifier = Arc::new(notifier);
        self
    }

    /// How codes are made (default: the one `default_token_type` names). Fails when the
    /// strategy cannot make codes of `token_length` digits.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, strategy::RandomCodeStrategy, MemoryUserStore, OtpAuthLayer};
    ///
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_strategy(RandomCodeStrategy)
    ///     .unwrap();
    /// ```
    pub fn with_strategy(mut self, strategy: impl OtpStrategy) -> Result<Self, ConfigError> {
        check_digits(&strategy, self.state.settings.token_length)?;
        let state = self.state_mut();
        state.strategy = Arc::new(strategy);
        state.custom_strategy = true;
        Ok(self)
    }

    /// The clock every expiry is measured with (default: the system clock). Tests pass a
    /// [`ManualClock`](crate::ManualClock).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.state_mut().clock = Arc::new(clock);
        self
    }

    /// The server key codes are HMAC'd under, at least 32 bytes of secret randomness. Every
    /// instance sharing a store must use the same key; the default is random per process.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let key = [7u8; 32]; // load it from your secrets manager instead
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_secret_key(&key)
    ///     .unwrap();
    /// assert!(OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_secret_key(b"short")
    ///     .is_err());
    /// ```
    pub fn with_secret_key(mut self, key: &[u8]) -> Result<Self, ConfigError> {
        self.state_mut().key = ServerKey::new(key).ok_or_else(|| ConfigError {
            key: "secret_key",
            reason: format!("must be at least {MIN_SERVER_KEY_LEN} bytes"),
        })?;
        Ok(self)
    }

    /// Puts all four endpoints under one prefix: `{prefix}login/`, `{prefix}verify-token/`,
    /// `{prefix}resend-token/`, `{prefix}logout/`. Fails unless `prefix` is a path starting with
    /// `/`.
    ///
    /// ```
    /// use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    ///
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_path_prefix("/auth")
    ///     .unwrap();
    /// assert_eq!(layer.settings().verify_path, "/auth/verify-token/");
    /// ```
    pub fn with_path_prefix(mut self, prefix: &str) -> Result<Self, ConfigError> {
        check_path("path_prefix", prefix)?;
        let prefix = prefix.trim_end_matches('/');
        let s = &mut self.state_mut().settings;
        s.login_path = format!("{prefix}/login/");
        s.verify_path = format!("{prefix}/verify-token/");
        s.resend_path = format!("{prefix}/resend-token/");
        s.logout_path = format!("{prefix}/logout/");
        Ok(self)
    }

    /// The login path (default `/api-auth/login/`). Like the other endpoint paths, it must start
    /// with `/` and name a path no other endpoint has (a trailing slash makes no difference:
    /// `/auth/x` and `/auth/x/` are the same endpoint).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_login_path("/session/new")
    ///     .unwrap();
    /// assert_eq!(layer.settings().login_path, "/session/new");
    ///
    /// let clash = layer.with_verify_path("/session/new/").unwrap_err();
    /// assert_eq!(clash.key, "verify_path");
    /// ```
    pub fn with_login_path(self, path: &str) -> Result<Self, ConfigError> {
        self.with_endpoint_path("login_path", path, |s| &mut s.login_path)
    }

    /// The verify path (default `/api-auth/verify-token/`); see
    /// [`with_login_path`](Self::with_login_path).
    pub fn with_verify_path(self, path: &str) -> Result<Self, ConfigError> {
        self.with_endpoint_path("verify_path", path, |s| &mut s.verify_path)
    }

    /// The resend path (default `/api-auth/resend-token/`); see
    /// [`with_login_path`](Self::with_login_path).
    pub fn with_resend_path(self, path: &str) -> Result<Self, ConfigError> {
        self.with_endpoint_path("resend_path", path, |s| &mut s.resend_path)
    }

    /// The logout path (default `/api-auth/logout/`); see
    /// [`with_login_path`](Self::with_login_path).
    pub fn with_logout_path(self, path: &str) -> Result<Self, ConfigError> {
        self.with_endpoint_path("logout_path", path, |s| &mut s.logout_path)
    }

    fn with_endpoint_path(
        mut self,
        key: &'static str,
        path: &str,
        slot: fn(&mut OtpSettings) -> &mut String,
    ) -> Result<Self, ConfigError> {
        check_endpoint_path(key, path)?;
        let settings = &self.state.settings;
        if let Some((other, _)) = settings
            .endpoint_paths()
            .into_iter()
            .find(|(other, existing)| *other != key && same_path(existing, path))
        {
            return Err(collision(key, other));
        }
        *slot(&mut self.state_mut().settings) = path.to_owned();
        Ok(self)
    }

    /// The name of the username field in login and verify bodies (default `username`).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_username_field("email");
    /// ```
    pub fn with_username_field(mut self, field: &str) -> Self {
        self.state_mut().settings.username_field = field.to_owned();
        self
    }

    /// Reverse proxies whose `X-Forwarded-For` header names the client (for the per-client
    /// login limit). Without any, the client is the connection's peer: a `SocketAddr` in the
    /// request extensions, or axum's `ConnectInfo<SocketAddr>` with the `axum` feature.
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_trusted_proxies(["10.0.0.1".parse().unwrap()]);
    /// ```
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        self.state_mut().settings.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// The largest endpoint body accepted, in bytes (default 16 KiB); larger ones get 413.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.state_mut().settings.body_limit = bytes.max(1);
        self
    }

    /// How long an endpoint's request body may take to arrive (default 10 s, whole seconds,
    /// rounded up); a slower one gets 408. It bounds only the layer's own endpoints: give your
    /// server header-read and idle timeouts too (see the README).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_body_read_timeout(Duration::from_secs(5));
    /// assert_eq!(layer.settings().body_read_timeout, 5);
    /// ```
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        self.state_mut().settings.body_read_timeout = secs.max(1);
        self
    }

    /// Requires a valid token for every path starting with `prefix`: without one the layer
    /// answers 401 `Authentication credentials were not provided.` and the inner service is
    /// not called. May be called several times. Fails unless `prefix` starts with `/` (a prefix
    /// without it would match no request, and protect nothing).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_protected_path("/api/")?
    ///     .with_protected_path("/admin/")?;
    /// assert!(layer.with_protected_path("health").is_err());
    /// # Ok::<(), tower_otp::ConfigError>(())
    /// ```
    pub fn with_protected_path(mut self, prefix: &str) -> Result<Self, ConfigError> {
        check_path("protected_paths", prefix)?;
        self.state_mut()
            .settings
            .protected_paths
            .push(prefix.to_owned());
        Ok(self)
    }

    /// Extra template context for each code's message, computed from the login request and
    /// the user (django-drf-otp's `get_extra_context_data`).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_extra_context(|request, _user| {
    ///         let mut context = serde_json::Map::new();
    ///         context.insert("footer".into(), "The Example team".into());
    ///         context
    ///     });
    /// ```
    pub fn with_extra_context<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Parts, &User) -> Map<String, Value> + Send + Sync + 'static,
    {
        self.state_mut().extra_context = Some(Arc::new(hook));
        self
    }

    /// Adds to (or changes) the JSON body of successful login, verify and resend answers
    /// (django-drf-otp's `get_success_response_data`).
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, Endpoint, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_success_body(|endpoint, user, body| {
    ///         if endpoint == Endpoint::Verify {
    ///             body.insert("user_id".into(), user.id.clone().into());
    ///         }
    ///     });
    /// ```
    pub fn with_success_body<F>(mut self, hook: F) -> Self
    where
        F: Fn(Endpoint, &User, &mut Map<String, Value>) + Send + Sync + 'static,
    {
        self.state_mut().success_body = Some(Arc::new(hook));
        self
    }
}

impl OtpAuthLayer {
    /// Calls `hook` with every [`AuthEvent`]: logins, codes sent and failed, replays, lockouts,
    /// revocations. Keep it quick (it runs inside the request); send slow work elsewhere.
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, AuthEvent, MemoryUserStore, OtpAuthLayer};
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new())
    ///     .with_event_hook(|event| {
    ///         if let AuthEvent::AccountLocked { account, until, .. } = event {
    ///             eprintln!("account {account} locked until {until:?}");
    ///         }
    ///     });
    /// ```
    pub fn with_event_hook<F>(mut self, hook: F) -> Self
    where
        F: Fn(&AuthEvent) + Send + Sync + 'static,
    {
        self.state_mut().events.hook = Some(Arc::new(hook));
        self
    }

    /// The two-factor flow of this layer, to run from your own handlers: the same stores,
    /// limits, lockout and events as the layer's endpoints. See [`Flow`].
    ///
    /// ```
    /// # use tower_otp::{notify::ConsoleNotifier, MemoryUserStore, OtpAuthLayer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let layer = OtpAuthLayer::new(MemoryUserStore::default(), ConsoleNotifier::new());
    /// let refused = layer.flow().authenticate("not-a-token").await;
    /// assert!(matches!(refused, Err(tower_otp::flow::FlowError::InvalidToken)));
    /// # }
    /// ```
    pub fn flow(&self) -> Flow {
        Flow::new(self.state.clone())
    }

    /// Revokes every token of a user, at once, wherever they are used (e.g. after a password
    /// change or from an admin action). Returns how many there were.
    pub async fn revoke_all_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let state = &self.state;
        let account = state.key.account_key("user", user_id);
        let revoked = state.store.revoke_all_tokens(&account).await?;
        state.emit(AuthEvent::TokenRevoked {
            user_id: Some(user_id.to_owned()),
            account,
            client_ip: None,
            all: true,
        });
        Ok(revoked)
    }
}

impl<S> Layer<S> for OtpAuthLayer {
    type Service = OtpAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtpAuth::new(inner, self.state.clone())
    }
}

fn check_digits(strategy: &dyn OtpStrategy, token_length: u8) -> Result<(), ConfigError> {
    let max = strategy.max_digits();
    if token_length > max {
        return Err(ConfigError {
            key: "token_length",
            reason: format!("the code strategy makes at most {max} digits, not {token_length}"),
        });
    }
    Ok(())
}

#[cfg(feature = "memory-store")]
fn default_store() -> Arc<dyn DynTokenStore> {
    Arc::new(crate::store::MemoryStore::new())
}

#[cfg(not(feature = "memory-store"))]
fn default_store() -> Arc<dyn DynTokenStore> {
    Arc::new(crate::store::NoStore)
}
