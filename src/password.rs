//! Password hashing: argon2id PHC strings, verified off the async runtime.

use std::sync::{Arc, LazyLock, OnceLock};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use tokio::sync::Semaphore;

/// A password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Hashing failed (bad parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task that verifies a password did not finish.
    #[error("password verification task failed: {0}")]
    Task(String),
}

/// The argon2id parameters for new hashes: m = 19 MiB, t = 2, p = 1 (OWASP's minimum).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id (m = 19 MiB, t = 2, p = 1) and a random salt, as a PHC
/// string. Slow on purpose (tens of milliseconds): call it from a blocking context.
///
/// ```
/// let hash = tower_otp::hash_password("hunter2 hunter2").unwrap();
/// assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// ```
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A hash of a random password with the default parameters, verified against when a user does
/// not exist or has no usable hash, so that the answer takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = SaltString::generate(&mut OsRng);
        hash_password(random.as_str()).expect("hashing with valid parameters")
    })
}

/// How many password verifications run at once in this process: one per CPU; the others wait
/// their turn asynchronously. Without a bound, a burst of logins runs one CPU-bound thread
/// (and 19 MiB of argon2 memory) per login on Tokio's blocking pool, up to 512 of them, and the
/// async workers serving every other request get a correspondingly small share of the CPUs.
static VERIFICATIONS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    Arc::new(Semaphore::new(cpus))
});

/// Verifies `password` against a PHC `hash` on a blocking thread. An unparsable or empty hash
/// is verified against a dummy hash and reported as a mismatch, taking the same time.
///
/// At most one verification per CPU runs at a time in the process; further calls wait (without
/// holding a thread) for their turn, first come, first served.
pub async fn verify_password(hash: String, password: String) -> Result<bool, PasswordError> {
    let turn = VERIFICATIONS
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?;
    // The turn ends with the hashing, even if the caller stops waiting for it.
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        verify_password_blocking(&hash, &password)
    })
    .await
    .map_err(|e| PasswordError::Task(e.to_string()))
}

/// Spends the time of one password verification and always fails: used for unknown users.
pub(crate) async fn dummy_verify(password: String) -> Result<bool, PasswordError> {
    verify_password(String::new(), password).await
}

/// Warms the dummy hash up (hashing it takes as long as a login), so that the first unknown
/// user is not slower than the others.
pub(crate) fn prepare_dummy_hash() {
    let _ = dummy_hash();
}

fn verify_password_blocking(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            let parsed = PasswordHash::new(dummy_hash()).expect("dummy hash parses");
            let _ = argon2().verify_password(password.as_bytes(), &parsed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_its_own_hashes_and_rejects_others() {
        let hash = hash_password(" spaced password ").unwrap();
        assert!(verify_password(hash.clone(), " spaced password ".into())
            .await
            .unwrap());
        assert!(!verify_password(hash.clone(), "spaced password".into())
            .await
            .unwrap());
        assert!(!verify_password("not a phc string".into(), "x".into())
            .await
            .unwrap());
        assert!(!dummy_verify("anything".into()).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_larger_than_the_turns_waits_and_completes() {
        let hash = hash_password("pw").unwrap();
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let burst: Vec<_> = (0..2 * cpus + 1)
            .map(|i| {
                let password = if i % 2 == 0 { "pw" } else { "wrong" };
                tokio::spawn(verify_password(hash.clone(), password.to_owned()))
            })
            .collect();
        for (i, call) in burst.into_iter().enumerate() {
            assert_eq!(call.await.unwrap().unwrap(), i % 2 == 0);
        }
    }
}
