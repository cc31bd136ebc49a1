//! The store conformance suite: the same scenarios for every `StateStore`.
//!
//! `store_conformance_tests!(async { make_store().await })` expands to one `#[tokio::test]` per
//! scenario. Each scenario gets a fresh store from the expression and uses its own random
//! account keys, so stores may share a backend. Time is passed explicitly: nothing sleeps.

#![allow(dead_code)]

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

fn resend_request<'a>(
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

pub async fn right_code_verifies_once_and_issues_its_token<S: StateStore>(store: S) {
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0() + secs(10));
    match verify(&store, &account, Some(&id), &code, t0() + secs(10), &tok).await {
        VerifyOutcome::Verified(info) => {
            assert_eq!(info.user_id, "user-1");
            assert_eq!(info.username, "alice");
            assert_eq!(info.expires_at, tok.expires_at);
        }
        other => panic!("expected Verified, got {other:?}"),
    }
    let again = token(t0() + secs(11));
    assert_eq!(
        verify(&store, &account, Some(&id), &code, t0() + secs(11), &again).await,
        VerifyOutcome::Replayed
    );
    // Only the consumed code itself is a replay; any other code is just unknown.
    assert_eq!(
        verify(
            &store,
            &account,
            Some(&id),
            &random_digest(),
            t0() + secs(11),
            &again
        )
        .await,
        VerifyOutcome::NotFound
    );
    assert_eq!(
        verify(&store, &account, None, &code, t0() + secs(11), &again).await,
        VerifyOutcome::Replayed
    );
    let info = store
        .authenticate_token(&account, &tok.digest, t0() + secs(12))
        .await
        .unwrap()
        .expect("issued token authenticates");
    assert_eq!(info.user_id, "user-1");
    assert_eq!(
        store
            .authenticate_token(&account, &again.digest, t0() + secs(12))
            .await
            .unwrap(),
        None,
        "a replay must not store its token"
    );
}

pub async fn verified_token_belongs_to_the_challenges_user<S: StateStore>(store: S) {
    // Separators and multi-byte characters in both, as stored records must keep them apart.
    let (user_id, username) = ("user:7:ü", "bob:ünï 🦀:");
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    let record = NewChallenge {
        user_id: user_id.into(),
        username: username.into(),
        ..challenge(id, code, t0())
    };
    store.create_challenge(&account, &record).await.unwrap();
    let tok = NewToken {
        user_id: String::new(),
        username: String::new(),
        ..token(t0())
    };
    match verify(&store, &account, Some(&id), &code, t0(), &tok).await {
        VerifyOutcome::Verified(info) => {
            assert_eq!(
                (info.user_id.as_str(), info.username.as_str()),
                (user_id, username)
            )
        }
        other => panic!("expected Verified, got {other:?}"),
    }
    // Read as stored, then again when the idle timer is restarted (rewriting the record).
    for at in [t0(), t0() + secs(900), t0() + secs(1000)] {
        let info = store
            .authenticate_token(&account, &tok.digest, at)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (info.user_id.as_str(), info.username.as_str()),
            (user_id, username),
            "at {at:?}"
        );
        assert_eq!(info.issued_at, t0());
    }
}

pub async fn wrong_code_counts_but_keeps_the_right_one<S: StateStore>(store: S) {
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    let outcome = verify(&store, &account, Some(&id), &random_digest(), t0(), &tok).await;
    assert_eq!(
        outcome,
        VerifyOutcome::Mismatch {
            attempts_left: 4,
            locked_until: None
        }
    );
    assert!(matches!(
        verify(&store, &account, Some(&id), &code, t0(), &tok).await,
        VerifyOutcome::Verified(_)
    ));
}

pub async fn challenge_dies_after_max_attempts<S: StateStore>(store: S) {
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    for left in (0..5).rev() {
        assert_eq!(
            verify(&store, &account, Some(&id), &random_digest(), t0(), &tok).await,
            VerifyOutcome::Mismatch {
                attempts_left: left,
                locked_until: None
            }
        );
    }
    assert_eq!(
        verify(&store, &account, Some(&id), &code, t0(), &tok).await,
        VerifyOutcome::NotFound,
        "even the right code fails on a dead challenge"
    );
}

pub async fn code_expires_at_its_ttl_and_challenge_at_its_end<S: StateStore>(store: S) {
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    let just_before = t0() + secs(300) - Duration::from_millis(1);
    let at_ttl = t0() + secs(300);
    assert_eq!(
        verify(&store, &account, Some(&id), &code, at_ttl, &tok).await,
        VerifyOutcome::Expired
    );
    assert_eq!(
        verify(&store, &account, Some(&id), &code, t0() + secs(600), &tok).await,
        VerifyOutcome::NotFound
    );
    // Expired answers count nothing, and the record past its end is gone for good.
    assert_eq!(
        verify(&store, &account, Some(&id), &code, just_before, &tok).await,
        VerifyOutcome::NotFound
    );
}

pub async fn expired_code_is_not_counted<S: StateStore>(store: S) {
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    for _ in 0..10 {
        assert_eq!(
            verify(&store, &account, Some(&id), &code, t0() + secs(301), &tok).await,
            VerifyOutcome::Expired
        );
    }
    assert!(matches!(
        verify(&store, &account, Some(&id), &code, t0() + secs(299), &tok).await,
        VerifyOutcome::Verified(_)
    ));
}

pub async fn new_challenge_kills_the_previous_one<S: StateStore>(store: S) {
    let account = random_account();
    let (id_a, code_a) = (random_digest(), random_digest());
    let (id_b, code_b) = (random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id_a, code_a, t0()))
        .await
        .unwrap();
    store
        .create_challenge(&account, &challenge(id_b, code_b, t0() + secs(1)))
        .await
        .unwrap();
    let tok = token(t0());
    assert_eq!(
        verify(&store, &account, Some(&id_a), &code_a, t0() + secs(2), &tok).await,
        VerifyOutcome::NotFound
    );
    assert!(!store.delete_challenge(&account, &id_a).await.unwrap());
    // The compatible body names no challenge: the active one is meant.
    assert!(matches!(
        verify(&store, &account, None, &code_b, t0() + secs(2), &tok).await,
        VerifyOutcome::Verified(_)
    ));
}

pub async fn accounts_do_not_see_each_other<S: StateStore>(store: S) {
    let (alice, mallory) = (random_account(), random_account());
    let (id, code) = (random_digest(), random_digest());
    store
        .create_challenge(&alice, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    assert_eq!(
        verify(&store, &mallory, Some(&id), &code, t0(), &tok).await,
        VerifyOutcome::NotFound
    );
    assert!(matches!(
        verify(&store, &alice, Some(&id), &code, t0(), &tok).await,
        VerifyOutcome::Verified(_)
    ));
    assert_eq!(
        store
            .authenticate_token(&mallory, &tok.digest, t0())
            .await
            .unwrap(),
        None
    );
    assert!(!store.revoke_token(&mallory, &tok.digest).await.unwrap());
    assert!(store
        .authenticate_token(&alice, &tok.digest, t0())
        .await
        .unwrap()
        .is_some());
}

pub async fn twenty_concurrent_verifies_one_success<S: StateStore>(store: S) {
    let store = Arc::new(store);
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, account, barrier) = (store.clone(), account.clone(), barrier.clone());
            tokio::spawn(async move {
                let tok = token(t0());
                barrier.wait().await;
                verify(&*store, &account, Some(&id), &code, t0() + secs(1), &tok).await
            })
        })
        .collect();
    let mut verified = 0;
    for task in tasks {
        match task.await.unwrap() {
            VerifyOutcome::Verified(_) => verified += 1,
            VerifyOutcome::Replayed | VerifyOutcome::NotFound => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(verified, 1);
}

pub async fn fifty_concurrent_wrong_guesses_at_most_five_compared<S: StateStore>(store: S) {
    let store = Arc::new(store);
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, account, barrier) = (store.clone(), account.clone(), barrier.clone());
            tokio::spawn(async move {
                let tok = token(t0());
                barrier.wait().await;
                verify(&*store, &account, Some(&id), &random_digest(), t0(), &tok).await
            })
        })
        .collect();
    let mut compared = 0;
    for task in tasks {
        match task.await.unwrap() {
            VerifyOutcome::Mismatch { .. } => compared += 1,
            VerifyOutcome::NotFound => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(compared, 5);
    let tok = token(t0());
    assert_eq!(
        verify(&*store, &account, Some(&id), &code, t0(), &tok).await,
        VerifyOutcome::NotFound
    );
}

pub async fn resend_respects_cooldown_and_cap_and_kills_old_code<S: StateStore>(store: S) {
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let new_code = random_digest();
    assert_eq!(
        store
            .resend_challenge(&account, &resend_request(&id, &new_code, t0() + secs(59)))
            .await
            .unwrap(),
        ResendOutcome::Cooldown {
            until: t0() + secs(60)
        }
    );
    match store
        .resend_challenge(&account, &resend_request(&id, &new_code, t0() + secs(60)))
        .await
        .unwrap()
    {
        ResendOutcome::Resent(info) => {
            assert_eq!(info.sends, 2);
            assert_eq!(info.user_id, "user-1");
            assert_eq!(info.issued_at, t0() + secs(60));
            // 60 + 300 = 360 is within the challenge's end at 600.
            assert_eq!(info.code_expires_at, t0() + secs(360));
        }
        other => panic!("expected Resent, got {other:?}"),
    }
    let third = random_digest();
    match store
        .resend_challenge(&account, &resend_request(&id, &third, t0() + secs(400)))
        .await
        .unwrap()
    {
        ResendOutcome::Resent(info) => {
            assert_eq!(info.sends, 3);
            assert_eq!(
                info.code_expires_at,
                t0() + secs(600),
                "a resend never outlives the pending login"
            );
        }
        other => panic!("expected Resent, got {other:?}"),
    }
    assert_eq!(
        store
            .resend_challenge(
                &account,
                &resend_request(&id, &random_digest(), t0() + secs(500))
            )
            .await
            .unwrap(),
        ResendOutcome::Exhausted
    );
    assert_eq!(
        store
            .resend_challenge(
                &account,
                &resend_request(&random_digest(), &random_digest(), t0() + secs(500))
            )
            .await
            .unwrap(),
        ResendOutcome::NotFound
    );
    let tok = token(t0());
    for old in [code, new_code] {
        assert!(matches!(
            verify(&store, &account, Some(&id), &old, t0() + secs(500), &tok).await,
            VerifyOutcome::Mismatch { .. }
        ));
    }
    assert!(matches!(
        verify(&store, &account, Some(&id), &third, t0() + secs(500), &tok).await,
        VerifyOutcome::Verified(_)
    ));
}

pub async fn delete_challenge_only_deletes_the_named_one<S: StateStore>(store: S) {
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    assert!(!store
        .delete_challenge(&account, &random_digest())
        .await
        .unwrap());
    assert!(store.delete_challenge(&account, &id).await.unwrap());
    let tok = token(t0());
    assert_eq!(
        verify(&store, &account, Some(&id), &code, t0(), &tok).await,
        VerifyOutcome::NotFound
    );
}

pub async fn token_idle_timeout_restarts_on_use<S: StateStore>(store: S) {
    let account = random_account();
    let tok = token(t0());
    store.issue_token(&account, &tok).await.unwrap();
    // Used every 29 minutes, the token outlives its 30-minute idle timeout...
    let mut now = t0();
    for _ in 0..4 {
        now += secs(29 * 60);
        assert!(store
            .authenticate_token(&account, &tok.digest, now)
            .await
            .unwrap()
            .is_some());
    }
    // ...and dies after 30 minutes without use, for good.
    assert_eq!(
        store
            .authenticate_token(&account, &tok.digest, now + secs(30 * 60))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .authenticate_token(&account, &tok.digest, now + secs(60))
            .await
            .unwrap(),
        None
    );
}

pub async fn token_dies_at_its_absolute_expiry<S: StateStore>(store: S) {
    let account = random_account();
    let tok = NewToken {
        expires_at: t0() + secs(3600),
        ..token(t0())
    };
    store.issue_token(&account, &tok).await.unwrap();
    let mut now = t0();
    while now + secs(20 * 60) < tok.expires_at {
        now += secs(20 * 60);
        assert!(store
            .authenticate_token(&account, &tok.digest, now)
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(
        store
            .authenticate_token(&account, &tok.digest, tok.expires_at)
            .await
            .unwrap(),
        None
    );
}

pub async fn revoke_one_and_all<S: StateStore>(store: S) {
    let (account, other) = (random_account(), random_account());
    let tokens: Vec<NewToken> = (0..3).map(|_| token(t0())).collect();
    for tok in &tokens {
        store.issue_token(&account, tok).await.unwrap();
    }
    let others = token(t0());
    store.issue_token(&other, &others).await.unwrap();

    assert!(store
        .revoke_token(&account, &tokens[0].digest)
        .await
        .unwrap());
    assert!(!store
        .revoke_token(&account, &tokens[0].digest)
        .await
        .unwrap());
    let live = |tok: &NewToken, acc: &AccountKey| {
        let (store, acc, digest) = (&store, acc.clone(), tok.digest);
        async move {
            store
                .authenticate_token(&acc, &digest, t0() + secs(1))
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(!live(&tokens[0], &account).await);
    assert!(live(&tokens[1], &account).await);

    assert_eq!(store.revoke_all_tokens(&account).await.unwrap(), 2);
    assert!(!live(&tokens[1], &account).await);
    assert!(!live(&tokens[2], &account).await);
    assert!(
        live(&others, &other).await,
        "other accounts keep their tokens"
    );
    assert_eq!(store.revoke_all_tokens(&account).await.unwrap(), 0);
}

/// A password attempt that turns out wrong: counted, never forgiven. Returns the lock it set.
pub async fn password_failure<S: StateStore>(
    store: &S,
    account: &AccountKey,
    now: SystemTime,
) -> Option<SystemTime> {
    match store
        .count_password_attempt(account, now, &LOCKOUT)
        .await
        .unwrap()
    {
        PasswordAttempt::Counted(counted) => counted.locked_until(),
        other => panic!("expected the attempt to be counted, got {other:?}"),
    }
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

pub async fn counters_count_per_window<S: StateStore>(store: S) {
    let key = format!("ip:{}", hex(&random_digest()[..6]));
    let window = secs(60);
    let start = t0(); // a multiple of 60 s
    for n in 1..=3 {
        let state = store
            .hit_counter(&key, window, start + secs(n))
            .await
            .unwrap();
        assert_eq!(state.count, n);
        assert_eq!(state.resets_at, start + secs(60));
    }
    let other = store
        .hit_counter(&format!("{key}:other"), window, start)
        .await
        .unwrap();
    assert_eq!(other.count, 1);
    let next = store
        .hit_counter(&key, window, start + secs(60))
        .await
        .unwrap();
    assert_eq!(next.count, 1);
    assert_eq!(next.resets_at, start + secs(120));
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
            token_idle_timeout_restarts_on_use,
            token_dies_at_its_absolute_expiry,
            revoke_one_and_all,
            failures_lock_with_backoff_and_success_resets,
            lock_is_capped_and_failures_are_forgotten,
            attempts_while_locked_are_refused_and_not_counted,
            concurrent_password_attempts_admit_at_most_the_threshold,
            a_right_password_takes_its_attempt_back,
            forgiving_with_others_counted_since_keeps_theirs,
            a_forgiven_attempt_does_not_delay_forgetting,
            counters_count_per_window,
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
