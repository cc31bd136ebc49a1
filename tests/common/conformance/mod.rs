//! The store conformance suites: the same scenarios for every `StateStore`, and for every
//! `SecondFactorStore` (`enrollments.rs`).
//!
//! `store_conformance_tests!(async { make_store().await })` expands to one `#[tokio::test]` per
//! scenario. Each scenario gets a fresh store from the expression and uses its own random
//! account keys, so stores may share a backend. Time is passed explicitly: nothing sleeps.

#![allow(dead_code)]

mod challenges;
mod counters;
mod devices;
mod enrollments;
mod lockout;
mod second_factors;
mod tokens;

pub use challenges::*;
pub use counters::*;
pub use devices::*;
pub use enrollments::*;
pub use lockout::*;
pub use second_factors::*;
pub use tokens::*;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use tower_otp::store::{
    AccountKey, CountedAttempt, DigestBytes, LockoutPolicy, NewChallenge, NewToken,
    PasswordAttempt, ResendOutcome, ResendRequest, StateStore, VerifyAttempt, VerifyOutcome,
};

/// A fixed starting time, far from any window boundary of the counters.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn random_digest() -> DigestBytes {
    let mut d = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut d);
    d
}

pub fn random_account() -> AccountKey {
    let d = random_digest();
    AccountKey::new(
        d[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

pub fn challenge(id: DigestBytes, code: DigestBytes, now: SystemTime) -> NewChallenge {
    NewChallenge {
        id,
        user_id: "user-1".into(),
        username: "alice".into(),
        code,
        issued_at: now,
        code_expires_at: now + secs(300),
        expires_at: now + secs(600),
    }
}

pub fn token(now: SystemTime) -> NewToken {
    NewToken {
        digest: random_digest(),
        user_id: "user-1".into(),
        username: "alice".into(),
        issued_at: now,
        expires_at: now + secs(12 * 3600),
        idle_timeout: secs(1800),
    }
}

pub const LOCKOUT: LockoutPolicy = LockoutPolicy {
    threshold: 10,
    base: Duration::from_secs(60),
    max: Duration::from_secs(3600),
    forget_after: Duration::from_secs(86400),
};

pub async fn verify<S: StateStore>(
    store: &S,
    account: &AccountKey,
    challenge: Option<&DigestBytes>,
    code: &DigestBytes,
    now: SystemTime,
    token: &NewToken,
) -> VerifyOutcome {
    store
        .verify_challenge(
            account,
            &VerifyAttempt {
                challenge,
                code,
                now,
                max_attempts: 5,
                lockout: &LOCKOUT,
                token,
            },
        )
        .await
        .expect("store answers")
}

pub fn resend_request<'a>(
    id: &'a DigestBytes,
    code: &'a DigestBytes,
    now: SystemTime,
) -> ResendRequest<'a> {
    ResendRequest {
        challenge: id,
        code,
        now,
        code_ttl: secs(300),
        cooldown: secs(60),
        max_sends: 3,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Expands to one test per scenario, each with a fresh store from `$make` (an async block).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@tests $make;
            right_code_verifies_once_and_issues_its_token,
            verified_token_belongs_to_the_challenges_user,
            wrong_code_counts_but_keeps_the_right_one,
            challenge_dies_after_max_attempts,
            code_expires_at_its_ttl_and_challenge_at_its_end,
            expired_code_is_not_counted,
            new_challenge_kills_the_previous_one,
            accounts_do_not_see_each_other,
            twenty_concurrent_verifies_one_success,
            fifty_concurrent_wrong_guesses_at_most_five_compared,
            resend_respects_cooldown_and_cap_and_kills_old_code,
            delete_challenge_only_deletes_the_named_one,
            a_replay_is_told_until_the_consumed_challenges_end,
            token_idle_timeout_restarts_on_use,
            token_dies_at_its_absolute_expiry,
            revoke_one_and_all,
            a_device_is_remembered_for_its_account_until_it_expires,
            revoking_all_devices_forgets_only_that_accounts,
            failures_lock_with_backoff_and_success_resets,
            lock_is_capped_and_failures_are_forgotten,
            attempts_while_locked_are_refused_and_not_counted,
            concurrent_password_attempts_admit_at_most_the_threshold,
            a_right_password_takes_its_attempt_back,
            forgiving_with_others_counted_since_keeps_theirs,
            a_forgiven_attempt_does_not_delay_forgetting,
            counters_count_per_window,
            a_challenge_is_found_by_its_id_until_its_end,
            the_active_challenge_is_found_without_its_id_until_its_end,
            a_time_step_is_accepted_once_and_never_an_earlier_one,
            twenty_concurrent_claims_of_one_step_one_wins,
            a_pending_setup_lives_until_confirmed_replaced_or_expired,
            wrong_codes_end_a_pending_setup_at_the_limit,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = $make.await;
                $crate::common::conformance::$name(store).await;
            }
        )*
    };
}
