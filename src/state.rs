//! The layer's runtime state: settings, backends, keys and hooks, shared by every clone of the
//! service (behind an `Arc`), and the reporting of events.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use serde_json::{Map, Value};

use crate::client::client_ip;
use crate::clock::Clock;
use crate::config::OtpSettings;
use crate::event::AuthEvent;
use crate::notify::DynNotifier;
use crate::routing::Endpoint;
use crate::second_factor::{DynSecondFactorStore, Keyring};
use crate::store::{DynStateStore, LockoutPolicy};
use crate::strategy::OtpStrategy;
use crate::token::ServerKey;
use crate::user::{DynUserStore, User};

pub(crate) type ExtraContextFn = dyn Fn(&Parts, &User) -> Map<String, Value> + Send + Sync;
pub(crate) type SuccessBodyFn = dyn Fn(Endpoint, &User, &mut Map<String, Value>) + Send + Sync;
pub(crate) type EventHookFn = dyn Fn(&AuthEvent) + Send + Sync;

/// Everything the service needs, shared by all its clones.
pub(crate) struct State {
    pub(crate) settings: OtpSettings,
    pub(crate) users: Arc<dyn DynUserStore>,
    pub(crate) store: Arc<dyn DynStateStore>,
    pub(crate) notifier: Arc<dyn DynNotifier>,
    pub(crate) strategy: Arc<dyn OtpStrategy>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) key: ServerKey,
    /// The secret keys, current and retired, for what second factors seal and digest.
    pub(crate) keyring: Keyring,
    /// Where enrollments live; `None`: no authenticator apps.
    pub(crate) second_factors: Option<Arc<dyn DynSecondFactorStore>>,
    pub(crate) lockout: LockoutPolicy,
    pub(crate) extra_context: Option<Arc<ExtraContextFn>>,
    pub(crate) success_body: Option<Arc<SuccessBodyFn>>,
    pub(crate) events: Events,
    /// Whether a login without a known client IP was reported (once is enough).
    pub(crate) unknown_client_reported: AtomicBool,
}

impl State {
    pub(crate) fn code_ttl(&self) -> Duration {
        self.settings.code_ttl()
    }

    /// The client IP of a request, when known.
    pub(crate) fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        client_ip(parts, &self.settings.trusted_proxies)
    }

    /// Reports an event to the application's hook, the metrics and, with the `tracing` feature,
    /// as a `tracing` event.
    pub(crate) fn emit(&self, event: AuthEvent) {
        self.events.emit(event);
    }

    /// Reports, once, that logins arrive without a client IP, so that the per-client login
    /// limit cannot apply to them.
    pub(crate) fn report_unknown_client(&self) {
        if !self.unknown_client_reported.swap(true, Ordering::Relaxed) {
            self.emit(AuthEvent::ClientIpUnknown);
        }
    }
}

/// Where events go: the application's hook, the metrics they feed (with the `metrics` feature)
/// and, with the `tracing` feature, `tracing`. Cheap to clone, for reports made after the
/// request that caused them is gone.
#[derive(Clone, Default)]
pub(crate) struct Events {
    pub(crate) hook: Option<Arc<EventHookFn>>,
}

impl Events {
    pub(crate) fn emit(&self, event: AuthEvent) {
        event.measure();
        #[cfg(feature = "tracing")]
        event.trace();
        if let Some(hook) = &self.hook {
            hook(&event);
        }
    }
}
