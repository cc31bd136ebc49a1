//! A logged-in user's authenticator app: set it up, confirm it with its first code, remove it,
//! replace the recovery codes. Changing a factor takes a current code of it, so that a stolen
//! password and token cannot swap the user's authenticator.

use std::time::Duration;

use super::account_limit::{within_account_limit, Limited};
use super::authenticator::{
    enrollment_of, open_secret, prove, second_factors, spend, Accept, Proof,
};
use super::client::Client;
use super::error::{counted, time_until, unavailable, FlowError};
use super::outcome::{AuthenticatorSetup, RecoveryCodeList};
use crate::authenticated::AuthenticatedUser;
use crate::event::{AuthEvent, CodeFailure};
use crate::metrics::Step;
use crate::second_factor::{generate_recovery_codes, qr_svg, AppSecret, Enrollment, SealedSecret};
use crate::state::State;
use crate::store::{AccountKey, PasswordAttempt, PendingAppSetup};

/// How long a setup waits for the app's first code.
const SETUP_TTL: Duration = Duration::from_secs(600);
/// Wrong codes that end a setup.
const SETUP_MAX_FAILURES: u32 = 5;

fn account_of(state: &State, user: &AuthenticatedUser) -> AccountKey {
    state.key.account_key("user", &user.id)
}

/// [`setup`], counted in the metrics.
pub(crate) async fn begin_authenticator_setup(
    state: &State,
    user: &AuthenticatedUser,
    client: &Client<'_>,
) -> Result<AuthenticatorSetup, FlowError> {
    let result = setup(state, user, client).await;
    counted(Step::AuthenticatorSetup, result, |_| "done")
}

/// A fresh secret waiting for the app's first code, replacing any earlier setup.
async fn setup(
    state: &State,
    user: &AuthenticatedUser,
    client: &Client<'_>,
) -> Result<AuthenticatorSetup, FlowError> {
    second_factors(state)?;
    if enrollment_of(state, &user.id).await?.is_some() {
        return Err(FlowError::AlreadyEnrolled);
    }
    let account = account_of(state, user);
    let now = state.clock.now();
    let secret = AppSecret::generate();
    let pending = PendingAppSetup {
        sealed_secret: state.keyring.seal(&user.id, &secret).as_str().to_owned(),
        expires_at: now + SETUP_TTL,
        failures: 0,
    };
    state
        .store
        .begin_app_setup(&account, &pending, now)
        .await
        .map_err(|e| unavailable(state, e))?;
    state.emit(AuthEvent::AuthenticatorSetupStarted {
        user_id: user.id.clone(),
        account,
        client_ip: client.ip(),
    });
    let otpauth_url = secret.otpauth_url(&state.settings.totp_issuer, &user.username);
    Ok(AuthenticatorSetup {
        secret: secret.base32(),
        qr_svg: qr_svg(&otpauth_url),
        otpauth_url,
    })
}

/// [`confirm`], counted in the metrics.
pub(crate) async fn confirm_authenticator(
    state: &State,
    user: &AuthenticatedUser,
    code: &str,
    client: &Client<'_>,
) -> Result<RecoveryCodeList, FlowError> {
    let result = confirm(state, user, code, client).await;
    counted(Step::AuthenticatorConfirm, result, |_| "done")
}

/// The app's first code enrols it: fresh recovery codes, and the user's remembered devices
/// forgotten (they were remembered under the old factor).
async fn confirm(
    state: &State,
    user: &AuthenticatedUser,
    code: &str,
    client: &Client<'_>,
) -> Result<RecoveryCodeList, FlowError> {
    let store = second_factors(state)?;
    let account = account_of(state, user);
    let now = state.clock.now();
    let pending = state
        .store
        .pending_app_setup(&account, now)
        .await
        .map_err(|e| unavailable(state, e))?
        .ok_or(FlowError::NoPendingSetup)?;
    let sealed = SealedSecret::from_stored(pending.sealed_secret);
    let secret = open_secret(state, &user.id, &sealed)?;
    let Some(step) = secret.matching_step(code, now) else {
        state
            .store
            .fail_app_setup(&account, SETUP_MAX_FAILURES, now)
            .await
            .map_err(|e| unavailable(state, e))?;
        state.emit(AuthEvent::CodeFailed {
            account,
            client_ip: client.ip(),
            reason: CodeFailure::Mismatch,
        });
        return Err(FlowError::WrongCode);
    };
    let proof = Proof::TimeStep(step);
    if !spend(state, &user.id, &account, proof, client).await? {
        return Err(FlowError::WrongCode);
    }
    forget_devices(state, &account).await?;
    let codes = generate_recovery_codes();
    let enrollment = Enrollment {
        secret: sealed,
        recovery_codes: state.keyring.recovery_codes(&user.id, &codes),
        enrolled_at: now,
    };
    let enrolled = store
        .enroll(&user.id, &enrollment)
        .await
        .map_err(|e| unavailable(state, e))?;
    if !enrolled {
        return Err(FlowError::AlreadyEnrolled);
    }
    // Enrolled: a setup left behind would only expire.
    let _ = state.store.end_app_setup(&account).await;
    state.emit(AuthEvent::AuthenticatorEnrolled {
        user_id: user.id.clone(),
        account,
        client_ip: client.ip(),
    });
    Ok(RecoveryCodeList(codes))
}

/// [`disable`], counted in the metrics.
pub(crate) async fn disable_authenticator(
    state: &State,
    user: &AuthenticatedUser,
    code: &str,
    client: &Client<'_>,
) -> Result<(), FlowError> {
    let result = disable(state, user, code, client).await;
    counted(Step::AuthenticatorDisable, result, |_| "done")
}

/// Removes the authenticator app, given one of its codes or a recovery code: logins send codes
/// again, the recovery codes die, remembered devices are forgotten.
async fn disable(
    state: &State,
    user: &AuthenticatedUser,
    code: &str,
    client: &Client<'_>,
) -> Result<(), FlowError> {
    let account = account_of(state, user);
    check_current_code(
        state,
        user,
        &account,
        code,
        Accept::AppOrRecoveryCodes,
        client,
    )
    .await?;
    forget_devices(state, &account).await?;
    let removed = second_factors(state)?
        .remove_enrollment(&user.id)
        .await
        .map_err(|e| unavailable(state, e))?;
    if !removed {
        return Err(FlowError::NotEnrolled);
    }
    state.emit(AuthEvent::AuthenticatorDisabled {
        user_id: user.id.clone(),
        account,
        client_ip: client.ip(),
    });
    Ok(())
}

/// [`renew_recovery_codes`], counted in the metrics.
pub(crate) async fn replace_recovery_codes(
    state: &State,
    user: &AuthenticatedUser,
    code: &str,
    client: &Client<'_>,
) -> Result<RecoveryCodeList, FlowError> {
    let result = renew_recovery_codes(state, user, code, client).await;
    counted(Step::RecoveryCodes, result, |_| "done")
}

/// A new set of recovery codes, given a code of the app; the old set dies.
async fn renew_recovery_codes(
    state: &State,
    user: &AuthenticatedUser,
    code: &str,
    client: &Client<'_>,
) -> Result<RecoveryCodeList, FlowError> {
    let account = account_of(state, user);
    check_current_code(state, user, &account, code, Accept::AppCodes, client).await?;
    let codes = generate_recovery_codes();
    let replaced = second_factors(state)?
        .replace_recovery_codes(&user.id, &state.keyring.recovery_codes(&user.id, &codes))
        .await
        .map_err(|e| unavailable(state, e))?;
    if !replaced {
        return Err(FlowError::NotEnrolled);
    }
    state.emit(AuthEvent::RecoveryCodesReplaced {
        user_id: user.id.clone(),
        account,
        client_ip: client.ip(),
    });
    Ok(RecoveryCodeList(codes))
}

/// Checks a current code of the user's enrollment under the account lockout, as a password:
/// the attempt is counted as a failure before the code is looked at, and taken back when the
/// code is right and spent.
async fn check_current_code(
    state: &State,
    user: &AuthenticatedUser,
    account: &AccountKey,
    code: &str,
    accept: Accept,
    client: &Client<'_>,
) -> Result<(), FlowError> {
    second_factors(state)?;
    let enrollment = enrollment_of(state, &user.id)
        .await?
        .ok_or(FlowError::NotEnrolled)?;
    let now = state.clock.now();
    within_account_limit(state, Limited::FactorChanges, account, now).await?;
    let attempt = state
        .store
        .count_password_attempt(account, now, &state.lockout)
        .await
        .map_err(|e| unavailable(state, e))?;
    let counted = match attempt {
        PasswordAttempt::Counted(counted) => counted,
        PasswordAttempt::Locked { until } => {
            state.emit(AuthEvent::CodeFailed {
                account: account.clone(),
                client_ip: client.ip(),
                reason: CodeFailure::Locked,
            });
            return Err(FlowError::Locked {
                retry_after: time_until(until, now),
            });
        }
    };
    let spent = match prove(state, &user.id, &enrollment, code, accept)? {
        Some(proof) => spend(state, &user.id, account, proof, client).await?,
        None => false,
    };
    if spent {
        state
            .store
            .forgive_password_attempt(account, &counted, state.clock.now())
            .await
            .map_err(|e| unavailable(state, e))?;
        return Ok(());
    }
    let client_ip = client.ip();
    state.emit(AuthEvent::CodeFailed {
        account: account.clone(),
        client_ip,
        reason: CodeFailure::Mismatch,
    });
    if let Some(until) = counted.locked_until() {
        state.emit(AuthEvent::AccountLocked {
            account: account.clone(),
            client_ip,
            until,
        });
    }
    Err(FlowError::WrongCode)
}

async fn forget_devices(state: &State, account: &AccountKey) -> Result<(), FlowError> {
    state
        .store
        .revoke_all_devices(account)
        .await
        .map(drop)
        .map_err(|e| unavailable(state, e))
}
