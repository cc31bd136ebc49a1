//! The [`StateStore`](crate::store::StateStore) operations of [`RedisStore`] for second
//! factors and compatible bodies: a login's challenge looked up (by its id, or the account's
//! live one), authenticator time steps claimed once, and pending setups (`P{A}:step`,
//! `P{A}:app_setup`).

use std::time::SystemTime;

use ::redis::Cmd;
use subtle::ConstantTimeEq;

use super::keys::{APP_SETUP, CHALLENGE, TIME_STEP};
use super::record::{count_from, time_at, time_ms};
use super::scripts::{BEGIN_APP_SETUP, CLAIM_TIME_STEP, FAIL_APP_SETUP};
use super::sending::evalsha;
use super::RedisStore;
use crate::store::records::{
    AccountKey, ActiveChallenge, DigestBytes, PendingAppSetup, StoreError,
};

/// A challenge's `id`, `code`, `user_id` and `expires_at`, as `HMGET` answers them.
type ChallengeFields = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<u64>,
);

impl RedisStore {
    pub(super) async fn active_challenge_in(
        &self,
        account: &AccountKey,
        challenge: Option<&DigestBytes>,
        now: SystemTime,
    ) -> Result<Option<ActiveChallenge>, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = Cmd::with_capacity(6, 64);
        cmd.arg("HMGET")
            .arg(keys.key(CHALLENGE))
            .arg(&["id", "code", "user_id", "expires_at"]);
        let fields: ChallengeFields = self.send(&cmd, None).await?;
        let (Some(id), Some(code), Some(user_id), Some(ends)) = fields else {
            return Ok(None);
        };
        // Decided with the caller's clock, like every expiry; the key's TTL only cleans up.
        let wanted = challenge.is_none_or(|wanted| bool::from(id.ct_eq(&wanted[..])));
        if !wanted || time_ms(now) >= ends {
            return Ok(None);
        }
        let digest = |bytes: Vec<u8>| {
            DigestBytes::try_from(bytes)
                .map_err(|_| StoreError::Backend("a challenge digest is not 32 bytes".into()))
        };
        Ok(Some(ActiveChallenge {
            id: digest(id)?,
            code: digest(code)?,
            user_id,
        }))
    }

    pub(super) async fn claim_time_step_in(
        &self,
        account: &AccountKey,
        step: u64,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&CLAIM_TIME_STEP, 1);
        cmd.arg(keys.key(TIME_STEP))
            .arg(step)
            .arg(time_ms(until))
            .arg(time_ms(now));
        Ok(self.send::<i64>(&cmd, Some(&CLAIM_TIME_STEP)).await? == 1)
    }

    pub(super) async fn begin_app_setup_in(
        &self,
        account: &AccountKey,
        pending: &PendingAppSetup,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&BEGIN_APP_SETUP, 1);
        cmd.arg(keys.key(APP_SETUP))
            .arg(&pending.sealed_secret)
            .arg(time_ms(pending.expires_at))
            .arg(time_ms(now));
        self.send::<i64>(&cmd, Some(&BEGIN_APP_SETUP))
            .await
            .map(drop)
    }

    pub(super) async fn pending_app_setup_in(
        &self,
        account: &AccountKey,
        now: SystemTime,
    ) -> Result<Option<PendingAppSetup>, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = Cmd::with_capacity(5, 128);
        cmd.arg("HMGET")
            .arg(keys.key(APP_SETUP))
            .arg(&["secret", "expires_at", "failures"]);
        let fields: (Option<String>, Option<u64>, Option<i64>) = self.send(&cmd, None).await?;
        let (Some(sealed_secret), Some(expires_at), Some(failures)) = fields else {
            return Ok(None);
        };
        if time_ms(now) >= expires_at {
            return Ok(None);
        }
        Ok(Some(PendingAppSetup {
            sealed_secret,
            expires_at: time_at(expires_at),
            failures: count_from(failures)?,
        }))
    }

    pub(super) async fn fail_app_setup_in(
        &self,
        account: &AccountKey,
        max_failures: u32,
        now: SystemTime,
    ) -> Result<u32, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&FAIL_APP_SETUP, 1);
        cmd.arg(keys.key(APP_SETUP))
            .arg(max_failures)
            .arg(time_ms(now));
        count_from(self.send(&cmd, Some(&FAIL_APP_SETUP)).await?)
    }

    pub(super) async fn end_app_setup_in(&self, account: &AccountKey) -> Result<bool, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(keys.key(APP_SETUP));
        Ok(self.send::<i64>(&cmd, None).await? > 0)
    }
}
