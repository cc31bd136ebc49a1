//! The four endpoints the layer answers itself.

mod login;
mod logout;
mod resend;
mod verify;

use std::time::{Duration, SystemTime};

use http::request::Parts;
use http::{Method, Request, StatusCode};
use http_body::Body;
use serde_json::{json, Map, Value};
use unicode_normalization::UnicodeNormalization;

use crate::client::throttle_key;
use crate::event::{AuthEvent, LoginFailure};
use crate::notify::Delivery;
use crate::password::dummy_verify;
use crate::response::{
    forbid_caching, json, method_not_allowed, seconds_until, throttled, unavailable, JsonResponse,
};
use crate::routing::Endpoint;
use crate::state::State;
use crate::store::{AccountKey, Digest, NewToken, PasswordAttempt};
use crate::token::{new_auth_token, Issued};
use crate::user::User;

use crate::boxed::BoxError;

/// Answers a request to one of the endpoints.
pub(crate) async fn handle<B>(
    state: &State,
    endpoint: Endpoint,
    request: Request<B>,
) -> JsonResponse
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut response = if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        match endpoint {
            Endpoint::Login => login::login(state, &parts, body).await,
            Endpoint::Verify => verify::verify(state, &parts, body).await,
            Endpoint::Resend => resend::resend(state, &parts, body).await,
            Endpoint::Logout => logout::logout(state, &parts, body).await,
        }
    } else {
        method_not_allowed(request.method())
    };
    // Answers carry tokens and challenges: no cache may keep them (RFC 6749 section 5.1).
    forbid_caching(&mut response);
    response
}

/// The lockout key for a username that names no active user: case and Unicode compatibility
/// variants share it.
fn normalized_username(username: &str) -> String {
    username.nfkc().flat_map(char::to_lowercase).collect()
}

/// Checks a username and password. `Ok(None)` for every kind of refusal (unknown user,
/// inactive user, wrong password, locked account), each doing the same work: a user lookup,
/// one store step that checks the lock and counts the attempt, and one password hash
/// verification (a dummy one when the password must not be looked at).
///
/// The attempt is counted as a failure before the password is compared, in the same atomic step
/// as the lock check, and taken back only when the password is right: so however many requests
/// race, at most `lockout_threshold` passwords of an account are ever compared while it is not
/// locked.
async fn check_credentials(
    state: &State,
    parts: &Parts,
    username: &str,
    password: &str,
) -> Result<Option<(User, AccountKey)>, JsonResponse> {
    let now = state.clock.now();
    limit_client(state, parts, now).await?;
    let user = state
        .users
        .find_by_username(username)
        .await
        .map_err(unavailable)?;
    let account = match &user {
        Some(user) if user.is_active => state.key.account_key("user", &user.id),
        _ => state
            .key
            .account_key("name", &normalized_username(username)),
    };
    let attempt = state
        .store
        .count_password_attempt(&account, now, &state.lockout)
        .await
        .map_err(unavailable)?;
    let lock_set = match attempt {
        PasswordAttempt::Counted { locked_until } => locked_until,
        _ => None,
    };
    let password_ok = match (&user, attempt) {
        (Some(user), PasswordAttempt::Counted { .. }) => {
            state.users.check_password(user, password).await
        }
        // Locked, or no such user: the same time spent, nothing learnt.
        _ => dummy_verify(password.to_owned()).await,
    }
    .map_err(unavailable)?;
    let refusal = match &user {
        _ if matches!(attempt, PasswordAttempt::Locked { .. }) => Some(LoginFailure::Locked),
        None => Some(LoginFailure::UnknownUser),
        Some(user) if !user.is_active => Some(LoginFailure::InactiveUser),
        Some(_) if !password_ok => Some(LoginFailure::WrongPassword),
        Some(_) => None,
    };
    let Some(reason) = refusal else {
        state
            .store
            .forgive_password_attempt(&account, lock_set)
            .await
            .map_err(unavailable)?;
        return Ok(user.map(|user| (user, account)));
    };
    let client_ip = state.client_ip(parts);
    state.emit(AuthEvent::LoginFailed {
        user_id: user.map(|u| u.id),
        account: account.clone(),
        client_ip,
        reason,
    });
    if let Some(until) = lock_set {
        state.emit(AuthEvent::AccountLocked {
            account,
            client_ip,
            until,
        });
    }
    Ok(None)
}

/// The per-client limit on password checks: 429 once a client IP has used up its window.
async fn limit_client(state: &State, parts: &Parts, now: SystemTime) -> Result<(), JsonResponse> {
    let settings = &state.settings;
    if settings.login_rate_limit == 0 {
        return Ok(());
    }
    // Without a known peer address there is no fair key: every client would share one budget.
    let Some(ip) = state.client_ip(parts) else {
        return Ok(());
    };
    let key = format!("login:{}", throttle_key(ip));
    let window = Duration::from_secs(settings.login_rate_window);
    let state = state
        .store
        .hit_counter(&key, window, now)
        .await
        .map_err(unavailable)?;
    if state.count > settings.login_rate_limit {
        return Err(throttled(seconds_until(state.resets_at, now)));
    }
    Ok(())
}

/// A code on its way to a user.
struct Outgoing<'a> {
    user: &'a User,
    account: &'a AccountKey,
    /// The challenge the code belongs to (deleted if the code cannot be delivered).
    challenge: &'a Digest,
    code: &'a str,
    issued_at: SystemTime,
    ttl: Duration,
}

/// Delivers a code with the application's extra context. A code that cannot be delivered must
/// not stay usable: its challenge is deleted and the answer is 503.
async fn deliver(state: &State, parts: &Parts, out: Outgoing<'_>) -> Result<(), JsonResponse> {
    let extra_context = state
        .extra_context
        .as_ref()
        .map(|hook| hook(parts, out.user))
        .unwrap_or_default();
    let delivered = state
        .notifier
        .deliver(&Delivery {
            user: out.user,
            code: out.code,
            ttl: out.ttl,
            issued_at: out.issued_at,
            extra_context: &extra_context,
        })
        .await;
    let (user_id, account, client_ip) = (
        out.user.id.clone(),
        out.account.clone(),
        state.client_ip(parts),
    );
    match delivered {
        Ok(()) => {
            state.emit(AuthEvent::CodeSent {
                user_id,
                account,
                client_ip,
            });
            Ok(())
        }
        Err(error) => {
            // Best effort: if the store is down too, the undelivered code dies with its TTL.
            let _ = state
                .store
                .delete_challenge(out.account, out.challenge)
                .await;
            state.emit(AuthEvent::CodeDeliveryFailed {
                user_id,
                account,
                client_ip,
            });
            Err(unavailable(error))
        }
    }
}

/// A fresh auth token for a user, and what the store keeps of it.
fn new_token(
    state: &State,
    account: &AccountKey,
    user_id: &str,
    username: &str,
) -> (Issued, NewToken) {
    let now = state.clock.now();
    let issued = new_auth_token(account);
    let token = NewToken {
        digest: issued.digest,
        user_id: user_id.to_owned(),
        username: username.to_owned(),
        issued_at: now,
        expires_at: now + Duration::from_secs(state.settings.token_absolute_ttl),
        idle_timeout: Duration::from_secs(state.settings.token_idle_ttl),
    };
    (issued, token)
}

/// 200 with a body, after the application's success hook.
fn success(
    state: &State,
    endpoint: Endpoint,
    user: Option<&User>,
    mut body: Map<String, Value>,
) -> JsonResponse {
    if let (Some(hook), Some(user)) = (&state.success_body, user) {
        hook(endpoint, user, &mut body);
    }
    json(StatusCode::OK, &Value::Object(body))
}

/// The body of a successful login or resend with OTP on (django-drf-otp's, plus `challenge`).
fn challenge_body(challenge: &str, issued_at: SystemTime, ttl: Duration) -> Map<String, Value> {
    let Value::Object(body) = json!({
        "detail": "OTP token sent successfully.",
        "otp_ttl": ttl.as_secs(),
        "otp_created_date": rfc3339(issued_at),
        "challenge": challenge,
    }) else {
        unreachable!("a JSON object literal")
    };
    body
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

fn token_body(token: &str) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("token".into(), token.into());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_date_looks_like_djangos() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_795_027_247_053_824);
        assert_eq!(rfc3339(t), "2026-11-18T18:40:47.053824+00:00");
    }

    #[test]
    fn username_variants_share_a_key() {
        assert_eq!(normalized_username("Alice"), normalized_username("aLICE"));
        // Enclosed alphanumerics fold to ASCII under NFKC (Laravel Fortify's test case).
        assert_eq!(
            normalized_username("ⓣⓔⓢⓣ@ⓛⓐⓡⓐⓥⓔⓛ.ⓒⓞⓜ"),
            normalized_username("test@laravel.com")
        );
        assert_ne!(normalized_username("alice"), normalized_username("alicia"));
    }
}
