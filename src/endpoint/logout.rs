use http::request::Parts;
use http_body::Body;

use super::BoxError;
use crate::layer::Shared;
use crate::request::read_fields;
use crate::response::{
    no_content, unauthorized, unavailable, JsonResponse, INVALID_TOKEN, NOT_PROVIDED,
};
use crate::service::Credentials;

/// Revokes the presented token, or with `{"all": true}` every token of its user.
pub(super) async fn logout<B>(shared: &Shared, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let presented = match Credentials::from_headers(&parts.headers) {
        Credentials::Token(presented) => presented,
        Credentials::None => return unauthorized(NOT_PROVIDED),
        Credentials::Malformed(message) => return unauthorized(message),
    };
    let fields = match read_fields(&parts.headers, body, shared.settings.body_limit).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let store = &shared.store;
    let revoked = if fields.flag("all") {
        // Only a live token may revoke the others.
        match crate::AuthenticatedUser::from_token(shared, &presented).await {
            Ok(Some(_)) => store
                .revoke_all_tokens(&presented.account)
                .await
                .map(|n| n > 0),
            Ok(None) => Ok(false),
            Err(error) => Err(error),
        }
    } else {
        store
            .revoke_token(&presented.account, &presented.digest)
            .await
    };
    match revoked {
        Ok(true) => no_content(),
        Ok(false) => unauthorized(INVALID_TOKEN),
        Err(error) => unavailable(error),
    }
}
