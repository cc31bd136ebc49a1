use std::time::SystemTime;

use rand::rngs::OsRng;
use rand::Rng;

use super::otp_strategy::OtpStrategy;

/// Uniformly random decimal digits from the OS's CSPRNG: the simplest and most direct code,
/// and the only one that goes up to 10 digits.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomCodeStrategy;

impl OtpStrategy for RandomCodeStrategy {
    fn generate(&self, digits: u8, _now: SystemTime) -> String {
        (0..digits)
            .map(|_| char::from(b'0' + OsRng.gen_range(0..10u8)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_roughly_uniform() {
        let mut counts = [0u32; 10];
        for _ in 0..2_000 {
            for b in RandomCodeStrategy.generate(10, SystemTime::now()).bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        // 20 000 digits: each of 10 values expects 2 000; 1 700..2 300 is > 7 sigma wide.
        assert!(
            counts.iter().all(|c| (1_700..2_300).contains(c)),
            "{counts:?}"
        );
    }
}
