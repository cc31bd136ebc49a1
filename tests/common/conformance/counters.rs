//! Fixed-window counters.

#![allow(dead_code)]

use tower_otp::store::StateStore;

use super::*;

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
