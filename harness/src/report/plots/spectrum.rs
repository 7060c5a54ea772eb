//! The latency spectrum: latency by percentile, on a log scale of 1/(1-p).

use super::*;

/// The largest percentile drawn on a spectrum's `1/(1 − p)` axis: 100 %
/// itself would sit at infinity.
pub(super) const SPECTRUM_P_CAP: f64 = 99.9999;

/// One line of a latency spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumSeries {
    /// Legend label, e.g. "Rust" or "Go (net/http)".
    pub label: String,
    /// `(percentile 0..=100, latency in ms)`, in increasing percentile.
    pub points: Vec<(f64, f64)>,
}

/// A latency-by-percentile ("HdrHistogram") chart: x is the percentile on a
/// logarithmic `1/(1 − p)` axis labelled "0%", "90%", "99%", … "99.999%",
/// y is latency in ms from 0. A point at 100 % (the maximum) is drawn at the
/// right end of the axis.
pub fn spectrum(title: &str, series: &[SpectrumSeries]) -> Result<String> {
    // Keep finite points in range, in percentile order.
    let cleaned: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            let mut pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(p, v)| p.is_finite() && v.is_finite() && (0.0..=100.0).contains(p))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts
        })
        .collect();
    let has_data = cleaned.iter().any(|pts| !pts.is_empty());

    // The axis runs over whole decades of 1/(1 − p): at least to 99.999 %,
    // further when finite points lie beyond it (at most to the cap).
    let largest_finite = cleaned
        .iter()
        .flatten()
        .map(|(p, _)| *p)
        .filter(|p| *p < 100.0)
        .fold(0.0_f64, f64::max)
        .min(SPECTRUM_P_CAP);
    let decades = spectrum_x(largest_finite)
        .ceil()
        .clamp(5.0, spectrum_x(SPECTRUM_P_CAP).ceil());
    let to_x = |p: f64| spectrum_x(p.min(SPECTRUM_P_CAP)).min(decades);
    let y_max = cleaned
        .iter()
        .flatten()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max);

    render((WIDTH, HEIGHT), title, |area| {
        if !has_data {
            return no_data(area);
        }
        let ticks: Vec<f64> = (0..=decades as u32).map(f64::from).collect();
        let light: Vec<f64> = (0..decades as u32)
            .flat_map(|d| [2.0_f64, 5.0].map(|k| f64::from(d) + k.log10()))
            .collect();
        let x_spec = Axis::linear(0.0..decades, ticks, light);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(x_spec, 0.0..upper(y_max))?;
        house_style(
            chart
                .configure_mesh()
                .x_desc("percentile")
                .y_desc("latency (ms)")
                .x_label_formatter(&|x| percentile_label(*x))
                .y_label_formatter(&|y| tick(*y)),
        )
        .draw()?;
        let colours = colours(series.iter().map(|s| s.label.as_str()));
        for ((s, pts), colour) in series.iter().zip(&cleaned).zip(colours) {
            let seg: Vec<(f64, f64)> = pts.iter().map(|(p, v)| (to_x(*p), *v)).collect();
            draw_lines(
                &mut chart,
                &[seg],
                colour,
                Dash::Solid,
                Some(&s.label),
                false,
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// `log10(1/(1 − p/100))`: the spectrum's x coordinate of percentile `p`.
pub(super) fn spectrum_x(p: f64) -> f64 {
    (1.0 / (1.0 - p / 100.0)).log10()
}

/// "0%", "90%", "99%", "99.9%", …: the percentile at `decade` decades of
/// `1/(1 − p)`.
pub(super) fn percentile_label(decade: f64) -> String {
    let k = decade.round().max(0.0) as i32;
    if k == 0 {
        return "0%".to_owned();
    }
    let p = 100.0 * (1.0 - 10f64.powi(-k));
    format!("{p:.prec$}%", prec = (k - 2).max(0) as usize)
}

/// The `(percentile, value / unit_divisor)` points of a latency spectrum,
/// walked as HdrHistogram's percentile output does
/// (`iter_quantiles` with 5 ticks per half distance). The last point is the
/// maximum at percentile 100; an empty histogram gives no points.
pub fn spectrum_points(h: &hdrhistogram::Histogram<u64>, unit_divisor: f64) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let divisor = if unit_divisor.is_finite() && unit_divisor > 0.0 {
        unit_divisor
    } else {
        1.0
    };
    let mut points: Vec<(f64, f64)> = Vec::new();
    for v in h.iter_quantiles(5) {
        let p = (v.quantile_iterated_to() * 100.0).clamp(0.0, 100.0);
        let value = v.value_iterated_to() as f64 / divisor;
        // Keep both coordinates monotonic even if the iterator repeats or
        // steps back by a rounding error.
        let (p, value) = match points.last() {
            Some(&(lp, lv)) => (p.max(lp), value.max(lv)),
            None => (p, value),
        };
        if points.last() != Some(&(p, value)) {
            points.push((p, value));
        }
    }
    match points.last_mut() {
        Some(last) if last.0 < 100.0 => last.0 = 100.0,
        _ => {}
    }
    points
}
