//! The open-loop schedule: the intended start time of every request, fixed
//! before the run starts.
//!
//! Time and arrivals are integers: times in nanoseconds from the start of the
//! run, and the expected number of arrivals in "nano-arrivals" (10⁻⁹ of a
//! request). A constant-rate segment is exact integer arithmetic; a ramp solves
//! its quadratic afresh for every request. Nothing accumulates float steps.

use std::time::Duration;

use crate::rng::Rng;
use crate::scenario::{Arrival, Stage};

const NANO: u128 = 1_000_000_000;

/// One piece of the schedule: the rate goes linearly from `r0` to `r1`
/// (requests/s) over `len_ns`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start_ns: u64,
    len_ns: u64,
    r0: u64,
    r1: u64,
    /// Expected arrivals before this segment, in nano-arrivals.
    before: u128,
}

impl Segment {
    /// Expected arrivals within the segment, in nano-arrivals.
    fn arrivals(&self) -> u128 {
        // ∫ rate dt over len_ns = (r0 + r1) / 2 · len_ns · 10⁻⁹ requests.
        (u128::from(self.r0) + u128::from(self.r1)) * u128::from(self.len_ns) / 2
    }

    /// The time (ns from the segment start) at which `x` nano-arrivals of
    /// this segment have been reached.
    fn offset_of(&self, x: u128) -> u64 {
        if self.r0 == self.r1 {
            // r > 0 here: a constant segment of rate 0 has no arrivals.
            return u64::try_from(x / u128::from(self.r0)).unwrap_or(u64::MAX);
        }
        // n(τ) = r0·τ + (r1 − r0)·τ²/(2L), τ and L in seconds; solve n(τ) = c
        // in the form that stays stable when r1 ≈ r0 or r0 = 0.
        let c = x as f64 / NANO as f64;
        let len = self.len_ns as f64 / NANO as f64;
        let a = (self.r1 as f64 - self.r0 as f64) / (2.0 * len);
        let b = self.r0 as f64;
        let disc = (b * b + 4.0 * a * c).max(0.0);
        let tau = 2.0 * c / (b + disc.sqrt());
        ((tau * NANO as f64).round() as u64).min(self.len_ns)
    }
}

/// The whole open-loop plan: warm-up, then the measured stages.
#[derive(Debug, Clone)]
pub struct Plan {
    segments: Vec<Segment>,
    /// Where the measured window starts (the end of the warm-up).
    pub measure_start_ns: u64,
    /// Where the schedule ends.
    pub end_ns: u64,
    total: u128,
}

impl Plan {
    /// Warm-up at the first stage's rate, then `stages`. A ramp starts from the
    /// previous measured stage's rate (0 for the first).
    pub fn new(stages: &[Stage], warmup: Duration) -> Self {
        let mut segments = Vec::with_capacity(stages.len() + 1);
        let mut at = 0u64;
        let mut before = 0u128;
        let mut push = |r0: u64, r1: u64, len: Duration, at: &mut u64, before: &mut u128| {
            let len_ns = u64::try_from(len.as_nanos()).unwrap_or(u64::MAX);
            if len_ns == 0 {
                return;
            }
            let seg = Segment {
                start_ns: *at,
                len_ns,
                r0,
                r1,
                before: *before,
            };
            *before += seg.arrivals();
            *at += len_ns;
            segments.push(seg);
        };
        if let Some(first) = stages.first() {
            push(first.rate, first.rate, warmup, &mut at, &mut before);
        }
        let measure_start_ns = at;
        let mut previous = 0;
        for stage in stages {
            let r0 = if stage.ramp { previous } else { stage.rate };
            push(r0, stage.rate, stage.duration, &mut at, &mut before);
            previous = stage.rate;
        }
        Self {
            segments,
            measure_start_ns,
            end_ns: at,
            total: before,
        }
    }

    /// A window with no arrivals (closed loop): warm-up, then `duration`.
    pub fn window(warmup: Duration, duration: Duration) -> Self {
        let measure_start_ns = u64::try_from(warmup.as_nanos()).unwrap_or(u64::MAX);
        let len = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self {
            segments: Vec::new(),
            measure_start_ns,
            end_ns: measure_start_ns.saturating_add(len),
            total: 0,
        }
    }

    /// The time at which `x` nano-arrivals have been reached, or None past the end.
    fn time_of(&self, x: u128) -> Option<u64> {
        if x >= self.total {
            return None;
        }
        let i = self
            .segments
            .partition_point(|s| s.before + s.arrivals() <= x);
        let seg = &self.segments[i];
        Some(seg.start_ns + seg.offset_of(x - seg.before))
    }

    /// Requests the measured window expects (the warm-up excluded), rounded down.
    pub fn measured_requests(&self) -> u64 {
        u64::try_from((self.total - self.warm_arrivals()) / NANO).unwrap_or(u64::MAX)
    }

    /// Offered rate of the measured window, requests/s.
    pub fn offered_rps(&self) -> f64 {
        let secs = (self.end_ns - self.measure_start_ns) as f64 / 1e9;
        if secs == 0.0 {
            0.0
        } else {
            (self.total - self.warm_arrivals()) as f64 / NANO as f64 / secs
        }
    }

    fn warm_arrivals(&self) -> u128 {
        self.segments
            .iter()
            .take_while(|s| s.start_ns < self.measure_start_ns)
            .map(Segment::arrivals)
            .sum()
    }

    /// The share of the schedule that worker `worker` of `workers` sends.
    pub fn worker(&self, arrival: Arrival, worker: usize, workers: usize, seed: u64) -> Schedule {
        Schedule {
            plan: self.clone(),
            arrival,
            workers: workers as u128,
            k: worker as u128,
            x: 0,
            rng: Rng::new(seed ^ 0x5ced_u64.wrapping_mul(worker as u64 + 1)),
        }
    }
}

/// Intended start times for one worker, in order.
///
/// Uniform: worker `w` of `W` takes requests `w, w+W, w+2W…` of the global
/// evenly spaced sequence. Poisson: each worker runs its own Poisson process at
/// 1/W of the rate; their superposition is a Poisson process at the full rate.
#[derive(Debug, Clone)]
pub struct Schedule {
    plan: Plan,
    arrival: Arrival,
    workers: u128,
    /// Uniform: the next global request index.
    k: u128,
    /// Poisson: the next arrival, in nano-arrivals.
    x: u128,
    rng: Rng,
}

impl Iterator for Schedule {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        match self.arrival {
            Arrival::Uniform => {
                let t = self.plan.time_of(self.k * NANO)?;
                self.k += self.workers;
                Some(t)
            }
            Arrival::Poisson => {
                // Exponential gap with mean W requests, drawn as −ln(U), U in (0, 1].
                let u = ((self.rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
                let gap = (-u.ln() * self.workers as f64 * NANO as f64).round() as u128;
                self.x += gap;
                self.plan.time_of(self.x)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(rate: u64, secs: u64, ramp: bool) -> Stage {
        Stage {
            rate,
            duration: Duration::from_secs(secs),
            ramp,
        }
    }

    #[test]
    fn uniform_is_evenly_spaced_in_exact_nanoseconds() {
        let plan = Plan::new(&[stage(3, 2, false)], Duration::ZERO);
        let times: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
        assert_eq!(
            times,
            vec![
                0,
                333_333_333,
                666_666_666,
                1_000_000_000,
                1_333_333_333,
                1_666_666_666
            ]
        );
        assert_eq!(plan.measured_requests(), 6);
        assert_eq!(plan.end_ns, 2_000_000_000);
    }

    #[test]
    fn a_long_uniform_run_does_not_drift() {
        let plan = Plan::new(&[stage(30_000, 60, false)], Duration::ZERO);
        let times: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
        assert_eq!(times.len(), 1_800_000);
        // Request i is at exactly i·10⁹/30000 ns, however far in.
        for (i, &t) in times.iter().enumerate().step_by(99_991) {
            assert_eq!(u128::from(t), i as u128 * NANO / 30_000);
        }
    }

    #[test]
    fn workers_share_the_uniform_sequence_without_overlap() {
        let plan = Plan::new(&[stage(1000, 1, false)], Duration::ZERO);
        let mut all: Vec<u64> = (0..3)
            .flat_map(|w| plan.worker(Arrival::Uniform, w, 3, 1).collect::<Vec<_>>())
            .collect();
        all.sort_unstable();
        let single: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
        assert_eq!(all, single);
    }

    #[test]
    fn warmup_runs_at_the_first_rate_and_is_excluded_from_the_count() {
        let plan = Plan::new(&[stage(100, 2, false)], Duration::from_secs(1));
        assert_eq!(plan.measure_start_ns, 1_000_000_000);
        assert_eq!(plan.end_ns, 3_000_000_000);
        let times: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
        assert_eq!(times.len(), 300);
        assert_eq!(
            times
                .iter()
                .filter(|&&t| t >= plan.measure_start_ns)
                .count(),
            200
        );
        assert_eq!(plan.measured_requests(), 200);
        assert!((plan.offered_rps() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn steps_and_ramps_follow_the_integral_of_the_rate() {
        // 500/s for 2 s, then a ramp from 500 to 1500 over 2 s (2000 requests), then 1500 for 1 s.
        let plan = Plan::new(
            &[
                stage(500, 2, false),
                stage(1500, 2, true),
                stage(1500, 1, false),
            ],
            Duration::ZERO,
        );
        let times: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
        assert_eq!(times.len(), 1000 + 2000 + 1500);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        let in_window = |a: f64, b: f64| {
            times
                .iter()
                .filter(|&&t| t as f64 >= a * 1e9 && (t as f64) < b * 1e9)
                .count()
        };
        assert_eq!(in_window(0.0, 2.0), 1000);
        // First second of the ramp: ∫ from 500 to 1000 = 750 requests.
        let first = in_window(2.0, 3.0);
        assert!((749..=751).contains(&first), "{first}");
        let second = in_window(3.0, 4.0);
        assert!((1249..=1251).contains(&second), "{second}");
        assert_eq!(in_window(4.0, 5.0), 1500);
    }

    #[test]
    fn a_ramp_from_zero_starts_slowly() {
        let plan = Plan::new(&[stage(1000, 1, true)], Duration::ZERO);
        let times: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
        assert_eq!(times.len(), 500);
        // n(t) = 500 t², so request 125 is at t = 0.5 s.
        assert!(
            (times[125] as i64 - 500_000_000).abs() < 1_000,
            "{}",
            times[125]
        );
    }

    #[test]
    fn poisson_has_the_right_count_and_exponential_gaps() {
        let plan = Plan::new(&[stage(10_000, 10, false)], Duration::ZERO);
        let times: Vec<u64> = plan.worker(Arrival::Poisson, 0, 1, 7).collect();
        // 100,000 expected; the standard deviation is about 316.
        assert!((98_500..=101_500).contains(&times.len()), "{}", times.len());
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 100_000.0).abs() < 2_000.0, "mean gap {mean}");
        // Exponential: the coefficient of variation is 1 (uniform spacing gives 0).
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((0.95..1.05).contains(&cv), "cv {cv}");
        // P(gap > mean) = 1/e for an exponential.
        let above = gaps.iter().filter(|&&g| g > mean).count() as f64 / gaps.len() as f64;
        assert!((above - (-1f64).exp()).abs() < 0.01, "{above}");
    }

    #[test]
    fn poisson_is_reproducible_per_seed_and_split_across_workers() {
        let plan = Plan::new(&[stage(2_000, 5, false)], Duration::ZERO);
        let a: Vec<u64> = plan.worker(Arrival::Poisson, 0, 1, 3).collect();
        let b: Vec<u64> = plan.worker(Arrival::Poisson, 0, 1, 3).collect();
        let c: Vec<u64> = plan.worker(Arrival::Poisson, 0, 1, 4).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let split: usize = (0..4)
            .map(|w| plan.worker(Arrival::Poisson, w, 4, 3).count())
            .sum();
        assert!((9_500..=10_500).contains(&split), "{split}");
    }

    /// Properties over generated plans: any stages, ramps, warm-up, arrival
    /// process, seed and worker count.
    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// 1 to 3 stages, some of them ramps, at up to 200,000 requests/s
        /// over any nanosecond count up to 2 s, and up to 1 s of warm-up.
        /// Each stage holds at most 5,000 requests (and the warm-up 5,000
        /// more), cheap enough for a debug build.
        fn plan_input() -> impl Strategy<Value = (Vec<Stage>, Duration)> {
            let stage = prop_oneof![1u64..=2000, 1u64..=200_000]
                .prop_flat_map(|rate| {
                    let max_ns = (5_000 * NANO as u64 / rate).min(2_000_000_000);
                    (Just(rate), 1..=max_ns, any::<bool>())
                })
                .prop_map(|(rate, ns, ramp)| Stage {
                    rate,
                    duration: Duration::from_nanos(ns),
                    ramp,
                });
            prop::collection::vec(stage, 1..=3).prop_flat_map(|mut stages| {
                // A ramp down from a high rate holds more: shorten it.
                let mut previous = 0;
                for s in &mut stages {
                    let r0 = if s.ramp { previous } else { s.rate };
                    let max_ns = 10_000 * NANO as u64 / (r0 + s.rate);
                    s.duration = s.duration.min(Duration::from_nanos(max_ns));
                    previous = s.rate;
                }
                let max_ns = (5_000 * NANO as u64 / stages[0].rate).min(1_000_000_000);
                (Just(stages), (0..=max_ns).prop_map(Duration::from_nanos))
            })
        }

        /// (start, end, r0, r1) of each piece of the plan, recomputed from
        /// the stages as `Plan::new` documents them.
        fn pieces(stages: &[Stage], warmup: Duration) -> Vec<(u128, u128, u128, u128)> {
            let mut out = Vec::new();
            let mut at = warmup.as_nanos();
            if at > 0 {
                out.push((
                    0,
                    at,
                    u128::from(stages[0].rate),
                    u128::from(stages[0].rate),
                ));
            }
            let mut previous = 0;
            for s in stages {
                let r0 = if s.ramp { previous } else { s.rate };
                let end = at + s.duration.as_nanos();
                out.push((at, end, u128::from(r0), u128::from(s.rate)));
                at = end;
                previous = s.rate;
            }
            out
        }

        /// Expected arrivals before time `t` (ns), times 2·10⁹ so that it is
        /// an exact integer: ∫ rate over each piece is (r0 + r1)·len / 2.
        fn expected_2e9(pieces: &[(u128, u128, u128, u128)], t: f64) -> f64 {
            let mut sum = 0.0;
            for &(start, end, r0, r1) in pieces {
                let (start, end) = (start as f64, end as f64);
                if t <= start {
                    break;
                }
                let len = end - start;
                let tau = t.min(end) - start;
                // n(τ) = r0·τ + (r1 − r0)·τ²/(2L), doubled.
                sum += 2.0 * r0 as f64 * tau + (r1 as f64 - r0 as f64) * tau * tau / len;
            }
            sum
        }

        fn ordered(times: &[u64]) -> bool {
            times.windows(2).all(|w| w[0] <= w[1])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn uniform_times_are_ordered_in_the_window_and_follow_the_integral(
                (stages, warmup) in plan_input(),
            ) {
                let plan = Plan::new(&stages, warmup);
                let times: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
                prop_assert!(ordered(&times));
                prop_assert!(times.iter().all(|&t| t <= plan.end_ns), "past {}", plan.end_ns);
                let pieces = pieces(&stages, warmup);
                prop_assert_eq!(u128::from(plan.end_ns), pieces.last().unwrap().1);
                prop_assert_eq!(u128::from(plan.measure_start_ns), warmup.as_nanos());

                // Request k is due once k requests' worth of the integral has
                // passed, so the count is the integral rounded up (each ramp
                // rounds its integral down to whole nano-requests first).
                let twice: u128 = pieces.iter().map(|&(s, e, r0, r1)| (r0 + r1) * (e - s)).sum();
                let exact = twice.div_ceil(2 * NANO);
                let floor = twice / (2 * NANO);
                prop_assert!(
                    (floor..=exact).contains(&(times.len() as u128)),
                    "{} requests, expected {}..={}", times.len(), floor, exact
                );
                // Before every piece boundary and every ramp midpoint, the
                // count follows the integral of the rate to within one.
                let mut marks: Vec<f64> = Vec::new();
                for &(start, end, r0, r1) in &pieces {
                    marks.push(end as f64);
                    if r0 != r1 {
                        marks.push((start + end) as f64 / 2.0);
                    }
                }
                for mark in marks {
                    let want = expected_2e9(&pieces, mark) / (2.0 * NANO as f64);
                    let got = times.iter().filter(|&&t| (t as f64) < mark).count() as f64;
                    prop_assert!(
                        (got - want).abs() <= 1.0 + 1e-6 * want,
                        "{got} requests before {mark} ns, the integral says {want}"
                    );
                }
                // The measured window holds what `measured_requests` says, to
                // within the rounding of where the warm-up ends.
                let measured = times.iter().filter(|&&t| t >= plan.measure_start_ns).count() as i128;
                prop_assert!((measured - i128::from(plan.measured_requests())).abs() <= 1);
            }

            #[test]
            fn uniform_workers_partition_the_schedule(
                (stages, warmup) in plan_input(),
                workers in 1usize..=8,
            ) {
                let plan = Plan::new(&stages, warmup);
                let single: Vec<u64> = plan.worker(Arrival::Uniform, 0, 1, 1).collect();
                for w in 0..workers {
                    // Worker w takes requests w, w + W, w + 2W… of the single sequence.
                    let share: Vec<u64> = plan.worker(Arrival::Uniform, w, workers, 1).collect();
                    let want: Vec<u64> = single.iter().copied().skip(w).step_by(workers).collect();
                    prop_assert_eq!(share, want, "worker {} of {}", w, workers);
                }
            }

            #[test]
            fn poisson_times_are_ordered_in_the_window_reproducible_and_near_the_rate(
                (stages, warmup) in plan_input(),
                workers in 1usize..=4,
                seed in any::<u64>(),
            ) {
                let plan = Plan::new(&stages, warmup);
                let mut total = 0usize;
                for w in 0..workers {
                    let times: Vec<u64> = plan.worker(Arrival::Poisson, w, workers, seed).collect();
                    prop_assert!(ordered(&times), "worker {}", w);
                    prop_assert!(times.iter().all(|&t| t <= plan.end_ns), "worker {}", w);
                    let again: Vec<u64> = plan.worker(Arrival::Poisson, w, workers, seed).collect();
                    prop_assert_eq!(&times, &again, "worker {} is not reproducible", w);
                    total += times.len();
                }
                // The workers' superposition is a Poisson process at the full
                // rate: the count has mean n and standard deviation √n.
                let pieces = pieces(&stages, warmup);
                let n = expected_2e9(&pieces, plan.end_ns as f64) / (2.0 * NANO as f64);
                prop_assert!(
                    (total as f64 - n).abs() <= 6.0 * n.sqrt() + 1.0,
                    "{total} requests, expected {n}"
                );
            }
        }
    }
}
