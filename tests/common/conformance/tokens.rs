//! Auth tokens: idle and absolute expiry, revocation.

#![allow(dead_code)]

use tower_otp::store::{AccountKey, StateStore};

use super::*;

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
