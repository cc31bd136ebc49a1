//! Authenticating a request by its auth token.

use super::error::{unavailable, FlowError};
use crate::authenticated::AuthenticatedUser;
use crate::state::State;
use crate::token::Presented;

/// The user a presented token belongs to, if it is live; restarts its idle timer.
pub(crate) async fn authenticate(
    state: &State,
    presented: &Presented,
) -> Result<AuthenticatedUser, FlowError> {
    let now = state.clock.now();
    let info = state
        .store
        .authenticate_token(&presented.account, &presented.digest, now)
        .await
        .map_err(|e| unavailable(state, e))?
        .ok_or(FlowError::InvalidToken)?;
    Ok(AuthenticatedUser {
        id: info.user_id,
        username: info.username,
        issued_at: info.issued_at,
        expires_at: info.expires_at,
    })
}
