//! What Redis holds: a TTL on every key, prefixes apart, the tokens hash pruned, the idle timer
//! restarted sparingly, garbled records failing closed.

use tower_otp::redis::Client;
use tower_otp::store::{
    RedisStore, ResendOutcome, ResendRequest, StateStore, StoreError, VerifyOutcome,
};

use crate::common::conformance::*;
use crate::common::redis::*;

/// Runs every kind of write, so that every kind of key exists afterwards.
async fn run_every_flow(store: &RedisStore) {
    let now = t0();
    // A verified challenge: consumed record (in the challenge's key), the token (in the tokens
    // hash); a wrong code before it: failures.
    let (account, id, code) = (random_account(), random_digest(), random_digest());
    store
        .create_challenge(&account, &challenge(id, code, now))
        .await
        .unwrap();
    let tok = token(now);
    assert!(matches!(
        verify(store, &account, Some(&id), &random_digest(), now, &tok).await,
        VerifyOutcome::Mismatch { .. }
    ));
    let right = verify(store, &account, Some(&id), &code, now + secs(1), &tok).await;
    assert!(matches!(right, VerifyOutcome::Verified(_)), "{right:?}");
    assert!(matches!(
        verify(store, &account, None, &code, now + secs(2), &tok).await,
        VerifyOutcome::Replayed
    ));
    let other = random_account();
    store
        .count_password_attempt(&other, now, &LOCKOUT)
        .await
        .unwrap();

    // A pending challenge after a resend.
    let (account, id) = (random_account(), random_digest());
    store
        .create_challenge(&account, &challenge(id, random_digest(), now))
        .await
        .unwrap();
    let resent = store
        .resend_challenge(
            &account,
            &ResendRequest {
                challenge: &id,
                code: &random_digest(),
                now: now + secs(60),
                code_ttl: secs(300),
                cooldown: secs(60),
                max_sends: 3,
            },
        )
        .await
        .unwrap();
    assert!(matches!(resent, ResendOutcome::Resent(_)), "{resent:?}");

    // A token issued directly and used; a locked account; a counter.
    let account = random_account();
    let tok = token(now);
    store.issue_token(&account, &tok).await.unwrap();
    assert!(store
        .authenticate_token(&account, &tok.digest, now + secs(60))
        .await
        .unwrap()
        .is_some());
    let locked = random_account();
    let mut until = None;
    for _ in 0..LOCKOUT.threshold {
        until = password_failure(store, &locked, now).await;
    }
    assert_eq!(until, Some(now + secs(60)));
    let count = store
        .hit_counter("ip:192.0.2.1", secs(60), now)
        .await
        .unwrap();
    assert_eq!(count.count, 1);

    // A remembered device: its record and its account's index.
    store
        .remember_device(&account, &random_digest(), now + DEVICE_LIFETIME, now)
        .await
        .unwrap();

    // An authenticator's claimed time step, and a setup with a wrong code counted.
    assert!(store
        .claim_time_step(&account, 1, now + secs(90), now)
        .await
        .unwrap());
    let setup = tower_otp::store::PendingAppSetup {
        sealed_secret: "v1.00000000.x".into(),
        expires_at: now + secs(600),
        failures: 0,
    };
    store.begin_app_setup(&account, &setup, now).await.unwrap();
    assert_eq!(store.fail_app_setup(&account, 5, now).await.unwrap(), 4);
}

const DEVICE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

async fn assert_every_key_has_a_ttl(store: RedisStore, prefix: &str, nodes: &[String]) {
    let store = store.with_prefix(prefix);
    run_every_flow(&store).await;
    let keys = keys_with_ttl(nodes, prefix).await;
    for kind in [
        ":challenge",
        ":failures",
        ":auth_tokens",
        ":device:",
        ":devices",
        ":step",
        ":app_setup",
        "rl:{ip:192.0.2.1}:",
    ] {
        assert!(
            keys.iter().any(|(key, _)| key.contains(kind)),
            "no `{kind}` key among {keys:?}"
        );
    }
    // A device lives as long as it is remembered; of the rest, the longest-lived record is the
    // failures (forget_after = 1 day after the last failure).
    for (key, ttl) in &keys {
        let longest = if key.contains(":device") {
            DEVICE_LIFETIME
        } else {
            LOCKOUT.forget_after
        };
        assert!(
            *ttl > 0 && *ttl <= longest.as_millis() as i64,
            "{key} has PTTL {ttl} (-1 = no TTL)"
        );
    }
}

#[tokio::test]
async fn every_key_has_a_ttl_single() {
    assert_every_key_has_a_ttl(single_store(), &random_prefix(), &[redis_url().to_owned()]).await;
}

#[tokio::test]
async fn every_key_has_a_ttl_cluster() {
    assert_every_key_has_a_ttl(cluster_store(), &random_prefix(), cluster_urls()).await;
}

#[tokio::test]
async fn prefixes_keep_stores_apart() {
    let (a, b) = (single_store(), single_store());
    let account = random_account();
    let tok = token(t0());
    a.issue_token(&account, &tok).await.unwrap();
    assert_eq!(
        b.authenticate_token(&account, &tok.digest, t0())
            .await
            .unwrap(),
        None
    );
    assert!(a
        .authenticate_token(&account, &tok.digest, t0())
        .await
        .unwrap()
        .is_some());
}

/// The tokens hash keeps tokens over (past their absolute end or their idle timeout, or records
/// that do not parse) until it holds twice as many as were live after its last pruning (at
/// least 16), then drops them: memory stays within about twice the live tokens, for O(1)
/// amortised work per token stored.
#[tokio::test]
async fn the_tokens_hash_is_pruned_once_it_has_doubled() {
    use std::time::Duration;
    use tower_otp::store::NewToken;

    let prefix = random_prefix();
    let store = RedisStore::new(redis_url())
        .unwrap()
        .with_prefix(prefix.as_str());
    let account = random_account();
    let key = tokens_key(&prefix, &account);
    let con = Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let fields = || {
        let (key, mut con) = (key.clone(), con.clone());
        async move {
            let held: i64 = tower_otp::redis::cmd("HLEN")
                .arg(&key)
                .query_async(&mut con)
                .await
                .unwrap();
            let prune_at: Option<i64> = tower_otp::redis::cmd("HGET")
                .arg(&key)
                .arg("prune_at")
                .query_async(&mut con)
                .await
                .unwrap();
            (held, prune_at)
        }
    };
    // Over by 20 s after t0: seven at their absolute end, seven idle for longer than 5 s.
    for _ in 0..7 {
        let ended = NewToken {
            expires_at: t0() + Duration::from_secs(10),
            ..token(t0())
        };
        store.issue_token(&account, &ended).await.unwrap();
        let idle = NewToken {
            idle_timeout: Duration::from_secs(5),
            ..token(t0())
        };
        store.issue_token(&account, &idle).await.unwrap();
    }
    // And a record written by something else.
    let _: i64 = tower_otp::redis::cmd("HSET")
        .arg(&key)
        .arg(hex(&random_digest()))
        .arg("not a record")
        .query_async(&mut con.clone())
        .await
        .unwrap();
    assert_eq!(
        fields().await,
        (15, None),
        "below 16 fields, nothing is pruned"
    );
    let later = t0() + secs(20);
    let live = token(later);
    store.issue_token(&account, &live).await.unwrap();
    assert_eq!(
        fields().await,
        (2, Some(16)),
        "the 15 dead records are gone; the live token and `prune_at` stay"
    );
    assert!(store
        .authenticate_token(&account, &live.digest, later)
        .await
        .unwrap()
        .is_some());
    // Live tokens only: pruned again at 16 tokens, all live, so the next is at 32.
    for _ in 0..15 {
        store.issue_token(&account, &token(later)).await.unwrap();
    }
    assert_eq!(fields().await, (17, Some(32)));
    assert_eq!(store.revoke_all_tokens(&account).await.unwrap(), 16);
    assert_eq!(fields().await, (0, None));
}

/// A token in steady use is only read: its idle timer restarts once the last restart is at
/// least 1/60 of the idle timeout old (30 s of 30 min). It dies at most that much earlier than
/// with a restart on every use, never later.
#[tokio::test]
async fn the_idle_timer_restarts_once_a_sixtieth_of_the_timeout_has_passed() {
    let store = single_store();
    let alive = |account, tok: &tower_otp::store::NewToken, at| {
        let (store, digest) = (store.clone(), tok.digest);
        async move {
            store
                .authenticate_token(&account, &digest, at)
                .await
                .unwrap()
                .is_some()
        }
    };
    // Used 20 s after its issue: read only, the timer still runs from the issue.
    let (account, tok) = (random_account(), token(t0()));
    store.issue_token(&account, &tok).await.unwrap();
    assert!(alive(account.clone(), &tok, t0() + secs(20)).await);
    assert!(!alive(account, &tok, t0() + secs(1800)).await);
    // Used 30 s after its issue: the timer restarts.
    let (account, tok) = (random_account(), token(t0()));
    store.issue_token(&account, &tok).await.unwrap();
    assert!(alive(account.clone(), &tok, t0() + secs(30)).await);
    assert!(alive(account.clone(), &tok, t0() + secs(1829)).await);
    assert!(!alive(account, &tok, t0() + secs(1829 + 1800)).await);
}

/// A token record that does not parse (written by something else, or by an older layout) is a
/// backend error, whether or not the idle timer is due for a restart (the script that restarts
/// it runs only once the record has parsed): never a login, never a silent miss.
#[tokio::test]
async fn a_garbled_token_record_fails_closed() {
    let prefix = random_prefix();
    // Without the cache: the record is garbled behind the store's back, and a cached copy would
    // be answered until Redis's invalidation arrived.
    let store = RedisStore::new(redis_url())
        .unwrap()
        .with_prefix(prefix.as_str())
        .with_client_cache(false);
    let (account, tok) = (random_account(), token(t0()));
    store.issue_token(&account, &tok).await.unwrap();
    assert!(store
        .authenticate_token(&account, &tok.digest, t0())
        .await
        .unwrap()
        .is_some());

    let client = Client::open(redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let key = tokens_key(&prefix, &account);
    for garbage in ["not a record", "1:2:3:4:99:short", "1:2:3"] {
        let replaced: i64 = tower_otp::redis::cmd("HSET")
            .arg(&key)
            .arg(hex(&tok.digest))
            .arg(garbage)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(replaced, 0, "the token's field is replaced, not added");
        // Whether or not the idle timer is due: the record is parsed before anything is decided.
        for at in [t0(), t0() + secs(1200)] {
            let result = store.authenticate_token(&account, &tok.digest, at).await;
            assert!(
                matches!(result, Err(StoreError::Backend(_))),
                "{garbage:?} at {at:?}: {result:?}"
            );
        }
    }
}
