use std::time::Duration;

use http::request::Parts;
use http_body::Body;

use super::{challenge_body, check_credentials, deliver, new_token, success, token_body, BoxError};
use crate::layer::{Endpoint, Shared};
use crate::request::{read_fields, FieldErrors, Trim};
use crate::response::{non_field_error, unavailable, JsonResponse, INVALID_CREDENTIALS};
use crate::store::{AccountKey, NewChallenge};
use crate::token::new_challenge_id;
use crate::user::User;

pub(super) async fn login<B>(shared: &Shared, parts: &Parts, body: B) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = match read_fields(&parts.headers, body, shared.settings.body_limit).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut errors = FieldErrors::default();
    let username = fields.required(&shared.settings.username_field, Trim::Yes, &mut errors);
    let password = fields.required("password", Trim::No, &mut errors);
    let (username, password) = match errors.finish(username.zip(password)) {
        Ok(read) => read,
        Err(response) => return response,
    };
    let (user, account) = match check_credentials(shared, parts, &username, &password).await {
        Ok(Some(found)) => found,
        Ok(None) => return non_field_error(INVALID_CREDENTIALS),
        Err(response) => return response,
    };
    if shared.settings.enable_otp_authentication {
        start_challenge(shared, parts, &user, &account).await
    } else {
        login_without_otp(shared, &user, &account).await
    }
}

/// Stores a challenge, delivers its code and answers with the challenge id. A code that could
/// not be delivered is deleted at once.
async fn start_challenge(
    shared: &Shared,
    parts: &Parts,
    user: &User,
    account: &AccountKey,
) -> JsonResponse {
    let settings = &shared.settings;
    let now = shared.clock.now();
    let ttl = shared.code_ttl();
    let code = shared.strategy.generate(settings.token_length, now);
    let id = new_challenge_id(account);
    let challenge = NewChallenge {
        id: id.digest,
        user_id: user.id.clone(),
        username: user.username.clone(),
        code: shared.key.code_digest(account, &code),
        issued_at: now,
        code_expires_at: now + ttl,
        expires_at: now + Duration::from_secs(settings.pending_login_ttl),
    };
    if let Err(error) = shared.store.create_challenge(account, &challenge).await {
        return unavailable(error);
    }
    if let Err(error) = deliver(shared, parts, user, &code, now, ttl).await {
        // Best effort: if the store is down too, the undelivered code dies with its TTL.
        let _ = shared.store.delete_challenge(account, &id.digest).await;
        return unavailable(error);
    }
    success(
        shared,
        Endpoint::Login,
        Some(user),
        challenge_body(&id.secret, now, ttl),
    )
}

/// OTP switched off: the password alone earns a token.
async fn login_without_otp(shared: &Shared, user: &User, account: &AccountKey) -> JsonResponse {
    let (issued, token) = new_token(shared, account, &user.id, &user.username);
    let stored = async {
        shared.store.issue_token(account, &token).await?;
        shared.store.clear_failures(account).await
    };
    if let Err(error) = stored.await {
        return unavailable(error);
    }
    success(
        shared,
        Endpoint::Login,
        Some(user),
        token_body(&issued.secret),
    )
}
