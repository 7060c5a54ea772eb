//! `startup[]` of results.json: `harness startup`'s times, one entry per target.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One target's startup and stop times (reports/README.md). Fields marked
/// `default` may be missing from files written by older harnesses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartupRecord {
    pub target: String,
    pub runs: usize,
    #[serde(default)]
    pub server_cpus: Vec<usize>,
    #[serde(default)]
    pub loadgen_cpus: Vec<usize>,
    #[serde(default)]
    pub workers: usize,
    /// What run 1 started from: whether the binary was evicted from the page cache.
    pub cache: String,
    #[serde(default)]
    pub poll_interval_us: u64,
    /// Spawn to both HTTP and gRPC ready (the later of the two; HTTP alone
    /// for a target that serves no gRPC).
    pub ready_ms: StartupStats,
    /// Spawn to the first `GET /health` answered 200.
    #[serde(default)]
    pub http_ready_ms: StartupStats,
    /// Spawn to the first gRPC health check answered SERVING; null for a
    /// target that serves no gRPC (targets.toml `protocols`), whose gRPC
    /// readiness is not polled.
    #[serde(default)]
    pub grpc_ready_ms: Option<StartupStats>,
    /// SIGTERM to the process reaped.
    pub exit_ms: StartupStats,
    #[serde(default)]
    pub placement_warnings: Vec<String>,
}

/// Milliseconds with microsecond precision. Percentiles are nearest-rank:
/// the p-th percentile of n samples is the ⌈p·n/100⌉-th smallest, so it is
/// always one of the samples (n = 20: p50 is the 10th, p90 the 18th).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartupStats {
    #[serde(default)]
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub max: f64,
    /// In run order: `samples[0]` is the cold run.
    pub samples: Vec<f64>,
}

impl StartupStats {
    /// `None` without samples.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let samples: Vec<f64> = samples.iter().map(|d| millis(*d)).collect();
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            min: *sorted.first()?,
            p50: nearest_rank(&sorted, 50),
            p90: nearest_rank(&sorted, 90),
            max: *sorted.last()?,
            samples,
        })
    }
}

/// The `percent`-th percentile of non-empty `sorted` by the nearest-rank rule.
fn nearest_rank(sorted: &[f64], percent: usize) -> f64 {
    let rank = (percent * sorted.len())
        .div_ceil(100)
        .clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Whole microseconds, as milliseconds.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        // 1..=20 in reverse run order: p50 is the 10th smallest, p90 the 18th.
        let samples: Vec<u64> = (1..=20).rev().collect();
        let stats = StartupStats::of(&ms(&samples)).unwrap();
        assert_eq!(
            (stats.min, stats.p50, stats.p90, stats.max),
            (1.0, 10.0, 18.0, 20.0)
        );
        assert_eq!(stats.samples[0], 20.0, "samples stay in run order");
        let one = StartupStats::of(&ms(&[7])).unwrap();
        assert_eq!((one.min, one.p50, one.p90, one.max), (7.0, 7.0, 7.0, 7.0));
        let three = StartupStats::of(&ms(&[30, 10, 20])).unwrap();
        // ⌈1.5⌉ = 2nd and ⌈2.7⌉ = 3rd smallest.
        assert_eq!((three.p50, three.p90), (20.0, 30.0));
        let ten = StartupStats::of(&ms(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).unwrap();
        assert_eq!((ten.p50, ten.p90), (5.0, 9.0));
        assert!(StartupStats::of(&[]).is_none());
    }

    #[test]
    fn samples_keep_microseconds() {
        let stats = StartupStats::of(&[Duration::from_nanos(12_345_678)]).unwrap();
        assert_eq!(stats.samples, vec![12.345]);
        assert_eq!(millis(Duration::from_micros(999)), 0.999);
    }
}
