//! The `SecondFactorStore` conformance suite: users' enrollments, durable and atomic.
//!
//! `second_factor_store_conformance_tests!(async { make_store().await })` expands to one test
//! per scenario; each uses its own random user ids, so stores may share a backend.

#![allow(dead_code)]

use std::sync::Arc;

use tower_otp::second_factor::{Enrollment, RecoveryCodes, SealedSecret, SecondFactorStore};

use super::*;

fn user_id() -> String {
    format!("user-{}", hex(&random_digest()[..6]))
}

fn codes(n: usize) -> RecoveryCodes {
    RecoveryCodes {
        key_id: "0a1b2c3d".to_owned(),
        digests: (0..n).map(|_| random_digest()).collect(),
    }
}

fn enrollment(recovery_codes: RecoveryCodes) -> Enrollment {
    Enrollment {
        secret: SealedSecret::from_stored(format!("v1.0a1b2c3d.{}", hex(&random_digest()))),
        recovery_codes,
        enrolled_at: t0(),
    }
}

/// An enrollment with its recovery codes in one order: a store need not keep theirs.
fn sorted(mut enrollment: Enrollment) -> Enrollment {
    enrollment.recovery_codes.digests.sort_unstable();
    enrollment
}

pub async fn a_user_enrols_once_and_reads_it_back<S: SecondFactorStore>(store: S) {
    let (user, other) = (user_id(), user_id());
    let first = enrollment(codes(10));
    assert_eq!(store.enrollment(&user).await.unwrap(), None);
    assert!(store.enroll(&user, &first).await.unwrap());
    assert!(
        !store.enroll(&user, &enrollment(codes(10))).await.unwrap(),
        "a second enrollment is refused"
    );
    let read = store.enrollment(&user).await.unwrap().map(sorted);
    assert_eq!(
        read,
        Some(sorted(first)),
        "read back (recovery codes in any order)"
    );
    assert_eq!(store.enrollment(&other).await.unwrap(), None);
}

pub async fn a_recovery_code_works_once<S: SecondFactorStore>(store: S) {
    let (user, other) = (user_id(), user_id());
    let set = codes(10);
    store.enroll(&user, &enrollment(set.clone())).await.unwrap();
    store.enroll(&other, &enrollment(codes(10))).await.unwrap();
    let used = &set.digests[3];
    assert_eq!(
        store.use_recovery_code(&other, used).await.unwrap(),
        None,
        "not theirs"
    );
    assert_eq!(store.use_recovery_code(&user, used).await.unwrap(), Some(9));
    assert_eq!(
        store.use_recovery_code(&user, used).await.unwrap(),
        None,
        "spent"
    );
    assert_eq!(
        store
            .use_recovery_code(&user, &random_digest())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .use_recovery_code(&user, &set.digests[0])
            .await
            .unwrap(),
        Some(8)
    );
    let left = store
        .enrollment(&user)
        .await
        .unwrap()
        .unwrap()
        .recovery_codes;
    assert_eq!(left.digests.len(), 8);
    assert!(!left.digests.contains(used));
}

pub async fn twenty_concurrent_uses_of_a_recovery_code_one_wins<S: SecondFactorStore>(store: S) {
    let store = Arc::new(store);
    let user = user_id();
    let set = codes(10);
    store.enroll(&user, &enrollment(set.clone())).await.unwrap();
    let uses = (0..20).map(|_| {
        let (store, user, digest) = (store.clone(), user.clone(), set.digests[5]);
        tokio::spawn(async move { store.use_recovery_code(&user, &digest).await.unwrap() })
    });
    let mut wins = Vec::new();
    for used in uses {
        wins.extend(used.await.unwrap());
    }
    assert_eq!(wins, [9], "exactly one use wins");
}

pub async fn ten_concurrent_enrolments_of_a_user_one_wins<S: SecondFactorStore>(store: S) {
    let store = Arc::new(store);
    let user = user_id();
    let enrolments = (0..10).map(|_| {
        let (store, user) = (store.clone(), user.clone());
        tokio::spawn(async move { store.enroll(&user, &enrollment(codes(10))).await.unwrap() })
    });
    let mut won = 0;
    for enrolled in enrolments {
        won += usize::from(enrolled.await.unwrap());
    }
    assert_eq!(won, 1);
    let kept = store.enrollment(&user).await.unwrap().unwrap();
    assert_eq!(
        kept.recovery_codes.digests.len(),
        10,
        "one enrolment's codes, not a mix"
    );
}

pub async fn replacing_recovery_codes_kills_the_old_set<S: SecondFactorStore>(store: S) {
    let user = user_id();
    let (old, new) = (codes(10), codes(10));
    assert!(
        !store.replace_recovery_codes(&user, &new).await.unwrap(),
        "not enrolled"
    );
    store.enroll(&user, &enrollment(old.clone())).await.unwrap();
    assert!(store.replace_recovery_codes(&user, &new).await.unwrap());
    assert_eq!(
        store
            .use_recovery_code(&user, &old.digests[0])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .use_recovery_code(&user, &new.digests[0])
            .await
            .unwrap(),
        Some(9)
    );
}

pub async fn removing_an_enrollment_removes_its_codes<S: SecondFactorStore>(store: S) {
    let user = user_id();
    let set = codes(10);
    assert!(!store.remove_enrollment(&user).await.unwrap());
    store.enroll(&user, &enrollment(set.clone())).await.unwrap();
    assert!(store.remove_enrollment(&user).await.unwrap());
    assert_eq!(store.enrollment(&user).await.unwrap(), None);
    assert_eq!(
        store
            .use_recovery_code(&user, &set.digests[0])
            .await
            .unwrap(),
        None
    );
    assert!(
        store.enroll(&user, &enrollment(codes(10))).await.unwrap(),
        "enrols afresh"
    );
}

/// Expands to one test per scenario, each with a fresh store from `$make` (an async block).
#[macro_export]
macro_rules! second_factor_store_conformance_tests {
    ($make:expr) => {
        $crate::second_factor_store_conformance_tests!(@tests $make;
            a_user_enrols_once_and_reads_it_back,
            a_recovery_code_works_once,
            twenty_concurrent_uses_of_a_recovery_code_one_wins,
            ten_concurrent_enrolments_of_a_user_one_wins,
            replacing_recovery_codes_kills_the_old_set,
            removing_an_enrollment_removes_its_codes,
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
