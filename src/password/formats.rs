//! The stored hash formats a password is checked against, told apart as Django tells them
//! apart, by what precedes the first `$`: nothing for this crate's argon2 PHC strings, else
//! Django's algorithm (`argon2`, `pbkdf2_sha256`, `pbkdf2_sha1`, `bcrypt_sha256`, `bcrypt`).
//! And what a check of each costs, so that a stand-in check can cost the same.

use argon2::Params;

use super::bcrypt;
use super::error::VerifyError;
use super::memory::Memory;
use super::pbkdf2::{self, Digest};

/// The format and work factors of a stored hash: what a stand-in check repeats to take as long.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cost {
    Argon2(Params),
    Pbkdf2 { digest: Digest, iterations: u32 },
    Bcrypt { prehashed: bool, cost: u32 },
}

impl Cost {
    /// A stored hash of this format and cost that no password is expected to match: its salt
    /// and derived key are zeros. (The stand-ins the crate ships are checked against it.)
    #[cfg(test)]
    pub(super) fn stand_in(&self) -> String {
        match self {
            Self::Argon2(params) => format!(
                "$argon2id$v=19$m={},t={},p={}${}${}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost(),
                "A".repeat(22),
                "A".repeat(43)
            ),
            Self::Pbkdf2 { digest, iterations } => pbkdf2::stand_in(*digest, *iterations),
            Self::Bcrypt { prehashed, cost } => bcrypt::stand_in(*prehashed, *cost),
        }
    }
}

/// Whether `password` matches the stored hash, in whichever of the formats it is, and what the
/// check cost.
pub(super) fn verify(
    memory: &mut Memory,
    stored: &str,
    password: &[u8],
) -> Result<(bool, Cost), VerifyError> {
    let (algorithm, encoded) = stored.split_once('$').ok_or(VerifyError::Unusable)?;
    let pbkdf2 = |digest| {
        let (matches, iterations) = pbkdf2::verify(digest, encoded, password)?;
        Ok((matches, Cost::Pbkdf2 { digest, iterations }))
    };
    let bcrypt = |prehashed| {
        let (matches, cost) = bcrypt::verify(prehashed, encoded, password)?;
        Ok((matches, Cost::Bcrypt { prehashed, cost }))
    };
    let argon2 = |memory: &mut Memory, phc| {
        let (matches, params) = memory.verify(phc, password)?;
        Ok((matches, Cost::Argon2(params)))
    };
    match algorithm {
        // This crate's own hashes, and any argon2 PHC string.
        "" => argon2(memory, stored),
        // Django's: "argon2" followed by argon2-cffi's PHC string.
        "argon2" => argon2(memory, &stored["argon2".len()..]),
        "pbkdf2_sha256" => pbkdf2(Digest::Sha256),
        "pbkdf2_sha1" => pbkdf2(Digest::Sha1),
        "bcrypt_sha256" => bcrypt(true),
        "bcrypt" => bcrypt(false),
        // Django's unusable passwords ("!…"), its unsalted and weak hashers (md5, sha1, crypt…)
        // and scrypt, and anything else.
        _ => Err(VerifyError::Unusable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Django 5.2.19 (argon2-cffi 25.1.0, bcrypt 5.0.0), with the password
    // "Pässwörd ✓": `make_password` with lowered work factors, to keep the tests quick.
    const DJANGO_HASHES: [&str; 5] = [
        "pbkdf2_sha256$1000$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=",
        "pbkdf2_sha1$1000$s4ltS4LTsalt$oEDmp+WrrNmkzBKfpLfs3MI047w=",
        "argon2$argon2id$v=19$m=1024,t=1,p=2$RWxqMURmcTFzeHBiZlpudVBXM3JYcA$\
         ycWMQdI49pUlD4AbowcFuMsZ3owuxwTUp/ftUhPs9cU",
        "bcrypt_sha256$$2b$04$ftOAfylPIGwElQdIxTow7.XgsLUxT4PKGFq.kYmhDGlCDXnstsz0W",
        "bcrypt$$2b$04$0yUKzIBg3o3hUxW7pqkcTuK/lZULL/a2i7M3gkzxs16YtWf7O6JRq",
    ];

    fn checked(stored: &str, password: &str) -> Result<(bool, Cost), VerifyError> {
        verify(&mut Memory::default(), stored, password.as_bytes())
    }

    #[test]
    fn each_format_checks_the_password_and_reports_its_cost() {
        let costs = [
            Cost::Pbkdf2 {
                digest: Digest::Sha256,
                iterations: 1000,
            },
            Cost::Pbkdf2 {
                digest: Digest::Sha1,
                iterations: 1000,
            },
            Cost::Argon2(Params::new(1024, 1, 2, Some(32)).unwrap()),
            Cost::Bcrypt {
                prehashed: true,
                cost: 4,
            },
            Cost::Bcrypt {
                prehashed: false,
                cost: 4,
            },
        ];
        for (stored, cost) in DJANGO_HASHES.into_iter().zip(costs) {
            let Ok((true, reported)) = checked(stored, "Pässwörd ✓") else {
                panic!("{stored} refused its password");
            };
            assert_eq!(reported, cost, "{stored}");
            assert!(
                matches!(checked(stored, "Pässwörd"), Ok((false, _))),
                "{stored}"
            );
        }
    }

    #[test]
    fn the_stand_in_of_each_cost_is_checked_at_that_cost_and_matches_nothing() {
        for stored in DJANGO_HASHES {
            let Ok((_, cost)) = checked(stored, "Pässwörd ✓") else {
                panic!("{stored} is unusable");
            };
            let stand_in = cost.stand_in();
            let Ok((false, stand_in_cost)) = checked(&stand_in, "Pässwörd ✓") else {
                panic!("{stand_in} did not refuse");
            };
            match (&cost, &stand_in_cost) {
                // The output length is the stand-in's own; the work is the same.
                (Cost::Argon2(a), Cost::Argon2(b)) => assert_eq!(
                    (a.m_cost(), a.t_cost(), a.p_cost()),
                    (b.m_cost(), b.t_cost(), b.p_cost())
                ),
                _ => assert_eq!(cost, stand_in_cost),
            }
        }
    }

    #[test]
    fn unknown_and_unusable_formats_are_unusable() {
        let unusable = [
            "",
            "$",
            "!gg4j1KqhRb6TCqzjHuBQB4N0jDVFuVeKfd8OgDnO",
            "md5$eBSrLAo4hmQI0lKUZ9FcVO$4680c3c85efc15a75c018ee4442f75b5",
            "sha1$salt$0123456789abcdef0123456789abcdef01234567",
            "scrypt$16384$TuCoN5TCJONFssRjoVwAkH$8$5$XVf1dFhfeacXe9KwkdjpDq8ybXPQ5FO9xwGPzLu",
            "argon2",
            "argon2$",
            "argon2$pbkdf2_sha256$1000$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=",
            "PBKDF2_SHA256$1000$s4ltS4LTsalt$qLTnCUkK+aZeh94hd6/MI3Y0sgDoEnILFGzCKzpTetc=",
            "pbkdf2_sha256$",
            "bcrypt_sha256$",
            "bcrypt$2b$04$0yUKzIBg3o3hUxW7pqkcTuK/lZULL/a2i7M3gkzxs16YtWf7O6JRq",
        ];
        for stored in unusable {
            assert!(
                matches!(checked(stored, "Pässwörd ✓"), Err(VerifyError::Unusable)),
                "{stored:?}"
            );
        }
    }
}
