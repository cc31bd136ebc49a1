//! The memory argon2 works in, owned by one pool thread and reused for every hash the thread
//! makes or checks, and the two things done in it: hashing a password, verifying a PHC string.

use std::collections::TryReserveError;

use argon2::password_hash::{
    rand_core::OsRng, Output, ParamsString, PasswordHash, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use super::error::{PasswordError, VerifyError};

/// The most memory a thread keeps between hashes, in 1 KiB blocks: 64 MiB. That covers this
/// crate's hashes (19 MiB) and the 64 MiB other common libraries default to (PHP,
/// argon2-cffi, RFC 9106's second recommendation), so imported hashes are checked without
/// allocating each time. A larger cost gets memory for that one hash, freed right after: kept,
/// a few such hashes would pin that much per thread for the life of the process.
const KEPT_BLOCKS_MAX: usize = 64 * 1024;

/// The largest memory cost (KiB) a stored hash may ask for: 256 MiB, four times the largest
/// common default. Above it a corrupt or hostile hash could exhaust memory.
const MAX_M_COST: u32 = 256 * 1024;
/// The largest time cost a stored hash may ask for: above it one check holds a password thread
/// for minutes.
const MAX_T_COST: u32 = 16;
/// The largest parallelism a stored hash may ask for.
const MAX_P_COST: u32 = 16;

/// The parameters of new hashes: m = 19 MiB, t = 2, p = 1 (OWASP's minimum for argon2id).
pub(super) fn default_params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters")
}

/// Argon2's working memory for one thread. It grows to the largest memory cost seen, up to
/// [`KEPT_BLOCKS_MAX`], and never shrinks: a block kept for the thread's life is what stops
/// the allocator from piling up freed 19 MiB buffers in per-thread arenas.
#[derive(Default)]
pub(super) struct Memory {
    kept: Vec<Block>,
}

impl Memory {
    /// Hashes `password` with argon2id (version 0x13), these parameters and a random salt, as
    /// a PHC string.
    pub(super) fn hash(
        &mut self,
        password: &[u8],
        params: Params,
    ) -> Result<String, PasswordError> {
        let failed = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = self
            .with_blocks(params.block_count(), |blocks| {
                Output::init_with(output_len, |out| {
                    Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, blocks)?)
                })
            })
            .map_err(|e| failed(&e))?
            .map_err(|e| failed(&e))?;
        // What `PasswordHasher::hash_password` assembles, with the output computed in this
        // thread's memory rather than in a buffer allocated for the one hash.
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` matches the PHC string `phc`, with the algorithm, version and
    /// parameters the string names, as `PasswordVerifier::verify_password` would answer; and
    /// those parameters.
    pub(super) fn verify(
        &mut self,
        phc: &str,
        password: &[u8],
    ) -> Result<(bool, Params), VerifyError> {
        let unusable = |_| VerifyError::Unusable;
        let hash = PasswordHash::new(phc).map_err(unusable)?;
        let algorithm = Algorithm::try_from(hash.algorithm).map_err(unusable)?;
        let version = match hash.version {
            Some(version) => Version::try_from(version).map_err(|_| VerifyError::Unusable)?,
            None => Version::default(),
        };
        let params = Params::try_from(&hash).map_err(unusable)?;
        if params.m_cost() > MAX_M_COST
            || params.t_cost() > MAX_T_COST
            || params.p_cost() > MAX_P_COST
        {
            return Err(VerifyError::TooCostly(format!(
                "argon2 costs m = {} KiB, t = {}, p = {}, above the limits checked here \
                 (m <= {MAX_M_COST} KiB, t <= {MAX_T_COST}, p <= {MAX_P_COST})",
                params.m_cost(),
                params.t_cost(),
                params.p_cost()
            )));
        }
        let (Some(salt), Some(expected)) = (hash.salt, &hash.hash) else {
            return Err(VerifyError::Unusable);
        };
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt = salt.decode_b64(&mut salt_bytes).map_err(unusable)?;
        let mut computed = [0u8; Output::MAX_LENGTH];
        let computed = &mut computed[..expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        self.with_blocks(argon2.params().block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, salt, computed, blocks)
        })
        .map_err(VerifyError::OutOfMemory)?
        .map_err(|_| VerifyError::Unusable)?;
        Ok((computed.ct_eq(expected.as_bytes()).into(), params))
    }

    /// Runs `work` on `count` blocks: a prefix of the kept ones, grown first if too few, or
    /// blocks allocated for this call alone above [`KEPT_BLOCKS_MAX`]. Argon2 writes every
    /// block before reading it, so what an earlier hash left in them does not matter.
    fn with_blocks<R>(
        &mut self,
        count: usize,
        work: impl FnOnce(&mut [Block]) -> R,
    ) -> Result<R, TryReserveError> {
        if count > KEPT_BLOCKS_MAX {
            return Ok(work(&mut new_blocks(count)?));
        }
        if self.kept.len() < count {
            // Freed before the larger one is allocated, so that both are never held at once.
            self.kept = Vec::new();
            self.kept = new_blocks(count)?;
        }
        Ok(work(&mut self.kept[..count]))
    }
}

/// `count` blocks, or an error rather than an abort if a stored hash asks for more memory than
/// the machine has.
fn new_blocks(count: usize) -> Result<Vec<Block>, TryReserveError> {
    let mut blocks = Vec::new();
    blocks.try_reserve_exact(count)?;
    blocks.resize(count, Block::new());
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher;

    use super::*;

    /// A hash made by the `argon2` crate's own hasher, to check `verify` against.
    fn reference_hash(
        password: &str,
        algorithm: Algorithm,
        version: Version,
        params: Params,
    ) -> String {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::new(algorithm, version, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    fn params(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Params {
        Params::new(m_cost_kib, t_cost, p_cost, None).unwrap()
    }

    fn verifies(memory: &mut Memory, hash: &str, password: &str) -> bool {
        match memory.verify(hash, password.as_bytes()) {
            Ok((matches, _)) => matches,
            Err(VerifyError::Unusable) => panic!("{hash} is unusable"),
            Err(VerifyError::OutOfMemory(e)) => panic!("{e}"),
            Err(VerifyError::TooCostly(costs)) => panic!("{costs}"),
        }
    }

    #[test]
    fn its_hashes_are_what_the_argon2_crate_verifies() {
        use argon2::password_hash::PasswordVerifier;
        let mut memory = Memory::default();
        let hash = memory.hash(b"pw", params(19 * 1024, 2, 1)).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"pW", &parsed).is_err());
    }

    #[test]
    fn hashes_costing_more_than_the_limits_are_refused_before_any_work() {
        let mut memory = Memory::default();
        for (m, t) in [(MAX_M_COST + 1, 1), (8 * 1024, MAX_T_COST + 1)] {
            // A hand-made PHC string: hashing it for real would take that long.
            let phc = format!(
                "$argon2id$v=19$m={m},t={t},p=1$c2FsdHNhbHRzYWx0$\
                 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            );
            assert!(
                matches!(memory.verify(&phc, b"pw"), Err(VerifyError::TooCostly(_))),
                "m={m} t={t}"
            );
        }
        assert!(memory.kept.is_empty(), "nothing was allocated");
    }

    #[test]
    fn the_kept_memory_grows_to_the_largest_cost_up_to_the_cap() {
        let mut memory = Memory::default();
        let v13 = Version::V0x13;
        let small = reference_hash("pw", Algorithm::Argon2id, v13, params(8 * 1024, 1, 1));
        let default = reference_hash("pw", Algorithm::Argon2id, v13, params(19 * 1024, 1, 1));
        let larger = reference_hash("pw", Algorithm::Argon2id, v13, params(32 * 1024, 1, 1));
        let beyond = KEPT_BLOCKS_MAX as u32 + 1024;
        let huge = reference_hash("pw", Algorithm::Argon2id, v13, params(beyond, 1, 1));

        assert!(verifies(&mut memory, &small, "pw"));
        assert_eq!(memory.kept.len(), 8 * 1024);
        assert!(verifies(&mut memory, &default, "pw"));
        assert!(!verifies(&mut memory, &default, "wrong"));
        assert_eq!(memory.kept.len(), 19 * 1024);
        // A smaller cost reuses a prefix of what the larger one left behind.
        assert!(verifies(&mut memory, &small, "pw"));
        assert!(!verifies(&mut memory, &small, "wrong"));
        assert_eq!(memory.kept.len(), 19 * 1024);
        assert!(verifies(&mut memory, &larger, "pw"));
        assert_eq!(memory.kept.len(), 32 * 1024);
        // Above the cap, memory for that hash alone.
        assert!(verifies(&mut memory, &huge, "pw"));
        assert!(!verifies(&mut memory, &huge, "wrong"));
        assert_eq!(memory.kept.len(), 32 * 1024);
    }

    #[test]
    fn every_argon2_variant_and_version_verifies() {
        let mut memory = Memory::default();
        for algorithm in [Algorithm::Argon2d, Algorithm::Argon2i, Algorithm::Argon2id] {
            for version in [Version::V0x10, Version::V0x13] {
                // Two lanes: the kept memory is split between them.
                let hash = reference_hash("pw", algorithm, version, params(4 * 1024, 3, 2));
                assert!(verifies(&mut memory, &hash, "pw"), "{hash}");
                assert!(!verifies(&mut memory, &hash, "pv"), "{hash}");
            }
        }
    }

    #[test]
    fn what_is_not_an_argon2_hash_is_unusable() {
        let mut memory = Memory::default();
        let good = reference_hash(
            "pw",
            Algorithm::Argon2id,
            Version::V0x13,
            params(1024, 1, 1),
        );
        let no_output = good.rsplit_once('$').unwrap().0;
        let unusable = [
            String::new(),
            "not a phc string".to_owned(),
            // PBKDF2, a PHC string of another algorithm.
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$ZAr4QbiiGcfQEnPqS8dTDFS2rmTdALMu1NFaMZrzbxQ"
                .to_owned(),
            good.replace("m=1024", "m=1024,x=1"),
            good.replace("$v=19$", "$v=18$"),
            no_output.to_owned(),
        ];
        for hash in unusable {
            assert!(
                matches!(memory.verify(&hash, b"pw"), Err(VerifyError::Unusable)),
                "{hash:?}"
            );
        }
        assert!(verifies(&mut memory, &good, "pw"));
    }
}
