//! The store conformance suites against `MemoryStore` and `MemorySecondFactorStore`, plus what
//! only they can show.

mod common;

use tower_otp::store::{MemoryStore, StateStore};

store_conformance_tests!(async { MemoryStore::new() });

mod second_factors {
    use tower_otp::second_factor::MemorySecondFactorStore;

    crate::second_factor_store_conformance_tests!(async { MemorySecondFactorStore::new() });
}

#[tokio::test]
async fn expired_records_are_swept() {
    use common::conformance::*;
    let store = MemoryStore::new();
    for _ in 0..100 {
        let account = random_account();
        store
            .create_challenge(&account, &challenge(random_digest(), random_digest(), t0()))
            .await
            .unwrap();
        store.issue_token(&account, &token(t0())).await.unwrap();
        store.hit_counter("ip:x", secs(60), t0()).await.unwrap();
    }
    assert_eq!(store.len(), 100 + 100 + 1);
    store.sweep(t0() + secs(599));
    assert_eq!(store.len(), 100 + 100, "only the counter's window is over");
    store.sweep(t0() + secs(1800));
    assert!(store.is_empty(), "{} records left", store.len());
}
