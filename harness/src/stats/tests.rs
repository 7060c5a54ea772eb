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
fn t_quantiles_match_the_tables() {
    // P(T <= t) = 0.975, to 15 digits (mpmath).
    let table = [
        (1.0, 12.7062047361747),
        (2.0, 4.30265272974946),
        (3.0, 3.18244630528371),
        (4.0, 2.77644510519779),
        (10.0, 2.22813885198627),
        (30.0, 2.04227245630124),
        (1e6, 1.95996635681411),
        // Welch's degrees of freedom are rarely whole.
        (2.5, 3.57465484200368),
        (7.3, 2.3450667365477),
    ];
    for (df, want) in table {
        let t = t_quantile(0.975, df).unwrap();
        assert!((t - want).abs() <= 1e-9 * want, "df {df}: {t} vs {want}");
        assert!((t_quantile(0.025, df).unwrap() + want).abs() <= 1e-9 * want);
    }
    // Other levels: 0.995 at df 5, 0.9 at df 3.
    assert!((t_quantile(0.995, 5.0).unwrap() - 4.03214298355523).abs() < 1e-9);
    assert!((t_quantile(0.9, 3.0).unwrap() - 1.63774435369621).abs() < 1e-9);
    assert_eq!(t_quantile(0.5, 3.0), Some(0.0));
    for (p, df) in [
        (0.0, 3.0),
        (1.0, 3.0),
        (f64::NAN, 3.0),
        (0.9, 0.0),
        (0.9, -1.0),
    ] {
        assert_eq!(t_quantile(p, df), None, "p {p}, df {df}");
    }
    assert_eq!(t_quantile(0.9, f64::INFINITY), None);
}

#[test]
fn ln_gamma_by_hand() {
    // Γ(1) = Γ(2) = 1, Γ(5) = 24, Γ(1/2) = √π, Γ(1/4) ≈ 3.625609908221908.
    for (x, want) in [
        (1.0, 0.0),
        (2.0, 0.0),
        (5.0, 24f64.ln()),
        (0.5, std::f64::consts::PI.sqrt().ln()),
        (0.25, 3.625609908221908f64.ln()),
    ] {
        assert!((ln_gamma(x) - want).abs() < 1e-13, "{x}: {}", ln_gamma(x));
    }
}

#[test]
fn ratio_of_geomeans_by_hand() {
    // Logs of [2, 4, 8]: ln 2 · {1, 2, 3}, mean 2 ln 2 (geomean 4), sample
    // variance (ln 2)². Against a constant 1: the variance of the difference
    // is (ln 2)² / 3 and Welch's df is that side's n − 1 = 2.
    let i = ratio_of_geomeans(&[2.0, 4.0, 8.0], &[1.0, 1.0, 1.0], 0.95).unwrap();
    let half = 4.30265272974946 * 2f64.ln() / 3f64.sqrt();
    assert!(close(i.estimate, 4.0), "{i:?}");
    assert!((i.low - 4.0 * (-half).exp()).abs() < 1e-9, "{i:?}");
    assert!((i.high - 4.0 * half.exp()).abs() < 1e-9, "{i:?}");
    // Swapping the sides gives the reciprocal interval.
    let r = ratio_of_geomeans(&[1.0, 1.0, 1.0], &[2.0, 4.0, 8.0], 0.95).unwrap();
    assert!(close(r.estimate, 0.25) && close(r.low, 1.0 / i.high) && close(r.high, 1.0 / i.low));
    // A lower confidence, a narrower interval around the same estimate.
    let narrow = ratio_of_geomeans(&[2.0, 4.0, 8.0], &[1.0, 1.0, 1.0], 0.5).unwrap();
    assert!(i.low < narrow.low && narrow.high < i.high && narrow.estimate == i.estimate);
}

#[test]
fn welch_degrees_of_freedom_by_hand() {
    // Log variances 1 (n = 3) and 4 (n = 5): v = 1/3 and 4/5, so
    // df = (1/3 + 4/5)² / ((1/3)² / 2 + (4/5)² / 4) = (17/15)² / (97/450).
    let side = |mean: f64, sd: f64, n: usize| -> Vec<f64> {
        // n values with that sample mean and sd: ± d around the mean, the rest at it.
        let d = sd * ((n - 1) as f64 / 2.0).sqrt();
        let mut logs = vec![mean; n];
        logs[0] -= d;
        logs[1] += d;
        logs.iter().map(|l| l.exp()).collect()
    };
    let d = LogDiff::of(&side(1.0, 1.0, 3), &side(0.0, 2.0, 5)).unwrap();
    assert!((d.mean - 1.0).abs() < 1e-12, "{d:?}");
    assert!((d.var - 17.0 / 15.0).abs() < 1e-12, "{d:?}");
    let want = (17.0f64 / 15.0).powi(2) / (97.0 / 450.0);
    assert!((d.df() - want).abs() < 1e-9, "{} vs {want}", d.df());
    // The mean of two such differences: half the variance, twice the df.
    let m = LogDiff::mean(&[d, d]).unwrap();
    assert!((m.var - d.var / 2.0).abs() < 1e-12 && (m.df() - 2.0 * d.df()).abs() < 1e-9);
}

#[test]
fn constant_samples_give_a_zero_width_interval() {
    let i = ratio_of_geomeans(&[5.0; 4], &[2.0; 7], 0.95).unwrap();
    assert_eq!(i, Interval::point(2.5));
    let groups = vec![(vec![5.0; 3], vec![2.0; 3]), (vec![1.0; 2], vec![1.0; 5])];
    let g = geomean_ratio(&groups, 0.95).unwrap();
    assert!(close(g.estimate, 2.5f64.sqrt()) && g.low == g.estimate && g.high == g.estimate);
}

#[test]
fn ratio_of_separated_samples_excludes_one() {
    let num = [10.0, 11.0, 12.0, 10.5, 11.5];
    let den = [20.0, 21.0, 22.0, 20.5, 21.5];
    let i = ratio_of_geomeans(&num, &den, 0.95).unwrap();
    assert!(close(
        i.estimate,
        geomean(&num).unwrap() / geomean(&den).unwrap()
    ));
    assert!(!i.contains(1.0), "{i:?}");
    assert!(i.low < i.estimate && i.estimate < i.high, "{i:?}");
}

#[test]
fn ratio_of_identical_distributions_contains_one() {
    let num = [10.0, 12.0, 11.0, 13.0, 9.0];
    let den = [11.0, 9.0, 13.0, 10.0, 12.0];
    let i = ratio_of_geomeans(&num, &den, 0.95).unwrap();
    assert!(close(i.estimate, 1.0), "{i:?}");
    assert!(i.low < 1.0 && i.high > 1.0, "{i:?}");
}

#[test]
fn ratio_rejects_bad_input() {
    let ok = [1.0, 2.0];
    // Fewer than 2 values on a side: no spread, no interval.
    assert_eq!(ratio_of_geomeans(&[1.0], &ok, 0.95), None);
    assert_eq!(ratio_of_geomeans(&ok, &[3.0], 0.95), None);
    assert_eq!(ratio_of_geomeans(&[], &ok, 0.95), None);
    assert_eq!(ratio_of_geomeans(&[0.0, 1.0], &ok, 0.95), None);
    assert_eq!(ratio_of_geomeans(&ok, &[-1.0, 1.0], 0.95), None);
    assert_eq!(ratio_of_geomeans(&[1.0, f64::NAN], &ok, 0.95), None);
    assert_eq!(ratio_of_geomeans(&ok, &[1.0, f64::INFINITY], 0.95), None);
    for confidence in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        assert_eq!(
            ratio_of_geomeans(&ok, &ok, confidence),
            None,
            "{confidence}"
        );
    }
}

#[test]
fn point_ratio_is_the_ratio_of_geomeans_with_no_width() {
    // Sizes: one value a side.
    assert_eq!(point_ratio(&[300.0], &[120.0]), Some(Interval::point(2.5)));
    // sqrt(2 · 8) / 2 = 2.
    let i = point_ratio(&[2.0, 8.0], &[2.0]).unwrap();
    assert!(close(i.estimate, 2.0) && i.low == i.estimate && i.high == i.estimate);
    assert_eq!(point_ratio(&[], &[1.0]), None);
    assert_eq!(point_ratio(&[1.0], &[0.0]), None);
    assert_eq!(point_ratio(&[1.0], &[f64::NAN]), None);
}

#[test]
fn geomean_ratio_of_two_groups_by_hand() {
    let a = (vec![2.0, 4.0, 8.0], vec![1.0, 1.0, 1.0]);
    let b = (vec![1.0, 1.0], vec![8.0, 8.0]);
    let i = geomean_ratio(&[a.clone(), b.clone()], 0.95).unwrap();
    // Ratios 4 and 1/8: sqrt(4 / 8) = sqrt(1/2).
    assert!(close(i.estimate, 0.5f64.sqrt()), "{i:?}");
    // Only group a varies: the variance is (ln 2)² / 3 / 2², df still 2.
    let half = 4.30265272974946 * 2f64.ln() / 3f64.sqrt() / 2.0;
    assert!((i.low - i.estimate * (-half).exp()).abs() < 1e-9, "{i:?}");
    assert!((i.high - i.estimate * half.exp()).abs() < 1e-9, "{i:?}");
    // One group: the same as that group's own ratio.
    assert_eq!(
        geomean_ratio(std::slice::from_ref(&a), 0.95),
        ratio_of_geomeans(&a.0, &a.1, 0.95)
    );
}

#[test]
fn geomean_ratio_rejects_bad_input() {
    assert_eq!(geomean_ratio(&[], 0.95), None);
    let ok = (vec![1.0, 2.0], vec![1.0, 3.0]);
    // Any group without an interval: the caller must leave it out.
    for bad in [
        (vec![], vec![1.0, 2.0]),
        (vec![1.0], vec![1.0, 2.0]),
        (vec![0.0, 1.0], vec![1.0, 2.0]),
        (vec![1.0, 2.0], vec![f64::NAN, 1.0]),
    ] {
        assert_eq!(
            geomean_ratio(&[ok.clone(), bad.clone()], 0.95),
            None,
            "{bad:?}"
        );
    }
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
    assert_eq!(verdict(&go_higher, Lower), BaselineBetter);
    assert_eq!(verdict(&go_lower, Lower), OtherBetter);
    // Higher is better (throughput): Go's value higher -> Go better.
    assert_eq!(verdict(&go_higher, Higher), OtherBetter);
    assert_eq!(verdict(&go_lower, Higher), BaselineBetter);
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
        (Verdict::BaselineBetter.to_string(), "baseline better"),
        (Verdict::OtherBetter.to_string(), "other better"),
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
        Verdict::BaselineBetter,
        Verdict::OtherBetter,
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

    /// At least two values: enough for an interval.
    fn repetitions(max: usize) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(value(), 2..=max)
    }

    fn scaled(xs: &[f64], k: f64) -> Vec<f64> {
        xs.iter().map(|x| x * k).collect()
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
        fn ratio_against_itself_scaled_by_k_is_k(xs in repetitions(12), k in factor()) {
            let i = ratio_of_geomeans(&scaled(&xs, k), &xs, CONFIDENCE).unwrap();
            // The mean logs differ by exactly ln k: the interval is centred on
            // k in log space and holds it.
            prop_assert!(rel_close(i.estimate, k, 1e-12), "{i:?} vs {k}");
            prop_assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
            prop_assert!(rel_close(i.estimate / i.low, i.high / i.estimate, 1e-9), "{i:?}");
        }

        #[test]
        fn geomean_ratio_of_scaled_groups_is_the_geomean_of_the_factors(
            groups in prop::collection::vec((repetitions(8), factor()), 1..5),
        ) {
            let pairs: Vec<(Vec<f64>, Vec<f64>)> = groups
                .iter()
                .map(|(xs, k)| (scaled(xs, *k), xs.clone()))
                .collect();
            let ks: Vec<f64> = groups.iter().map(|(_, k)| *k).collect();
            let want = geomean(&ks).unwrap();
            let i = geomean_ratio(&pairs, CONFIDENCE).unwrap();
            prop_assert!(rel_close(i.estimate, want, 1e-12), "{i:?} vs {want}");
            prop_assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
        }

        #[test]
        fn ratio_interval_scales_with_a_side_and_inverts_when_they_swap(
            num in repetitions(12),
            den in repetitions(12),
            c in factor(),
        ) {
            let i = ratio_of_geomeans(&num, &den, CONFIDENCE).unwrap();
            prop_assert!(rel_close(i.estimate, geomean(&num).unwrap() / geomean(&den).unwrap(), 1e-12));
            prop_assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
            let times_c = ratio_of_geomeans(&scaled(&num, c), &den, CONFIDENCE).unwrap();
            for (a, b) in [(times_c.estimate, c * i.estimate), (times_c.low, c * i.low), (times_c.high, c * i.high)] {
                prop_assert!(rel_close(a, b, 1e-9), "{times_c:?} vs {c} x {i:?}");
            }
            let swapped = ratio_of_geomeans(&den, &num, CONFIDENCE).unwrap();
            prop_assert!(rel_close(swapped.low, 1.0 / i.high, 1e-9), "{swapped:?} vs {i:?}");
            prop_assert!(rel_close(swapped.high, 1.0 / i.low, 1e-9), "{swapped:?} vs {i:?}");
        }

        #[test]
        fn t_quantile_rises_with_p_and_falls_with_df(
            p in 0.5001..0.9999f64,
            dp in 1e-6..1e-4f64,
            df in 0.5..1000.0f64,
            ddf in 0.01..10.0f64,
        ) {
            let t = t_quantile(p, df).unwrap();
            prop_assert!(t > 0.0);
            prop_assert!(t_quantile(p + dp, df).unwrap() >= t);
            prop_assert!(t_quantile(p, df + ddf).unwrap() <= t);
            prop_assert!(rel_close(t_quantile(1.0 - p, df).unwrap(), -t, 1e-9));
            // Back through the distribution function.
            let tail = t_tail(t, df, ln_beta(df / 2.0, 0.5));
            prop_assert!((tail - (1.0 - p)).abs() <= 1e-10, "df {df}, p {p}: tail {tail}");
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
                Verdict::BaselineBetter => Verdict::OtherBetter,
                Verdict::OtherBetter => Verdict::BaselineBetter,
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
