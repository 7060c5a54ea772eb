//! Binary and image sizes, as grouped bars.

use super::*;

/// One colour of bars in a grouped bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// Legend label.
    pub label: String,
    /// One value in MiB per category, in the categories' order; `None` draws
    /// no bar and the text "n/a".
    pub values: Vec<Option<f64>>,
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
        house_style(
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_desc("size (MiB)")
                .x_label_formatter(&name)
                .y_label_formatter(&|y| tick(*y)),
        )
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
