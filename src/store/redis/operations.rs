//! The [`StateStore`] operations of [`RedisStore`]: each builds its keys and arguments, runs
//! one command or script (see `lua/`), and reads the reply.

use std::time::{Duration, SystemTime};

use ::redis::Cmd;

use super::keys::{Hex, CHALLENGE, DEVICES, FAILURES, TOKENS};
use super::record::{count_from, duration_ms, time_from_ms, time_ms, TokenRecord};
use super::scripts::*;
use super::sending::{evalsha, field_command};
use super::RedisStore;
use crate::store::records::{
    AccountKey, ActiveChallenge, ChallengeInfo, CountedAttempt, CounterState, DigestBytes,
    Failures, LockoutPolicy, NewChallenge, NewToken, PasswordAttempt, PendingAppSetup,
    ResendOutcome, ResendRequest, StoreError, TokenInfo, VerifyAttempt, VerifyOutcome,
};
use crate::store::state_store::{window_end, StateStore};

impl StateStore for RedisStore {
    async fn create_challenge(
        &self,
        account: &AccountKey,
        challenge: &NewChallenge,
    ) -> Result<(), StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&CREATE, 1);
        cmd.arg(keys.key(CHALLENGE))
            .arg(&challenge.id[..])
            .arg(&challenge.code[..])
            .arg(&challenge.user_id)
            .arg(&challenge.username)
            .arg(time_ms(challenge.issued_at))
            .arg(time_ms(challenge.code_expires_at))
            .arg(time_ms(challenge.expires_at));
        self.send::<i64>(&cmd, Some(&CREATE)).await.map(drop)
    }

    async fn verify_challenge(
        &self,
        account: &AccountKey,
        attempt: &VerifyAttempt<'_>,
    ) -> Result<VerifyOutcome, StoreError> {
        let token = attempt.token;
        let token_hex = Hex::new(&token.digest);
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&VERIFY, 3);
        cmd.arg(keys.key(CHALLENGE))
            .arg(keys.key(FAILURES))
            .arg(keys.key(TOKENS));
        let wanted: &[u8] = attempt.challenge.map_or(&[], |id| &id[..]);
        let policy = attempt.lockout;
        cmd.arg(time_ms(attempt.now))
            .arg(wanted)
            .arg(&attempt.code[..])
            .arg(attempt.max_attempts)
            .arg(policy.threshold)
            .arg(duration_ms(policy.base))
            .arg(duration_ms(policy.max))
            .arg(duration_ms(policy.forget_after))
            .arg(token_hex.as_str())
            .arg(time_ms(token.issued_at))
            .arg(time_ms(token.expires_at))
            .arg(duration_ms(token.idle_timeout));
        let (outcome, a, b, user_id, username): (i64, i64, i64, String, String) =
            self.send(&cmd, Some(&VERIFY)).await?;
        Ok(match outcome {
            VERIFIED => VerifyOutcome::Verified(TokenInfo {
                user_id,
                username,
                issued_at: token.issued_at,
                expires_at: token.expires_at,
            }),
            MISMATCH => VerifyOutcome::Mismatch {
                attempts_left: count_from(a)?,
                locked_until: if b < 0 { None } else { Some(time_from_ms(b)?) },
            },
            EXPIRED => VerifyOutcome::Expired,
            REPLAYED => VerifyOutcome::Replayed,
            NOT_FOUND => VerifyOutcome::NotFound,
            LOCKED => VerifyOutcome::Locked {
                until: time_from_ms(a)?,
            },
            other => return Err(unexpected_outcome(other)),
        })
    }

    async fn resend_challenge(
        &self,
        account: &AccountKey,
        request: &ResendRequest<'_>,
    ) -> Result<ResendOutcome, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&RESEND, 1);
        cmd.arg(keys.key(CHALLENGE))
            .arg(time_ms(request.now))
            .arg(&request.challenge[..])
            .arg(&request.code[..])
            .arg(duration_ms(request.code_ttl))
            .arg(duration_ms(request.cooldown))
            .arg(request.max_sends);
        let (outcome, until, user_id, username, issued_at, code_expires_at, sends): (
            i64,
            i64,
            String,
            String,
            i64,
            i64,
            i64,
        ) = self.send(&cmd, Some(&RESEND)).await?;
        Ok(match outcome {
            RESENT => ResendOutcome::Resent(ChallengeInfo {
                user_id,
                username,
                issued_at: time_from_ms(issued_at)?,
                code_expires_at: time_from_ms(code_expires_at)?,
                sends: count_from(sends)?,
            }),
            COOLDOWN => ResendOutcome::Cooldown {
                until: time_from_ms(until)?,
            },
            EXHAUSTED => ResendOutcome::Exhausted,
            NO_CHALLENGE => ResendOutcome::NotFound,
            other => return Err(unexpected_outcome(other)),
        })
    }

    async fn delete_challenge(
        &self,
        account: &AccountKey,
        challenge: &DigestBytes,
    ) -> Result<bool, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&DELETE, 1);
        cmd.arg(keys.key(CHALLENGE)).arg(&challenge[..]);
        Ok(self.send::<i64>(&cmd, Some(&DELETE)).await? > 0)
    }

    async fn active_challenge(
        &self,
        account: &AccountKey,
        challenge: Option<&DigestBytes>,
        now: SystemTime,
    ) -> Result<Option<ActiveChallenge>, StoreError> {
        self.active_challenge_in(account, challenge, now).await
    }

    async fn claim_time_step(
        &self,
        account: &AccountKey,
        step: u64,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.claim_time_step_in(account, step, until, now).await
    }

    async fn begin_app_setup(
        &self,
        account: &AccountKey,
        pending: &PendingAppSetup,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.begin_app_setup_in(account, pending, now).await
    }

    async fn pending_app_setup(
        &self,
        account: &AccountKey,
        now: SystemTime,
    ) -> Result<Option<PendingAppSetup>, StoreError> {
        self.pending_app_setup_in(account, now).await
    }

    async fn fail_app_setup(
        &self,
        account: &AccountKey,
        max_failures: u32,
        now: SystemTime,
    ) -> Result<u32, StoreError> {
        self.fail_app_setup_in(account, max_failures, now).await
    }

    async fn end_app_setup(&self, account: &AccountKey) -> Result<bool, StoreError> {
        self.end_app_setup_in(account).await
    }

    async fn issue_token(&self, account: &AccountKey, token: &NewToken) -> Result<(), StoreError> {
        let token_hex = Hex::new(&token.digest);
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&ISSUE, 1);
        cmd.arg(keys.key(TOKENS))
            .arg(token_hex.as_str())
            .arg(time_ms(token.issued_at))
            .arg(&token.user_id)
            .arg(&token.username)
            .arg(time_ms(token.issued_at))
            .arg(time_ms(token.expires_at))
            .arg(duration_ms(token.idle_timeout));
        self.send::<i64>(&cmd, Some(&ISSUE)).await.map(drop)
    }

    async fn authenticate_token(
        &self,
        account: &AccountKey,
        digest: &DigestBytes,
        now: SystemTime,
    ) -> Result<Option<TokenInfo>, StoreError> {
        let token_hex = Hex::new(digest);
        let mut keys = self.account_keys(account);
        // A token in use is mostly read: from the client-side cache, or one plain HGET. The
        // script (a write) only runs when the token is over (to delete it) or its idle timer is
        // due for a restart.
        let Some(found) = self
            .read_token(keys.key(TOKENS), token_hex.as_str(), now)
            .await?
        else {
            return Ok(None);
        };
        let record = TokenRecord::parse(&found)?;
        let now_ms = time_ms(now);
        if record.is_live_and_recently_used(now_ms) {
            return Ok(Some(record.info()));
        }
        // Boxed: it runs once per 1/60 of the idle timeout (or to delete a token that is over),
        // and would otherwise make every check's future larger.
        Box::pin(self.restart_idle_timer(keys.key(TOKENS), &token_hex, now_ms)).await
    }

    async fn revoke_token(
        &self,
        account: &AccountKey,
        digest: &DigestBytes,
    ) -> Result<bool, StoreError> {
        let token_hex = Hex::new(digest);
        let mut keys = self.account_keys(account);
        let revoke = field_command("HDEL", keys.key(TOKENS), token_hex.as_str());
        let revoked = self.send::<i64>(&revoke, None).await;
        // Redis tells every instance that cached the token, this one as well; this one need not
        // wait for it. Whatever the answer: the revoke may have run even if it did not arrive.
        self.forget_cached(keys.key(TOKENS));
        Ok(revoked? > 0)
    }

    async fn revoke_all_tokens(&self, account: &AccountKey) -> Result<u64, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&REVOKE_TOKENS, 1);
        cmd.arg(keys.key(TOKENS));
        let revoked = self.send(&cmd, Some(&REVOKE_TOKENS)).await;
        self.forget_cached(keys.key(TOKENS));
        revoked
    }

    async fn remember_device(
        &self,
        account: &AccountKey,
        device: &DigestBytes,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let hex = Hex::new(device);
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&REMEMBER_DEVICE, 2);
        cmd.arg(keys.device(&hex))
            .arg(keys.key(DEVICES))
            .arg(hex.as_str())
            .arg(time_ms(now))
            .arg(time_ms(expires_at));
        self.send::<i64>(&cmd, Some(&REMEMBER_DEVICE))
            .await
            .map(drop)
    }

    async fn is_device_remembered(
        &self,
        account: &AccountKey,
        device: &DigestBytes,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let hex = Hex::new(device);
        let mut keys = self.account_keys(account);
        let mut cmd = Cmd::with_capacity(2, 128);
        cmd.arg("GET").arg(keys.device(&hex));
        let until: Option<u64> = self.send(&cmd, None).await?;
        // Decided with the caller's clock, like every expiry; the key's TTL only cleans up.
        Ok(until.is_some_and(|until| time_ms(now) < until))
    }

    async fn revoke_all_devices(&self, account: &AccountKey) -> Result<u64, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&REVOKE_DEVICES, 1);
        cmd.arg(keys.key(DEVICES)).arg(keys.device_prefix());
        self.send(&cmd, Some(&REVOKE_DEVICES)).await
    }

    async fn count_password_attempt(
        &self,
        account: &AccountKey,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<PasswordAttempt, StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&COUNT_PASSWORD_ATTEMPT, 1);
        cmd.arg(keys.key(FAILURES))
            .arg(time_ms(now))
            .arg(policy.threshold)
            .arg(duration_ms(policy.base))
            .arg(duration_ms(policy.max))
            .arg(duration_ms(policy.forget_after));
        let reply: [i64; 8] = self.send(&cmd, Some(&COUNT_PASSWORD_ATTEMPT)).await?;
        if reply[0] == 1 {
            return Ok(PasswordAttempt::Locked {
                until: time_from_ms(reply[1])?,
            });
        }
        let after = failures_from(&reply[5..8])?
            .ok_or_else(|| StoreError::Backend("no failures after counting one".to_owned()))?;
        Ok(PasswordAttempt::Counted(CountedAttempt {
            before: failures_from(&reply[2..5])?,
            after,
        }))
    }

    async fn forgive_password_attempt(
        &self,
        account: &AccountKey,
        attempt: &CountedAttempt,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = evalsha(&FORGIVE_PASSWORD_ATTEMPT, 1);
        cmd.arg(keys.key(FAILURES))
            .arg(time_ms(now))
            .arg(ms_or_absent(attempt.locked_until()));
        for failures in [attempt.before, Some(attempt.after)] {
            match failures {
                Some(f) => cmd
                    .arg(f.count)
                    .arg(ms_or_absent(f.locked_until))
                    .arg(time_ms(f.forget_at)),
                None => cmd.arg(-1).arg(-1).arg(-1),
            };
        }
        self.send::<i64>(&cmd, Some(&FORGIVE_PASSWORD_ATTEMPT))
            .await
            .map(drop)
    }

    async fn clear_failures(&self, account: &AccountKey) -> Result<(), StoreError> {
        let mut keys = self.account_keys(account);
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(keys.key(FAILURES));
        self.send::<i64>(&cmd, None).await.map(drop)
    }

    async fn hit_counter(
        &self,
        key: &str,
        window: Duration,
        now: SystemTime,
    ) -> Result<CounterState, StoreError> {
        let resets_at = window_end(now, window);
        let window_ms = duration_ms(window).max(1);
        let now_ms = time_ms(now);
        let counter = format!("{}rl:{{{key}}}:{}", self.prefix, now_ms / window_ms);
        let ttl = time_ms(resets_at).saturating_sub(now_ms).max(1);
        let mut cmd = evalsha(&HIT, 1);
        cmd.arg(counter).arg(ttl);
        let count: u64 = self.send(&cmd, Some(&HIT)).await?;
        Ok(CounterState { count, resets_at })
    }
}

/// `[count, lock or -1, forget at]` from a script, `None` when all are -1.
fn failures_from(reply: &[i64]) -> Result<Option<Failures>, StoreError> {
    let &[count, lock, forget] = reply else {
        return Err(StoreError::Backend("short failures reply".to_owned()));
    };
    if count < 0 {
        return Ok(None);
    }
    Ok(Some(Failures {
        count: count_from(count)?,
        locked_until: if lock < 0 {
            None
        } else {
            Some(time_from_ms(lock)?)
        },
        forget_at: time_from_ms(forget)?,
    }))
}

/// A time as a script argument, -1 for none.
fn ms_or_absent(t: Option<SystemTime>) -> i64 {
    t.map_or(-1, |t| i64::try_from(time_ms(t)).unwrap_or(-1))
}

fn unexpected_outcome(code: i64) -> StoreError {
    StoreError::Backend(format!("unexpected script outcome {code}"))
}

impl RedisStore {
    /// The authenticate script on the token in `field` of the tokens hash `key`: deletes it if
    /// it is over at `now_ms`, else restarts its idle timer; the token's info if it lives.
    async fn restart_idle_timer(
        &self,
        key: &str,
        field: &Hex,
        now_ms: u64,
    ) -> Result<Option<TokenInfo>, StoreError> {
        let mut cmd = evalsha(&AUTHENTICATE, 1);
        cmd.arg(key).arg(now_ms).arg(field.as_str());
        let found: Result<Option<(String, String, i64, i64)>, _> =
            self.send(&cmd, Some(&AUTHENTICATE)).await;
        // The script rewrote or deleted the record (or may have).
        self.forget_cached(key);
        found?
            .map(|(user_id, username, issued_at, expires_at)| {
                Ok(TokenInfo {
                    user_id,
                    username,
                    issued_at: time_from_ms(issued_at)?,
                    expires_at: time_from_ms(expires_at)?,
                })
            })
            .transpose()
    }
}
