//! Who a request comes from, for the flow: its IP, the extra template context of its codes,
//! and the token it presents.

use http::request::Parts;
use http::StatusCode;
use serde_json::{Map, Value};

use crate::authenticated::{Carrier, Credentials};
use crate::cookies::passes_csrf_check;
use crate::flow::Client;
use crate::response::{detail, unauthorized, JsonResponse, CSRF_FAILED, NOT_PROVIDED};
use crate::state::State;
use crate::token::Presented;
use crate::user::User;

/// Why an endpoint that needs a token refuses a request before looking the token up.
pub(super) enum NoToken {
    /// No well-formed token: 401 with this message.
    Missing(&'static str),
    /// A token cookie on a request that fails the CSRF check: 403.
    CsrfFailed,
}

impl NoToken {
    pub(super) fn into_response(self) -> JsonResponse {
        match self {
            Self::Missing(message) => unauthorized(message),
            Self::CsrfFailed => detail(StatusCode::FORBIDDEN, CSRF_FAILED),
        }
    }
}

/// The token a request to an endpoint that needs one presents (not yet checked against the
/// store).
pub(super) fn presented_token(state: &State, parts: &Parts) -> Result<Presented, NoToken> {
    let settings = &state.settings;
    match Credentials::of_request(&parts.headers, settings) {
        Credentials::Token(_, Carrier::Cookie)
            if !passes_csrf_check(&parts.method, &parts.uri, &parts.headers, settings) =>
        {
            Err(NoToken::CsrfFailed)
        }
        Credentials::Token(presented, _) => Ok(presented),
        Credentials::None => Err(NoToken::Missing(NOT_PROVIDED)),
        Credentials::Malformed(message) => Err(NoToken::Missing(message)),
    }
}

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
