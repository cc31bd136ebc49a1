//! What second factors keep in the state store: a login's challenge looked up, authenticator
//! time steps accepted once, and setups waiting for their first code.

#![allow(dead_code)]

use std::sync::Arc;

use tower_otp::store::{ActiveChallenge, PendingAppSetup, StateStore};

use super::*;

pub async fn a_challenge_is_found_by_its_id_until_its_end<S: StateStore>(store: S) {
    let account = random_account();
    let id = random_digest();
    store
        .create_challenge(&account, &challenge(id, random_digest(), t0()))
        .await
        .unwrap();
    let found = store
        .active_challenge(&account, Some(&id), t0() + secs(1))
        .await
        .unwrap()
        .expect("a live challenge");
    assert_eq!((found.id, found.user_id.as_str()), (id, "user-1"));
    let (other_id, other_account) = (random_digest(), random_account());
    for (acc, id, now, why) in [
        (&account, &other_id, t0(), "another id"),
        (&other_account, &id, t0(), "another account"),
        (&account, &id, t0() + secs(600), "past its end"),
    ] {
        let found = store.active_challenge(acc, Some(id), now).await.unwrap();
        assert!(found.is_none(), "{why}");
    }
}

pub async fn the_active_challenge_is_found_without_its_id_until_its_end<S: StateStore>(store: S) {
    let (account, other) = (random_account(), random_account());
    let active = |acc, now| {
        let store = &store;
        async move { store.active_challenge(acc, None, now).await.unwrap() }
    };
    assert_eq!(active(&account, t0()).await, None, "none created");
    let (id, code) = (random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    assert_eq!(
        active(&account, t0() + secs(1)).await,
        Some(ActiveChallenge {
            id,
            code,
            user_id: "user-1".into()
        })
    );
    assert_eq!(active(&other, t0()).await, None, "another account's");
    // A resend's code.
    let resent = random_digest();
    let request = resend_request(&id, &resent, t0() + secs(60));
    let outcome = store.resend_challenge(&account, &request).await.unwrap();
    assert!(matches!(outcome, ResendOutcome::Resent(_)), "{outcome:?}");
    let found = active(&account, t0() + secs(61)).await;
    assert_eq!(
        found,
        Some(ActiveChallenge {
            id,
            code: resent,
            user_id: "user-1".into()
        })
    );
    assert_eq!(
        active(&account, t0() + secs(600)).await,
        None,
        "past its end"
    );
    // A new login's challenge replaces it; a verified one is gone.
    let (newer, newer_code) = (random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(newer, newer_code, t0() + secs(100)))
        .await
        .unwrap();
    let found = active(&account, t0() + secs(101)).await;
    assert_eq!(found.map(|c| c.id), Some(newer));
    let token = token(t0());
    let verified = verify(
        &store,
        &account,
        Some(&newer),
        &newer_code,
        t0() + secs(102),
        &token,
    );
    assert!(matches!(verified.await, VerifyOutcome::Verified(_)));
    assert_eq!(active(&account, t0() + secs(103)).await, None, "verified");
}

pub async fn a_time_step_is_accepted_once_and_never_an_earlier_one<S: StateStore>(store: S) {
    let (account, other) = (random_account(), random_account());
    let claim = |acc, step: u64| {
        let store = &store;
        async move {
            let until = t0() + secs(90);
            store.claim_time_step(acc, step, until, t0()).await.unwrap()
        }
    };
    assert!(claim(&account, 100).await);
    assert!(!claim(&account, 100).await, "the same step again");
    assert!(!claim(&account, 99).await, "an earlier step");
    assert!(claim(&account, 101).await, "a later step");
    assert!(
        claim(&other, 100).await,
        "another account's steps are its own"
    );
}

pub async fn twenty_concurrent_claims_of_one_step_one_wins<S: StateStore>(store: S) {
    let store = Arc::new(store);
    let account = random_account();
    let claims = (0..20).map(|_| {
        let (store, account) = (store.clone(), account.clone());
        tokio::spawn(async move {
            store
                .claim_time_step(&account, 7, t0() + secs(90), t0())
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for claim in claims {
        won += usize::from(claim.await.unwrap());
    }
    assert_eq!(won, 1);
}

fn pending(secret: &str, expires_at: SystemTime) -> PendingAppSetup {
    PendingAppSetup {
        sealed_secret: secret.to_owned(),
        expires_at,
        failures: 0,
    }
}

pub async fn a_pending_setup_lives_until_confirmed_replaced_or_expired<S: StateStore>(store: S) {
    let account = random_account();
    let ends = t0() + secs(600);
    store
        .begin_app_setup(&account, &pending("v1.first", ends), t0())
        .await
        .unwrap();
    let read = |now| {
        let (store, account) = (&store, &account);
        async move { store.pending_app_setup(account, now).await.unwrap() }
    };
    assert_eq!(read(t0() + secs(1)).await, Some(pending("v1.first", ends)));
    assert_eq!(read(ends).await, None, "expired");
    store
        .begin_app_setup(&account, &pending("v1.second", ends), t0())
        .await
        .unwrap();
    assert_eq!(
        read(t0()).await.unwrap().sealed_secret,
        "v1.second",
        "replaced"
    );
    assert!(store
        .pending_app_setup(&random_account(), t0())
        .await
        .unwrap()
        .is_none());
    assert!(store.end_app_setup(&account).await.unwrap());
    assert_eq!(read(t0()).await, None, "confirmed");
    assert!(!store.end_app_setup(&account).await.unwrap());
}

pub async fn wrong_codes_end_a_pending_setup_at_the_limit<S: StateStore>(store: S) {
    let account = random_account();
    let ends = t0() + secs(600);
    store
        .begin_app_setup(&account, &pending("v1.x", ends), t0())
        .await
        .unwrap();
    for left in (1..5).rev() {
        assert_eq!(store.fail_app_setup(&account, 5, t0()).await.unwrap(), left);
    }
    let read = store.pending_app_setup(&account, t0()).await.unwrap();
    assert_eq!(read.map(|p| p.failures), Some(4));
    assert_eq!(store.fail_app_setup(&account, 5, t0()).await.unwrap(), 0);
    assert!(store
        .pending_app_setup(&account, t0())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.fail_app_setup(&account, 5, t0()).await.unwrap(),
        0,
        "none left"
    );
    // A new setup starts from no failures; an expired one counts nothing.
    store
        .begin_app_setup(&account, &pending("v1.y", ends), t0())
        .await
        .unwrap();
    assert_eq!(store.fail_app_setup(&account, 5, t0()).await.unwrap(), 4);
    assert_eq!(store.fail_app_setup(&account, 5, ends).await.unwrap(), 0);
}
