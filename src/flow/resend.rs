//! Resending a code: a new one replaces the old, within the cooldown and the cap; for the
//! challenge the client holds, or for the pending login of a user named by username.

use std::time::Duration;

use subtle::ConstantTimeEq;

use super::client::Client;
use super::credentials::{limit_client, normalized_username};
use super::delivery::{deliver, Outgoing};
use super::error::{counted, time_until, unavailable, FlowError};
use super::outcome::{CodeMethod, CodeResent, PendingLogin};
use super::verify::ensure_otp_enabled;
use crate::metrics::Step;
use crate::state::State;
use crate::store::{AccountKey, DigestBytes, ResendOutcome, ResendRequest};
use crate::token::{parse_challenge_id, ChallengeKind};

pub(crate) async fn resend(
    state: &State,
    challenge: &str,
    client: &Client<'_>,
) -> Result<PendingLogin, FlowError> {
    let resent = resend_challenge(state, challenge, client).await;
    counted(Step::Resend, resent, |_| "code_sent")
}

pub(crate) async fn resend_for_username(
    state: &State,
    username: &str,
    client: &Client<'_>,
) -> Result<CodeResent, FlowError> {
    let resent = resend_active_challenge(state, username, client).await;
    counted(Step::Resend, resent, |_| "code_sent")
}

/// A new code for the challenge the client holds.
async fn resend_challenge(
    state: &State,
    challenge: &str,
    client: &Client<'_>,
) -> Result<PendingLogin, FlowError> {
    ensure_otp_enabled(state)?;
    let (presented, kind) = parse_challenge_id(challenge).ok_or(FlowError::UnknownChallenge)?;
    if kind == ChallengeKind::App {
        return Err(FlowError::UsesAuthenticatorApp);
    }
    let resent = new_code(state, &presented.account, &presented.digest, client).await?;
    Ok(PendingLogin {
        challenge: challenge.to_owned(),
        method: CodeMethod::Delivered,
        issued_at: resent.issued_at,
        code_ttl: resent.code_ttl,
        user: resent.user,
    })
}

/// A new code for the live challenge of the user named `username` (django-drf-otp 0.0.11's
/// body). An unknown or inactive user is looked up under the account a refused login of that
/// name counts against, where no challenge lives: every refusal does the same work (a user
/// lookup, a store lookup) and gets [`FlowError::UnknownChallenge`], as a user without a
/// pending login does.
async fn resend_active_challenge(
    state: &State,
    username: &str,
    client: &Client<'_>,
) -> Result<CodeResent, FlowError> {
    ensure_otp_enabled(state)?;
    // Asked by anyone who knows a username: as many as the client's logins may be.
    limit_client(state, client, state.clock.now()).await?;
    let user = state
        .users
        .find_by_username(username)
        .await
        .map_err(|e| unavailable(state, e))?;
    let active_user = user.filter(|user| user.is_active);
    let account = match &active_user {
        Some(user) => state.key.account_key("user", &user.id),
        None => state
            .key
            .account_key("name", &normalized_username(username)),
    };
    let active = state
        .store
        .active_challenge(&account, None, state.clock.now())
        .await
        .map_err(|e| unavailable(state, e))?;
    let (Some(_), Some(active)) = (active_user, active) else {
        return Err(FlowError::UnknownChallenge);
    };
    // A login waiting for an authenticator app keeps this digest instead of a code's.
    if bool::from(active.code.ct_eq(&state.key.app_challenge_digest(&account))) {
        return Err(FlowError::UsesAuthenticatorApp);
    }
    new_code(state, &account, &active.id, client).await
}

/// Replaces the code of the account's challenge `challenge` and delivers it.
async fn new_code(
    state: &State,
    account: &AccountKey,
    challenge: &DigestBytes,
    client: &Client<'_>,
) -> Result<CodeResent, FlowError> {
    let settings = &state.settings;
    let now = state.clock.now();
    let code = state.strategy.generate(settings.token_length, now);
    let outcome = state
        .store
        .resend_challenge(
            account,
            &ResendRequest {
                challenge,
                code: &state.key.code_digest(account, &code),
                now,
                code_ttl: state.code_ttl(),
                cooldown: Duration::from_secs(settings.resend_cooldown),
                max_sends: settings.max_sends,
            },
        )
        .await
        .map_err(|e| unavailable(state, e))?;
    let info = match outcome {
        ResendOutcome::Resent(info) => info,
        ResendOutcome::Cooldown { until } => {
            return Err(FlowError::Throttled {
                retry_after: time_until(until, now),
            })
        }
        // Nothing to wait for: this login is over, a new one gets new codes.
        ResendOutcome::Exhausted => return Err(FlowError::ResendsExhausted),
        _ => return Err(FlowError::UnknownChallenge),
    };
    let ttl = info
        .code_expires_at
        .duration_since(info.issued_at)
        .unwrap_or_default();
    let user = match state.users.find_by_id(&info.user_id).await {
        Ok(Some(user)) if user.is_active => user,
        found => {
            // The user went away (or was deactivated) since the login: end the pending login.
            let _ = state.store.delete_challenge(account, challenge).await;
            return Err(match found {
                Err(error) => unavailable(state, error),
                Ok(_) => FlowError::UnknownChallenge,
            });
        }
    };
    let outgoing = Outgoing {
        user: &user,
        account,
        challenge,
        code: &code,
        issued_at: info.issued_at,
        ttl,
    };
    deliver(state, client, outgoing).await?;
    Ok(CodeResent {
        issued_at: info.issued_at,
        code_ttl: ttl,
        user,
    })
}
