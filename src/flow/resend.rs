//! Resending a code: a new one replaces the old, within the cooldown and the cap.

use std::time::Duration;

use super::client::Client;
use super::delivery::{deliver, Outgoing};
use super::error::{counted, time_until, unavailable, FlowError};
use super::outcome::{CodeMethod, PendingLogin};
use super::verify::ensure_otp_enabled;
use crate::metrics::Step;
use crate::state::State;
use crate::store::{ResendOutcome, ResendRequest};
use crate::token::{parse_challenge_id, ChallengeKind};

pub(crate) async fn resend(
    state: &State,
    challenge: &str,
    client: &Client<'_>,
) -> Result<PendingLogin, FlowError> {
    let resent = new_code(state, challenge, client).await;
    counted(Step::Resend, resent, |_| "code_sent")
}

async fn new_code(
    state: &State,
    challenge: &str,
    client: &Client<'_>,
) -> Result<PendingLogin, FlowError> {
    ensure_otp_enabled(state)?;
    let settings = &state.settings;
    let (presented, kind) = parse_challenge_id(challenge).ok_or(FlowError::UnknownChallenge)?;
    if kind == ChallengeKind::App {
        return Err(FlowError::UsesAuthenticatorApp);
    }
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
            let _ = state
                .store
                .delete_challenge(account, &presented.digest)
                .await;
            return Err(match found {
                Err(error) => unavailable(state, error),
                Ok(_) => FlowError::UnknownChallenge,
            });
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
    deliver(state, client, outgoing).await?;
    Ok(PendingLogin {
        challenge: challenge.to_owned(),
        method: CodeMethod::Delivered,
        issued_at: info.issued_at,
        code_ttl: ttl,
        user,
    })
}
