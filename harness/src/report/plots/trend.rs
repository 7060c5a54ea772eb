//! Trends of the headline metrics across runs (the site index).

use super::*;

/// One line of a trend across runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendSeries {
    /// Legend label.
    pub label: String,
    /// One value per x label, in the same order; `None` leaves a gap.
    pub values: Vec<Option<f64>>,
}

/// A line chart across runs or commits: one x position per label (long
/// labels shortened, at most about 12 labelled), a point at every value and
/// gaps where it is `None`.
pub fn trend(
    title: &str,
    x_labels: &[String],
    series: &[TrendSeries],
    y_label: &str,
) -> Result<String> {
    let n = x_labels.len();
    let points: Vec<Vec<Option<(f64, f64)>>> = series
        .iter()
        .map(|s| {
            (0..n)
                .map(|i| {
                    s.values
                        .get(i)
                        .copied()
                        .flatten()
                        .filter(|v| v.is_finite())
                        .map(|v| (i as f64, v))
                })
                .collect()
        })
        .collect();
    let y = span(points.iter().flatten().flatten().map(|p| p.1));
    let colours = colours(series.iter().map(|s| s.label.as_str()));

    render((WIDTH, HEIGHT), title, |area| {
        let Some((lo, hi)) = y else {
            return no_data(area);
        };
        // As many labels as fit side by side in the plot's ~700 px.
        let widest = x_labels
            .iter()
            .map(|l| shorten(l, 12).chars().count())
            .max()
            .unwrap_or(1);
        let fit = (700 / (widest * 7 + 16)).max(1);
        let step = n.div_ceil(fit).max(1);
        let ticks: Vec<f64> = (0..n).step_by(step).map(|i| i as f64).collect();
        let label = |x: &f64| {
            let i = x.round();
            if i >= 0.0 && (i as usize) < n {
                shorten(&x_labels[i as usize], 12)
            } else {
                String::new()
            }
        };
        let y_range = legend_room(padded((lo.min(0.0), hi.max(0.0)), true));
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(
                Axis::linear(-0.5..n as f64 - 0.5, ticks, Vec::new()),
                y_range,
            )?;
        house_style(
            chart
                .configure_mesh()
                .x_desc("run")
                .y_desc(y_label)
                .x_label_formatter(&label)
                .y_label_formatter(&|y| tick(*y)),
        )
        .draw()?;
        for ((s, pts), &colour) in series.iter().zip(&points).zip(&colours) {
            let segs = segments(pts.iter().map(|p| match p {
                Some((x, y)) => (*x, Some(*y)),
                None => (f64::NAN, None),
            }));
            draw_lines(&mut chart, &segs, colour, Dash::Solid, Some(&s.label), true)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}
