use http::request::Parts;
use http_body::Body;

use super::answer::{challenge_body, refusal, resent_body, success};
use super::client::{client, extra_context};
use super::fields::{read_fields, FieldErrors, Trim};
use crate::boxed::BoxError;
use crate::flow::{self, ensure_otp_enabled};
use http::StatusCode;
use serde_json::Value;

use crate::response::{json, JsonResponse};
use crate::routing::Endpoint;
use crate::state::State;

/// `{challenge}`, or django-drf-otp 0.0.11's `{username}`: a new code, answered like a login.
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
    let extra_context = extra_context(state, parts);
    let client = client(state, parts).with_extra_context(&extra_context);
    let mut errors = FieldErrors::default();
    // The compatible body only when it names a user and no challenge: an empty body is told
    // what this layer's clients send.
    let username_field = &state.settings.username_field;
    if !fields.has("challenge") && fields.has(username_field) && state.settings.resend_by_username {
        let username = fields.required(username_field, Trim::Yes, &mut errors);
        let username = match errors.finish(username) {
            Ok(username) => username,
            Err(bad) => return bad.into_response(),
        };
        return match flow::resend_for_username(state, &username, &client).await {
            // Not through the application's success hook: whoever knows a username gets this
            // answer, and the hook may add what only the user should see.
            Ok(resent) => json(StatusCode::OK, &Value::Object(resent_body(&resent))),
            Err(error) => refusal(Endpoint::Resend, error),
        };
    }
    let challenge = fields.required("challenge", Trim::Yes, &mut errors);
    let challenge = match errors.finish(challenge) {
        Ok(challenge) => challenge,
        Err(bad) => return bad.into_response(),
    };
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
