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
//!
//! This file is the toolkit every chart shares (colours, sizes, the log
//! axis, panels, legends, dashed and broken lines); each chart kind has a
//! file of its own.

use std::ops::Range;

use anyhow::Result;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{
    AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter,
};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

mod capacity;
mod ratios;
mod sizes;
mod spectrum;
mod startup;
mod timeline;
mod trend;
mod usage;

pub use capacity::{CapacitySeries, CapacityStage, capacity};
pub use ratios::{RatioRow, ratios, verdict_hex, verdict_key};
pub use sizes::{BarSeries, sizes};
pub use spectrum::{SpectrumSeries, spectrum, spectrum_points};
pub use startup::{StartupSeries, startup};
pub use timeline::{TimelinePoint, TimelineSeries, timeline};
pub use trend::{TrendSeries, trend};
pub use usage::{UsageSeries, server_usage};
/// Rust's colour in every chart and page, as CSS hex.
pub const RUST_HEX: &str = "#ce422b";

/// Go's colour in every chart and page, as CSS hex.
pub const GO_HEX: &str = "#00add8";

/// The colour of a verdict of no significant difference, as CSS hex.
pub const NEUTRAL_HEX: &str = "#888888";

/// The colour of a verdict won by a target that is neither Rust nor Go.
pub const OTHER_WINNER_HEX: &str = "#6a3d9a";

const OTHER_WINNER: RGBColor = RGBColor(0x6a, 0x3d, 0x9a);

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
    house_style(
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|x| tick(*x))
            .y_label_formatter(&|y| tick(*y)),
    )
    .draw()?;
    Ok(())
}

/// The look every grid shares: label and description fonts, faint light
/// lines and slightly darker bold ones.
fn house_style<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged,
    Y: Ranged,
    DB: DrawingBackend,
{
    mesh.label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.15))
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
            label_colour(label).unwrap_or_else(|| {
                extra += 1;
                EXTRA[(extra - 1) % EXTRA.len()]
            })
        })
        .collect()
}

/// Rust's colour for a label with the word "rust" in it (`rust-axum`), Go's
/// for "go" or "golang"; None for any other.
fn label_colour(label: &str) -> Option<RGBColor> {
    let words: Vec<String> = label
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .collect();
    if words.iter().any(|w| w == "rust") {
        Some(RUST)
    } else if words.iter().any(|w| w == "go" || w == "golang") {
        Some(GO)
    } else {
        None
    }
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
mod tests;
