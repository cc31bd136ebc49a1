//! Who a request comes from, for the flow: its IP and the extra template context of its codes.

use http::request::Parts;
use serde_json::{Map, Value};

use crate::flow::Client;
use crate::state::State;
use crate::user::User;

/// The client of a request, for the flow. A request without a client IP escapes the
/// per-client login limit: the first one is reported, since that is a wiring mistake.
pub(super) fn client<'a>(state: &State, parts: &Parts) -> Client<'a> {
    let ip = state.client_ip(parts);
    if ip.is_none() && state.settings.login_rate_limit != 0 {
        state.report_unknown_client();
    }
    Client::new(ip)
}

/// The application's extra template context for a code sent in answer to `parts`.
pub(super) fn extra_context<'a>(
    state: &'a State,
    parts: &'a Parts,
) -> impl Fn(&User) -> Map<String, Value> + Sync + 'a {
    move |user| {
        state
            .extra_context
            .as_ref()
            .map(|hook| hook(parts, user))
            .unwrap_or_default()
    }
}
