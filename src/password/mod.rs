//! Password hashing: argon2id PHC strings for new hashes; verification of those and of
//! Django's stored hashes (PBKDF2, argon2, bcrypt); all on a small pool of threads of the
//! crate's own, off the async runtime.
//!
//! Argon2id with the default parameters works in 19 MiB. Allocated anew for every hash on
//! Tokio's blocking threads, that memory was kept by the allocator's per-thread arenas once
//! freed, and a few hundred concurrent logins left the process several hundred MB larger for
//! good. Now every hash runs on one of at most one thread per CPU, each reusing one block of
//! memory for its life (`memory.rs`): argon2's memory is bounded by the number of CPUs,
//! whatever the number of logins, and a thread is only started when the logins waiting
//! outnumber the threads there are (`pool.rs`). Django's formats are told apart in
//! `formats.rs`, and checked in `memory.rs` (argon2), `pbkdf2.rs` and `bcrypt.rs`.

mod bcrypt;
mod error;
mod formats;
mod memory;
mod pbkdf2;
mod pool;

pub use error::PasswordError;

use std::sync::LazyLock;

use error::VerifyError;
use memory::{default_params, Memory};
use pool::Pool;

/// Every password computation of the process: at most one per CPU at a time, the others
/// waiting their turn, first come, first served. Unbounded, a burst of logins ran one CPU-bound
/// hash (and 19 MiB) per login at once, and the async workers serving every other request got
/// a correspondingly small share of the CPUs.
static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    Pool::new("tower-otp-password", cpus)
});

/// The stand-in hash of [`hash_password`]'s format and cost (argon2id, m = 19 MiB, t = 2,
/// p = 1): a stored hash that matches no password (its salt and key are zeros), which
/// [`UserStore::stand_in_hash`](crate::UserStore::stand_in_hash) answers by default.
pub const ARGON2_STAND_IN: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$\
                                   AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A stand-in of Django 5.2's default hasher (`pbkdf2_sha256`, 1 000 000 iterations): what
/// [`UsersTable::django`](crate::sql::UsersTable) checks unknown users against.
pub const DJANGO_PBKDF2_STAND_IN: &str =
    "pbkdf2_sha256$1000000$standinsaltstandin$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

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

/// Verifies `password` against a stored `hash`, in any of these formats:
///
/// | format | what makes it |
/// |---|---|
/// | `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (also argon2i, argon2d) | [`hash_password`], any argon2 PHC string |
/// | `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, `pbkdf2_sha1$…` | Django's default hasher, and its SHA-1 twin |
/// | `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` | Django's `Argon2PasswordHasher` |
/// | `bcrypt_sha256$$2b$<cost>$<salt and hash>`, `bcrypt$$2b$…` | Django's `BCryptSHA256PasswordHasher`, `BCryptPasswordHasher` |
///
/// so a Django project's `auth_user.password` values verify unchanged. Any other value (empty,
/// malformed, Django's unusable passwords starting with `!`, its `md5`, `sha1`, `crypt` and
/// `scrypt` hashes) is reported as a mismatch, after a check against [`ARGON2_STAND_IN`].
///
/// A hash asking for more work than a login should cost is not checked but refused with
/// [`PasswordError::Hash`] (the layer answers 503), so that a corrupt or hostile row cannot
/// hold a password thread for minutes: argon2 above m = 256 MiB, t = 16 or p = 16; PBKDF2
/// above 4,000,000 iterations (Django 5.2's default is 1,000,000); bcrypt above cost 14
/// (Django's default is 12).
///
/// The work runs on the crate's password threads, at most one per CPU at a time; further calls
/// wait (without holding a thread) for their turn, first come, first served. A call dropped
/// before its turn comes costs no hashing.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use tower_otp::verify_password;
///
/// // Django 5.2's PBKDF2PasswordHasher, with 1000 iterations to keep the example quick.
/// let django = "pbkdf2_sha256$1000$s4ltS4LTsalt$yR+00xrHeJAk57EpkxZsmmX2l9ETxde3SllYYFfA8ko=";
/// assert!(verify_password(django.into(), "correct horse battery staple".into()).await.unwrap());
/// assert!(!verify_password(django.into(), "Correct horse battery staple".into()).await.unwrap());
/// assert!(!verify_password("!unusable".into(), "".into()).await.unwrap());
/// # });
/// ```
pub async fn verify_password(hash: String, password: String) -> Result<bool, PasswordError> {
    POOL.run(move |memory| verify_in(memory, &hash, &password))
        .await?
}

/// Spends the time of one check against `stand_in` (a user store's
/// [`stand_in_hash`](crate::UserStore::stand_in_hash)) and always fails: used for unknown
/// users, and for users whose password must not be looked at (a locked account).
pub(crate) async fn dummy_verify(
    stand_in: String,
    password: String,
) -> Result<bool, PasswordError> {
    verify_password(stand_in, password).await.map(|_| false)
}

fn verify_in(memory: &mut Memory, hash: &str, password: &str) -> Result<bool, PasswordError> {
    match formats::verify(memory, hash, password.as_bytes()) {
        Ok((matches, _)) => Ok(matches),
        Err(VerifyError::Unusable) => {
            let _ = formats::verify(memory, ARGON2_STAND_IN, password.as_bytes());
            Ok(false)
        }
        Err(VerifyError::OutOfMemory(e)) => Err(PasswordError::Hash(format!(
            "the hash's memory cost cannot be allocated: {e}"
        ))),
        // A stored hash this server will not check: fail closed, visibly, rather than refuse
        // the right password as if it were wrong.
        Err(VerifyError::TooCostly(costs)) => {
            Err(PasswordError::Hash(format!("the stored hash's {costs}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};

    use super::*;

    #[test]
    fn the_shipped_stand_ins_are_the_costs_they_say() {
        use super::formats::Cost;
        use super::pbkdf2::Digest;
        assert_eq!(ARGON2_STAND_IN, Cost::Argon2(default_params()).stand_in());
        let django = Cost::Pbkdf2 {
            digest: Digest::Sha256,
            iterations: 1_000_000,
        };
        assert_eq!(DJANGO_PBKDF2_STAND_IN, django.stand_in());
    }

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
        assert!(!dummy_verify(ARGON2_STAND_IN.into(), "anything".into())
            .await
            .unwrap());
        assert!(!verify_password(ARGON2_STAND_IN.into(), "".into())
            .await
            .unwrap());
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

    /// Made by Django 5.2.19's `make_password("correct horse battery staple", hasher=…)` with
    /// its default work factors (argon2-cffi 25.1.0, bcrypt 5.0.0).
    const DJANGO_DEFAULTS: [&str; 5] = [
        "pbkdf2_sha256$1000000$0KeIBuYwSRC899Lee8Yoeo$nF3UygqNRPHLXWletDFpylr4/U4wUBjl4CcDCLXT5Sc=",
        "pbkdf2_sha1$1000000$GbHBx4A8eI8MpxaJ0ZZ8DZ$f61hA2IuinP57bbLhZzk+td32SI=",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$R1ZmWXBCOUpENmp5N091clprMlJXYQ$\
         Ig71gBNW9TMh/qKk1GmWx4TaWJt1Jsty8GrwYji/tGw",
        "bcrypt_sha256$$2b$12$7v0NMwmJI8BtxHWS2dNkQeGINB94UPDnRumnhltVB0.v5P1QAJDBm",
        "bcrypt$$2b$12$Mu6sRqe3FEFBPlgRTomEfuIbWseCt/giMrMnoJUlFonnbBTnrlsSG",
    ];

    #[tokio::test]
    async fn django_hashes_with_its_default_costs_verify() {
        for hash in DJANGO_DEFAULTS {
            let right = verify_password(hash.into(), "correct horse battery staple".into());
            assert!(right.await.unwrap(), "{hash}");
            let wrong = verify_password(hash.into(), "correct horse battery stapler".into());
            assert!(!wrong.await.unwrap(), "{hash}");
        }
    }

    #[tokio::test]
    async fn hashes_above_the_cost_limits_are_an_error_not_a_mismatch() {
        let too_costly = [
            "pbkdf2_sha256$4000001$salt$nF3UygqNRPHLXWletDFpylr4/U4wUBjl4CcDCLXT5Sc=",
            "bcrypt_sha256$$2b$15$7v0NMwmJI8BtxHWS2dNkQeGINB94UPDnRumnhltVB0.v5P1QAJDBm",
            "argon2$argon2id$v=19$m=102400,t=17,p=8$R1ZmWXBCOUpENmp5N091clprMlJXYQ$\
             Ig71gBNW9TMh/qKk1GmWx4TaWJt1Jsty8GrwYji/tGw",
        ];
        for hash in too_costly {
            let checked = verify_password(hash.into(), "correct horse battery staple".into());
            assert!(
                matches!(checked.await, Err(PasswordError::Hash(_))),
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
