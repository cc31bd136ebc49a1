use http::request::Parts;
use http_body::Body;

use super::answer::{challenge_body, refusal, signed_in, success};
use super::client::{client, extra_context};
use super::fields::{read_fields, FieldErrors, Trim};
use crate::boxed::BoxError;
use crate::cookies;
use crate::flow::{self, Login};
use crate::response::JsonResponse;
use crate::routing::Endpoint;
use crate::state::State;

/// `{username, password}`: a challenge (or with OTP off, a token).
pub(super) async fn login<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = match read_fields(&parts.headers, body, &state.settings).await {
        Ok(fields) => fields,
        Err(bad) => return bad.into_response(),
    };
    let mut errors = FieldErrors::default();
    let username = fields.required(&state.settings.username_field, Trim::Yes, &mut errors);
    let password = fields.required("password", Trim::No, &mut errors);
    let (username, password) = match errors.finish(username.zip(password)) {
        Ok(read) => read,
        Err(bad) => return bad.into_response(),
    };
    let extra_context = extra_context(state, parts);
    let device = cookies::device(&parts.headers, &state.settings);
    let mut client = client(state, parts).with_extra_context(&extra_context);
    if let Some(device) = &device {
        client = client.with_remembered_device(device);
    }
    match flow::login(state, &username, &password, &client).await {
        Ok(Login::CodeSent(pending)) => success(
            state,
            Endpoint::Login,
            &pending.user,
            challenge_body(&pending),
        ),
        Ok(Login::SignedIn(done)) => signed_in(state, Endpoint::Login, &done, None),
        Ok(Login::Remembered(done)) => signed_in(state, Endpoint::Login, &done, Some("remembered")),
        Err(error) => refusal(Endpoint::Login, error),
    }
}
