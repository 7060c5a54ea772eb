//! Ratios with intervals, coloured by verdict (the decision table).

use super::*;

/// One row of a forest plot of ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioRow {
    /// Row label, drawn left of the row.
    pub label: String,
    /// The point estimate of the ratio (other / baseline).
    pub estimate: f64,
    /// Lower end of the confidence interval.
    pub low: f64,
    /// Upper end of the confidence interval.
    pub high: f64,
    /// "<target> better" or "no significant difference"; picks the point's
    /// colour (the winner's, or grey).
    pub verdict: String,
}

/// A forest plot of ratios: one row per entry, a point at the estimate
/// coloured by its verdict and a whisker over the interval, on a logarithmic
/// x axis with a dashed line at 1. The height grows with the rows. The
/// ratios are `other / base`, as the axis and the key say.
pub fn ratios(title: &str, base: &str, other: &str, rows: &[RatioRow]) -> Result<String> {
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
            .x_desc(format!("{other} / {base} (95% CI)"))
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
        let (base_better, other_better) = (format!("{base} better"), format!("{other} better"));
        for (text, colour) in [
            (base_better.as_str(), verdict_colour(&base_better)),
            (other_better.as_str(), verdict_colour(&other_better)),
            ("no significant difference", NEUTRAL),
        ] {
            key.draw(&Circle::new((x, 14), 5, colour.filled()))?;
            key.draw(&Text::new(text, (x + 10, 14), key_style.clone()))?;
            x += 30 + 7 * text.len() as i32;
        }
        Ok(())
    })
}

/// The winner's colour, or grey, for a verdict.
pub(super) fn verdict_colour(verdict: &str) -> RGBColor {
    match verdict.strip_suffix(" better") {
        Some(winner) => label_colour(winner).unwrap_or(OTHER_WINNER),
        None => NEUTRAL,
    }
}

/// The CSS colour of a verdict: "<target> better" in the target's colour
/// ([`RUST_HEX`], [`GO_HEX`], or [`OTHER_WINNER_HEX`] for a target that is
/// neither Rust nor Go), [`NEUTRAL_HEX`] otherwise.
pub fn verdict_hex(verdict: &str) -> &'static str {
    let colour = verdict_colour(verdict);
    [
        (RUST, RUST_HEX),
        (GO, GO_HEX),
        (OTHER_WINNER, OTHER_WINNER_HEX),
    ]
    .into_iter()
    .find(|(c, _)| *c == colour)
    .map_or(NEUTRAL_HEX, |(_, hex)| hex)
}

/// Which colour a verdict takes, as a CSS class word: `rust`, `go`, `other`
/// (a winner that is neither) or `same` (no significant difference).
pub fn verdict_key(verdict: &str) -> &'static str {
    match verdict_hex(verdict) {
        RUST_HEX => "rust",
        GO_HEX => "go",
        OTHER_WINNER_HEX => "other",
        _ => "same",
    }
}
