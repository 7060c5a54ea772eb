//! How the reports write numbers, intervals and verdicts.

use crate::stats::Interval;

/// Three significant digits, without exponent, grouping nothing: 0.0123,
/// 1.23, 12.3, 1234, 56789.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    let magnitude = v.abs();
    let decimals = if magnitude == 0.0 || magnitude >= 100.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 1.0 {
        2
    } else {
        // Three significant digits below 1.
        (2 - magnitude.log10().floor() as i32).clamp(0, 9) as usize
    };
    format!("{v:.decimals$}")
}

/// `12.3 ms`, or `n/a` when not measured.
pub fn with_unit(v: Option<f64>, unit: &str) -> String {
    v.map_or("n/a".to_owned(), |v| format!("{} {unit}", number(v)))
}

/// `interval`, or `n/a` when there is none.
pub fn interval_or_na(r: Option<Interval>) -> String {
    r.map_or("n/a".to_owned(), |r| interval(&r))
}

/// `1.85 [1.70–2.02]`.
pub fn interval(r: &Interval) -> String {
    format!("{} [{}–{}]", ratio(r.estimate), ratio(r.low), ratio(r.high))
}

/// Ratios always with three decimals, so that small changes show.
pub fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "n/a".to_owned()
    }
}

pub fn cv_text(cv: Option<f64>) -> String {
    cv.map_or("-".to_owned(), |cv| {
        let flag = if cv > crate::stats::NOISY_CV {
            " ⚠"
        } else {
            ""
        };
        format!("{:.1}%{flag}", cv * 100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(number(0.012345), "0.0123");
        assert_eq!(number(0.5), "0.500");
        assert_eq!(number(1.2345), "1.23");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(f64::NAN), "n/a");
        let r = Interval {
            estimate: 1.8512,
            low: 1.7,
            high: 2.02,
        };
        assert_eq!(interval(&r), "1.851 [1.700–2.020]");
        assert_eq!(cv_text(Some(0.123)), "12.3% ⚠");
        assert_eq!(cv_text(Some(0.05)), "5.0%");
    }
}
