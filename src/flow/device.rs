//! Remembered devices: a browser that verified a code may skip the code step afterwards, with
//! the right password, until its secret expires or every device of the account is revoked.

use std::time::Duration;

use super::client::Client;
use super::error::{unavailable, FlowError};
use crate::event::AuthEvent;
use crate::state::State;
use crate::store::AccountKey;
use crate::token::{new_device_secret, parse_device_secret};
use crate::user::User;

/// Remembers the client's device for `user`: the secret to hand back (in the device cookie),
/// `None` when remembering is switched off (`remember_device_ttl = 0`).
pub(crate) async fn remember_device(
    state: &State,
    user: &User,
    client: &Client<'_>,
) -> Result<Option<String>, FlowError> {
    let ttl = state.settings.remember_device_ttl;
    if ttl == 0 {
        return Ok(None);
    }
    let account = state.key.account_key("user", &user.id);
    let issued = new_device_secret(&account);
    let now = state.clock.now();
    state
        .store
        .remember_device(
            &account,
            &issued.digest,
            now + Duration::from_secs(ttl),
            now,
        )
        .await
        .map_err(|e| unavailable(state, e))?;
    state.emit(AuthEvent::DeviceRemembered {
        user_id: user.id.clone(),
        account,
        client_ip: client.ip(),
    });
    Ok(Some(issued.secret))
}

/// Whether the client presents a device remembered for `account`: a secret of another account,
/// an expired or a revoked one is no device at all.
pub(super) async fn is_remembered(
    state: &State,
    account: &AccountKey,
    client: &Client<'_>,
) -> Result<bool, FlowError> {
    if state.settings.remember_device_ttl == 0 {
        return Ok(false);
    }
    let Some(presented) = client.remembered_device().and_then(parse_device_secret) else {
        return Ok(false);
    };
    if presented.account != *account {
        return Ok(false);
    }
    state
        .store
        .is_device_remembered(account, &presented.digest, state.clock.now())
        .await
        .map_err(|e| unavailable(state, e))
}
