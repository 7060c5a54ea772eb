//! The service's memory and CPU over a run.

use super::*;

/// One server's memory and CPU over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSeries {
    /// Legend label.
    pub label: String,
    /// `(seconds since start, RSS in MiB, CPU % of one core)`; the CPU share
    /// is `None` for the first sample or when it could not be read.
    pub points: Vec<(f64, f64, Option<f64>)>,
    /// `(start s, end s)` of the load phase, shaded in the series' colour.
    pub load_window: Option<(f64, f64)>,
}

/// A server's resident memory (top, MiB) and CPU (bottom, % of one core)
/// over time, with each series' load window shaded in its colour and edged
/// with dashed lines.
pub fn server_usage(title: &str, series: &[UsageSeries]) -> Result<String> {
    let rss: Vec<Segments> = series
        .iter()
        .map(|s| segments(s.points.iter().map(|p| (p.0, Some(p.1)))))
        .collect();
    let cpu: Vec<Segments> = series
        .iter()
        .map(|s| segments(s.points.iter().map(|p| (p.0, p.2))))
        .collect();
    let windows: Vec<Option<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.load_window
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(a, b)| (a.min(b), a.max(b)))
        })
        .collect();
    let rss_points = || rss.iter().flatten().flatten();
    let cpu_points = || cpu.iter().flatten().flatten();
    let x = span(
        rss_points()
            .chain(cpu_points())
            .map(|p| p.0)
            .chain(windows.iter().flatten().flat_map(|&(a, b)| [a, b])),
    );
    let rss_max = rss_points().map(|p| p.1).fold(0.0, f64::max);
    let cpu_max = cpu_points().map(|p| p.1).fold(0.0, f64::max);
    let colours = colours(series.iter().map(|s| s.label.as_str()));

    render((WIDTH, HEIGHT_TWO_PANELS), title, |area| {
        let panels = area.split_evenly((2, 1));
        let x_range = padded(x.unwrap_or((0.0, 1.0)), false);
        let panel_data = [
            (&rss, rss_max, "memory (RSS, MiB)"),
            (&cpu, cpu_max, "CPU (% of one core)"),
        ];
        for (area, (data, max, y_desc)) in panels.iter().zip(panel_data) {
            if data.iter().flatten().flatten().next().is_none() {
                no_data(area)?;
                continue;
            }
            let y_top = legend_room(0.0..upper(max)).end;
            let mut chart = panel(area, x_range.clone(), 0.0..y_top)?;
            mesh(&mut chart, "time (s)", y_desc)?;
            for (window, &colour) in windows.iter().zip(&colours) {
                if let Some((a, b)) = *window {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(a, 0.0), (b, y_top)],
                        colour.mix(0.1).filled(),
                    )))?;
                    for edge in [a, b] {
                        chart.draw_series(DashedLineSeries::new(
                            vec![(edge, 0.0), (edge, y_top)],
                            5,
                            4,
                            colour.mix(0.7).stroke_width(1),
                        ))?;
                    }
                }
            }
            for ((s, segs), &colour) in series.iter().zip(data.iter()).zip(&colours) {
                draw_lines(&mut chart, segs, colour, Dash::Solid, Some(&s.label), false)?;
            }
            if windows.iter().any(Option::is_some) {
                chart
                    .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                    .label("load window (shaded)")
                    .legend(|(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 20, y + 6)], NEUTRAL.mix(0.25).filled())
                    });
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
}
