use http::request::Parts;
use http_body::Body;

use super::answer::{challenge_body, refusal, success};
use super::client::{client, extra_context};
use super::fields::{read_fields, FieldErrors, Trim};
use crate::boxed::BoxError;
use crate::flow::{self, ensure_otp_enabled};
use crate::response::JsonResponse;
use crate::routing::Endpoint;
use crate::state::State;

/// `{challenge}`: a new code, answered like a login.
pub(super) async fn resend<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    // Before the body is read, so that the answer does not depend on it (the flow checks too,
    // for applications that call it directly).
    if let Err(error) = ensure_otp_enabled(state) {
        return refusal(Endpoint::Resend, error);
    }
    let fields = match read_fields(&parts.headers, body, &state.settings).await {
        Ok(fields) => fields,
        Err(bad) => return bad.into_response(),
    };
    let mut errors = FieldErrors::default();
    let challenge = fields.required("challenge", Trim::Yes, &mut errors);
    let challenge = match errors.finish(challenge) {
        Ok(challenge) => challenge,
        Err(bad) => return bad.into_response(),
    };
    let extra_context = extra_context(state, parts);
    let client = client(state, parts).with_extra_context(&extra_context);
    match flow::resend(state, &challenge, &client).await {
        Ok(pending) => success(
            state,
            Endpoint::Resend,
            &pending.user,
            challenge_body(&pending),
        ),
        Err(error) => refusal(Endpoint::Resend, error),
    }
}
