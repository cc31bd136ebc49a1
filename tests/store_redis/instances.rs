//! Several instances on one Redis (or cluster) behave as one.

use tower_otp::redis::{aio::ConnectionManager, Client};
use tower_otp::store::{RedisStore, StateStore, VerifyOutcome};

use crate::client_cache::refused_within;
use crate::common::conformance::*;
use crate::common::redis::*;

/// A challenge created through one store verifies through the other exactly once, and tokens
/// are shared.
async fn assert_instances_behave_as_one(a: RedisStore, b: RedisStore) {
    let account = random_account();
    let (id, code) = (random_digest(), random_digest());
    a.create_challenge(&account, &challenge(id, code, t0()))
        .await
        .unwrap();
    let tok = token(t0());
    assert!(matches!(
        verify(&b, &account, Some(&id), &code, t0() + secs(5), &tok).await,
        VerifyOutcome::Verified(_)
    ));
    assert_eq!(
        verify(&a, &account, Some(&id), &code, t0() + secs(6), &token(t0())).await,
        VerifyOutcome::Replayed
    );
    assert!(a
        .authenticate_token(&account, &tok.digest, t0() + secs(7))
        .await
        .unwrap()
        .is_some());
    assert!(b.revoke_token(&account, &tok.digest).await.unwrap());
    // A may answer from its cache until Redis tells it, within milliseconds (timed in
    // client_cache.rs).
    refused_within(&a, &account, &tok, std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn two_instances_on_one_redis_behave_as_one() {
    let prefix = random_prefix();
    let a = RedisStore::new(redis_url()).unwrap().with_prefix(&prefix);
    // The other through a connection manager of its own, as an application may build it.
    let manager = ConnectionManager::new(Client::open(redis_url()).unwrap())
        .await
        .unwrap();
    let b = RedisStore::from_connection_manager(manager).with_prefix(&prefix);
    assert_instances_behave_as_one(a, b).await;
}

#[tokio::test]
async fn two_instances_on_one_cluster_behave_as_one() {
    let prefix = random_prefix();
    let a = RedisStore::cluster(cluster_urls().iter().map(String::as_str))
        .unwrap()
        .with_prefix(&prefix);
    let b = RedisStore::cluster(cluster_urls().iter().map(String::as_str))
        .unwrap()
        .with_prefix(&prefix);
    assert_instances_behave_as_one(a, b).await;
}
