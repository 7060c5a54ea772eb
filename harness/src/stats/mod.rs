//! Statistics of repeated benchmark runs: every metric (say, p99 latency in
//! µs) has a handful of repetition values per target, 3 in the quick suite.
//! This module summarises them (median, geometric mean, spread, noise flag),
//! puts 95% intervals on Go/Rust and head/base ratios, and turns those
//! intervals into verdicts.
//!
//! A ratio is of geometric means, and its interval is Welch's t-interval on
//! the logarithms: the difference of the two sides' mean logs, ± the Student t
//! quantile (Welch–Satterthwaite degrees of freedom) times its standard error,
//! taken back through `exp`. A row over many scenarios is the mean of their
//! log ratios, with the variances summed and the degrees of freedom pooled the
//! same way ([`geomean_ratio`]).
//!
//! Why not the percentile bootstrap of medians the lab used before: with 3
//! repetitions a side, a resampled median takes one of only 3 values, so the
//! bootstrap cannot see how far the next run may land: its intervals covered
//! a single scenario's true ratio 89.5% of the time instead of 95%, and
//! turned over-wide on aggregates. The t-interval stays at or a little above
//! nominal, with lognormal repetitions and with outliers (coverage figures:
//! reports/README.md; the simulations that produce them: `coverage.rs`).
//!
//! Every function returns `None` rather than panicking on NaN or infinite
//! input, and nothing is random: the same values always give the same interval.

use std::fmt;

use serde::Serialize;

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

    /// An estimate with no width around it: `low == estimate == high`.
    pub fn point(estimate: f64) -> Self {
        Self {
            estimate,
            low: estimate,
            high: estimate,
        }
    }
}

/// The confidence of every interval the reports show.
pub const CONFIDENCE: f64 = 0.95;

/// geomean(num) / geomean(den) with Welch's t-interval on the logs at
/// `confidence` (e.g. 0.95). None with fewer than 2 values on a side (there is
/// no spread to go on), with any value <= 0 or not finite, or with a
/// `confidence` not strictly between 0 and 1. Both sides constant: a
/// zero-width interval.
pub fn ratio_of_geomeans(num: &[f64], den: &[f64], confidence: f64) -> Option<Interval> {
    LogDiff::of(num, den)?.interval(confidence)
}

/// The geometric mean over groups (e.g. scenarios) of each group's
/// geomean(num) / geomean(den), with a t-interval on the mean of the log
/// ratios: its variance is the sum of the groups' variances over K², its
/// degrees of freedom Welch–Satterthwaite over every side of every group.
/// None if there is no group, or if any group would make
/// [`ratio_of_geomeans`] None: the caller leaves such groups out, and says so.
pub fn geomean_ratio(groups: &[(Vec<f64>, Vec<f64>)], confidence: f64) -> Option<Interval> {
    let diffs: Vec<LogDiff> = groups
        .iter()
        .map(|(num, den)| LogDiff::of(num, den))
        .collect::<Option<_>>()?;
    LogDiff::mean(&diffs)?.interval(confidence)
}

/// geomean(num) / geomean(den) as a zero-width interval: for figures measured
/// once (sizes are deterministic), or a ratio shown without a verdict when a
/// side has too few values for an interval. None if a side is empty or has a
/// value <= 0 or not finite.
pub fn point_ratio(num: &[f64], den: &[f64]) -> Option<Interval> {
    let r = geomean(num)? / geomean(den)?;
    (r.is_finite() && r > 0.0).then(|| Interval::point(r))
}

/// A difference of mean logs (num minus den) with what its interval needs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LogDiff {
    mean: f64,
    /// Variance of `mean`: s²/n summed over the sides.
    var: f64,
    /// Σ (s²/n)² / (n − 1) over the sides: the Welch–Satterthwaite denominator.
    var_sq_over_df: f64,
}

impl LogDiff {
    fn of(num: &[f64], den: &[f64]) -> Option<Self> {
        let (num, den) = (LogSide::of(num)?, LogSide::of(den)?);
        Some(Self {
            mean: num.mean - den.mean,
            var: num.var + den.var,
            var_sq_over_df: num.var_sq_over_df + den.var_sq_over_df,
        })
    }

    /// The mean of K differences: a mean of independent estimates, so the
    /// variance is Σ var / K² and each side's term of the degrees of freedom
    /// scales by 1/K⁴.
    fn mean(diffs: &[LogDiff]) -> Option<Self> {
        if diffs.is_empty() {
            return None;
        }
        let k = diffs.len() as f64;
        let sum = |f: fn(&LogDiff) -> f64| diffs.iter().map(f).sum::<f64>();
        Some(Self {
            mean: sum(|d| d.mean) / k,
            var: sum(|d| d.var) / (k * k),
            var_sq_over_df: sum(|d| d.var_sq_over_df) / (k * k * k * k),
        })
    }

    /// Welch–Satterthwaite: (Σ v)² / Σ v²/df.
    fn df(&self) -> f64 {
        self.var * self.var / self.var_sq_over_df
    }

    fn interval(&self, confidence: f64) -> Option<Interval> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return None;
        }
        let estimate = finite(self.mean.exp()).filter(|e| *e > 0.0)?;
        if self.var == 0.0 {
            return Some(Interval::point(estimate));
        }
        let half = t_quantile(0.5 + confidence / 2.0, self.df())? * self.var.sqrt();
        Some(Interval {
            estimate,
            low: (self.mean - half).exp(),
            high: finite((self.mean + half).exp())?,
        })
    }
}

/// One side's mean log, and the variance of that mean.
struct LogSide {
    mean: f64,
    var: f64,
    var_sq_over_df: f64,
}

impl LogSide {
    /// None for fewer than 2 values, or any value <= 0 or not finite.
    fn of(xs: &[f64]) -> Option<Self> {
        if xs.len() < 2 || !all_positive_finite(xs) {
            return None;
        }
        let logs: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
        let n = logs.len() as f64;
        let var = std_dev(&logs)?.powi(2) / n;
        Some(Self {
            mean: mean(&logs)?,
            var,
            var_sq_over_df: var * var / (n - 1.0),
        })
    }
}

/// The `p` quantile of Student's t distribution with `df` degrees of freedom
/// (any real df > 0): the t with P(T <= t) = p. None unless 0 < p < 1 and df
/// is positive and finite. Newton's method on the distribution function (the
/// regularized incomplete beta function), kept inside a bracket, to about 1e-13.
pub fn t_quantile(p: f64, df: f64) -> Option<f64> {
    if !(p > 0.0 && p < 1.0 && df > 0.0 && df.is_finite()) {
        return None;
    }
    if p < 0.5 {
        return t_quantile(1.0 - p, df).map(|t| -t);
    }
    if p == 0.5 {
        return Some(0.0);
    }
    let ln_b = ln_beta(df / 2.0, 0.5);
    // The density, the tail's slope (negated): (1 + t²/df)^(−(df+1)/2) / (√df B).
    let density = |t: f64| (-0.5 * df.ln() - ln_b - (df + 1.0) / 2.0 * (t * t / df).ln_1p()).exp();
    let q = 1.0 - p;
    let (mut lo, mut hi) = (0.0, f64::INFINITY);
    let mut t = 2.0;
    for _ in 0..200 {
        let excess = t_tail(t, df, ln_b) - q;
        if excess == 0.0 {
            return Some(t);
        }
        if excess > 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let newton = t + excess / density(t);
        if (newton - t).abs() <= 1e-14 * t {
            return Some(newton);
        }
        // The tail is convex: from the left Newton never overshoots, and one
        // step from the right lands left of the root (or below 0).
        t = if newton > lo && newton < hi {
            newton
        } else if hi.is_finite() {
            0.5 * (lo + hi)
        } else {
            2.0 * t
        };
        if !t.is_finite() {
            return None;
        }
    }
    Some(t)
}

/// P(T > t) for t >= 0 under Student's t with `df` degrees of freedom:
/// I_x(df/2, 1/2) / 2 with x = df / (df + t²). `ln_b` is ln B(df/2, 1/2).
fn t_tail(t: f64, df: f64, ln_b: f64) -> f64 {
    let t2 = t * t;
    // x and 1 − x each computed directly: neither loses digits to the other.
    0.5 * incomplete_beta(df / 2.0, 0.5, ln_b, df / (df + t2), t2 / (df + t2))
}

/// The regularized incomplete beta function I_x(a, b), with `y` = 1 − x and
/// `ln_b` = ln B(a, b), by its continued fraction (Numerical Recipes, 3rd ed.,
/// §6.4).
fn incomplete_beta(a: f64, b: f64, ln_b: f64, x: f64, y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let front = (a * x.ln() + b * y.ln() - ln_b).exp();
    // The fraction converges fast below this point; above it, by symmetry.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, y) / b
    }
}

/// The continued fraction of I_x(a, b) by Lentz's method.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let nonzero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    // Convergence takes O(√max(a, b)) terms near the switch point: enough for df 10⁷.
    for m in 1..10_000 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / nonzero(1.0 + even * d);
        c = nonzero(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / nonzero(1.0 + odd * d);
        c = nonzero(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln Γ(x) for x > 0: Lanczos' approximation (g = 7, 9 terms), good to about
/// 1e-15, with the reflection formula below 1/2.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    use std::f64::consts::PI;
    if x < 0.5 {
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let series = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
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

/// Which of two targets wins a metric, if either does significantly: the
/// baseline (the ratio's denominator) or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "baseline better")]
    BaselineBetter,
    #[serde(rename = "other better")]
    OtherBetter,
    #[serde(rename = "no significant difference")]
    NoSignificantDifference,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::BaselineBetter => "baseline better",
            Verdict::OtherBetter => "other better",
            Verdict::NoSignificantDifference => "no significant difference",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict for an other/baseline ratio interval: no significant difference when the
/// interval contains 1; otherwise, for Better::Lower a ratio above 1 means the other's value
/// is higher, so the baseline is better; for Better::Higher the reverse.
///
/// An interval with a NaN bound counts as no significant difference.
pub fn verdict(other_over_base: &Interval, better: Better) -> Verdict {
    match (side_of_one(other_over_base), better) {
        (Some(true), Better::Lower) | (Some(false), Better::Higher) => Verdict::BaselineBetter,
        (Some(true), Better::Higher) | (Some(false), Better::Lower) => Verdict::OtherBetter,
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
mod coverage;
#[cfg(test)]
mod tests;
