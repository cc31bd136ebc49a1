//! Delivering a code, and what happens when it cannot be delivered.

use std::time::{Duration, SystemTime};

use super::client::Client;
use super::error::{unavailable, FlowError};
use crate::event::AuthEvent;
use crate::notify::Delivery;
use crate::state::State;
use crate::store::{AccountKey, DigestBytes};
use crate::user::User;

/// A code on its way to a user.
pub(super) struct Outgoing<'a> {
    pub(super) user: &'a User,
    pub(super) account: &'a AccountKey,
    /// The challenge the code belongs to (deleted if the code cannot be delivered).
    pub(super) challenge: &'a DigestBytes,
    pub(super) code: &'a str,
    pub(super) issued_at: SystemTime,
    pub(super) ttl: Duration,
}

/// Delivers a code with the application's extra context. A code that cannot be delivered must
/// not stay usable: its challenge is deleted and the flow fails closed.
pub(super) async fn deliver(
    state: &State,
    client: &Client<'_>,
    out: Outgoing<'_>,
) -> Result<(), FlowError> {
    let extra_context = client.extra_context_for(out.user);
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
    let (user_id, account, client_ip) = (out.user.id.clone(), out.account.clone(), client.ip());
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
            Err(unavailable(state, error))
        }
    }
}
