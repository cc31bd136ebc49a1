use std::time::Duration;

use http::request::Parts;
use http::StatusCode;
use http_body::Body;

use super::{challenge_body, deliver, success, BoxError, Outgoing};
use crate::request::{read_fields, FieldErrors, Trim};
use crate::response::{
    detail, non_field_error, seconds_until, throttled, unavailable, JsonResponse, OTP_DISABLED,
};
use crate::routing::Endpoint;
use crate::state::State;
use crate::store::{ResendOutcome, ResendRequest};
use crate::token::parse_challenge_id;

const INVALID_CHALLENGE: &str = "Invalid or expired challenge.";

pub(super) async fn resend<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let settings = &state.settings;
    if !settings.enable_otp_authentication {
        return detail(StatusCode::BAD_REQUEST, OTP_DISABLED);
    }
    let fields = match read_fields(&parts.headers, body, settings).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut errors = FieldErrors::default();
    let challenge = fields.required("challenge", Trim::Yes, &mut errors);
    let challenge = match errors.finish(challenge) {
        Ok(challenge) => challenge,
        Err(response) => return response,
    };
    let Some(presented) = parse_challenge_id(&challenge) else {
        return non_field_error(INVALID_CHALLENGE);
    };
    let account = &presented.account;
    let now = state.clock.now();
    let code = state.strategy.generate(settings.token_length, now);
    let outcome = state
        .store
        .resend_challenge(
            account,
            &ResendRequest {
                challenge: &presented.digest,
                code: &state.key.code_digest(account, &code),
                now,
                code_ttl: state.code_ttl(),
                cooldown: Duration::from_secs(settings.resend_cooldown),
                max_sends: settings.max_sends,
            },
        )
        .await;
    let info = match outcome {
        Ok(ResendOutcome::Resent(info)) => info,
        Ok(ResendOutcome::Cooldown { until }) => return throttled(seconds_until(until, now)),
        // Nothing to wait for: this login is over, a new one gets new codes.
        Ok(ResendOutcome::Exhausted) => {
            return non_field_error("Too many codes were sent for this login. Log in again.")
        }
        Ok(_) => return non_field_error(INVALID_CHALLENGE),
        Err(error) => return unavailable(error),
    };
    let ttl = info
        .code_expires_at
        .duration_since(info.issued_at)
        .unwrap_or_default();
    let user = match state.users.find_by_id(&info.user_id).await {
        Ok(Some(user)) if user.is_active => user,
        found => {
            // The user went away (or was deactivated) since the login: end the pending login.
            let _ = state
                .store
                .delete_challenge(account, &presented.digest)
                .await;
            return match found {
                Err(error) => unavailable(error),
                Ok(_) => non_field_error(INVALID_CHALLENGE),
            };
        }
    };
    let outgoing = Outgoing {
        user: &user,
        account,
        challenge: &presented.digest,
        code: &code,
        issued_at: info.issued_at,
        ttl,
    };
    if let Err(response) = deliver(state, parts, outgoing).await {
        return response;
    }
    success(
        state,
        Endpoint::Resend,
        Some(&user),
        challenge_body(&challenge, info.issued_at, ttl),
    )
}
