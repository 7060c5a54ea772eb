//! The timeline of a run: throughput and latency second by second.

use super::*;

/// One target's latency and throughput over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSeries {
    /// Legend label; the p50 and p99 lines are labelled "<label> p50/p99".
    pub label: String,
    /// One point per time bucket, in time order.
    pub points: Vec<TimelinePoint>,
}

/// One time bucket of a [`TimelineSeries`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelinePoint {
    /// Seconds since the start of the run (the bucket's start or middle).
    pub t_s: f64,
    /// Median latency in the bucket, `None` when it had no responses.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency in the bucket, `None` when it had no responses.
    pub p99_ms: Option<f64>,
    /// Completed requests per second in the bucket.
    pub rps: f64,
}

/// Latency and throughput over time, in two panels: the top has each
/// target's p50 (solid) and p99 (dashed) in ms, the bottom its requests per
/// second. `None` latencies and non-finite values leave gaps.
pub fn timeline(title: &str, series: &[TimelineSeries]) -> Result<String> {
    let lat: Vec<(Segments, Segments)> = series
        .iter()
        .map(|s| {
            (
                segments(s.points.iter().map(|p| (p.t_s, p.p50_ms))),
                segments(s.points.iter().map(|p| (p.t_s, p.p99_ms))),
            )
        })
        .collect();
    let rps: Vec<Segments> = series
        .iter()
        .map(|s| segments(s.points.iter().map(|p| (p.t_s, Some(p.rps)))))
        .collect();
    let lat_points = || lat.iter().flat_map(|(a, b)| a.iter().chain(b)).flatten();
    let rps_points = || rps.iter().flatten().flatten();
    let x = span(lat_points().chain(rps_points()).map(|p| p.0));
    let lat_max = lat_points().map(|p| p.1).fold(0.0, f64::max);
    let rps_max = rps_points().map(|p| p.1).fold(0.0, f64::max);
    let colours = colours(series.iter().map(|s| s.label.as_str()));

    render((WIDTH, HEIGHT_TWO_PANELS), title, |area| {
        let panels = area.split_evenly((2, 1));
        let x_range = padded(x.unwrap_or((0.0, 1.0)), false);

        if lat_points().next().is_none() {
            no_data(&panels[0])?;
        } else {
            let mut chart = panel(
                &panels[0],
                x_range.clone(),
                legend_room(0.0..upper(lat_max)),
            )?;
            mesh(&mut chart, "time (s)", "latency (ms)")?;
            for ((s, (p50, p99)), &colour) in series.iter().zip(&lat).zip(&colours) {
                let l50 = format!("{} p50", s.label);
                let l99 = format!("{} p99", s.label);
                draw_lines(&mut chart, p50, colour, Dash::Solid, Some(&l50), false)?;
                draw_lines(&mut chart, p99, colour, Dash::Dashed, Some(&l99), false)?;
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }

        if rps_points().next().is_none() {
            no_data(&panels[1])?;
        } else {
            let mut chart = panel(&panels[1], x_range, legend_room(0.0..upper(rps_max)))?;
            mesh(&mut chart, "time (s)", "throughput (requests/s)")?;
            for ((s, segs), &colour) in series.iter().zip(&rps).zip(&colours) {
                draw_lines(&mut chart, segs, colour, Dash::Solid, Some(&s.label), false)?;
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
}
