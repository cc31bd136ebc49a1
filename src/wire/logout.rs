use http::header::SET_COOKIE;
use http::request::Parts;
use http::StatusCode;
use http_body::Body;

use super::answer::refusal;
use super::client::{client, presented_token};
use super::fields::read_fields;
use crate::boxed::BoxError;
use crate::cookies::{self, is_cross_origin};
use crate::flow::{self, Logout};
use crate::response::{no_content, JsonResponse};
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
    let presented = match presented_token(state, parts) {
        Ok(presented) => presented,
        Err(refused) => return refused.into_response(),
    };
    let all = read_fields(&parts.headers, body, &state.settings)
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
