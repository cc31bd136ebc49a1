//! Password hashing: argon2 PHC strings, hashed and verified on a small pool of threads of
//! the crate's own, off the async runtime.
//!
//! Argon2id with the default parameters works in 19 MiB. Allocated anew for every hash on
//! Tokio's blocking threads, that memory was kept by the allocator's per-thread arenas once
//! freed, and a few hundred concurrent logins left the process several hundred MB larger for
//! good. Now every hash runs on one of at most one thread per CPU, each reusing one block of
//! memory for its life (`memory.rs`): argon2's memory is bounded by the number of CPUs,
//! whatever the number of logins, and a thread is only started when the logins waiting
//! outnumber the threads there are (`pool.rs`).

mod error;
mod memory;
mod pool;

pub use error::PasswordError;

use std::sync::{LazyLock, OnceLock};

use argon2::password_hash::{rand_core::OsRng, SaltString};
use argon2::Params;

use memory::{Memory, VerifyError};
use pool::Pool;

/// The parameters of new hashes: m = 19 MiB, t = 2, p = 1 (OWASP's minimum for argon2id).
fn default_params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters")
}

/// Every argon2 computation of the process: at most one per CPU at a time, the others waiting
/// their turn, first come, first served. Unbounded, a burst of logins ran one CPU-bound hash
/// (and 19 MiB) per login at once, and the async workers serving every other request got a
/// correspondingly small share of the CPUs.
static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    Pool::new("tower-otp-argon2", cpus)
});

/// A hash of a random password with the default parameters, verified against when a user does
/// not exist or has no usable hash, so that the answer takes as long as a wrong password.
static DUMMY_HASH: OnceLock<String> = OnceLock::new();

/// Hashes a password with argon2id (m = 19 MiB, t = 2, p = 1) and a random salt, as a PHC
/// string. Slow on purpose (tens of milliseconds), and it waits for its turn behind the
/// password checks in progress, which during a storm of logins can take seconds: call it from
/// a blocking context (`tokio::task::spawn_blocking`), never on an async worker, e.g. when a
/// [`UserStore::check_password`](crate::UserStore::check_password) rehashes on login.
///
/// ```
/// let hash = tower_otp::hash_password("hunter2 hunter2").unwrap();
/// assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// ```
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let password = password.to_owned();
    POOL.run_blocking(move |memory| memory.hash(password.as_bytes(), default_params()))?
}

/// Verifies `password` against a PHC `hash` (argon2id, argon2i or argon2d, with the parameters
/// the hash names). A hash that is not such a string, or is empty, is reported as a mismatch
/// after a verification against a dummy hash, so that it takes the same time.
///
/// The work runs on the crate's password threads, at most one per CPU at a time; further calls
/// wait (without holding a thread) for their turn, first come, first served. A call dropped
/// before its turn comes costs no hashing.
pub async fn verify_password(hash: String, password: String) -> Result<bool, PasswordError> {
    POOL.run(move |memory| verify_in(memory, &hash, &password))
        .await?
}

/// Spends the time of one password verification and always fails: used for unknown users.
pub(crate) async fn dummy_verify(password: String) -> Result<bool, PasswordError> {
    verify_password(String::new(), password).await
}

/// Starts making the dummy hash on a password thread (hashing it takes as long as a login),
/// without waiting for it: so that building a layer does not block, and the first unknown user
/// is not slower than the others.
pub(crate) fn prepare_dummy_hash() {
    if DUMMY_HASH.get().is_none() {
        POOL.run_detached(|memory| {
            let _ = dummy_hash(memory);
        });
    }
}

fn verify_in(memory: &mut Memory, hash: &str, password: &str) -> Result<bool, PasswordError> {
    match memory.verify(hash, password.as_bytes()) {
        Ok(matches) => Ok(matches),
        Err(VerifyError::Unusable) => {
            let dummy = dummy_hash(memory)?;
            let _ = memory.verify(dummy, password.as_bytes());
            Ok(false)
        }
        Err(VerifyError::OutOfMemory(e)) => Err(PasswordError::Hash(format!(
            "the hash's memory cost cannot be allocated: {e}"
        ))),
        // A stored hash this server will not check: fail closed, visibly, rather than refuse
        // the right password as if it were wrong.
        Err(VerifyError::TooCostly(params)) => Err(PasswordError::Hash(format!(
            "the hash's argon2 costs (m = {} KiB, t = {}, p = {}) are above the limits checked \
             here (m <= 256 MiB, t <= 16, p <= 16)",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ))),
    }
}

/// The dummy hash, made in `memory` if it is not made yet. On a pool thread, so that making it
/// never waits for the pool.
fn dummy_hash(memory: &mut Memory) -> Result<&'static str, PasswordError> {
    if let Some(hash) = DUMMY_HASH.get() {
        return Ok(hash);
    }
    let random = SaltString::generate(&mut OsRng);
    let hash = memory.hash(random.as_str().as_bytes(), default_params())?;
    Ok(DUMMY_HASH.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher;
    use argon2::{Algorithm, Argon2, Version};

    use super::*;

    fn hash_with(password: &str, algorithm: Algorithm, params: Params) -> String {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

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
        let pbkdf2 =
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$ZAr4QbiiGcfQEnPqS8dTDFS2rmTdALMu1NFaMZrzbxQ";
        assert!(!verify_password(pbkdf2.into(), "x".into()).await.unwrap());
        assert!(!dummy_verify("anything".into()).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_and_algorithms_verify() {
        let mib = |m: u32| Params::new(m * 1024, 2, 1, None).unwrap();
        let hashes = [
            hash_with("pw", Algorithm::Argon2id, mib(8)),
            hash_with("pw", Algorithm::Argon2id, mib(32)),
            hash_with("pw", Algorithm::Argon2i, mib(19)),
            hash_with("pw", Algorithm::Argon2d, mib(19)),
        ];
        for hash in hashes {
            assert!(
                verify_password(hash.clone(), "pw".into()).await.unwrap(),
                "{hash}"
            );
            assert!(
                !verify_password(hash.clone(), "pW".into()).await.unwrap(),
                "{hash}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_larger_than_the_pool_completes_with_the_right_answers() {
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
