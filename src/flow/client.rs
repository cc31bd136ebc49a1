//! [`Client`]: who is calling, and what to add to the template context of the codes it gets.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::user::User;

/// Who is calling: for the per-client login limit and the events, and what to add to the
/// template context of the codes sent to it.
#[derive(Clone, Copy, Default)]
pub struct Client<'a> {
    ip: Option<IpAddr>,
    extra_context: Option<&'a ExtraContext<'a>>,
    remembered_device: Option<&'a str>,
}

/// Extra template context for a code's message, computed for the user it goes to.
pub type ExtraContext<'a> = dyn Fn(&User) -> Map<String, Value> + Sync + 'a;

impl<'a> Client<'a> {
    /// A client known by its IP, if any. Without one the per-client login limit does not apply
    /// to it (and the layer reports that once, as [`AuthEvent::ClientIpUnknown`](crate::AuthEvent::ClientIpUnknown)).
    pub fn new(ip: Option<IpAddr>) -> Self {
        Self {
            ip,
            extra_context: None,
            remembered_device: None,
        }
    }

    /// Adds template context to the codes sent to this client (the layer's endpoints pass
    /// what [`with_extra_context`](crate::OtpAuthBuilder::with_extra_context) computes from the
    /// request).
    ///
    /// ```
    /// use serde_json::{json, Map, Value};
    /// use tower_otp::{flow::Client, User};
    ///
    /// let footer = |_: &User| -> Map<String, Value> {
    ///     let mut context = Map::new();
    ///     context.insert("footer".into(), json!("Sent from the support desk"));
    ///     context
    /// };
    /// let client = Client::new(None).with_extra_context(&footer);
    /// # let _ = client;
    /// ```
    pub fn with_extra_context(mut self, context: &'a ExtraContext<'a>) -> Self {
        self.extra_context = Some(context);
        self
    }

    /// The secret of a device this client was remembered as (the layer's endpoints take it from
    /// the device cookie): with it and the right password, a login skips the code step.
    pub fn with_remembered_device(mut self, secret: &'a str) -> Self {
        self.remembered_device = Some(secret);
        self
    }

    pub(crate) fn remembered_device(&self) -> Option<&'a str> {
        self.remembered_device
    }

    /// The client's IP.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The extra template context for a code sent to `user`.
    pub(crate) fn extra_context_for(&self, user: &User) -> Map<String, Value> {
        self.extra_context
            .map(|context| context(user))
            .unwrap_or_default()
    }
}

impl fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("ip", &self.ip)
            .field("extra_context", &self.extra_context.is_some())
            .field(
                "remembered_device",
                &self.remembered_device.map(|_| "<redacted>"),
            )
            .finish()
    }
}
