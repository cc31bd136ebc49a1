//! Logging out: revoking the presented token, or every token (and remembered device) of its
//! user.

use super::authenticate::authenticate;
use super::client::Client;
use super::error::{counted, unavailable, FlowError};
use super::outcome::Logout;
use crate::event::AuthEvent;
use crate::metrics::Step;
use crate::state::State;
use crate::store::{AccountKey, StoreError};
use crate::token::Presented;

pub(crate) async fn logout(
    state: &State,
    presented: &Presented,
    scope: Logout,
    client: &Client<'_>,
) -> Result<(), FlowError> {
    let revoked = revoke(state, presented, scope, client).await;
    counted(Step::Logout, revoked, |()| "logged_out")
}

async fn revoke(
    state: &State,
    presented: &Presented,
    scope: Logout,
    client: &Client<'_>,
) -> Result<(), FlowError> {
    // Only a live token may log out: look it up first (which also names its user).
    let user = authenticate(state, presented).await?;
    let account = &presented.account;
    let all = scope == Logout::Everywhere;
    let revoked = if all {
        revoke_everything(state, account).await.map(drop)
    } else {
        state
            .store
            .revoke_token(account, &presented.digest)
            .await
            .map(drop)
    };
    revoked.map_err(|e| unavailable(state, e))?;
    state.emit(AuthEvent::TokenRevoked {
        user_id: Some(user.id),
        account: account.clone(),
        client_ip: client.ip(),
        all,
    });
    Ok(())
}

/// Revokes every token of the account and forgets every device remembered for it (logging out
/// everywhere means every device too). Returns how many tokens there were.
pub(crate) async fn revoke_everything(
    state: &State,
    account: &AccountKey,
) -> Result<u64, StoreError> {
    let revoked = state.store.revoke_all_tokens(account).await?;
    state.store.revoke_all_devices(account).await?;
    Ok(revoked)
}
