//! The per-account limit on actions someone else may try with an account: at most
//! `account_send_limit` of one kind per `account_send_window`, then 429.

use std::time::{Duration, SystemTime};

use super::error::{time_until, unavailable, FlowError};
use crate::state::State;
use crate::store::AccountKey;

/// What is counted against an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limited {
    /// Logins that start a code step: e-mails sent (against mailbox bombing), or authenticator
    /// challenges (each allows `max_attempts` codes, so this bounds guesses across logins even
    /// with the lockout off).
    CodeSteps,
    /// Attempts, right or wrong, at changing the account's factors: a bound on guessing with a
    /// stolen token that holds even with the lockout off.
    FactorChanges,
}

/// Counts one `kind` against `account`; throttled once the window's allowance is used up.
pub(super) async fn within_account_limit(
    state: &State,
    kind: Limited,
    account: &AccountKey,
    now: SystemTime,
) -> Result<(), FlowError> {
    let settings = &state.settings;
    if settings.account_send_limit == 0 {
        return Ok(());
    }
    let counter_name = match kind {
        Limited::CodeSteps => format!("send:{account}"),
        Limited::FactorChanges => format!("factor:{account}"),
    };
    let window = Duration::from_secs(settings.account_send_window);
    let counter = state
        .store
        .hit_counter(&counter_name, window, now)
        .await
        .map_err(|e| unavailable(state, e))?;
    if counter.count > settings.account_send_limit {
        return Err(FlowError::Throttled {
            retry_after: time_until(counter.resets_at, now),
        });
    }
    Ok(())
}
