//! Verifying a code: one atomic store step that counts the attempt, compares, consumes the
//! challenge and stores the new token. An authenticator app's code (or a recovery code) is
//! judged against the user's enrollment first: the store step then only sees whether it proved
//! something.

use super::authenticator::{enrollment_of, prove, spend, Accept, Proof};
use super::client::Client;
use super::credentials::check_credentials;
use super::error::{counted, time_until, unavailable, FlowError};
use super::login::new_token;
use super::outcome::SignedIn;
use crate::event::{AuthEvent, CodeFailure};
use crate::metrics::Step;
use crate::second_factor::Enrollment;
use crate::state::State;
use crate::store::{AccountKey, DigestBytes, VerifyAttempt, VerifyOutcome};
use crate::token::{parse_challenge_id, ChallengeKind};
use crate::user::User;

/// Whose code is being verified: named by a challenge id, or (django-drf-otp 0.0.11's body)
/// by username and password, meaning that user's active challenge.
struct Target {
    account: AccountKey,
    challenge: Option<DigestBytes>,
    user: Option<User>,
}

/// How the code is judged.
enum Check {
    /// Against the digest the challenge keeps (a delivered code).
    Delivered,
    /// Against the user's enrollment, already: what it proved (`None`: nothing). A time step
    /// is spent by then; a recovery code is spent once the store has accepted the attempt.
    App {
        user_id: String,
        proof: Option<Proof>,
    },
}

pub(crate) async fn verify(
    state: &State,
    challenge: &str,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    counted(
        Step::Verify,
        verify_challenge(state, challenge, code, client).await,
        |_| "signed_in",
    )
}

/// Verifies a code against the challenge id the client holds.
async fn verify_challenge(
    state: &State,
    challenge: &str,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    ensure_otp_enabled(state)?;
    let (presented, kind) = parse_challenge_id(challenge).ok_or(FlowError::UnknownChallenge)?;
    let check = match kind {
        ChallengeKind::Delivered => Check::Delivered,
        ChallengeKind::App => {
            let now = state.clock.now();
            let found = state
                .store
                .active_challenge(&presented.account, Some(&presented.digest), now)
                .await
                .map_err(|e| unavailable(state, e))?;
            let Some(found) = found else {
                state.emit(AuthEvent::CodeFailed {
                    account: presented.account,
                    client_ip: client.ip(),
                    reason: CodeFailure::UnknownChallenge,
                });
                return Err(FlowError::UnknownChallenge);
            };
            let enrollment = enrollment_of(state, &found.user_id).await?;
            let user_id = found.user_id;
            let account = &presented.account;
            judge_app_code(state, user_id, account, enrollment.as_ref(), code, client).await?
        }
    };
    let target = Target {
        account: presented.account,
        challenge: Some(presented.digest),
        user: None,
    };
    verify_code(state, target, check, code, client).await
}

/// Judges `code` against the user's enrollment (`None`: removed since the login, so nothing is
/// proved and the app's challenge accepts no code). A time step is spent at once, before the
/// store step: a replayed one then proves nothing and counts as a wrong code, and the login
/// lives on for the next code (a step spent in vain, if the store then refuses, costs the user
/// 30 seconds at most; a recovery code is never spent in vain).
async fn judge_app_code(
    state: &State,
    user_id: String,
    account: &AccountKey,
    enrollment: Option<&Enrollment>,
    code: &str,
    client: &Client<'_>,
) -> Result<Check, FlowError> {
    let mut proof = match enrollment {
        Some(enrollment) => prove(
            state,
            &user_id,
            enrollment,
            code,
            Accept::AppOrRecoveryCodes,
        )?,
        None => None,
    };
    if let Some(step @ Proof::TimeStep(_)) = proof {
        if !spend(state, &user_id, account, step, client).await? {
            proof = None;
        }
    }
    Ok(Check::App { user_id, proof })
}

pub(crate) async fn verify_with_password(
    state: &State,
    username: &str,
    password: &str,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    let verified = verify_account_challenge(state, username, password, code, client).await;
    counted(Step::Verify, verified, |_| "signed_in")
}

/// Verifies a code against the active challenge of the user named by username and password.
async fn verify_account_challenge(
    state: &State,
    username: &str,
    password: &str,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    ensure_otp_enabled(state)?;
    let (user, account) = check_credentials(state, username, password, client).await?;
    let check = match enrollment_of(state, &user.id).await? {
        Some(enrollment) => {
            let user_id = user.id.clone();
            judge_app_code(state, user_id, &account, Some(&enrollment), code, client).await?
        }
        None => Check::Delivered,
    };
    let target = Target {
        account,
        challenge: None,
        user: Some(user),
    };
    verify_code(state, target, check, code, client).await
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
    check: Check,
    code: &str,
    client: &Client<'_>,
) -> Result<SignedIn, FlowError> {
    let now = state.clock.now();
    // An app's challenge keeps a digest no code has: only a proof from the enrollment meets it.
    let code_digest = match &check {
        Check::App { proof: Some(_), .. } => state.key.app_challenge_digest(&target.account),
        _ => state.key.code_digest(&target.account, code),
    };
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
            // A recovery code is spent once the store accepted the attempt (never in vain): if
            // another request spent it first, the token just stored is withdrawn.
            if let Check::App {
                user_id,
                proof: Some(proof @ Proof::RecoveryCode(_)),
            } = check
            {
                let spent = spend(state, &user_id, &account, proof, client).await;
                if !matches!(spent, Ok(true)) {
                    let _ = state.store.revoke_token(&account, &token.digest).await;
                    return Err(spent.err().unwrap_or(FlowError::WrongCode));
                }
            }
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
