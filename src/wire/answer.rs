//! The endpoints' answers in django-drf-otp's shapes: a refusal of the flow, a success with the
//! application's hook applied, and the bodies of challenges and tokens.

use std::time::{Duration, SystemTime};

use http::header::SET_COOKIE;
use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::cookies;
use crate::flow::{CodeMethod, CodeResent, FlowError, PendingLogin, SignedIn};
use crate::metrics;
use crate::response::{
    detail, json, non_field_error, throttled, unauthorized, unavailable, JsonResponse,
    EXPIRED_TOKEN, INVALID_CREDENTIALS, INVALID_TOKEN, OTP_DISABLED,
};
use crate::routing::Endpoint;
use crate::state::State;
use crate::user::User;

/// The answer to a refusal (or failure) of the flow at `endpoint`.
pub(super) fn refusal(endpoint: Endpoint, error: FlowError) -> JsonResponse {
    match error {
        FlowError::InvalidCredentials => non_field_error(INVALID_CREDENTIALS),
        FlowError::Throttled { retry_after } | FlowError::Locked { retry_after } => {
            metrics::throttled(endpoint.name());
            throttled(retry_after)
        }
        FlowError::WrongCode => non_field_error(INVALID_TOKEN),
        FlowError::ExpiredCode => non_field_error(EXPIRED_TOKEN),
        FlowError::UnknownChallenge if endpoint == Endpoint::Resend => {
            non_field_error("Invalid or expired challenge.")
        }
        FlowError::UnknownChallenge => non_field_error(INVALID_TOKEN),
        FlowError::ResendsExhausted => {
            non_field_error("Too many codes were sent for this login. Log in again.")
        }
        FlowError::OtpDisabled => detail(StatusCode::BAD_REQUEST, OTP_DISABLED),
        FlowError::InvalidToken => unauthorized(INVALID_TOKEN),
        FlowError::AlreadyEnrolled => detail(
            StatusCode::CONFLICT,
            "An authenticator app is already enrolled. Disable it first.",
        ),
        FlowError::NotEnrolled => {
            detail(StatusCode::BAD_REQUEST, "No authenticator app is enrolled.")
        }
        FlowError::NoPendingSetup => detail(
            StatusCode::BAD_REQUEST,
            "No authenticator app setup is pending. Start one first.",
        ),
        FlowError::UsesAuthenticatorApp => detail(
            StatusCode::BAD_REQUEST,
            "This login uses an authenticator app.",
        ),
        FlowError::AuthenticatorAppsOff => detail(StatusCode::NOT_FOUND, "Not found."),
        FlowError::Unavailable(error) => unavailable(error),
    }
}

/// 200 with a body, after the application's success hook.
pub(super) fn success(
    state: &State,
    endpoint: Endpoint,
    user: &User,
    mut body: Map<String, Value>,
) -> JsonResponse {
    if let Some(hook) = &state.success_body {
        hook(endpoint, user, &mut body);
    }
    json(StatusCode::OK, &Value::Object(body))
}

/// The body of a successful login or resend with OTP on (django-drf-otp's, plus `challenge`
/// and `method`).
pub(super) fn challenge_body(pending: &PendingLogin) -> Map<String, Value> {
    let mut body = code_body(pending.method, pending.issued_at, pending.code_ttl);
    body.insert("challenge".into(), pending.challenge.clone().into());
    body
}

/// The body of a resend for a user named by username (django-drf-otp 0.0.11's body): its
/// answer, plus `method`; no challenge id, which only the client that logged in holds.
pub(super) fn resent_body(resent: &CodeResent) -> Map<String, Value> {
    code_body(CodeMethod::Delivered, resent.issued_at, resent.code_ttl)
}

fn code_body(method: CodeMethod, issued_at: SystemTime, ttl: Duration) -> Map<String, Value> {
    let detail = match method {
        CodeMethod::AuthenticatorApp => "Enter the code from your authenticator app.",
        _ => "OTP token sent successfully.",
    };
    let Value::Object(body) = json!({
        "detail": detail,
        "method": method.name(),
        "otp_ttl": ttl.as_secs(),
        "otp_created_date": rfc3339(issued_at),
    }) else {
        unreachable!("a JSON object literal")
    };
    body
}

/// 200 for a completed login: the token in the body (django-drf-otp's `{"token": …}`), in the
/// cookie with `{"detail": "Logged in."}`, or both, as `token_transport` says; `method` says how
/// the second factor was met when it was not a code (`remembered`).
pub(super) fn signed_in(
    state: &State,
    endpoint: Endpoint,
    done: &SignedIn,
    method: Option<&str>,
) -> JsonResponse {
    let transport = state.settings.token_transport;
    let mut body = Map::new();
    if let Some(method) = method {
        body.insert("method".into(), method.into());
    }
    if transport.uses_cookie() {
        body.insert("detail".into(), "Logged in.".into());
    }
    if transport.uses_body() {
        body.insert("token".into(), done.token.clone().into());
    }
    let mut response = success(state, endpoint, &done.user, body);
    if transport.uses_cookie() {
        let lifetime = Duration::from_secs(state.settings.token_absolute_ttl);
        response.headers_mut().append(
            SET_COOKIE,
            cookies::set_token(&state.settings, &done.token, lifetime),
        );
    }
    response
}

/// `2026-11-25T18:40:47.053824+00:00`, as Django renders an aware UTC datetime.
fn rfc3339(t: SystemTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    time::OffsetDateTime::from(t)
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_date_looks_like_djangos() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_795_027_247_053_824);
        assert_eq!(rfc3339(t), "2026-11-18T18:40:47.053824+00:00");
    }
}
