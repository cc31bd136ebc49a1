//! The wire format of the layer's own endpoints, django-drf-otp's: read the fields, run the
//! [flow](crate::flow), answer in Django REST framework's shapes and status codes.

mod answer;
mod authenticator;
mod client;
mod fields;
mod login;
mod logout;
mod resend;
mod verify;

use http::{Method, Request};
use http_body::Body;

use crate::boxed::BoxError;
use crate::response::{forbid_caching, method_not_allowed, JsonResponse};
use crate::routing::Endpoint;
use crate::state::State;

/// Answers a request to one of the endpoints.
pub(crate) async fn handle<B>(
    state: &State,
    endpoint: Endpoint,
    request: Request<B>,
) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut response = if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        match endpoint {
            Endpoint::Login => login::login(state, &parts, body).await,
            Endpoint::Verify => verify::verify(state, &parts, body).await,
            Endpoint::Resend => resend::resend(state, &parts, body).await,
            Endpoint::Logout => logout::logout(state, &parts, body).await,
            Endpoint::TotpSetup
            | Endpoint::TotpConfirm
            | Endpoint::TotpDisable
            | Endpoint::RecoveryCodes => authenticator::handle(state, endpoint, &parts, body).await,
        }
    } else {
        method_not_allowed(request.method())
    };
    // Answers carry tokens and challenges: no cache may keep them (RFC 6749 section 5.1).
    forbid_caching(&mut response);
    response
}
