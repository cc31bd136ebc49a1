//! Challenges: single use, attempts, expiry, replacement, accounts apart, races, resends.

#![allow(dead_code)]

use std::sync::Arc;

use tower_otp::store::{ResendOutcome, StateStore, VerifyOutcome};

use super::*;

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

pub async fn a_replay_is_told_until_the_consumed_challenges_end<S: StateStore>(store: S) {
    // Whatever happens to the challenges after it: a new one, deleted, or out of attempts.
    let account = random_account();
    let (id_a, code_a) = (random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id_a, code_a, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    assert!(matches!(
        verify(&store, &account, Some(&id_a), &code_a, t0() + secs(1), &tok).await,
        VerifyOutcome::Verified(_)
    ));
    let replay = |now| verify(&store, &account, Some(&id_a), &code_a, now, &tok);
    let (id_b, code_b) = (random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id_b, code_b, t0() + secs(2)))
        .await
        .unwrap();
    assert_eq!(replay(t0() + secs(3)).await, VerifyOutcome::Replayed);
    assert!(store.delete_challenge(&account, &id_b).await.unwrap());
    assert_eq!(replay(t0() + secs(4)).await, VerifyOutcome::Replayed);
    let id_c = random_digest();
    store
        .create_challenge(&account, &challenge(id_c, random_digest(), t0() + secs(5)))
        .await
        .unwrap();
    for _ in 0..5 {
        let wrong = verify(&store, &account, Some(&id_c), &code_b, t0() + secs(6), &tok).await;
        assert!(matches!(wrong, VerifyOutcome::Mismatch { .. }), "{wrong:?}");
    }
    assert_eq!(replay(t0() + secs(7)).await, VerifyOutcome::Replayed);
    // The consumed challenge would have ended at t0 + 600 s.
    let just_before = t0() + secs(600) - Duration::from_millis(1);
    assert_eq!(replay(just_before).await, VerifyOutcome::Replayed);
    assert_eq!(replay(t0() + secs(600)).await, VerifyOutcome::NotFound);
}
