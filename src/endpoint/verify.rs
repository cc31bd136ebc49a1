use http::request::Parts;
use http::StatusCode;
use http_body::Body;

use super::{check_credentials, new_token, success, token_body, BoxError};
use crate::event::{AuthEvent, CodeFailure};
use crate::request::{read_fields, FieldErrors, Fields, Trim};
use crate::response::{
    detail, non_field_error, seconds_until, throttled, unavailable, JsonResponse, EXPIRED_TOKEN,
    INVALID_CREDENTIALS, INVALID_TOKEN, OTP_DISABLED,
};
use crate::routing::Endpoint;
use crate::state::State;
use crate::store::{AccountKey, Digest, VerifyAttempt, VerifyOutcome};
use crate::token::parse_challenge_id;
use crate::user::User;

/// Whose code is being verified: named by a challenge id, or (django-drf-otp 0.0.11's body)
/// by username and password, meaning that user's active challenge.
struct Target {
    account: AccountKey,
    challenge: Option<Digest>,
    user: Option<User>,
}

pub(super) async fn verify<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if !state.settings.enable_otp_authentication {
        return detail(StatusCode::BAD_REQUEST, OTP_DISABLED);
    }
    let fields = match read_fields(&parts.headers, body, &state.settings).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let (target, code) = match read_target(state, parts, &fields).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let code_digest = state.key.code_digest(&target.account, &code);
    // The store files the token under the challenge's user.
    let (issued, token) = new_token(state, &target.account, "", "");
    let outcome = state
        .store
        .verify_challenge(
            &target.account,
            &VerifyAttempt {
                challenge: target.challenge.as_ref(),
                code: &code_digest,
                now,
                max_attempts: state.settings.max_attempts,
                lockout: &state.lockout,
                token: &token,
            },
        )
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return unavailable(error),
    };
    let (account, client_ip) = (target.account, state.client_ip(parts));
    let code_failed = |reason| AuthEvent::CodeFailed {
        account: account.clone(),
        client_ip,
        reason,
    };
    match outcome {
        VerifyOutcome::Verified(info) => {
            // The user may have been deactivated or deleted since the password step: the
            // token just stored is withdrawn, and so is one the user store cannot vouch for.
            let user = match target.user {
                Some(user) => Ok(Some(user)),
                None => state.users.find_by_id(&info.user_id).await,
            };
            let user = match user {
                Ok(Some(user)) if user.is_active => user,
                refused => {
                    let _ = state.store.revoke_token(&account, &token.digest).await;
                    return match refused {
                        Err(error) => unavailable(error),
                        Ok(_) => {
                            state.emit(code_failed(CodeFailure::UnknownChallenge));
                            non_field_error(INVALID_TOKEN)
                        }
                    };
                }
            };
            state.emit(AuthEvent::LoginSucceeded {
                user_id: info.user_id,
                account: account.clone(),
                client_ip,
            });
            success(
                state,
                Endpoint::Verify,
                Some(&user),
                token_body(&issued.secret),
            )
        }
        VerifyOutcome::Mismatch { locked_until, .. } => {
            state.emit(code_failed(CodeFailure::Mismatch));
            if let Some(until) = locked_until {
                state.emit(AuthEvent::AccountLocked {
                    account: account.clone(),
                    client_ip,
                    until,
                });
            }
            non_field_error(INVALID_TOKEN)
        }
        VerifyOutcome::Expired => {
            state.emit(code_failed(CodeFailure::Expired));
            non_field_error(EXPIRED_TOKEN)
        }
        VerifyOutcome::Locked { until } => {
            state.emit(code_failed(CodeFailure::Locked));
            throttled(seconds_until(until, now))
        }
        VerifyOutcome::Replayed => {
            state.emit(AuthEvent::CodeReplayed {
                account: account.clone(),
                client_ip,
            });
            non_field_error(INVALID_TOKEN)
        }
        _ => {
            state.emit(code_failed(CodeFailure::UnknownChallenge));
            non_field_error(INVALID_TOKEN)
        }
    }
}

async fn read_target(
    state: &State,
    parts: &Parts,
    fields: &Fields,
) -> Result<(Target, String), crate::response::JsonResponse> {
    let mut errors = FieldErrors::default();
    if fields.has("challenge") {
        let challenge = fields.required("challenge", Trim::Yes, &mut errors);
        let code = read_code(state, fields, &mut errors);
        let (challenge, code) = errors.finish(challenge.zip(code))?;
        let presented =
            parse_challenge_id(&challenge).ok_or_else(|| non_field_error(INVALID_TOKEN))?;
        return Ok((
            Target {
                account: presented.account,
                challenge: Some(presented.digest),
                user: None,
            },
            code,
        ));
    }
    let username = fields.required(&state.settings.username_field, Trim::Yes, &mut errors);
    let password = fields.required("password", Trim::No, &mut errors);
    let code = read_code(state, fields, &mut errors);
    let ((username, password), code) = errors.finish(username.zip(password).zip(code))?;
    let (user, account) = check_credentials(state, parts, &username, &password)
        .await?
        .ok_or_else(|| non_field_error(INVALID_CREDENTIALS))?;
    Ok((
        Target {
            account,
            challenge: None,
            user: Some(user),
        },
        code,
    ))
}

/// The `token` field: the code, exactly `token_length` characters.
fn read_code(state: &State, fields: &Fields, errors: &mut FieldErrors) -> Option<String> {
    let code = fields.required("token", Trim::Yes, errors)?;
    let want = usize::from(state.settings.token_length);
    let len = code.chars().count();
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
