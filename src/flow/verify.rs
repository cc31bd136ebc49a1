//! Verifying a code: one atomic store step that counts the attempt, compares, consumes the
//! challenge and stores the new token.

use super::client::Client;
use super::credentials::check_credentials;
use super::error::{counted, time_until, unavailable, FlowError};
use super::login::new_token;
use super::outcome::SignedIn;
use crate::event::{AuthEvent, CodeFailure};
use crate::metrics::Step;
use crate::state::State;
use crate::store::{AccountKey, DigestBytes, VerifyAttempt, VerifyOutcome};
use crate::token::parse_challenge_id;
use crate::user::User;

/// Whose code is being verified: named by a challenge id, or (django-drf-otp 0.0.11's body)
/// by username and password, meaning that user's active challenge.
struct Target {
    account: AccountKey,
    challenge: Option<DigestBytes>,
    user: Option<User>,
}

pub(crate) async fn verify(
    state: &State,
    challenge: &str,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    let verified = async {
        ensure_otp_enabled(state)?;
        let presented = parse_challenge_id(challenge).ok_or(FlowError::UnknownChallenge)?;
        let target = Target {
            account: presented.account,
            challenge: Some(presented.digest),
            user: None,
        };
        verify_code(state, target, code, client).await
    };
    counted(Step::Verify, verified.await, |_| "signed_in")
}

pub(crate) async fn verify_with_password(
    state: &State,
    username: &str,
    password: &str,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    let verified = async {
        ensure_otp_enabled(state)?;
        let (user, account) = check_credentials(state, username, password, client).await?;
        let target = Target {
            account,
            challenge: None,
            user: Some(user),
        };
        verify_code(state, target, code, client).await
    };
    counted(Step::Verify, verified.await, |_| "signed_in")
}

pub(crate) fn ensure_otp_enabled(state: &State) -> Result<(), FlowError> {
    if state.settings.enable_otp_authentication {
        Ok(())
    } else {
        Err(FlowError::OtpDisabled)
    }
}

async fn verify_code(
    state: &State,
    target: Target,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    let now = state.clock.now();
    let code_digest = state.key.code_digest(&target.account, code);
    // The store files the token under the challenge's user.
    let (secret, token) = new_token(state, &target.account, "", "");
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
        .await
        .map_err(|e| unavailable(state, e))?;
    let (account, client_ip) = (target.account, client.ip());
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
                    return Err(match refused {
                        Err(error) => unavailable(state, error),
                        Ok(_) => {
                            state.emit(code_failed(CodeFailure::UnknownChallenge));
                            FlowError::UnknownChallenge
                        }
                    });
                }
            };
            state.emit(AuthEvent::LoginSucceeded {
                user_id: info.user_id,
                account: account.clone(),
                client_ip,
            });
            Ok(SignedIn {
                token: secret,
                user,
            })
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
            Err(FlowError::WrongCode)
        }
        VerifyOutcome::Expired => {
            state.emit(code_failed(CodeFailure::Expired));
            Err(FlowError::ExpiredCode)
        }
        VerifyOutcome::Locked { until } => {
            state.emit(code_failed(CodeFailure::Locked));
            Err(FlowError::Locked {
                retry_after: time_until(until, now),
            })
        }
        VerifyOutcome::Replayed => {
            state.emit(AuthEvent::CodeReplayed {
                account: account.clone(),
                client_ip,
            });
            Err(FlowError::WrongCode)
        }
        _ => {
            state.emit(code_failed(CodeFailure::UnknownChallenge));
            Err(FlowError::UnknownChallenge)
        }
    }
}
