use http::header::SET_COOKIE;
use http::request::Parts;
use http::StatusCode;
use http_body::Body;

use super::answer::refusal;
use super::client::client;
use super::fields::read_fields;
use crate::authenticated::{Carrier, Credentials};
use crate::boxed::BoxError;
use crate::cookies::{self, is_cross_origin, passes_csrf_check};
use crate::flow::{self, Logout};
use crate::response::{detail, no_content, unauthorized, JsonResponse, CSRF_FAILED, NOT_PROVIDED};
use crate::routing::Endpoint;
use crate::state::State;

/// Revokes the presented token, or with `{"all": true}` every token of its user.
///
/// The presented token is revoked whatever the body holds: a body that cannot be read as JSON
/// or a form (another content type, malformed, too large, too slow) is ignored, since a logout
/// that fails would leave the token alive. Only a readable body can widen it to `all`.
pub(super) async fn logout<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let settings = &state.settings;
    // Asked before the request is consumed: did this browser itself present a stale cookie?
    let stale_cookie_possible = cookies::token(&parts.headers, settings).is_some()
        && !is_cross_origin(&parts.uri, &parts.headers, settings);
    let mut response = revoke(state, parts, body).await;
    // The cookie goes once its token is revoked, or when the browser's own request shows it is
    // no good (401); never for another site's request, a forged one (403), or a backend failure
    // (the token may live: the user tries again).
    let clear = match response.status() {
        StatusCode::NO_CONTENT => true,
        StatusCode::UNAUTHORIZED => stale_cookie_possible,
        _ => false,
    };
    if settings.token_transport.uses_cookie() && clear {
        response
            .headers_mut()
            .append(SET_COOKIE, cookies::clear_token(settings));
    }
    response
}

async fn revoke<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let settings = &state.settings;
    let presented = match Credentials::of_request(&parts.headers, settings) {
        Credentials::Token(_, Carrier::Cookie)
            if !passes_csrf_check(&parts.method, &parts.uri, &parts.headers, settings) =>
        {
            return detail(StatusCode::FORBIDDEN, CSRF_FAILED)
        }
        Credentials::Token(presented, _) => presented,
        Credentials::None => return unauthorized(NOT_PROVIDED),
        Credentials::Malformed(message) => return unauthorized(message),
    };
    let all = read_fields(&parts.headers, body, settings)
        .await
        .is_ok_and(|fields| fields.flag("all"));
    let scope = if all {
        Logout::Everywhere
    } else {
        Logout::ThisToken
    };
    match flow::logout(state, &presented, scope, &client(state, parts)).await {
        Ok(()) => no_content(),
        Err(error) => refusal(Endpoint::Logout, error),
    }
}
