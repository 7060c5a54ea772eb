//! Charts for the reports, as self-contained SVG documents.
//!
//! Every chart is drawn with plotters' SVG backend into a `String` of fixed
//! size, ready to be written to `plots/*.svg` or inlined into an HTML page
//! that is opened offline. The SVG holds only shapes and `<text>` elements
//! with a generic `sans-serif` family: plotters is built without its `ttf`
//! feature, so it lays text out with its naive size estimate and never loads
//! a font file (a fresh CI machine has none).
//!
//! Colours are the same in every chart: Rust is a rust orange, Go is the Go
//! blue, and any other series takes the extra colours in turn. A series is
//! Rust's or Go's when its label has the word "rust" or "go" in it.
//!
//! Missing values never panic: non-finite numbers are dropped, `None` leaves
//! a gap in a line, and a chart (or panel) with nothing to draw shows its
//! frame with a centred "no data".

use std::ops::Range;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{
    AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter,
};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Rust's colour in every chart and page, as CSS hex.
pub const RUST_HEX: &str = "#ce422b";
/// Go's colour in every chart and page, as CSS hex.
pub const GO_HEX: &str = "#00add8";
/// The colour of a verdict of no significant difference, as CSS hex.
pub const NEUTRAL_HEX: &str = "#888888";

const RUST: RGBColor = RGBColor(0xce, 0x42, 0x2b);
const GO: RGBColor = RGBColor(0x00, 0xad, 0xd8);
const NEUTRAL: RGBColor = RGBColor(0x88, 0x88, 0x88);
/// Colours for series that are neither Rust's nor Go's, taken in turn.
const EXTRA: [RGBColor; 5] = [
    RGBColor(0x6a, 0x3d, 0x9a),
    RGBColor(0x2c, 0x8c, 0x3c),
    RGBColor(0xd4, 0x8a, 0x00),
    RGBColor(0x44, 0x44, 0x44),
    RGBColor(0xc2, 0x3b, 0x8a),
];

const WIDTH: u32 = 800;
const HEIGHT: u32 = 400;
const HEIGHT_TWO_PANELS: u32 = 600;
const FONT: &str = "sans-serif";
const TITLE_SIZE: u32 = 22;
const LABEL_SIZE: u32 = 13;
const DESC_SIZE: u32 = 14;
const LEGEND_SIZE: u32 = 13;

/// The largest percentile drawn on a spectrum's `1/(1 − p)` axis: 100 %
/// itself would sit at infinity.
const SPECTRUM_P_CAP: f64 = 99.9999;

/// One line of a latency spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumSeries {
    /// Legend label, e.g. "Rust" or "Go (net/http)".
    pub label: String,
    /// `(percentile 0..=100, latency in ms)`, in increasing percentile.
    pub points: Vec<(f64, f64)>,
}

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

/// One target's startup times, drawn as an empirical CDF.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupSeries {
    /// Legend label.
    pub label: String,
    /// One startup time per sample in ms, in any order.
    pub samples_ms: Vec<f64>,
}

/// One colour of bars in a grouped bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// Legend label.
    pub label: String,
    /// One value in MiB per category, in the categories' order; `None` draws
    /// no bar and the text "n/a".
    pub values: Vec<Option<f64>>,
}

/// One target's stepped-load capacity search.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacitySeries {
    /// Legend label.
    pub label: String,
    /// The stages in the order they ran.
    pub stages: Vec<CapacityStage>,
    /// The highest rate that held the SLO, marked with a vertical line.
    pub capacity_rps: Option<f64>,
}

/// One stage of a [`CapacitySeries`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacityStage {
    /// The request rate the load generator offered.
    pub offered_rps: f64,
    /// The rate it completed.
    pub achieved_rps: f64,
    /// 99th percentile latency, `None` when nothing completed.
    pub p99_ms: Option<f64>,
    /// Whether the stage held the SLO (drawn filled; broken ones as crosses).
    pub held: bool,
}

/// One row of a forest plot of ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioRow {
    /// Row label, drawn left of the row.
    pub label: String,
    /// The point estimate of the ratio (Go / Rust).
    pub estimate: f64,
    /// Lower end of the confidence interval.
    pub low: f64,
    /// Upper end of the confidence interval.
    pub high: f64,
    /// "Rust better", "Go better" or "no significant difference"; picks the
    /// point's colour (Rust's, Go's or grey).
    pub verdict: String,
}

/// One line of a trend across runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendSeries {
    /// Legend label.
    pub label: String,
    /// One value per x label, in the same order; `None` leaves a gap.
    pub values: Vec<Option<f64>>,
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
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|y| tick(*y))
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .light_line_style(BLACK.mix(0.05))
            .bold_line_style(BLACK.mix(0.15))
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
fn spectrum_x(p: f64) -> f64 {
    (1.0 / (1.0 - p / 100.0)).log10()
}

/// "0%", "90%", "99%", "99.9%", …: the percentile at `decade` decades of
/// `1/(1 − p)`.
fn percentile_label(decade: f64) -> String {
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
fn x_range_start(lo: f64) -> f64 {
    lo.min(0.0)
}

/// Grouped bars in MiB, one group per category and one colour per series,
/// with each value written above its bar and "n/a" where it is missing.
pub fn sizes(title: &str, categories: &[String], series: &[BarSeries]) -> Result<String> {
    let values = |s: &BarSeries, i: usize| {
        s.values
            .get(i)
            .copied()
            .flatten()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let max = series
        .iter()
        .flat_map(|s| (0..categories.len()).filter_map(move |i| values(s, i)))
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let colours = colours(series.iter().map(|s| s.label.as_str()));

    render((WIDTH, HEIGHT), title, |area| {
        let Some(max) = max.filter(|_| !categories.is_empty() && !series.is_empty()) else {
            return no_data(area);
        };
        let n = categories.len();
        let ticks: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        let name = |x: &f64| {
            let i = (*x - 0.5).round();
            if i >= 0.0 && (i as usize) < n {
                shorten(&categories[i as usize], 18)
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(
                Axis::linear(0.0..n as f64, ticks, Vec::new()),
                legend_room(0.0..upper(max) * 1.1),
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc("size (MiB)")
            .x_label_formatter(&name)
            .y_label_formatter(&|y| tick(*y))
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .light_line_style(BLACK.mix(0.05))
            .bold_line_style(BLACK.mix(0.15))
            .draw()?;
        let group = 0.8;
        let bar = group / series.len() as f64;
        let text_style =
            TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (j, (s, &colour)) in series.iter().zip(&colours).enumerate() {
            let left = |i: usize| i as f64 + (1.0 - group) / 2.0 + j as f64 * bar;
            let bars = (0..n).filter_map(|i| {
                values(s, i).map(|v| {
                    Rectangle::new([(left(i), 0.0), (left(i) + bar * 0.92, v)], colour.filled())
                })
            });
            chart
                .draw_series(bars)?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled())
                });
            let texts = (0..n).map(|i| {
                let centre = left(i) + bar * 0.46;
                let (y, text) = match values(s, i) {
                    Some(v) => (v, tick_value(v)),
                    None => (0.0, "n/a".to_owned()),
                };
                EmptyElement::at((centre, y)) + Text::new(text, (0, -3), text_style.clone())
            });
            chart.draw_series(texts)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// A capacity search in two panels against the offered rate: the top has
/// p99 latency per stage (held stages filled, broken ones as crosses) with
/// the SLO as a dashed line labelled "SLO"; the bottom has the achieved rate
/// with the y = x diagonal. Each series' capacity is a dashed vertical line.
/// The latency axis turns logarithmic when it spans more than 20×.
pub fn capacity(title: &str, slo_ms: Option<f64>, series: &[CapacitySeries]) -> Result<String> {
    let slo = slo_ms.filter(|v| v.is_finite() && *v > 0.0);
    let stages: Vec<Vec<CapacityStage>> = series
        .iter()
        .map(|s| {
            let mut st: Vec<CapacityStage> = s
                .stages
                .iter()
                .copied()
                .filter(|st| st.offered_rps.is_finite())
                .collect();
            st.sort_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps));
            st
        })
        .collect();
    let caps: Vec<Option<f64>> = series
        .iter()
        .map(|s| s.capacity_rps.filter(|v| v.is_finite()))
        .collect();
    let offered_max = stages
        .iter()
        .flatten()
        .map(|s| s.offered_rps)
        .chain(caps.iter().flatten().copied())
        .fold(0.0, f64::max);
    let achieved = |s: &CapacityStage| Some(s.achieved_rps).filter(|v| v.is_finite());
    let p99 = |s: &CapacityStage| s.p99_ms.filter(|v| v.is_finite() && *v >= 0.0);
    let rate_max = stages
        .iter()
        .flatten()
        .filter_map(achieved)
        .fold(offered_max, f64::max);
    let lat = span(stages.iter().flatten().filter_map(p99).chain(slo));
    let has_stages = stages.iter().any(|s| !s.is_empty());
    let colours = colours(series.iter().map(|s| s.label.as_str()));

    render((WIDTH, HEIGHT_TWO_PANELS), title, |area| {
        if !has_stages {
            return no_data(area);
        }
        let panels = area.split_evenly((2, 1));
        let x_range = 0.0..upper(offered_max);
        let top = CapacityTop {
            series,
            stages: &stages,
            caps: &caps,
            colours: &colours,
            slo,
            p99: &p99,
        };
        match lat {
            None => no_data(&panels[0])?,
            Some((lo, hi)) if lo > 0.0 && hi / lo > 20.0 => {
                let (lo, hi) = (lo / 1.5, hi * 1.5);
                let chart = panel(
                    &panels[0],
                    x_range.clone(),
                    Axis::log(lo..hi, log_ticks(lo, hi)),
                )?;
                top.draw(chart)?;
            }
            Some((_, hi)) => {
                let chart = panel(&panels[0], x_range.clone(), 0.0..upper(hi))?;
                top.draw(chart)?;
            }
        }

        let y_top = upper(rate_max);
        let mut chart = panel(&panels[1], x_range, 0.0..y_top)?;
        mesh(
            &mut chart,
            "offered rate (requests/s)",
            "achieved (requests/s)",
        )?;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, 0.0), (y_top, y_top)],
                6,
                4,
                NEUTRAL.stroke_width(1),
            ))?
            .label("y = x")
            .legend(|(x, y)| {
                DashedPathElement::new(vec![(x, y), (x + 20, y)], 4, 3, NEUTRAL.stroke_width(1))
            });
        for (i, s) in series.iter().enumerate() {
            let colour = colours[i];
            let pts: Vec<(f64, Option<f64>, bool)> = stages[i]
                .iter()
                .map(|st| (st.offered_rps, achieved(st), st.held))
                .collect();
            stage_points(&mut chart, &s.label, colour, &pts)?;
            capacity_marker(&mut chart, caps[i], colour, 0.0..y_top)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// The top panel of [`capacity`], drawn on a linear or a logarithmic y axis.
struct CapacityTop<'s, F> {
    series: &'s [CapacitySeries],
    stages: &'s [Vec<CapacityStage>],
    caps: &'s [Option<f64>],
    colours: &'s [RGBColor],
    slo: Option<f64>,
    p99: &'s F,
}

impl<F: Fn(&CapacityStage) -> Option<f64>> CapacityTop<'_, F> {
    fn draw<'a, 'b: 'a, Y: Ranged<ValueType = f64> + ValueFormatter<f64>>(
        &self,
        mut chart: Chart<'a, 'b, RangedCoordf64, Y>,
    ) -> Result<()> {
        mesh(&mut chart, "offered rate (requests/s)", "p99 latency (ms)")?;
        let x_range = chart.x_range();
        let y_range = chart.y_range();
        if let Some(slo) = self.slo {
            chart.draw_series(DashedLineSeries::new(
                vec![(x_range.start, slo), (x_range.end, slo)],
                8,
                5,
                BLACK.mix(0.7).stroke_width(1),
            ))?;
            let style =
                TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Right, VPos::Bottom));
            chart.draw_series(std::iter::once(
                EmptyElement::at((x_range.end, slo)) + Text::new("SLO", (-4, -3), style),
            ))?;
        }
        for (i, s) in self.series.iter().enumerate() {
            let colour = self.colours[i];
            let pts: Vec<(f64, Option<f64>, bool)> = self.stages[i]
                .iter()
                .map(|st| (st.offered_rps, (self.p99)(st), st.held))
                .collect();
            stage_points(&mut chart, &s.label, colour, &pts)?;
            capacity_marker(&mut chart, self.caps[i], colour, y_range.clone())?;
        }
        // Explain the markers once, in grey.
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("held the SLO")
            .legend(|c| Circle::new(c, 4, NEUTRAL.filled()));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("did not hold")
            .legend(|c| Cross::new(c, 4, NEUTRAL.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// One capacity series' stages: a thin line through them, held stages as
/// filled circles and broken ones as crosses.
fn stage_points<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    label: &str,
    colour: RGBColor,
    pts: &[(f64, Option<f64>, bool)],
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let segs = segments(pts.iter().map(|&(x, y, _)| (x, y)));
    draw_lines(chart, &segs, colour, Dash::Thin, Some(label), false)?;
    let held = pts.iter().filter_map(|&(x, y, held)| {
        y.filter(|_| held)
            .map(|y| Circle::new((x, y), 5, colour.filled()))
    });
    chart.draw_series(held)?;
    let broken = pts.iter().filter_map(|&(x, y, held)| {
        y.filter(|_| !held)
            .map(|y| Cross::new((x, y), 5, colour.stroke_width(2)))
    });
    chart.draw_series(broken)?;
    Ok(())
}

/// A dashed vertical line at a series' capacity, with its value on top.
fn capacity_marker<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    cap: Option<f64>,
    colour: RGBColor,
    y: Range<f64>,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let Some(cap) = cap else { return Ok(()) };
    chart.draw_series(DashedLineSeries::new(
        vec![(cap, y.start), (cap, y.end)],
        6,
        4,
        colour.stroke_width(2),
    ))?;
    let style = TextStyle::from((FONT, 12).into_font())
        .color(&colour)
        .pos(Pos::new(HPos::Right, VPos::Top));
    chart.draw_series(std::iter::once(
        EmptyElement::at((cap, y.end))
            + Text::new(format!("{} rps", tick_value(cap)), (-4, 3), style),
    ))?;
    Ok(())
}

/// A forest plot of ratios: one row per entry, a point at the estimate
/// coloured by its verdict and a whisker over the interval, on a logarithmic
/// x axis with a dashed line at 1. The height grows with the rows.
pub fn ratios(title: &str, rows: &[RatioRow]) -> Result<String> {
    let valid = |r: &RatioRow| {
        [r.estimate, r.low, r.high]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
    };
    let (lo, hi) = rows
        .iter()
        .filter(|r| valid(r))
        .flat_map(|r| [r.estimate, r.low, r.high])
        .fold((1.0_f64, 1.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo / 1.15, hi * 1.15);
    let height = 140 + 28 * rows.len().max(1) as u32;
    let label_width = rows
        .iter()
        .map(|r| shorten(&r.label, 40).chars().count())
        .max()
        .unwrap_or(0);
    let label_area = (label_width as u32 * 7 + 16).clamp(80, 300);

    render((WIDTH, height), title, |area| {
        if rows.is_empty() {
            return no_data(area);
        }
        let (_, area_h) = area.dim_in_pixel();
        let (plot, key) = area.split_vertically(area_h.saturating_sub(28));
        let n = rows.len();
        let y_ticks: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        // Row i (0 = first) is drawn at the top.
        let row_y = |i: usize| (n - 1 - i) as f64 + 0.5;
        let row_label = |y: &f64| {
            let i = n as f64 - 0.5 - *y;
            let i = i.round();
            if i >= 0.0 && (i as usize) < n {
                shorten(&rows[i as usize].label, 40)
            } else {
                String::new()
            }
        };
        let x_spec = Axis::log(lo..hi, log_ticks(lo, hi));
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(150)
            .x_label_area_size(42)
            .y_label_area_size(label_area)
            .build_cartesian_2d(x_spec, Axis::linear(0.0..n as f64, y_ticks, Vec::new()))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("Go / Rust (95% CI)")
            .x_label_formatter(&|x| format!("{}×", tick(*x)))
            .y_label_formatter(&row_label)
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        chart.draw_series(DashedLineSeries::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            6,
            4,
            BLACK.mix(0.6).stroke_width(1),
        ))?;
        let right = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, r) in rows.iter().enumerate() {
            let y = row_y(i);
            if !valid(r) {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((hi, y)) + Text::new("n/a", (10, 0), right.clone()),
                ))?;
                continue;
            }
            let colour = verdict_colour(&r.verdict);
            let (low, high) = (r.low.min(r.high), r.low.max(r.high));
            chart.draw_series(LineSeries::new(
                vec![(low, y), (high, y)],
                colour.stroke_width(2),
            ))?;
            for end in [low, high] {
                chart.draw_series(LineSeries::new(
                    vec![(end, y - 0.18), (end, y + 0.18)],
                    colour.stroke_width(2),
                ))?;
            }
            chart.draw_series(std::iter::once(Circle::new(
                (r.estimate, y),
                6,
                colour.filled(),
            )))?;
            let text = format!("{} [{}–{}]", tick(r.estimate), tick(low), tick(high));
            chart.draw_series(std::iter::once(
                EmptyElement::at((hi, y)) + Text::new(text, (10, 0), right.clone()),
            ))?;
        }
        // The key: what each point colour means.
        let key_style = TextStyle::from((FONT, LEGEND_SIZE).into_font())
            .pos(Pos::new(HPos::Left, VPos::Center));
        let mut x = label_area as i32 + 10;
        for (text, colour) in [
            ("Rust better", RUST),
            ("Go better", GO),
            ("no significant difference", NEUTRAL),
        ] {
            key.draw(&Circle::new((x, 14), 5, colour.filled()))?;
            key.draw(&Text::new(text, (x + 10, 14), key_style.clone()))?;
            x += 30 + 7 * text.len() as i32;
        }
        Ok(())
    })
}

/// Rust's colour, Go's, or grey, for a verdict.
fn verdict_colour(verdict: &str) -> RGBColor {
    match verdict_hex(verdict) {
        RUST_HEX => RUST,
        GO_HEX => GO,
        _ => NEUTRAL,
    }
}

/// The CSS colour of a verdict: [`RUST_HEX`] for "Rust better", [`GO_HEX`]
/// for "Go better", [`NEUTRAL_HEX`] otherwise.
pub fn verdict_hex(verdict: &str) -> &'static str {
    let v = verdict.to_ascii_lowercase();
    if v.contains("rust better") {
        RUST_HEX
    } else if v.contains("go better") {
        GO_HEX
    } else {
        NEUTRAL_HEX
    }
}

/// Tick positions for a logarithmic axis over `lo..hi`: 1, 2, 5 (and more
/// in between on short spans) times powers of ten, at most about ten.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mantissas: [&[f64]; 3] = [
        &[1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0],
        &[1.0, 2.0, 5.0],
        &[1.0],
    ];
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let mut ticks = Vec::new();
    for m in mantissas {
        ticks = (first..=last)
            .flat_map(|d| m.iter().map(move |k| k * 10f64.powi(d)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect();
        if ticks.len() <= 10 {
            break;
        }
    }
    if ticks.len() < 2 {
        ticks = vec![lo, 1.0, hi];
    }
    ticks
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
        chart
            .configure_mesh()
            .x_desc("run")
            .y_desc(y_label)
            .x_label_formatter(&label)
            .y_label_formatter(&|y| tick(*y))
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .light_line_style(BLACK.mix(0.05))
            .bold_line_style(BLACK.mix(0.15))
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

// ---------------------------------------------------------------------------
// Shared drawing helpers.

/// A numeric axis with the tick positions chosen here (plotters'
/// `WithKeyPoints` over an `f64` range cannot take a label formatter), on a
/// linear or a base-10 logarithmic scale.
#[derive(Debug, Clone)]
struct Axis {
    range: Range<f64>,
    log: bool,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Axis {
    fn linear(range: Range<f64>, bold: Vec<f64>, light: Vec<f64>) -> Self {
        Axis {
            range,
            log: false,
            bold,
            light,
        }
    }

    /// A logarithmic axis; `range` must be positive.
    fn log(range: Range<f64>, bold: Vec<f64>) -> Self {
        Axis {
            range,
            log: true,
            bold,
            light: Vec::new(),
        }
    }

    fn scale(&self, v: f64) -> f64 {
        if self.log {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (self.scale(self.range.start), self.scale(self.range.end));
        let t = (self.scale(*value) - a) / (b - a);
        let pixel = f64::from(limit.0) + t * f64::from(limit.1 - limit.0);
        if pixel.is_finite() {
            pixel.round().clamp(-1e6, 1e6) as i32
        } else {
            limit.0
        }
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
/// The unbroken runs of one line's points.
type Segments = Vec<Vec<(f64, f64)>>;
type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// Draws a chart of `size` with `title` on a white page and returns the SVG.
fn render(
    size: (u32, u32),
    title: &str,
    draw: impl FnOnce(&Area<'_>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let body = root.titled(title, (FONT, TITLE_SIZE))?;
        draw(&body)?;
        root.present()?;
    }
    Ok(svg)
}

/// A framed area with a centred "no data".
fn no_data(area: &Area<'_>) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    area.draw(&Rectangle::new(
        [(12, 4), (w - 12, h - 12)],
        BLACK.mix(0.4).stroke_width(1),
    ))?;
    let style = TextStyle::from((FONT, 20).into_font())
        .color(&NEUTRAL)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new("no data", (w / 2, h / 2), style))?;
    Ok(())
}

/// A chart with the usual margins and label areas on a linear x axis.
fn panel<'a, 'b, Y: AsRangedCoord<Value = f64>>(
    area: &'a Area<'b>,
    x: Range<f64>,
    y: Y,
) -> Result<Chart<'a, 'b, RangedCoordf64, Y::CoordDescType>> {
    Ok(ChartBuilder::on(area)
        .margin(10)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?)
}

/// The grid, the tick labels and the axis descriptions.
fn mesh<X, Y>(chart: &mut Chart<'_, '_, X, Y>, x_desc: &str, y_desc: &str) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| tick(*x))
        .y_label_formatter(&|y| tick(*y))
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.15))
        .draw()?;
    Ok(())
}

/// The legend of every labelled series, in a box at `position`.
fn legend<'a, 'b: 'a, X, Y>(
    chart: &mut Chart<'a, 'b, X, Y>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, LEGEND_SIZE))
        .draw()?;
    Ok(())
}

/// How a line is stroked.
#[derive(Clone, Copy)]
enum Dash {
    Solid,
    Dashed,
    Thin,
}

/// Draws the segments of one series in `colour`, labelling it once in the
/// legend (even when it has no segment). A segment of one point, or every
/// point when `markers`, also gets a dot.
fn draw_lines<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    segs: &[Vec<(f64, f64)>],
    colour: RGBColor,
    dash: Dash,
    label: Option<&str>,
    markers: bool,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let style = match dash {
        Dash::Thin => colour.mix(0.6).stroke_width(1),
        _ => colour.stroke_width(2),
    };
    let empty = [Vec::new()];
    let segs = if segs.is_empty() { &empty[..] } else { segs };
    for (k, seg) in segs.iter().enumerate() {
        let anno = match dash {
            Dash::Dashed => chart.draw_series(DashedLineSeries::new(seg.clone(), 7, 4, style))?,
            _ => chart.draw_series(LineSeries::new(seg.clone(), style))?,
        };
        if let (0, Some(label)) = (k, label) {
            match dash {
                Dash::Dashed => anno.label(label).legend(move |(x, y)| {
                    DashedPathElement::new(vec![(x, y), (x + 20, y)], 5, 3, style)
                }),
                // A thin line is drawn in full in the legend, to be seen.
                _ => anno.label(label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                }),
            };
        }
        if markers || seg.len() == 1 {
            chart.draw_series(seg.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    Ok(())
}

/// Splits `(x, y)` points into runs of finite values: a `None` or
/// non-finite point ends a segment.
fn segments(points: impl Iterator<Item = (f64, Option<f64>)>) -> Segments {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        match y {
            Some(y) if x.is_finite() && y.is_finite() => current.push((x, y)),
            _ => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The colour of each series: Rust's or Go's by label, the extra colours in
/// turn for the rest.
fn colours<'l>(labels: impl Iterator<Item = &'l str>) -> Vec<RGBColor> {
    let mut extra = 0;
    labels
        .map(|label| {
            let words: Vec<String> = label
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_lowercase)
                .collect();
            if words.iter().any(|w| w == "rust") {
                RUST
            } else if words.iter().any(|w| w == "go" || w == "golang") {
                GO
            } else {
                extra += 1;
                EXTRA[(extra - 1) % EXTRA.len()]
            }
        })
        .collect()
}

/// The finite minimum and maximum, if any.
fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A range over `lo..hi` with a little room at the ends (none below `lo`
/// when `keep_lo`), never empty.
fn padded((lo, hi): (f64, f64), keep_lo: bool) -> Range<f64> {
    let (lo, hi) = if hi - lo > 1e-12 * hi.abs().max(1.0) {
        (lo, hi)
    } else {
        let d = (hi.abs() * 0.1).max(1.0);
        (if keep_lo { lo } else { lo - d }, hi + d)
    };
    let pad = (hi - lo) * 0.03;
    (if keep_lo { lo } else { lo - pad })..hi + pad
}

/// `range` with a quarter more on top, where the legend box goes.
fn legend_room(range: Range<f64>) -> Range<f64> {
    let span = range.end - range.start;
    range.start..range.end + span * 0.25
}

/// The top of an axis from 0 that shows `max` with a little room, or 1 when
/// there is nothing above 0.
fn upper(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.08
    } else {
        1.0
    }
}

/// A short number for a tick label: no trailing zeros, at most 3 decimals.
fn tick(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".to_owned() } else { s }
}

/// A value written on a chart: like [`tick`], with 3 significant digits for
/// small values.
fn tick_value(v: f64) -> String {
    if v.abs() >= 10.0 || v == 0.0 {
        tick(v)
    } else {
        let s = format!("{v:.2}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
}

/// `s` cut to at most `max` characters, ending in "…" when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that `svg` is one well-formed SVG document without non-finite
    /// numbers and with every string of `expected` in it.
    fn check(svg: &str, expected: &[&str]) {
        assert!(
            svg.starts_with("<svg"),
            "starts with {:?}",
            &svg[..svg.len().min(40)]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        let doc = roxmltree::Document::parse(svg).expect("well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(!svg.contains("NaN"), "NaN in the SVG");
        assert!(!svg.contains("inf"), "inf in the SVG");
        // Self-contained: no external references, images or fonts.
        for bad in ["href", "<image", "@font-face", "url("] {
            assert!(!svg.contains(bad), "{bad} in the SVG");
        }
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        for want in expected {
            assert!(
                texts.iter().any(|t| t.contains(want)),
                "no text {want:?} in {texts:?}"
            );
        }
    }

    /// The fill colours of the circles that are drawn with a radius of 6: the
    /// ratio chart's estimates, top row first (its key's dots are smaller).
    fn estimate_fills(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("6"))
            .filter_map(|n| n.attribute("fill").map(str::to_lowercase))
            .collect()
    }

    fn hist_1_to_1000_us() -> hdrhistogram::Histogram<u64> {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        h
    }

    fn spectrum_input() -> Vec<SpectrumSeries> {
        let h = hist_1_to_1000_us();
        let rust = spectrum_points(&h, 1000.0);
        let go: Vec<(f64, f64)> = rust.iter().map(|&(p, v)| (p, v * 1.6 + 0.2)).collect();
        vec![
            SpectrumSeries {
                label: "Rust".into(),
                points: rust,
            },
            SpectrumSeries {
                label: "Go".into(),
                points: go,
            },
        ]
    }

    fn timeline_input() -> Vec<TimelineSeries> {
        let series = |label: &str, scale: f64| TimelineSeries {
            label: label.into(),
            points: (0..60)
                .map(|i| {
                    let t = f64::from(i);
                    let gap = (20..23).contains(&i);
                    TimelinePoint {
                        t_s: t,
                        p50_ms: (!gap).then_some(scale * (1.0 + (t / 7.0).sin() * 0.2)),
                        p99_ms: (!gap).then_some(scale * (3.0 + (t / 5.0).cos())),
                        rps: if gap { 0.0 } else { 5000.0 / scale },
                    }
                })
                .collect(),
        };
        vec![series("Rust", 1.0), series("Go", 1.4)]
    }

    fn usage_input() -> Vec<UsageSeries> {
        let series = |label: &str, base: f64, shift: f64| UsageSeries {
            label: label.into(),
            points: (0..40)
                .map(|i| {
                    let t = f64::from(i) * 0.5 + shift;
                    let loaded = (5.0 + shift..15.0 + shift).contains(&t);
                    let cpu = (i > 0).then_some(if loaded { 80.0 + base } else { 1.0 });
                    (t, base + if loaded { 12.0 } else { 0.0 }, cpu)
                })
                .collect(),
            load_window: Some((5.0 + shift, 15.0 + shift)),
        };
        vec![series("Rust", 8.0, 0.0), series("Go", 14.0, 1.0)]
    }

    fn startup_input() -> Vec<StartupSeries> {
        vec![
            StartupSeries {
                label: "Rust".into(),
                samples_ms: vec![3.1, 2.8, 3.4, 2.9, 3.0, 4.2, 3.3],
            },
            StartupSeries {
                label: "Go".into(),
                samples_ms: vec![5.5, 6.1, 5.9, 7.4, 5.8, 6.0, 6.3],
            },
        ]
    }

    fn sizes_input() -> (Vec<String>, Vec<BarSeries>) {
        let cats = ["binary", "stripped", "image", "image (gzip)"]
            .map(String::from)
            .to_vec();
        let series = vec![
            BarSeries {
                label: "Rust".into(),
                values: vec![Some(9.8), Some(4.1), Some(12.5), Some(5.2)],
            },
            BarSeries {
                label: "Go".into(),
                values: vec![Some(15.2), Some(10.6), None, Some(7.9)],
            },
        ];
        (cats, series)
    }

    fn capacity_input() -> Vec<CapacitySeries> {
        let stages = |limit: f64, lat: f64| -> Vec<CapacityStage> {
            (1..=8)
                .map(|k| {
                    let offered = f64::from(k) * 2500.0;
                    let held = offered <= limit;
                    CapacityStage {
                        offered_rps: offered,
                        achieved_rps: offered.min(limit * 1.05),
                        p99_ms: Some(if held {
                            lat * (1.0 + offered / 20000.0)
                        } else {
                            lat * 40.0
                        }),
                        held,
                    }
                })
                .collect()
        };
        vec![
            CapacitySeries {
                label: "Rust".into(),
                stages: stages(15000.0, 1.0),
                capacity_rps: Some(15000.0),
            },
            CapacitySeries {
                label: "Go".into(),
                stages: stages(10000.0, 1.5),
                capacity_rps: Some(10000.0),
            },
        ]
    }

    fn ratio_input() -> Vec<RatioRow> {
        let row = |label: &str, e: f64, lo: f64, hi: f64, verdict: &str| RatioRow {
            label: label.into(),
            estimate: e,
            low: lo,
            high: hi,
            verdict: verdict.into(),
        };
        vec![
            row("p99 latency (ms)", 1.9, 1.7, 2.1, "Rust better"),
            row("throughput (req/s)", 0.8, 0.7, 0.9, "Go better"),
            row("startup (ms)", 1.02, 0.95, 1.1, "no significant difference"),
        ]
    }

    fn trend_input() -> (Vec<String>, Vec<TrendSeries>) {
        let labels = ["a1b2c3d", "c5ff78d", "20261130T050000Z", "e9f0a1b"]
            .map(String::from)
            .to_vec();
        let series = vec![
            TrendSeries {
                label: "Rust".into(),
                values: vec![Some(1.2), Some(1.25), None, Some(1.1)],
            },
            TrendSeries {
                label: "Go".into(),
                values: vec![Some(2.3), Some(2.2), Some(2.4), Some(2.35)],
            },
        ];
        (labels, series)
    }

    #[test]
    fn spectrum_draws_percentile_axis_and_legend() {
        let svg = spectrum("Latency by percentile", &spectrum_input()).unwrap();
        check(
            &svg,
            &[
                "Latency by percentile",
                "Rust",
                "Go",
                "0%",
                "90%",
                "99%",
                "99.9%",
                "99.99%",
                "99.999%",
            ],
        );
    }

    #[test]
    fn spectrum_points_end_at_100_and_are_monotonic() {
        let pts = spectrum_points(&hist_1_to_1000_us(), 1000.0);
        assert!(pts.len() > 20, "{} points", pts.len());
        assert_eq!(pts.last().unwrap().0, 100.0);
        let max = pts.last().unwrap().1;
        assert!((max - 1.0).abs() < 0.002, "max {max} ms");
        assert!(pts[0].1 > 0.0 && pts[0].1 <= 0.002);
        for w in pts.windows(2) {
            assert!(w[1].0 >= w[0].0, "percentiles go back at {w:?}");
            assert!(w[1].1 >= w[0].1, "values go back at {w:?}");
        }
        assert!(pts.iter().all(|(p, v)| p.is_finite() && v.is_finite()));
        let empty = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        assert!(spectrum_points(&empty, 1000.0).is_empty());
    }

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = (0..=6).map(|k| percentile_label(f64::from(k))).collect();
        assert_eq!(
            labels,
            ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        );
    }

    #[test]
    fn timeline_has_both_panels() {
        let svg = timeline("Latency and throughput over time", &timeline_input()).unwrap();
        check(
            &svg,
            &[
                "Latency and throughput over time",
                "Rust p50",
                "Rust p99",
                "Go p50",
                "Go p99",
                "latency (ms)",
                "throughput (requests/s)",
            ],
        );
    }

    #[test]
    fn server_usage_has_both_panels_and_load_window() {
        let svg = server_usage("Server memory and CPU", &usage_input()).unwrap();
        check(
            &svg,
            &[
                "Server memory and CPU",
                "Rust",
                "Go",
                "memory (RSS, MiB)",
                "CPU (% of one core)",
                "load window",
            ],
        );
        // The load windows are shaded in the series' colours.
        assert!(svg.contains("#CE422B") && svg.contains("#00ADD8"));
    }

    #[test]
    fn startup_draws_each_sample() {
        let input = startup_input();
        let svg = startup("Startup time", &input).unwrap();
        check(&svg, &["Startup time", "Rust", "Go", "startup time (ms)"]);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let dots = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("3"))
            .count();
        assert_eq!(
            dots,
            input.iter().map(|s| s.samples_ms.len()).sum::<usize>()
        );
    }

    #[test]
    fn sizes_writes_values_and_na() {
        let (cats, series) = sizes_input();
        let svg = sizes("Binary and image sizes", &cats, &series).unwrap();
        check(
            &svg,
            &[
                "Binary and image sizes",
                "Rust",
                "Go",
                "binary",
                "stripped",
                "image (gzip)",
                "9.8",
                "15.2",
                "n/a",
            ],
        );
    }

    #[test]
    fn capacity_draws_slo_and_markers() {
        let svg = capacity("Capacity search", Some(5.0), &capacity_input()).unwrap();
        check(
            &svg,
            &[
                "Capacity search",
                "Rust",
                "Go",
                "SLO",
                "y = x",
                "15000 rps",
                "10000 rps",
                "p99 latency (ms)",
            ],
        );
        // Without an SLO and with one target.
        let one = &capacity_input()[..1];
        check(
            &capacity("Capacity", None, one).unwrap(),
            &["Capacity", "Rust"],
        );
    }

    #[test]
    fn ratios_colour_points_by_verdict() {
        let rows = ratio_input();
        let svg = ratios("Go / Rust", &rows).unwrap();
        check(
            &svg,
            &[
                "Go / Rust",
                "p99 latency (ms)",
                "throughput (req/s)",
                "startup (ms)",
                "Go / Rust (95% CI)",
                "1×",
                "Rust better",
                "Go better",
                "no significant difference",
            ],
        );
        assert_eq!(estimate_fills(&svg), [RUST_HEX, GO_HEX, NEUTRAL_HEX]);
        // The height grows with the rows.
        let one = ratios("one", &rows[..1]).unwrap();
        let height = |svg: &str| {
            roxmltree::Document::parse(svg)
                .unwrap()
                .root_element()
                .attribute("height")
                .unwrap()
                .parse::<u32>()
                .unwrap()
        };
        assert_eq!(height(&svg) - height(&one), 2 * 28);
    }

    #[test]
    fn ratios_survive_bad_numbers() {
        let mut rows = ratio_input();
        rows[1].low = f64::NAN;
        rows[2].estimate = 0.0;
        let svg = ratios("bad", &rows).unwrap();
        check(&svg, &["bad", "n/a"]);
        assert_eq!(estimate_fills(&svg), [RUST_HEX]);
    }

    #[test]
    fn verdict_colours() {
        assert_eq!(verdict_hex("Rust better"), RUST_HEX);
        assert_eq!(verdict_hex("Go better"), GO_HEX);
        assert_eq!(verdict_hex("no significant difference"), NEUTRAL_HEX);
        assert_eq!(verdict_hex(""), NEUTRAL_HEX);
    }

    #[test]
    fn trend_labels_runs_and_shortens() {
        let (labels, series) = trend_input();
        let svg = trend("p99 latency across runs", &labels, &series, "p99 (ms)").unwrap();
        check(
            &svg,
            &[
                "p99 latency across runs",
                "Rust",
                "Go",
                "a1b2c3d",
                "c5ff78d",
                "20261130T05…",
                "p99 (ms)",
            ],
        );
    }

    #[test]
    fn empty_inputs_say_no_data() {
        let none_timeline = vec![TimelineSeries {
            label: "Rust".into(),
            points: vec![TimelinePoint {
                t_s: 0.0,
                p50_ms: None,
                p99_ms: None,
                rps: f64::NAN,
            }],
        }];
        let none_sizes = vec![BarSeries {
            label: "Rust".into(),
            values: vec![None, None],
        }];
        let none_trend = vec![TrendSeries {
            label: "Go".into(),
            values: vec![None, Some(f64::INFINITY)],
        }];
        let cases = [
            ("spectrum", spectrum("t", &[]).unwrap()),
            (
                "spectrum (NaN)",
                spectrum(
                    "t",
                    &[SpectrumSeries {
                        label: "Rust".into(),
                        points: vec![(f64::NAN, 1.0), (50.0, f64::INFINITY)],
                    }],
                )
                .unwrap(),
            ),
            ("timeline", timeline("t", &[]).unwrap()),
            ("timeline (None)", timeline("t", &none_timeline).unwrap()),
            ("server_usage", server_usage("t", &[]).unwrap()),
            (
                "startup",
                startup(
                    "t",
                    &[StartupSeries {
                        label: "Go".into(),
                        samples_ms: vec![],
                    }],
                )
                .unwrap(),
            ),
            ("sizes", sizes("t", &[], &[]).unwrap()),
            (
                "sizes (None)",
                sizes("t", &["a".into(), "b".into()], &none_sizes).unwrap(),
            ),
            ("capacity", capacity("t", Some(5.0), &[]).unwrap()),
            ("ratios", ratios("t", &[]).unwrap()),
            ("trend", trend("t", &[], &[], "y").unwrap()),
            (
                "trend (None)",
                trend("t", &["a".into(), "b".into()], &none_trend, "y").unwrap(),
            ),
        ];
        for (name, svg) in cases {
            println!("{name}");
            check(&svg, &["no data"]);
        }
    }

    #[test]
    fn single_points_and_flat_values_do_not_break_axes() {
        let flat = vec![StartupSeries {
            label: "Rust".into(),
            samples_ms: vec![5.0],
        }];
        check(&startup("flat", &flat).unwrap(), &["flat", "Rust"]);
        let one = vec![TrendSeries {
            label: "Rust".into(),
            values: vec![Some(0.0)],
        }];
        check(
            &trend("one", &["x".into()], &one, "y").unwrap(),
            &["one", "Rust"],
        );
        let tl = vec![TimelineSeries {
            label: "Go".into(),
            points: vec![TimelinePoint {
                t_s: 3.0,
                p50_ms: Some(0.0),
                p99_ms: Some(0.0),
                rps: 0.0,
            }],
        }];
        check(&timeline("tl", &tl).unwrap(), &["tl", "Go p50"]);
        let cap = vec![CapacitySeries {
            label: "Go".into(),
            stages: vec![CapacityStage {
                offered_rps: 100.0,
                achieved_rps: 100.0,
                p99_ms: None,
                held: false,
            }],
            capacity_rps: None,
        }];
        check(
            &capacity("cap", Some(1.0), &cap).unwrap(),
            &["cap", "Go", "SLO"],
        );
    }

    #[test]
    fn extra_series_take_a_third_colour() {
        let c = colours(["Rust (axum)", "Go (net/http)", "nginx", "golang"].into_iter());
        assert_eq!(c, [RUST, GO, EXTRA[0], GO]);
    }

    #[test]
    fn escapes_text() {
        let svg = trend(
            "a < b & c",
            &["x".into()],
            &[TrendSeries {
                label: "<Rust>".into(),
                values: vec![Some(1.0)],
            }],
            "y",
        )
        .unwrap();
        check(&svg, &["a < b & c", "<Rust>"]);
    }

    /// Writes one sample of each chart to /tmp/plots-sample for a look:
    /// `cargo test -p harness --lib plots::tests::write_samples -- --ignored`.
    #[test]
    #[ignore = "writes files to /tmp/plots-sample"]
    fn write_samples() {
        let dir = std::path::Path::new("/tmp/plots-sample");
        std::fs::create_dir_all(dir).unwrap();
        let (cats, bars) = sizes_input();
        let (labels, trends) = trend_input();
        let many: Vec<String> = (0..30)
            .map(|i| format!("2026113{}T0500{:02}Z", i % 10, i))
            .collect();
        let many_series = vec![
            TrendSeries {
                label: "Rust".into(),
                values: (0..30)
                    .map(|i| (i % 7 != 3).then_some(1.0 + f64::from(i) * 0.01))
                    .collect(),
            },
            TrendSeries {
                label: "Go".into(),
                values: (0..30)
                    .map(|i| Some(2.0 + f64::from(i % 5) * 0.1))
                    .collect(),
            },
        ];
        let samples = [
            (
                "spectrum",
                spectrum("Latency by percentile (sample)", &spectrum_input()).unwrap(),
            ),
            (
                "timeline",
                timeline(
                    "Latency and throughput over time (sample)",
                    &timeline_input(),
                )
                .unwrap(),
            ),
            (
                "server_usage",
                server_usage("Server memory and CPU (sample)", &usage_input()).unwrap(),
            ),
            (
                "startup",
                startup("Startup time (sample)", &startup_input()).unwrap(),
            ),
            (
                "sizes",
                sizes("Binary and image sizes (sample)", &cats, &bars).unwrap(),
            ),
            (
                "capacity",
                capacity("Capacity search (sample)", Some(5.0), &capacity_input()).unwrap(),
            ),
            (
                "ratios",
                ratios("Go / Rust ratios (sample)", &ratio_input()).unwrap(),
            ),
            (
                "trend",
                trend(
                    "p99 latency across runs (sample)",
                    &labels,
                    &trends,
                    "p99 latency (ms)",
                )
                .unwrap(),
            ),
            (
                "trend_many",
                trend("30 runs (sample)", &many, &many_series, "p99 latency (ms)").unwrap(),
            ),
            (
                "no_data",
                timeline("Nothing recorded (sample)", &[]).unwrap(),
            ),
        ];
        for (name, svg) in samples {
            std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
        }
    }
}
