use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

fn iv(estimate: f64, low: f64, high: f64) -> Interval {
    Interval {
        estimate,
        low,
        high,
    }
}

/// A standard normal draw (Box–Muller, cosine branch only).
fn normal(rng: &mut Rng) -> f64 {
    // 53 random bits in (0, 1]: never 0, so the log is finite.
    let u1 = 1.0 - (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `n` draws from a lognormal whose log is N(mu, sigma²): median e^mu.
fn lognormal(rng: &mut Rng, n: usize, mu: f64, sigma: f64) -> Vec<f64> {
    (0..n).map(|_| (mu + sigma * normal(rng)).exp()).collect()
}

#[test]
fn median_odd_even_and_empty() {
    // Odd: sorted [1, 3, 7] -> 3.
    assert_eq!(median(&[7.0, 1.0, 3.0]), Some(3.0));
    // Even: sorted [1, 2, 4, 10] -> (2 + 4) / 2 = 3.
    assert_eq!(median(&[10.0, 2.0, 1.0, 4.0]), Some(3.0));
    // [2,4,4,4,5,5,7,9]: middle values 4 and 5 -> 4.5.
    assert_eq!(median(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), Some(4.5));
    assert_eq!(median(&[42.0]), Some(42.0));
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[1.0, f64::NAN, 3.0]), None);
    assert_eq!(median(&[1.0, f64::INFINITY, 3.0]), None);
}

#[test]
fn mean_std_dev_cv_by_hand() {
    let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
    // Sum 40, n 8 -> mean 5.
    assert_eq!(mean(&xs), Some(5.0));
    // Squared deviations 9+1+1+1+0+0+4+16 = 32; sample variance 32/7.
    let sd = std_dev(&xs).unwrap();
    assert!(close(sd, (32.0f64 / 7.0).sqrt()), "{sd}");
    // cv = sqrt(32/7) / 5 ≈ 0.4276.
    let c = cv(&xs).unwrap();
    assert!(close(c, (32.0f64 / 7.0).sqrt() / 5.0), "{c}");

    // Negative mean: |mean| in the denominator. [-1, -3]: mean -2, sd sqrt(2).
    assert!(close(cv(&[-1.0, -3.0]).unwrap(), 2f64.sqrt() / 2.0));

    assert_eq!(mean(&[]), None);
    assert_eq!(mean(&[1.0, f64::NAN]), None);
    assert_eq!(mean(&[f64::MAX, f64::MAX]), None, "overflowing sum");
    assert_eq!(std_dev(&[3.0]), None);
    assert_eq!(std_dev(&[]), None);
    assert_eq!(std_dev(&[1.0, f64::NEG_INFINITY]), None);
    assert_eq!(std_dev(&[4.0, 4.0]), Some(0.0));
    assert_eq!(cv(&[3.0]), None);
    assert_eq!(cv(&[-1.0, 1.0]), None, "zero mean");
}

#[test]
fn noisy_flag_is_strictly_above_ten_percent() {
    // [m - d, m, m + d]: mean m, sample variance (d² + d²) / 2 = d², so cv = d / m.
    assert_eq!(cv(&[91.0, 100.0, 109.0]), Some(0.09));
    assert!(!is_noisy(&[91.0, 100.0, 109.0]));
    assert_eq!(cv(&[89.0, 100.0, 111.0]), Some(0.11));
    assert!(is_noisy(&[89.0, 100.0, 111.0]));
    // Exactly 0.10 is not "exceeds".
    assert_eq!(cv(&[90.0, 100.0, 110.0]), Some(NOISY_CV));
    assert!(!is_noisy(&[90.0, 100.0, 110.0]));
    // No cv, no flag.
    assert!(!is_noisy(&[5.0]));
    assert!(!is_noisy(&[-1.0, 1.0]));
}

#[test]
fn geomean_by_hand() {
    // (1 * 2 * 4)^(1/3) = 8^(1/3) = 2.
    assert!(close(geomean(&[1.0, 2.0, 4.0]).unwrap(), 2.0));
    // sqrt(2 * 8) = 4.
    assert!(close(geomean(&[2.0, 8.0]).unwrap(), 4.0));
    // sqrt(0.5 * 2) = 1.
    assert!(close(geomean(&[0.5, 2.0]).unwrap(), 1.0));
    assert!(close(geomean(&[7.0]).unwrap(), 7.0));
    assert_eq!(geomean(&[]), None);
    assert_eq!(geomean(&[1.0, 0.0]), None);
    assert_eq!(geomean(&[1.0, -2.0]), None);
    assert_eq!(geomean(&[1.0, f64::NAN]), None);
    assert_eq!(geomean(&[1.0, f64::INFINITY]), None);
}

#[test]
fn interval_contains_is_inclusive() {
    let i = iv(1.0, 0.5, 2.0);
    assert!(i.contains(0.5) && i.contains(1.0) && i.contains(2.0));
    assert!(!i.contains(0.49) && !i.contains(2.01) && !i.contains(f64::NAN));
}

#[test]
fn quantile_interpolates_between_order_statistics() {
    let xs = [10.0, 20.0, 30.0, 40.0, 50.0];
    // Position p * (n - 1): 0.5 -> 2 -> 30; 0.1 -> 0.4 -> 10 + 0.4 * 10 = 14.
    assert_eq!(quantile_sorted(&xs, 0.5), 30.0);
    assert!(close(quantile_sorted(&xs, 0.1), 14.0));
    assert_eq!(quantile_sorted(&xs, 0.0), 10.0);
    assert_eq!(quantile_sorted(&xs, 1.0), 50.0);
    assert_eq!(quantile_sorted(&[3.0], 0.975), 3.0);
}

#[test]
fn ratio_of_single_values_is_degenerate_and_exact() {
    // Deterministic measurements (binary sizes): one value each side.
    let i = ratio_of_medians(&[300.0], &[120.0], &Bootstrap::default()).unwrap();
    assert_eq!(i.estimate, 300.0 / 120.0);
    assert_eq!(i.low, i.estimate);
    assert_eq!(i.high, i.estimate);
    // Constant samples of any size are just as degenerate.
    let i = ratio_of_medians(&[5.0; 4], &[2.0; 7], &Bootstrap::default()).unwrap();
    assert_eq!(i, iv(2.5, 2.5, 2.5));
}

#[test]
fn ratio_of_separated_samples_excludes_one() {
    let num = [10.0, 11.0, 12.0, 10.5, 11.5];
    let den = [20.0, 21.0, 22.0, 20.5, 21.5];
    let i = ratio_of_medians(&num, &den, &Bootstrap::default()).unwrap();
    // Medians 11 and 21.
    assert_eq!(i.estimate, 11.0 / 21.0);
    assert!(!i.contains(1.0), "{i:?}");
    // Every resampled ratio lies between min/max = 10/22 and max/min = 12/20.
    assert!(i.low >= 10.0 / 22.0 && i.high <= 12.0 / 20.0, "{i:?}");
    assert!(i.low < i.estimate && i.estimate < i.high, "{i:?}");
}

#[test]
fn ratio_of_identical_distributions_contains_one() {
    let num = [10.0, 12.0, 11.0, 13.0, 9.0];
    let den = [11.0, 9.0, 13.0, 10.0, 12.0];
    let i = ratio_of_medians(&num, &den, &Bootstrap::default()).unwrap();
    assert_eq!(i.estimate, 1.0);
    assert!(i.contains(1.0), "{i:?}");
    assert!(i.low < 1.0 && i.high > 1.0, "{i:?}");
}

#[test]
fn ratio_is_deterministic_per_seed() {
    let num = [10.0, 12.0, 11.0, 13.0, 9.0, 14.0];
    let den = [11.0, 9.5, 13.0, 10.0, 12.0];
    let b = Bootstrap::default();
    let a = ratio_of_medians(&num, &den, &b).unwrap();
    assert_eq!(a, ratio_of_medians(&num, &den, &b).unwrap());
    let other = ratio_of_medians(&num, &den, &Bootstrap { seed: 2, ..b }).unwrap();
    assert_eq!(other.estimate, a.estimate);
    assert_ne!((other.low, other.high), (a.low, a.high), "the seed is used");
}

#[test]
fn ratio_rejects_bad_input() {
    let b = Bootstrap::default();
    assert_eq!(ratio_of_medians(&[], &[1.0], &b), None);
    assert_eq!(ratio_of_medians(&[1.0], &[], &b), None);
    assert_eq!(ratio_of_medians(&[0.0], &[1.0], &b), None);
    assert_eq!(ratio_of_medians(&[1.0], &[-1.0], &b), None);
    // A positive median over a sample with a zero: rejected, a resample could have median 0.
    assert_eq!(ratio_of_medians(&[1.0], &[0.0, 5.0, 6.0], &b), None);
    assert_eq!(ratio_of_medians(&[1.0, f64::NAN], &[1.0], &b), None);
    assert_eq!(ratio_of_medians(&[1.0], &[f64::INFINITY], &b), None);
    let ok = [1.0, 2.0];
    let zero = Bootstrap { resamples: 0, ..b };
    assert_eq!(ratio_of_medians(&ok, &ok, &zero), None);
    for confidence in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        let bad = Bootstrap { confidence, ..b };
        assert_eq!(ratio_of_medians(&ok, &ok, &bad), None, "{confidence}");
    }
}

/// The percentile bootstrap of a ratio of medians should cover the true ratio
/// about `confidence` of the time. Lognormal samples with medians e^mu1 and
/// e^mu2, n = 15 a side, 400 trials.
#[test]
fn ratio_interval_covers_true_ratio_of_lognormal_medians() {
    let (mu1, mu2, sigma): (f64, f64, f64) = (3.0, 2.6, 0.25);
    let truth = (mu1 - mu2).exp();
    let mut rng = Rng::new(20240601);
    let trials: u64 = 400;
    let mut covered = 0;
    for trial in 0..trials {
        let num = lognormal(&mut rng, 15, mu1, sigma);
        let den = lognormal(&mut rng, 15, mu2, sigma);
        let b = Bootstrap {
            resamples: 2000,
            seed: trial,
            ..Bootstrap::default()
        };
        if ratio_of_medians(&num, &den, &b).unwrap().contains(truth) {
            covered += 1;
        }
    }
    let coverage = f64::from(covered) / trials as f64;
    assert!(
        (0.88..=0.99).contains(&coverage),
        "observed coverage {coverage} ({covered}/{trials}) outside [0.88, 0.99]"
    );
}

#[test]
fn geomean_ratio_of_two_groups_by_hand() {
    let groups = vec![
        // Medians 4 and 2: ratio 2.
        (vec![2.0, 4.0, 6.0], vec![1.0, 2.0, 3.0]),
        // Skipped: a side is empty.
        (vec![], vec![5.0]),
        // Ratio 1/8.
        (vec![1.0], vec![8.0]),
    ];
    let i = geomean_ratio(&groups, &Bootstrap::default()).unwrap();
    // sqrt(2 * 1/8) = sqrt(1/4) = 0.5.
    assert!(close(i.estimate, 0.5), "{i:?}");
    assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
    // Resampled group-1 ratios lie in [2/3, 6/1], so the geomean in
    // [sqrt(2/3 / 8), sqrt(6 / 8)].
    assert!(i.low >= (2.0f64 / 3.0 / 8.0).sqrt() - 1e-12, "{i:?}");
    assert!(i.high <= (6.0f64 / 8.0).sqrt() + 1e-12, "{i:?}");
    assert_eq!(i, geomean_ratio(&groups, &Bootstrap::default()).unwrap());
}

#[test]
fn geomean_ratio_of_single_values_is_degenerate() {
    let groups = vec![(vec![2.0], vec![1.0]), (vec![1.0], vec![8.0])];
    let i = geomean_ratio(&groups, &Bootstrap::default()).unwrap();
    assert!(close(i.estimate, 0.5));
    assert_eq!((i.low, i.high), (i.estimate, i.estimate));
}

#[test]
fn geomean_ratio_rejects_bad_input() {
    let b = Bootstrap::default();
    assert_eq!(geomean_ratio(&[], &b), None);
    assert_eq!(geomean_ratio(&[(vec![], vec![1.0])], &b), None);
    let with_zero = vec![(vec![1.0], vec![1.0]), (vec![0.0], vec![1.0])];
    assert_eq!(geomean_ratio(&with_zero, &b), None);
    let with_nan = vec![(vec![1.0], vec![f64::NAN])];
    assert_eq!(geomean_ratio(&with_nan, &b), None);
}

#[test]
fn verdict_truth_table() {
    use Better::*;
    use Verdict::*;
    let go_higher = iv(1.2, 1.1, 1.3);
    let go_lower = iv(0.8, 0.7, 0.9);
    let overlap = iv(1.0, 0.9, 1.1);
    let touches_one = iv(1.1, 1.0, 1.2);
    // Lower is better: Go's value higher -> Rust better.
    assert_eq!(verdict(&go_higher, Lower), RustBetter);
    assert_eq!(verdict(&go_lower, Lower), GoBetter);
    // Higher is better (throughput): Go's value higher -> Go better.
    assert_eq!(verdict(&go_higher, Higher), GoBetter);
    assert_eq!(verdict(&go_lower, Higher), RustBetter);
    for better in [Lower, Higher] {
        assert_eq!(verdict(&overlap, better), NoSignificantDifference);
        assert_eq!(verdict(&touches_one, better), NoSignificantDifference);
        assert_eq!(verdict(&iv(1.0, 1.0, 1.0), better), NoSignificantDifference);
        let nan = iv(f64::NAN, f64::NAN, f64::NAN);
        assert_eq!(verdict(&nan, better), NoSignificantDifference);
    }
}

#[test]
fn change_truth_table() {
    use Better::*;
    use Change::*;
    let up = iv(1.2, 1.1, 1.3);
    let down = iv(0.8, 0.7, 0.9);
    assert_eq!(change(&up, Lower, 0.05), Regression);
    assert_eq!(change(&down, Lower, 0.05), Improvement);
    assert_eq!(change(&up, Higher, 0.05), Improvement);
    assert_eq!(change(&down, Higher, 0.05), Regression);
    for better in [Lower, Higher] {
        assert_eq!(change(&iv(1.2, 0.95, 1.4), better, 0.05), NoChange);
        assert_eq!(change(&iv(0.8, 0.6, 1.0), better, 0.05), NoChange);
    }
}

#[test]
fn change_needs_both_significance_and_threshold() {
    use Better::*;
    use Change::*;
    // Significant (excludes 1) but only a 3 % move.
    let small_up = iv(1.03, 1.01, 1.05);
    let small_down = iv(0.97, 0.95, 0.99);
    assert_eq!(change(&small_up, Lower, 0.05), NoChange);
    assert_eq!(change(&small_up, Lower, 0.02), Regression);
    assert_eq!(change(&small_up, Higher, 0.05), NoChange);
    assert_eq!(change(&small_up, Higher, 0.02), Improvement);
    assert_eq!(change(&small_down, Lower, 0.05), NoChange);
    assert_eq!(change(&small_down, Lower, 0.02), Improvement);
    assert_eq!(change(&small_down, Higher, 0.05), NoChange);
    assert_eq!(change(&small_down, Higher, 0.02), Regression);
    // Exactly at the threshold is not "more than".
    assert_eq!(change(&iv(1.05, 1.01, 1.09), Lower, 0.05), NoChange);
    assert_eq!(change(&iv(0.95, 0.91, 0.99), Higher, 0.05), NoChange);
    // A big move whose interval still contains 1 is not significant.
    assert_eq!(change(&iv(1.5, 0.9, 2.1), Lower, 0.05), NoChange);
}

#[test]
fn names_for_display_and_serde() {
    let cases = [
        (Verdict::RustBetter.to_string(), "Rust better"),
        (Verdict::GoBetter.to_string(), "Go better"),
        (
            Verdict::NoSignificantDifference.to_string(),
            "no significant difference",
        ),
        (Change::Regression.to_string(), "regression"),
        (Change::Improvement.to_string(), "improvement"),
        (Change::NoChange.to_string(), "no change"),
    ];
    for (shown, want) in cases {
        assert_eq!(shown, want);
    }
    let json = |v: serde_json::Value| v.to_string();
    for v in [
        Verdict::RustBetter,
        Verdict::GoBetter,
        Verdict::NoSignificantDifference,
    ] {
        assert_eq!(json(serde_json::to_value(v).unwrap()), format!("\"{v}\""));
    }
    for c in [Change::Regression, Change::Improvement, Change::NoChange] {
        assert_eq!(json(serde_json::to_value(c).unwrap()), format!("\"{c}\""));
    }
    assert_eq!(serde_json::to_string(&Better::Lower).unwrap(), "\"lower\"");
    assert_eq!(
        serde_json::to_string(&Better::Higher).unwrap(),
        "\"higher\""
    );
    assert_eq!(
        serde_json::to_string(&iv(1.5, 1.25, 2.0)).unwrap(),
        r#"{"estimate":1.5,"low":1.25,"high":2.0}"#
    );
}

/// Properties over generated samples. The existing tests above pin values by
/// hand; these check the laws that hold for any positive finite input.
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Positive finite values over fifteen decades, log-uniform, so that both
    /// tiny and huge magnitudes (and their mixtures) come up.
    fn value() -> impl Strategy<Value = f64> {
        (-6.0..9.0f64).prop_map(|e| 10f64.powf(e))
    }

    fn sample(max: usize) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(value(), 1..=max)
    }

    /// A scale factor in [1e-3, 1e3].
    fn factor() -> impl Strategy<Value = f64> {
        (-3.0..3.0f64).prop_map(|e| 10f64.powf(e))
    }

    fn rel_close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs())
    }

    fn max_of(xs: &[f64]) -> f64 {
        xs.iter().copied().fold(f64::MIN, f64::max)
    }

    fn min_of(xs: &[f64]) -> f64 {
        xs.iter().copied().fold(f64::MAX, f64::min)
    }

    /// Few resamples: the laws below hold for any count, and debug builds are slow.
    fn quick(seed: u64) -> Bootstrap {
        Bootstrap {
            resamples: 500,
            seed,
            ..Bootstrap::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn median_lies_within_the_range_and_ignores_order(
            (xs, shuffled) in sample(16).prop_flat_map(|xs| (Just(xs.clone()), Just(xs).prop_shuffle()))
        ) {
            let m = median(&xs).unwrap();
            prop_assert!(min_of(&xs) <= m && m <= max_of(&xs), "{m} outside {xs:?}");
            prop_assert_eq!(median(&shuffled), Some(m));
        }

        #[test]
        fn scaling_scales_median_and_sd_and_keeps_cv(xs in sample(16), k in factor()) {
            let scaled: Vec<f64> = xs.iter().map(|x| x * k).collect();
            let (m, mk) = (median(&xs).unwrap(), median(&scaled).unwrap());
            prop_assert!(rel_close(mk, k * m, 1e-12), "median {mk} vs {k} * {m}");
            if xs.len() >= 2 {
                // Absolute tolerances on the scale of the data: an SD near 0
                // is all rounding, whose relative error is unbounded.
                let (sd, sdk) = (std_dev(&xs).unwrap(), std_dev(&scaled).unwrap());
                prop_assert!(
                    (sdk - k * sd).abs() <= 1e-9 * k * max_of(&xs),
                    "sd {sdk} vs {k} * {sd}"
                );
                let (c, ck) = (cv(&xs).unwrap(), cv(&scaled).unwrap());
                prop_assert!((ck - c).abs() <= 1e-9, "cv {ck} vs {c}");
            }
        }

        #[test]
        fn geomean_of_a_constant_is_the_constant_and_lies_between_min_and_mean(
            c in value(),
            n in 1usize..50,
            xs in sample(16),
        ) {
            let g = geomean(&vec![c; n]).unwrap();
            prop_assert!(rel_close(g, c, 1e-12), "geomean of {n} x {c} = {g}");
            let g = geomean(&xs).unwrap();
            let slack = 1e-12 * max_of(&xs);
            prop_assert!(min_of(&xs) - slack <= g, "{g} below the minimum of {xs:?}");
            prop_assert!(g <= mean(&xs).unwrap() + slack, "{g} above the mean of {xs:?}");
        }

        #[test]
        fn ratio_against_itself_scaled_by_k_is_k(xs in sample(12), k in factor(), seed in any::<u64>()) {
            let scaled: Vec<f64> = xs.iter().map(|x| x * k).collect();
            let i = ratio_of_medians(&scaled, &xs, &quick(seed)).unwrap();
            // num and den are resampled independently, so each resampled
            // ratio is k·M1/M2 with M1, M2 alike: the distribution of its log
            // is symmetric about log k, and the percentile interval holds k.
            prop_assert!(rel_close(i.estimate, k, 1e-12), "{i:?} vs {k}");
            prop_assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
            prop_assert!(i.low <= k * (1.0 + 1e-12) && k * (1.0 - 1e-12) <= i.high, "{i:?} vs {k}");
        }

        #[test]
        fn geomean_ratio_of_scaled_groups_is_the_geomean_of_the_factors(
            groups in prop::collection::vec((sample(8), factor()), 1..5),
            seed in any::<u64>(),
        ) {
            let pairs: Vec<(Vec<f64>, Vec<f64>)> = groups
                .iter()
                .map(|(xs, k)| (xs.iter().map(|x| x * k).collect(), xs.clone()))
                .collect();
            let ks: Vec<f64> = groups.iter().map(|(_, k)| *k).collect();
            let want = geomean(&ks).unwrap();
            let i = geomean_ratio(&pairs, &quick(seed)).unwrap();
            prop_assert!(rel_close(i.estimate, want, 1e-12), "{i:?} vs {want}");
            prop_assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
            prop_assert!(i.low <= want * (1.0 + 1e-12) && want * (1.0 - 1e-12) <= i.high, "{i:?} vs {want}");
        }

        #[test]
        fn ratio_interval_is_ordered_and_within_the_extreme_ratios(
            num in sample(12),
            den in sample(12),
            seed in any::<u64>(),
        ) {
            let i = ratio_of_medians(&num, &den, &quick(seed)).unwrap();
            let est = median(&num).unwrap() / median(&den).unwrap();
            prop_assert_eq!(i.estimate, est);
            prop_assert!(i.low <= i.high, "{i:?}");
            // Every resampled median lies within its side's range.
            let (lo, hi) = (min_of(&num) / max_of(&den), max_of(&num) / min_of(&den));
            prop_assert!(lo * (1.0 - 1e-12) <= i.low && i.high <= hi * (1.0 + 1e-12), "{i:?} outside [{lo}, {hi}]");
        }

        #[test]
        fn bootstrap_is_deterministic_for_a_seed(
            num in sample(10),
            den in sample(10),
            seed in any::<u64>(),
        ) {
            let b = quick(seed);
            prop_assert_eq!(ratio_of_medians(&num, &den, &b), ratio_of_medians(&num, &den, &b));
            let groups = vec![(num.clone(), den.clone()), (den, num)];
            prop_assert_eq!(geomean_ratio(&groups, &b), geomean_ratio(&groups, &b));
        }

        #[test]
        fn verdict_flips_when_the_sides_swap(
            bounds in prop::collection::vec(prop_oneof![Just(1.0), factor()], 3),
        ) {
            let mut b = bounds;
            b.sort_by(f64::total_cmp);
            let go_over_rust = iv(b[1], b[0], b[2]);
            // Rust over Go: the reciprocal interval, its bounds swapped.
            let rust_over_go = iv(1.0 / b[1], 1.0 / b[2], 1.0 / b[0]);
            let flip = |v: Verdict| match v {
                Verdict::RustBetter => Verdict::GoBetter,
                Verdict::GoBetter => Verdict::RustBetter,
                Verdict::NoSignificantDifference => Verdict::NoSignificantDifference,
            };
            for better in [Better::Lower, Better::Higher] {
                let v = verdict(&go_over_rust, better);
                prop_assert_eq!(verdict(&rust_over_go, better), flip(v), "{:?} {:?}", go_over_rust, better);
                prop_assert_eq!(
                    v == Verdict::NoSignificantDifference,
                    go_over_rust.contains(1.0),
                    "{:?}", go_over_rust
                );
            }
            // The other direction of "better" flips the verdict too.
            prop_assert_eq!(verdict(&go_over_rust, Better::Higher), flip(verdict(&go_over_rust, Better::Lower)));
        }
    }
}
