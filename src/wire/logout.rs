use http::request::Parts;
use http_body::Body;

use super::answer::refusal;
use super::client::client;
use super::fields::read_fields;
use crate::authenticated::Credentials;
use crate::boxed::BoxError;
use crate::flow::{self, Logout};
use crate::response::{no_content, unauthorized, JsonResponse, NOT_PROVIDED};
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
    let presented = match Credentials::from_headers(&parts.headers) {
        Credentials::Token(presented) => presented,
        Credentials::None => return unauthorized(NOT_PROVIDED),
        Credentials::Malformed(message) => return unauthorized(message),
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
