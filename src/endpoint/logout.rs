use http::request::Parts;
use http_body::Body;

use super::BoxError;
use crate::authenticated::{AuthenticatedUser, Credentials};
use crate::event::AuthEvent;
use crate::request::read_fields;
use crate::response::{
    no_content, unauthorized, unavailable, JsonResponse, INVALID_TOKEN, NOT_PROVIDED,
};
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
    // Only a live token may log out: look it up first (which also names its user).
    let user = match AuthenticatedUser::from_token(state, &presented).await {
        Ok(Some(user)) => user,
        Ok(None) => return unauthorized(INVALID_TOKEN),
        Err(error) => return unavailable(error),
    };
    let account = &presented.account;
    let revoked = if all {
        state.store.revoke_all_tokens(account).await.map(drop)
    } else {
        state
            .store
            .revoke_token(account, &presented.digest)
            .await
            .map(drop)
    };
    if let Err(error) = revoked {
        return unavailable(error);
    }
    state.emit(AuthEvent::TokenRevoked {
        user_id: Some(user.id),
        account: account.clone(),
        client_ip: state.client_ip(parts),
        all,
    });
    no_content()
}
