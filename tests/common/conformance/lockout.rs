//! Account lockout: counted before comparing, backoff, cap, forgetting, forgiving.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::SystemTime;

use tower_otp::store::{AccountKey, CountedAttempt, PasswordAttempt, StateStore, VerifyOutcome};

use super::*;

/// A password attempt that turns out wrong: counted, never forgiven. Returns the lock it set.
pub async fn password_failure<S: StateStore>(
    store: &S,
    account: &AccountKey,
    now: SystemTime,
) -> Option<SystemTime> {
    counted(store, account, now).await.locked_until()
}

/// When the account's lock ends, if it is locked at `now`, found by a password attempt that is
/// forgiven at once (so nothing stays counted).
pub async fn lock_of<S: StateStore>(
    store: &S,
    account: &AccountKey,
    now: SystemTime,
) -> Option<SystemTime> {
    match store
        .count_password_attempt(account, now, &LOCKOUT)
        .await
        .unwrap()
    {
        PasswordAttempt::Locked { until } => Some(until),
        PasswordAttempt::Counted(counted) => {
            store
                .forgive_password_attempt(account, &counted, now)
                .await
                .unwrap();
            None
        }
        other => panic!("unexpected {other:?}"),
    }
}

pub async fn failures_lock_with_backoff_and_success_resets<S: StateStore>(store: S) {
    let account = random_account();
    let mut now = t0();
    for _ in 0..9 {
        assert_eq!(password_failure(&store, &account, now).await, None);
    }
    assert_eq!(lock_of(&store, &account, now).await, None);
    let until = password_failure(&store, &account, now).await;
    assert_eq!(until, Some(now + secs(60)));
    assert_eq!(lock_of(&store, &account, now).await, until);

    // A locked account compares nothing.
    let (id, code) = (random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, now))
        .await
        .unwrap();
    let tok = token(now);
    assert_eq!(
        verify(&store, &account, Some(&id), &code, now + secs(1), &tok).await,
        VerifyOutcome::Locked {
            until: now + secs(60)
        }
    );

    // The lock ends, the next failure doubles it.
    now += secs(60);
    assert_eq!(lock_of(&store, &account, now).await, None);
    assert_eq!(
        password_failure(&store, &account, now).await,
        Some(now + secs(120))
    );
    now += secs(120);
    // A wrong code counts as a failure too (doubling again)...
    match verify(&store, &account, Some(&id), &random_digest(), now, &tok).await {
        VerifyOutcome::Mismatch { locked_until, .. } => {
            assert_eq!(locked_until, Some(now + secs(240)))
        }
        other => panic!("expected Mismatch, got {other:?}"),
    }
    // ...and a success clears them all.
    now += secs(240);
    store
        .create_challenge(&account, &challenge(id, code, now))
        .await
        .unwrap();
    assert!(matches!(
        verify(&store, &account, Some(&id), &code, now, &tok).await,
        VerifyOutcome::Verified(_)
    ));
    assert_eq!(password_failure(&store, &account, now).await, None);
    store.clear_failures(&account).await.unwrap();
    for _ in 0..9 {
        password_failure(&store, &account, now).await;
    }
    assert_eq!(lock_of(&store, &account, now).await, None);
}

pub async fn lock_is_capped_and_failures_are_forgotten<S: StateStore>(store: S) {
    let account = random_account();
    let mut now = t0();
    let mut last = None;
    // Each failure once the previous lock is over doubles the lock, up to the cap.
    for _ in 0..20 {
        last = password_failure(&store, &account, now).await;
        now = last.unwrap_or(now);
    }
    let lock = last.expect("the last failure set a lock");
    let start = lock - secs(3600);
    assert_eq!(
        lock_of(&store, &account, start).await,
        Some(lock),
        "the lock is capped at max"
    );
    // A day after the last failure, everything is forgotten.
    let later = start + secs(3600 + 86400);
    assert_eq!(lock_of(&store, &account, later).await, None);
    assert_eq!(password_failure(&store, &account, later).await, None);
}

pub async fn attempts_while_locked_are_refused_and_not_counted<S: StateStore>(store: S) {
    let account = random_account();
    let now = t0();
    for _ in 0..LOCKOUT.threshold {
        password_failure(&store, &account, now).await;
    }
    for i in 0..30 {
        assert_eq!(
            store
                .count_password_attempt(&account, now + secs(i), &LOCKOUT)
                .await
                .unwrap(),
            PasswordAttempt::Locked {
                until: now + secs(60)
            },
            "guessing does not extend the lock"
        );
    }
    // Once over, the next failure is the 11th, not the 41st: the lock doubles once.
    let after = now + secs(60);
    assert_eq!(
        password_failure(&store, &account, after).await,
        Some(after + secs(120))
    );
}

/// `n` password attempts of one account at once, none forgiven: what the store answered.
async fn burst_of_attempts<S: StateStore>(
    store: &Arc<S>,
    account: &AccountKey,
    n: usize,
    now: SystemTime,
) -> Vec<PasswordAttempt> {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let (store, account) = (store.clone(), account.clone());
            tokio::spawn(async move {
                store
                    .count_password_attempt(&account, now, &LOCKOUT)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

pub async fn concurrent_password_attempts_admit_at_most_the_threshold<S: StateStore>(store: S) {
    let store = Arc::new(store);
    let now = t0();
    let (burst, one_by_one) = (random_account(), random_account());
    let answers = burst_of_attempts(&store, &burst, 60, now).await;
    let counted = answers
        .iter()
        .filter(|a| matches!(a, PasswordAttempt::Counted(_)))
        .count();
    assert_eq!(
        counted, LOCKOUT.threshold as usize,
        "at most threshold passwords are compared"
    );
    let locks: Vec<_> = answers
        .iter()
        .filter_map(|a| match a {
            PasswordAttempt::Counted(counted) => counted.locked_until(),
            _ => None,
        })
        .collect();
    assert_eq!(locks, [now + secs(60)], "exactly one attempt set the lock");

    // The same number of failures one after another leaves the same lock.
    for _ in 0..60 {
        let _ = store
            .count_password_attempt(&one_by_one, now, &LOCKOUT)
            .await
            .unwrap();
    }
    assert_eq!(
        lock_of(&*store, &burst, now).await,
        lock_of(&*store, &one_by_one, now).await
    );
    assert_eq!(lock_of(&*store, &burst, now).await, Some(now + secs(60)));
}

/// Counts a password attempt that must be admitted.
async fn counted<S: StateStore>(
    store: &S,
    account: &AccountKey,
    now: SystemTime,
) -> CountedAttempt {
    match store
        .count_password_attempt(account, now, &LOCKOUT)
        .await
        .unwrap()
    {
        PasswordAttempt::Counted(counted) => counted,
        other => panic!("expected the attempt to be counted, got {other:?}"),
    }
}

pub async fn a_right_password_takes_its_attempt_back<S: StateStore>(store: S) {
    let account = random_account();
    let now = t0();
    for _ in 0..LOCKOUT.threshold - 1 {
        password_failure(&store, &account, now).await;
    }
    // The attempt that reaches the threshold locks at once; its password was right.
    let tenth = counted(&store, &account, now).await;
    assert_eq!(tenth.locked_until(), Some(now + secs(60)));
    store
        .forgive_password_attempt(&account, &tenth, now)
        .await
        .unwrap();
    assert_eq!(lock_of(&store, &account, now).await, None, "lock lifted");
    // The other nine failures still count: the next wrong password locks.
    assert_eq!(
        password_failure(&store, &account, now).await,
        Some(now + secs(60))
    );
    // Forgiving on an account with nothing counted is harmless.
    let fresh = random_account();
    let stray = counted(&store, &random_account(), now).await;
    store
        .forgive_password_attempt(&fresh, &stray, now)
        .await
        .unwrap();
    assert_eq!(lock_of(&store, &fresh, now).await, None);
}

pub async fn forgiving_with_others_counted_since_keeps_theirs<S: StateStore>(store: S) {
    let account = random_account();
    let now = t0();
    for _ in 0..LOCKOUT.threshold - 2 {
        password_failure(&store, &account, now).await;
    }
    // Two attempts in flight: the ninth, then the tenth, which locks.
    let ninth = counted(&store, &account, now).await;
    let tenth = counted(&store, &account, now).await;
    assert_eq!(tenth.locked_until(), Some(now + secs(60)));
    // The ninth was right: one failure fewer, the tenth's lock stays.
    store
        .forgive_password_attempt(&account, &ninth, now)
        .await
        .unwrap();
    assert_eq!(lock_of(&store, &account, now).await, Some(now + secs(60)));
    // The tenth was right too: its lock goes, eight failures remain, so the next two lock.
    store
        .forgive_password_attempt(&account, &tenth, now)
        .await
        .unwrap();
    assert_eq!(lock_of(&store, &account, now).await, None);
    assert_eq!(password_failure(&store, &account, now).await, None);
    assert_eq!(
        password_failure(&store, &account, now).await,
        Some(now + secs(60))
    );
}

pub async fn a_forgiven_attempt_does_not_delay_forgetting<S: StateStore>(store: S) {
    let account = random_account();
    let start = t0();
    for _ in 0..LOCKOUT.threshold - 1 {
        password_failure(&store, &account, start).await;
    }
    // A right password 23 h later: the failures are still forgotten 24 h after the last one.
    let right = counted(&store, &account, start + secs(23 * 3600)).await;
    store
        .forgive_password_attempt(&account, &right, start + secs(23 * 3600))
        .await
        .unwrap();
    let later = start + secs(25 * 3600);
    for _ in 0..LOCKOUT.threshold - 1 {
        assert_eq!(
            password_failure(&store, &account, later).await,
            None,
            "the nine old failures are forgotten"
        );
    }
    assert_eq!(
        password_failure(&store, &account, later).await,
        Some(later + secs(60))
    );
}
