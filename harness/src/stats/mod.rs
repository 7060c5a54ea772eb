//! Statistics of repeated benchmark runs: every metric (say, p99 latency in
//! µs) has a handful of repetition values per target, typically 3–10. This
//! module summarises them (median, spread, noise flag), puts percentile
//! bootstrap intervals on Go/Rust and head/base ratios, and turns those
//! intervals into verdicts.
//!
//! Ratios are of medians, not means: with so few repetitions one slow run
//! would move a mean a lot and a median hardly at all.
//!
//! Every function returns `None` rather than panicking on NaN or infinite
//! input, and the bootstrap is seeded by the lab's own [`Rng`], so the same
//! values and seed always give the same interval.

use std::fmt;

use serde::Serialize;

use crate::rng::Rng;

/// Median; the mean of the two middle values for an even count. None if empty or any value is NaN.
/// Also None if any value is infinite, like every function here.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || !all_finite(xs) {
        return None;
    }
    let mut buf = xs.to_vec();
    Some(median_in_place(&mut buf))
}

/// Arithmetic mean. None if empty, any value is not finite, or the sum overflows.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || !all_finite(xs) {
        return None;
    }
    finite(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (n − 1). None for fewer than 2 values.
/// Also None if any value is not finite.
pub fn std_dev(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    // Two passes (mean first) rather than sum-of-squares: no cancellation.
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    finite((ss / (xs.len() - 1) as f64).sqrt())
}

/// Coefficient of variation: sample std dev / |mean|. None for < 2 values or a zero mean.
pub fn cv(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    if m == 0.0 {
        return None;
    }
    finite(std_dev(xs)? / m.abs())
}

/// A metric whose CV across repetitions exceeds this is flagged "noisy".
pub const NOISY_CV: f64 = 0.10;

/// True when the CV is strictly above [`NOISY_CV`]; false when there is no CV
/// (fewer than 2 values, a zero mean, non-finite input).
pub fn is_noisy(xs: &[f64]) -> bool {
    cv(xs).is_some_and(|c| c > NOISY_CV)
}

/// Geometric mean of positive values; None if empty or any value <= 0.
/// Also None if any value is not finite.
pub fn geomean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || !all_positive_finite(xs) {
        return None;
    }
    // Through logarithms: a product of many values could overflow.
    let log_mean = xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64;
    finite(log_mean.exp())
}

/// A point estimate with a confidence interval around it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// `low <= x <= high` (false for NaN).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Parameters of a percentile bootstrap. The functions taking one return
/// `None` when `resamples` is 0 or `confidence` is not strictly between 0 and 1.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    pub resamples: usize,
    /// Two-sided, e.g. 0.95 for the 2.5th to 97.5th percentile.
    pub confidence: f64,
    pub seed: u64,
}

impl Default for Bootstrap {
    /// 10 000 resamples, 95 %, seed 1.
    fn default() -> Self {
        Self {
            resamples: 10_000,
            confidence: 0.95,
            seed: 1,
        }
    }
}

impl Bootstrap {
    fn is_valid(&self) -> bool {
        self.resamples > 0 && self.confidence > 0.0 && self.confidence < 1.0
    }
}

/// median(num) / median(den) with a percentile-bootstrap interval: each resample draws
/// num and den independently with replacement (same sizes), and takes the ratio of the
/// resampled medians. None if either side is empty or a median is <= 0.
///
/// Stricter than that: None if any value is <= 0 or not finite, because a
/// zero or negative value could make a resampled median <= 0 and the ratio
/// meaningless. Ratios are for positive metrics (latency, throughput, bytes).
pub fn ratio_of_medians(num: &[f64], den: &[f64], b: &Bootstrap) -> Option<Interval> {
    if !b.is_valid() || !valid_side(num) || !valid_side(den) {
        return None;
    }
    let mut num_buf = num.to_vec();
    let mut den_buf = den.to_vec();
    let estimate = median_in_place(&mut num_buf) / median_in_place(&mut den_buf);
    if !estimate.is_finite() || estimate <= 0.0 {
        return None;
    }
    bootstrap(b, estimate, |rng| {
        // Draw order (all of num, then all of den) is part of the determinism contract.
        resample(rng, num, &mut num_buf);
        resample(rng, den, &mut den_buf);
        median_in_place(&mut num_buf) / median_in_place(&mut den_buf)
    })
}

/// Geometric mean over groups (e.g. scenarios) of median(num_g)/median(den_g), with a
/// percentile-bootstrap interval where every resample redraws every group's num and den.
/// Groups where either side is empty are skipped; None if no group is left or a median is <= 0.
///
/// As with [`ratio_of_medians`], None if any value of a kept group is <= 0 or not finite.
pub fn geomean_ratio(groups: &[(Vec<f64>, Vec<f64>)], b: &Bootstrap) -> Option<Interval> {
    if !b.is_valid() {
        return None;
    }
    let kept: Vec<(&[f64], &[f64])> = groups
        .iter()
        .filter(|(num, den)| !num.is_empty() && !den.is_empty())
        .map(|(num, den)| (num.as_slice(), den.as_slice()))
        .collect();
    if kept.is_empty() || !kept.iter().all(|(n, d)| valid_side(n) && valid_side(d)) {
        return None;
    }
    let longest = kept
        .iter()
        .map(|(n, d)| n.len().max(d.len()))
        .max()
        .unwrap_or(0);
    let mut num_buf = vec![0.0; longest];
    let mut den_buf = vec![0.0; longest];
    let k = kept.len() as f64;

    let mut log_sum = 0.0;
    for (num, den) in &kept {
        let n = &mut num_buf[..num.len()];
        let d = &mut den_buf[..den.len()];
        n.copy_from_slice(num);
        d.copy_from_slice(den);
        log_sum += (median_in_place(n) / median_in_place(d)).ln();
    }
    let estimate = (log_sum / k).exp();
    if !estimate.is_finite() || estimate <= 0.0 {
        return None;
    }
    bootstrap(b, estimate, |rng| {
        let mut log_sum = 0.0;
        for (num, den) in &kept {
            let n = &mut num_buf[..num.len()];
            let d = &mut den_buf[..den.len()];
            resample(rng, num, n);
            resample(rng, den, d);
            log_sum += (median_in_place(n) / median_in_place(d)).ln();
        }
        (log_sum / k).exp()
    })
}

/// Which direction of a metric is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Latency, memory, size.
    Lower,
    /// Throughput.
    Higher,
}

/// Which target wins a metric, if either does significantly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "Rust better")]
    RustBetter,
    #[serde(rename = "Go better")]
    GoBetter,
    #[serde(rename = "no significant difference")]
    NoSignificantDifference,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::RustBetter => "Rust better",
            Verdict::GoBetter => "Go better",
            Verdict::NoSignificantDifference => "no significant difference",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict for a Go/Rust ratio interval: no significant difference when the interval
/// contains 1; otherwise, for Better::Lower a ratio above 1 means Go's value is higher, so
/// Rust is better; for Better::Higher the reverse.
///
/// An interval with a NaN bound counts as no significant difference.
pub fn verdict(go_over_rust: &Interval, better: Better) -> Verdict {
    match (side_of_one(go_over_rust), better) {
        (Some(true), Better::Lower) | (Some(false), Better::Higher) => Verdict::RustBetter,
        (Some(true), Better::Higher) | (Some(false), Better::Lower) => Verdict::GoBetter,
        (None, _) => Verdict::NoSignificantDifference,
    }
}

/// What a change from base to head did to a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Change {
    #[serde(rename = "regression")]
    Regression,
    #[serde(rename = "improvement")]
    Improvement,
    #[serde(rename = "no change")]
    NoChange,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Regression => "regression",
            Change::Improvement => "improvement",
            Change::NoChange => "no change",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// For `harness compare`: head/base interval. A regression when the whole interval lies on
/// the worse side of 1 AND the estimate moved by more than `threshold` (a fraction, e.g.
/// 0.05) in the worse direction; an improvement symmetrically; otherwise no change.
///
/// Both conditions, because with many metrics a tiny but "significant" shift
/// is common and not worth a failed comparison. "More than" is strict: an
/// estimate of exactly `1 + threshold` is no change.
pub fn change(head_over_base: &Interval, better: Better, threshold: f64) -> Change {
    let e = head_over_base.estimate;
    let (went_up, went_down) = (e > 1.0 + threshold, e < 1.0 - threshold);
    match (side_of_one(head_over_base), better) {
        (Some(true), Better::Lower) if went_up => Change::Regression,
        (Some(false), Better::Higher) if went_down => Change::Regression,
        (Some(false), Better::Lower) if went_down => Change::Improvement,
        (Some(true), Better::Higher) if went_up => Change::Improvement,
        _ => Change::NoChange,
    }
}

/// Some(true) when the whole interval is above 1, Some(false) when wholly
/// below, None when it contains 1 (or a bound is NaN).
fn side_of_one(i: &Interval) -> Option<bool> {
    if i.low > 1.0 {
        Some(true)
    } else if i.high < 1.0 {
        Some(false)
    } else {
        None
    }
}

/// Runs `b.resamples` resamples of `stat` and returns the percentile interval
/// around `estimate`. None if any resampled statistic is not finite.
fn bootstrap(
    b: &Bootstrap,
    estimate: f64,
    mut stat: impl FnMut(&mut Rng) -> f64,
) -> Option<Interval> {
    let mut rng = Rng::new(b.seed);
    let mut stats = Vec::with_capacity(b.resamples);
    for _ in 0..b.resamples {
        let s = stat(&mut rng);
        if !s.is_finite() {
            return None;
        }
        stats.push(s);
    }
    stats.sort_unstable_by(f64::total_cmp);
    let alpha = 1.0 - b.confidence;
    Some(Interval {
        estimate,
        low: quantile_sorted(&stats, alpha / 2.0),
        high: quantile_sorted(&stats, 1.0 - alpha / 2.0),
    })
}

/// The `p` quantile of sorted, non-empty `xs` by linear interpolation between
/// order statistics at position `p * (n - 1)` (Hyndman & Fan type 7, the
/// default of R and NumPy).
fn quantile_sorted(xs: &[f64], p: f64) -> f64 {
    let h = p.clamp(0.0, 1.0) * (xs.len() - 1) as f64;
    let lo = h.floor() as usize;
    match xs.get(lo + 1) {
        // `x + f * (y - x)` so that equal neighbours give exactly x: a
        // degenerate bootstrap gives exactly the estimate.
        Some(&next) => xs[lo] + (h - lo as f64) * (next - xs[lo]),
        None => xs[lo],
    }
}

/// Fills `out` with `out.len()` draws from `xs` with replacement.
fn resample(rng: &mut Rng, xs: &[f64], out: &mut [f64]) {
    let n = xs.len() as u64;
    for slot in out {
        *slot = xs[rng.below(n) as usize];
    }
}

/// Median of non-empty, NaN-free `xs`; reorders `xs`.
fn median_in_place(xs: &mut [f64]) -> f64 {
    // A full sort: n is small, and it gives both middle values at once.
    xs.sort_unstable_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

fn valid_side(xs: &[f64]) -> bool {
    !xs.is_empty() && all_positive_finite(xs)
}

fn all_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

fn all_positive_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite() && *x > 0.0)
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests;
