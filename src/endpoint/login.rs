use std::time::{Duration, SystemTime};

use http::request::Parts;
use http_body::Body;

use super::{
    challenge_body, check_credentials, deliver, new_token, success, token_body, BoxError, Outgoing,
};
use crate::event::AuthEvent;
use crate::request::{read_fields, FieldErrors, Trim};
use crate::response::{
    non_field_error, seconds_until, throttled, unavailable, JsonResponse, INVALID_CREDENTIALS,
};
use crate::routing::Endpoint;
use crate::state::State;
use crate::store::{AccountKey, NewChallenge};
use crate::token::new_challenge_id;
use crate::user::User;

pub(super) async fn login<B>(state: &State, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = match read_fields(&parts.headers, body, &state.settings).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut errors = FieldErrors::default();
    let username = fields.required(&state.settings.username_field, Trim::Yes, &mut errors);
    let password = fields.required("password", Trim::No, &mut errors);
    let (username, password) = match errors.finish(username.zip(password)) {
        Ok(read) => read,
        Err(response) => return response,
    };
    let (user, account) = match check_credentials(state, parts, &username, &password).await {
        Ok(Some(found)) => found,
        Ok(None) => return non_field_error(INVALID_CREDENTIALS),
        Err(response) => return response,
    };
    if state.settings.enable_otp_authentication {
        start_challenge(state, parts, &user, &account).await
    } else {
        login_without_otp(state, parts, &user, &account).await
    }
}

/// Stores a challenge, delivers its code and answers with the challenge id. A code that could
/// not be delivered is deleted at once.
async fn start_challenge(
    state: &State,
    parts: &Parts,
    user: &User,
    account: &AccountKey,
) -> JsonResponse {
    let settings = &state.settings;
    let now = state.clock.now();
    if let Err(response) = limit_sends(state, account, now).await {
        return response;
    }
    let ttl = state.code_ttl();
    let code = state.strategy.generate(settings.token_length, now);
    let id = new_challenge_id(account);
    let challenge = NewChallenge {
        id: id.digest,
        user_id: user.id.clone(),
        username: user.username.clone(),
        code: state.key.code_digest(account, &code),
        issued_at: now,
        code_expires_at: now + ttl,
        expires_at: now + Duration::from_secs(settings.pending_login_ttl),
    };
    if let Err(error) = state.store.create_challenge(account, &challenge).await {
        return unavailable(error);
    }
    let outgoing = Outgoing {
        user,
        account,
        challenge: &id.digest,
        code: &code,
        issued_at: now,
        ttl,
    };
    if let Err(response) = deliver(state, parts, outgoing).await {
        return response;
    }
    success(
        state,
        Endpoint::Login,
        Some(user),
        challenge_body(&id.secret, now, ttl),
    )
}

/// At most `account_send_limit` logins per window send a code to one account.
async fn limit_sends(
    state: &State,
    account: &AccountKey,
    now: SystemTime,
) -> Result<(), JsonResponse> {
    let settings = &state.settings;
    if settings.account_send_limit == 0 {
        return Ok(());
    }
    let window = Duration::from_secs(settings.account_send_window);
    let state = state
        .store
        .hit_counter(&format!("send:{account}"), window, now)
        .await
        .map_err(unavailable)?;
    if state.count > settings.account_send_limit {
        return Err(throttled(seconds_until(state.resets_at, now)));
    }
    Ok(())
}

/// OTP switched off: the password alone earns a token.
async fn login_without_otp(
    state: &State,
    parts: &Parts,
    user: &User,
    account: &AccountKey,
) -> JsonResponse {
    let (issued, token) = new_token(state, account, &user.id, &user.username);
    let stored = async {
        state.store.issue_token(account, &token).await?;
        state.store.clear_failures(account).await
    };
    if let Err(error) = stored.await {
        return unavailable(error);
    }
    state.emit(AuthEvent::LoginSucceeded {
        user_id: user.id.clone(),
        account: account.clone(),
        client_ip: state.client_ip(parts),
    });
    success(
        state,
        Endpoint::Login,
        Some(user),
        token_body(&issued.secret),
    )
}
