//! Logging in: the password step, then a code sent, or a challenge for the user's
//! authenticator app (or, with OTP off or from a remembered device, a token at once).

use std::time::Duration;

use super::account_limit::{within_account_limit, Limited};
use super::authenticator::enrollment_of;
use super::client::Client;
use super::credentials::check_credentials;
use super::delivery::{deliver, Outgoing};
use super::device::is_remembered;
use super::error::{counted, unavailable, FlowError};
use super::outcome::{CodeMethod, Login, PendingLogin, SignedIn};
use crate::event::AuthEvent;
use crate::metrics::Step;
use crate::state::State;
use crate::store::{AccountKey, NewChallenge, NewToken};
use crate::token::{new_auth_token, new_challenge_id, ChallengeKind};
use crate::user::User;

pub(crate) async fn login(
    state: &State,
    username: &str,
    password: &str,
    client: &Client<'_>,
) -> Result<Login, FlowError> {
    let login = password_then_code(state, username, password, client).await;
    counted(Step::Login, login, |login| match login {
        Login::CodeSent(pending) if pending.method == CodeMethod::AuthenticatorApp => {
            "app_challenge"
        }
        Login::CodeSent(_) => "code_sent",
        Login::SignedIn(_) => "signed_in",
        Login::Remembered(_) => "remembered",
    })
}

async fn password_then_code(
    state: &State,
    username: &str,
    password: &str,
    client: &Client<'_>,
) -> Result<Login, FlowError> {
    let (user, account) = check_credentials(state, username, password, client).await?;
    if !state.settings.enable_otp_authentication {
        return login_without_otp(state, client, user, &account)
            .await
            .map(Login::SignedIn);
    }
    if is_remembered(state, &account, client).await? {
        let signed_in = login_without_otp(state, client, user, &account).await?;
        state.emit(AuthEvent::DeviceUsed {
            user_id: signed_in.user.id.clone(),
            account,
            client_ip: client.ip(),
        });
        return Ok(Login::Remembered(signed_in));
    }
    let pending = if enrollment_of(state, &user.id).await?.is_some() {
        start_app_challenge(state, user, &account).await?
    } else {
        start_challenge(state, client, user, &account).await?
    };
    Ok(Login::CodeSent(pending))
}

/// Stores a challenge that waits for the user's authenticator app: nothing is sent, and the
/// code may come any time in the pending login's life.
async fn start_app_challenge(
    state: &State,
    user: User,
    account: &AccountKey,
) -> Result<PendingLogin, FlowError> {
    let now = state.clock.now();
    within_account_limit(state, Limited::CodeSteps, account, now).await?;
    let ttl = Duration::from_secs(state.settings.pending_login_ttl);
    let id = new_challenge_id(account, ChallengeKind::App);
    let challenge = NewChallenge {
        id: id.digest,
        user_id: user.id.clone(),
        username: user.username.clone(),
        code: state.key.app_challenge_digest(account),
        issued_at: now,
        code_expires_at: now + ttl,
        expires_at: now + ttl,
    };
    state
        .store
        .create_challenge(account, &challenge)
        .await
        .map_err(|e| unavailable(state, e))?;
    Ok(PendingLogin {
        challenge: id.secret,
        method: CodeMethod::AuthenticatorApp,
        issued_at: now,
        code_ttl: ttl,
        user,
    })
}

/// Stores a challenge and delivers its code. A code that could not be delivered is deleted at
/// once.
async fn start_challenge(
    state: &State,
    client: &Client<'_>,
    user: User,
    account: &AccountKey,
) -> Result<PendingLogin, FlowError> {
    let settings = &state.settings;
    let now = state.clock.now();
    within_account_limit(state, Limited::CodeSteps, account, now).await?;
    let ttl = state.code_ttl();
    let code = state.strategy.generate(settings.token_length, now);
    let id = new_challenge_id(account, ChallengeKind::Delivered);
    let challenge = NewChallenge {
        id: id.digest,
        user_id: user.id.clone(),
        username: user.username.clone(),
        code: state.key.code_digest(account, &code),
        issued_at: now,
        code_expires_at: now + ttl,
        expires_at: now + Duration::from_secs(settings.pending_login_ttl),
    };
    state
        .store
        .create_challenge(account, &challenge)
        .await
        .map_err(|e| unavailable(state, e))?;
    let outgoing = Outgoing {
        user: &user,
        account,
        challenge: &id.digest,
        code: &code,
        issued_at: now,
        ttl,
    };
    deliver(state, client, outgoing).await?;
    Ok(PendingLogin {
        challenge: id.secret,
        method: CodeMethod::Delivered,
        issued_at: now,
        code_ttl: ttl,
        user,
    })
}

/// OTP switched off (or a remembered device): the password alone earns a token.
async fn login_without_otp(
    state: &State,
    client: &Client<'_>,
    user: User,
    account: &AccountKey,
) -> Result<SignedIn, FlowError> {
    let (secret, token) = new_token(state, account, &user.id, &user.username);
    let stored = async {
        state.store.issue_token(account, &token).await?;
        state.store.clear_failures(account).await
    };
    stored.await.map_err(|e| unavailable(state, e))?;
    state.emit(AuthEvent::LoginSucceeded {
        user_id: user.id.clone(),
        account: account.clone(),
        client_ip: client.ip(),
    });
    Ok(SignedIn {
        token: secret,
        user,
    })
}

/// A fresh auth token for a user: the secret for the client, and what the store keeps of it.
pub(super) fn new_token(
    state: &State,
    account: &AccountKey,
    user_id: &str,
    username: &str,
) -> (String, NewToken) {
    let now = state.clock.now();
    let issued = new_auth_token(account);
    let token = NewToken {
        digest: issued.digest,
        user_id: user_id.to_owned(),
        username: username.to_owned(),
        issued_at: now,
        expires_at: now + Duration::from_secs(state.settings.token_absolute_ttl),
        idle_timeout: Duration::from_secs(state.settings.token_idle_ttl),
    };
    (issued.secret, token)
}
