//! The capacity sweep: latency and throughput by offered rate, with each target's capacity marked.

use super::*;

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
pub(super) struct CapacityTop<'s, F> {
    series: &'s [CapacitySeries],
    stages: &'s [Vec<CapacityStage>],
    caps: &'s [Option<f64>],
    colours: &'s [RGBColor],
    slo: Option<f64>,
    p99: &'s F,
}

impl<F: Fn(&CapacityStage) -> Option<f64>> CapacityTop<'_, F> {
    pub(super) fn draw<'a, 'b: 'a, Y: Ranged<ValueType = f64> + ValueFormatter<f64>>(
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
pub(super) fn stage_points<X, Y>(
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
pub(super) fn capacity_marker<X, Y>(
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
