//! Remembered devices: bound to their account, expiring, revoked all at once.

#![allow(dead_code)]

use tower_otp::store::StateStore;

use super::*;

pub async fn a_device_is_remembered_for_its_account_until_it_expires<S: StateStore>(store: S) {
    let (account, other) = (random_account(), random_account());
    let device = random_digest();
    let until = t0() + secs(30 * 24 * 3600);
    store
        .remember_device(&account, &device, until, t0())
        .await
        .unwrap();
    let remembered = |acc, digest, now| {
        let store = &store;
        async move { store.is_device_remembered(acc, digest, now).await.unwrap() }
    };
    assert!(remembered(&account, &device, t0() + secs(1)).await);
    assert!(remembered(&account, &device, until - secs(1)).await);
    assert!(!remembered(&account, &device, until).await, "expired");
    assert!(
        !remembered(&other, &device, t0() + secs(1)).await,
        "another account's device is no device"
    );
    assert!(
        !remembered(&account, &random_digest(), t0() + secs(1)).await,
        "an unknown device is no device"
    );
}

pub async fn revoking_all_devices_forgets_only_that_accounts<S: StateStore>(store: S) {
    let (account, other) = (random_account(), random_account());
    let devices = [random_digest(), random_digest()];
    let until = t0() + secs(3600);
    for device in &devices {
        store
            .remember_device(&account, device, until, t0())
            .await
            .unwrap();
    }
    let others = random_digest();
    store
        .remember_device(&other, &others, until, t0())
        .await
        .unwrap();

    assert_eq!(store.revoke_all_devices(&account).await.unwrap(), 2);
    for device in &devices {
        assert!(!store
            .is_device_remembered(&account, device, t0() + secs(1))
            .await
            .unwrap());
    }
    assert!(store
        .is_device_remembered(&other, &others, t0() + secs(1))
        .await
        .unwrap());
    assert_eq!(store.revoke_all_devices(&account).await.unwrap(), 0);
    // Revoking devices leaves tokens alone, and the other way round.
    let tok = token(t0());
    store.issue_token(&account, &tok).await.unwrap();
    store.revoke_all_devices(&account).await.unwrap();
    assert!(store
        .authenticate_token(&account, &tok.digest, t0() + secs(1))
        .await
        .unwrap()
        .is_some());
    store.revoke_all_tokens(&other).await.unwrap();
    assert!(store
        .is_device_remembered(&other, &others, t0() + secs(1))
        .await
        .unwrap());
}
