//! The password step: the per-client limit, the account lockout and the password check, which
//! take the same time and give the same answer for every kind of refusal.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use unicode_normalization::UnicodeNormalization;

use super::client::Client;
use super::error::{time_until, unavailable, FlowError};
use crate::client::throttle_key;
use crate::clock::Clock;
use crate::event::{AuthEvent, LoginFailure};
use crate::password::dummy_verify;
use crate::state::{Events, State};
use crate::store::{AccountKey, CountedAttempt, DynStateStore, PasswordAttempt};
use crate::user::User;

/// Checks a username and password: the user and their account key, or
/// [`FlowError::InvalidCredentials`] for every kind of refusal (unknown user, inactive user,
/// wrong password, locked account), each doing the same work: a user lookup, one store step
/// that checks the lock and counts the attempt, and one password hash verification (a dummy one
/// when the password must not be looked at).
///
/// The attempt is counted as a failure before the password is compared, in the same atomic step
/// as the lock check, and taken back only when the password is right: so however many requests
/// race, at most `lockout_threshold` passwords of an account are ever compared while it is not
/// locked.
pub(super) async fn check_credentials(
    state: &State,
    username: &str,
    password: &str,
    client: &Client<'_>,
) -> Result<(User, AccountKey), FlowError> {
    let now = state.clock.now();
    limit_client(state, client, now).await?;
    let user = state
        .users
        .find_by_username(username)
        .await
        .map_err(|e| unavailable(state, e))?;
    let account = match &user {
        Some(user) if user.is_active => state.key.account_key("user", &user.id),
        _ => state
            .key
            .account_key("name", &normalized_username(username)),
    };
    let attempt = state
        .store
        .count_password_attempt(&account, now, &state.lockout)
        .await
        .map_err(|e| unavailable(state, e))?;
    let unsettled = match attempt {
        PasswordAttempt::Counted(counted) => Some(Unsettled::new(state, &account, client, counted)),
        _ => None,
    };
    let checked = match (&user, &unsettled) {
        (Some(user), Some(_)) => state.users.check_password(user, password).await,
        // Locked, or no such user: the same time spent, nothing learnt.
        _ => dummy_verify(state.users.stand_in_hash().to_owned(), password.to_owned()).await,
    };
    // The answer is known from here on: the attempt stays counted unless the password was right.
    let counted = unsettled.map(Unsettled::settle);
    let password_ok = match checked {
        Ok(password_ok) => password_ok,
        Err(error) => {
            // Nothing was learnt: the attempt is taken back (best effort, the store may be down
            // too), and the failure is the backend's.
            if let Some(counted) = &counted {
                let _ = state
                    .store
                    .forgive_password_attempt(&account, counted, state.clock.now())
                    .await;
            }
            return Err(unavailable(state, error));
        }
    };
    let lock_set = counted.and_then(|c| c.locked_until());
    let refusal = match (&user, counted) {
        (_, None) => LoginFailure::Locked,
        (None, _) => LoginFailure::UnknownUser,
        (Some(user), _) if !user.is_active => LoginFailure::InactiveUser,
        (Some(_), _) if !password_ok => LoginFailure::WrongPassword,
        (Some(user), Some(counted)) => {
            state
                .store
                .forgive_password_attempt(&account, &counted, state.clock.now())
                .await
                .map_err(|e| unavailable(state, e))?;
            return Ok((user.clone(), account));
        }
    };
    state.emit(AuthEvent::LoginFailed {
        user_id: user.map(|u| u.id),
        account: account.clone(),
        client_ip: client.ip(),
        reason: refusal,
    });
    if let Some(until) = lock_set {
        state.emit(AuthEvent::AccountLocked {
            account,
            client_ip: client.ip(),
            until,
        });
    }
    Err(FlowError::InvalidCredentials)
}

/// A counted attempt whose answer is not known yet. Dropped unsettled (the request was
/// abandoned while its password waited for a thread), the attempt is forgiven in the
/// background and reported as [`AuthEvent::LoginAbandoned`]: nobody learnt anything from it,
/// and a slow server must not lock accounts out by itself.
struct Unsettled {
    store: Arc<dyn DynStateStore>,
    events: Events,
    clock: Arc<dyn Clock>,
    account: AccountKey,
    client_ip: Option<IpAddr>,
    attempt: Option<CountedAttempt>,
}

impl Unsettled {
    fn new(
        state: &State,
        account: &AccountKey,
        client: &Client<'_>,
        attempt: CountedAttempt,
    ) -> Self {
        Self {
            store: state.store.clone(),
            events: state.events.clone(),
            clock: state.clock.clone(),
            account: account.clone(),
            client_ip: client.ip(),
            attempt: Some(attempt),
        }
    }

    /// The answer is known: the attempt is the caller's to keep or forgive.
    fn settle(mut self) -> CountedAttempt {
        self.attempt.take().expect("settled once")
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        let (store, events, account) = (
            self.store.clone(),
            self.events.clone(),
            self.account.clone(),
        );
        let (client_ip, now) = (self.client_ip, self.clock.now());
        // Best effort, off the dropped request: a store that is down keeps the count.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let forgiven = store
                    .forgive_password_attempt(&account, &attempt, now)
                    .await;
                if forgiven.is_ok() {
                    events.emit(AuthEvent::LoginAbandoned { account, client_ip });
                }
            });
        }
    }
}

/// The lockout key for a username that names no active user: case and Unicode compatibility
/// variants share it.
pub(super) fn normalized_username(username: &str) -> String {
    username.nfkc().flat_map(char::to_lowercase).collect()
}

/// The per-client limit on password checks (and on resends by username): throttled once a
/// client IP has used up its window.
pub(super) async fn limit_client(
    state: &State,
    client: &Client<'_>,
    now: SystemTime,
) -> Result<(), FlowError> {
    let settings = &state.settings;
    if settings.login_rate_limit == 0 {
        return Ok(());
    }
    // Without a known peer address there is no fair key: every client would share one budget.
    let Some(ip) = client.ip() else {
        return Ok(());
    };
    let key = format!("login:{}", throttle_key(ip));
    let window = Duration::from_secs(settings.login_rate_window);
    let counter = state
        .store
        .hit_counter(&key, window, now)
        .await
        .map_err(|e| unavailable(state, e))?;
    if counter.count > settings.login_rate_limit {
        return Err(FlowError::Throttled {
            retry_after: time_until(counter.resets_at, now),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_variants_share_a_key() {
        assert_eq!(normalized_username("Alice"), normalized_username("aLICE"));
        // Enclosed alphanumerics fold to ASCII under NFKC (Laravel Fortify's test case).
        assert_eq!(
            normalized_username("ⓣⓔⓢⓣ@ⓛⓐⓡⓐⓥⓔⓛ.ⓒⓞⓜ"),
            normalized_username("test@laravel.com")
        );
        assert_ne!(normalized_username("alice"), normalized_username("alicia"));
    }
}
