//! The authenticator endpoints of a logged-in user (`Authorization: Token <key>`, or the token
//! cookie with the CSRF check): set up an app, confirm it, disable it, replace the recovery
//! codes.

use http::request::Parts;
use http::StatusCode;
use http_body::Body;
use serde_json::{json, Value};

use super::answer::refusal;
use super::client::{client, presented_token};
use super::fields::{read_fields, FieldErrors, Trim};
use crate::authenticated::AuthenticatedUser;
use crate::boxed::BoxError;
use crate::flow::{self, RecoveryCodeList};
use crate::response::{json, no_content, JsonResponse};
use crate::routing::Endpoint;
use crate::state::State;

/// Answers one of the authenticator endpoints.
pub(super) async fn handle<B>(
    state: &State,
    endpoint: Endpoint,
    parts: &Parts,
    body: B,
) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let presented = match presented_token(state, parts) {
        Ok(presented) => presented,
        Err(refused) => return refused.into_response(),
    };
    let user = match flow::authenticate(state, &presented).await {
        Ok(user) => user,
        Err(error) => return refusal(endpoint, error),
    };
    // Read like any endpoint's (so 413, 415 and 400 as elsewhere); only `token` means anything.
    let fields = match read_fields(&parts.headers, body, &state.settings).await {
        Ok(fields) => fields,
        Err(bad) => return bad.into_response(),
    };
    let client = client(state, parts);
    if endpoint == Endpoint::TotpSetup {
        return match flow::begin_authenticator_setup(state, &user, &client).await {
            Ok(setup) => json(
                StatusCode::OK,
                &json!({
                    "secret": setup.secret,
                    "otpauth_url": setup.otpauth_url,
                    "qr_svg": setup.qr_svg,
                }),
            ),
            Err(error) => refusal(endpoint, error),
        };
    }
    let mut errors = FieldErrors::default();
    let code = fields.required("token", Trim::Yes, &mut errors);
    match errors.finish(code) {
        Ok(code) => with_code(state, endpoint, &user, &code, &client).await,
        Err(bad) => bad.into_response(),
    }
}

/// The endpoints that take a current code.
async fn with_code(
    state: &State,
    endpoint: Endpoint,
    user: &AuthenticatedUser,
    code: &str,
    client: &flow::Client<'_>,
) -> JsonResponse {
    let outcome = match endpoint {
        Endpoint::TotpConfirm => flow::confirm_authenticator(state, user, code, client).await,
        Endpoint::RecoveryCodes => flow::replace_recovery_codes(state, user, code, client).await,
        Endpoint::TotpDisable => {
            return match flow::disable_authenticator(state, user, code, client).await {
                Ok(()) => no_content(),
                Err(error) => refusal(endpoint, error),
            }
        }
        Endpoint::Login
        | Endpoint::Verify
        | Endpoint::Resend
        | Endpoint::Logout
        | Endpoint::TotpSetup => unreachable!("not an endpoint that takes a current code"),
    };
    match outcome {
        Ok(RecoveryCodeList(codes)) => json(
            StatusCode::OK,
            &json!({ "recovery_codes": Value::from(codes) }),
        ),
        Err(error) => refusal(endpoint, error),
    }
}
