//! A code checked against a user's enrollment (the authenticator app's codes, ±1 time step,
//! or a recovery code), then spent exactly once: a time step is claimed in the state store, a
//! recovery code removed from the second-factor store, each atomically.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::client::Client;
use super::error::{unavailable, FlowError};
use crate::event::AuthEvent;
use crate::second_factor::{
    normalise_recovery_code, AppSecret, DynSecondFactorStore, Enrollment, SealedSecret,
    SecondFactorStoreError, STEP_SECONDS,
};
use crate::state::State;
use crate::store::{AccountKey, DigestBytes};

/// What a code proved against an enrollment; it still has to be [spent](spend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proof {
    /// The app's code of this time step.
    TimeStep(u64),
    /// This recovery code (its digest).
    RecoveryCode(DigestBytes),
}

/// Which codes a check accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accept {
    /// The app's codes only.
    AppCodes,
    /// The app's codes and the recovery codes.
    AppOrRecoveryCodes,
}

/// The layer's second-factor store, or [`FlowError::AuthenticatorAppsOff`].
pub(super) fn second_factors(state: &State) -> Result<&Arc<dyn DynSecondFactorStore>, FlowError> {
    state
        .second_factors
        .as_ref()
        .ok_or(FlowError::AuthenticatorAppsOff)
}

/// The user's enrollment; `None` when there is none, or no second-factor store.
pub(super) async fn enrollment_of(
    state: &State,
    user_id: &str,
) -> Result<Option<Enrollment>, FlowError> {
    let Some(store) = &state.second_factors else {
        return Ok(None);
    };
    store
        .enrollment(user_id)
        .await
        .map_err(|e| unavailable(state, e))
}

/// What `code` proves against the user's enrollment, if anything.
pub(super) fn prove(
    state: &State,
    user_id: &str,
    enrollment: &Enrollment,
    code: &str,
    accept: Accept,
) -> Result<Option<Proof>, FlowError> {
    if accept == Accept::AppOrRecoveryCodes {
        if let Some(normalised) = normalise_recovery_code(code) {
            let keys = &state.keyring;
            return Ok(keys
                .find_recovery_code(user_id, &enrollment.recovery_codes, &normalised)
                .map(Proof::RecoveryCode));
        }
    }
    let secret = open_secret(state, user_id, &enrollment.secret)?;
    Ok(secret
        .matching_step(code, state.clock.now())
        .map(Proof::TimeStep))
}

/// Opens a user's sealed app secret; one that does not open (a key that is gone, an altered
/// record) fails closed, as the second-factor store's error.
pub(super) fn open_secret(
    state: &State,
    user_id: &str,
    sealed: &SealedSecret,
) -> Result<AppSecret, FlowError> {
    state
        .keyring
        .open(user_id, sealed)
        .map_err(|e| unavailable(state, SecondFactorStoreError::Backend(e.to_string())))
}

/// Spends a proof, once: `false` if it was spent already (a replayed time step, or one before
/// the last accepted; a recovery code used meanwhile). Reports either as an event.
pub(super) async fn spend(
    state: &State,
    user_id: &str,
    account: &AccountKey,
    proof: Proof,
    client: &Client<'_>,
) -> Result<bool, FlowError> {
    let client_ip = client.ip();
    match proof {
        Proof::TimeStep(step) => {
            let now = state.clock.now();
            let claimed = state
                .store
                .claim_time_step(account, step, last_acceptance(step), now)
                .await
                .map_err(|e| unavailable(state, e))?;
            if !claimed {
                state.emit(AuthEvent::TimeStepReplayed {
                    account: account.clone(),
                    client_ip,
                });
            }
            Ok(claimed)
        }
        Proof::RecoveryCode(digest) => {
            let remaining = second_factors(state)?
                .use_recovery_code(user_id, &digest)
                .await
                .map_err(|e| unavailable(state, e))?;
            if let Some(remaining) = remaining {
                state.emit(AuthEvent::RecoveryCodeUsed {
                    user_id: user_id.to_owned(),
                    account: account.clone(),
                    client_ip,
                    remaining,
                });
            }
            Ok(remaining.is_some())
        }
    }
}

/// When a code of time step `step` stops being accepted: the end of the step after it.
fn last_acceptance(step: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs((step + 2) * STEP_SECONDS)
}
