//! Startup: the distribution of start and stop times.

use super::*;

/// One target's startup times, drawn as an empirical CDF.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupSeries {
    /// Legend label.
    pub label: String,
    /// One startup time per sample in ms, in any order.
    pub samples_ms: Vec<f64>,
}

/// Startup times as an empirical CDF per target: x is ms from 0, y the
/// fraction of starts at or below it, one point per sample on the step line.
pub fn startup(title: &str, series: &[StartupSeries]) -> Result<String> {
    let sorted: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            let mut v: Vec<f64> = s
                .samples_ms
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let x = span(sorted.iter().flatten().copied());
    let colours = colours(series.iter().map(|s| s.label.as_str()));

    render((WIDTH, HEIGHT), title, |area| {
        let Some((lo, hi)) = x else {
            return no_data(area);
        };
        let x_range = padded((lo.min(0.0), hi), true);
        let mut chart = panel(area, x_range, 0.0..1.05)?;
        mesh(&mut chart, "startup time (ms)", "fraction of starts ≤ x")?;
        for ((s, samples), &colour) in series.iter().zip(&sorted).zip(&colours) {
            let n = samples.len() as f64;
            let mut step = Vec::with_capacity(samples.len() * 2 + 1);
            let mut dots = Vec::with_capacity(samples.len());
            if let Some(&first) = samples.first() {
                step.push((x_range_start(lo), 0.0));
                step.push((first, 0.0));
            }
            for (i, &v) in samples.iter().enumerate() {
                let below = i as f64 / n;
                let at = (i + 1) as f64 / n;
                step.push((v, below));
                step.push((v, at));
                dots.push((v, at));
            }
            draw_lines(
                &mut chart,
                &[step],
                colour,
                Dash::Solid,
                Some(&s.label),
                false,
            )?;
            chart.draw_series(dots.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// Where an ECDF's step line starts: at 0, or at the smallest sample when it
/// is negative.
pub(super) fn x_range_start(lo: f64) -> f64 {
    lo.min(0.0)
}
