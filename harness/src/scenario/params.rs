//! The Zipf distribution of `{ zipf = { n, s } }` params: ranks `1..=n` with
//! P(k) proportional to 1/k^s, drawn by inverting a precomputed cumulative table.

use std::fmt;
use std::sync::Arc;

use crate::rng::Rng;

/// The largest `n` a zipf param may have (its table is `n` floats).
pub const ZIPF_MAX_N: u64 = 1_000_000;

#[derive(Clone)]
pub struct Zipf {
    s: f64,
    /// `cdf[k - 1]` = P(rank <= k); the last entry is exactly 1. Shared, so
    /// that cloning a scenario per worker does not copy it.
    cdf: Arc<[f64]>,
}

impl Zipf {
    /// `n` in `1..=ZIPF_MAX_N`, `s` finite and > 0.
    pub fn new(n: u64, s: f64) -> Result<Self, String> {
        if !(1..=ZIPF_MAX_N).contains(&n) {
            return Err(format!("zipf n must be in 1..={ZIPF_MAX_N}, got {n}"));
        }
        if !(s.is_finite() && s > 0.0) {
            return Err(format!("zipf s must be a number > 0, got {s}"));
        }
        let mut cdf = Vec::with_capacity(n as usize);
        let mut total = 0.0;
        for k in 1..=n {
            total += (k as f64).powf(-s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        // Rounding could leave the last entry a hair under 1.
        *cdf.last_mut().expect("n >= 1") = 1.0;
        Ok(Self { s, cdf: cdf.into() })
    }

    /// A rank in `1..=n`.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        // 53 random bits: uniform in [0, 1), every value a multiple of 2^-53.
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        // The first k whose cdf exceeds u; u < 1 = the last entry, so one exists.
        let i = self.cdf.partition_point(|&c| c <= u);
        (i.min(self.cdf.len() - 1) + 1) as u64
    }
}

// The table can be a million entries: show what defines it instead.
impl fmt::Debug for Zipf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Zipf")
            .field("n", &self.cdf.len())
            .field("s", &self.s)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(zipf: &Zipf, seed: u64, count: usize) -> Vec<u64> {
        let mut rng = Rng::new(seed);
        (0..count).map(|_| zipf.sample(&mut rng)).collect()
    }

    #[test]
    fn rejects_bad_n_and_s() {
        assert!(Zipf::new(0, 1.0).is_err());
        assert!(Zipf::new(ZIPF_MAX_N + 1, 1.0).is_err());
        assert!(Zipf::new(ZIPF_MAX_N, 1.0).is_ok());
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Zipf::new(10, s).is_err(), "{s}");
        }
    }

    #[test]
    fn deterministic_per_seed_and_in_range() {
        let zipf = Zipf::new(1000, 1.1).unwrap();
        let a = draws(&zipf, 5, 10_000);
        assert_eq!(a, draws(&zipf, 5, 10_000));
        assert_ne!(a, draws(&zipf, 6, 10_000));
        assert!(a.iter().all(|k| (1..=1000).contains(k)));
        let one = Zipf::new(1, 2.0).unwrap();
        assert!(draws(&one, 1, 100).iter().all(|&k| k == 1));
    }

    #[test]
    fn frequencies_follow_the_law() {
        let (n, s, count) = (100u64, 1.1, 200_000usize);
        let zipf = Zipf::new(n, s).unwrap();
        let mut freq = vec![0usize; n as usize + 1];
        for k in draws(&zipf, 42, count) {
            freq[k as usize] += 1;
        }
        let h: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        // Binomial standard deviation is at most sqrt(0.25 / count) ~ 0.0011;
        // 0.005 is over 4 of them, and the draw is seeded, so never flaky.
        for k in [1, 2, 3, 10, 50, 100] {
            let expected = (k as f64).powf(-s) / h;
            let got = freq[k] as f64 / count as f64;
            assert!(
                (got - expected).abs() < 0.005,
                "rank {k}: {got} vs {expected}"
            );
        }
        let most = (1..=n as usize).max_by_key(|&k| freq[k]).unwrap();
        assert_eq!(most, 1);
        assert!(freq[1] > freq[2] && freq[2] > freq[3]);
    }

    #[test]
    fn clones_share_the_table() {
        let zipf = Zipf::new(10_000, 1.0).unwrap();
        let copy = zipf.clone();
        assert!(Arc::ptr_eq(&zipf.cdf, &copy.cdf));
        assert_eq!(format!("{copy:?}"), "Zipf { n: 10000, s: 1.0 }");
    }
}
