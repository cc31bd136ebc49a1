use std::time::Duration;

use http::header::SET_COOKIE;
use http::request::Parts;
use http_body::Body;

use super::answer::{refusal, signed_in};
use super::client::client;
use super::fields::{read_fields, FieldErrors, Fields, Trim};
use crate::boxed::BoxError;
use crate::cookies;
use crate::flow::{self, ensure_otp_enabled};
use crate::response::JsonResponse;
use crate::routing::Endpoint;
use crate::second_factor::normalise_recovery_code;
use crate::state::State;

/// `{challenge, token}`, or django-drf-otp 0.0.11's `{username, password, token}`: a token.
pub(super) async fn verify<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    // Before the body is read, so that the answer does not depend on it (the flow checks too,
    // for applications that call it directly).
    if let Err(error) = ensure_otp_enabled(state) {
        return refusal(Endpoint::Verify, error);
    }
    let fields = match read_fields(&parts.headers, body, &state.settings).await {
        Ok(fields) => fields,
        Err(bad) => return bad.into_response(),
    };
    let client = client(state, parts);
    let mut errors = FieldErrors::default();
    let outcome = if fields.has("challenge") {
        let challenge = fields.required("challenge", Trim::Yes, &mut errors);
        let code = read_code(state, &fields, &mut errors);
        let (challenge, code) = match errors.finish(challenge.zip(code)) {
            Ok(read) => read,
            Err(bad) => return bad.into_response(),
        };
        flow::verify(state, &challenge, &code, &client).await
    } else {
        let username = fields.required(&state.settings.username_field, Trim::Yes, &mut errors);
        let password = fields.required("password", Trim::No, &mut errors);
        let code = read_code(state, &fields, &mut errors);
        let ((username, password), code) = match errors.finish(username.zip(password).zip(code)) {
            Ok(read) => read,
            Err(bad) => return bad.into_response(),
        };
        flow::verify_with_password(state, &username, &password, &code, &client).await
    };
    let done = match outcome {
        Ok(done) => done,
        Err(error) => return refusal(Endpoint::Verify, error),
    };
    let mut response = signed_in(state, Endpoint::Verify, &done, None);
    if fields.flag("remember_device") {
        // The login is done either way: a device that cannot be remembered (the store failed,
        // reported as an event) is only asked for its code next time.
        if let Ok(Some(secret)) = flow::remember_device(state, &done.user, &client).await {
            let lifetime = Duration::from_secs(state.settings.remember_device_ttl);
            response.headers_mut().append(
                SET_COOKIE,
                cookies::set_device(&state.settings, &secret, lifetime),
            );
        }
    }
    response
}

/// The `token` field: the code, exactly `token_length` characters; or an authenticator app's
/// code (6 digits) or a recovery code, which the flow judges for the users who have them.
fn read_code(state: &State, fields: &Fields, errors: &mut FieldErrors) -> Option<String> {
    let code = fields.required("token", Trim::Yes, errors)?;
    let want = usize::from(state.settings.token_length);
    let len = code.chars().count();
    let app_code = len == 6 && code.bytes().all(|b| b.is_ascii_digit());
    if app_code || normalise_recovery_code(&code).is_some() {
        return Some(code);
    }
    if len < want {
        return errors.add(
            "token",
            &format!("Ensure this field has at least {want} characters."),
        );
    }
    if len > want {
        return errors.add(
            "token",
            &format!("Ensure this field has no more than {want} characters."),
        );
    }
    Some(code)
}
