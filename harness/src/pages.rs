//! The static site's index across benchmark runs.
//!
//! CI copies each run's report directory into `SITE/runs/<run-id>/`, with
//! its `summary.json` (a [`Summary`]). [`build`] reads them all and writes
//! `SITE/index.html`: one self-contained page (inline CSS and SVG, no
//! scripts, nothing fetched) with a table of the runs, newest first, and a
//! trend chart per headline metric across the runs.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::report::document::{
    Block, Cell, Column, Document, Figure, Heading, Href, Row, Span, Style, Table, Text, Tone,
};
use crate::report::export::{
    Exporter as _,
    html::{self, Html},
};
use crate::report::plots::{self, TrendSeries};
use crate::results::summary::{Headline, SCHEMA_VERSION, Summary};
use crate::results::write_atomically;

/// The page's title.
const TITLE: &str = "Rust vs Go benchmark lab: all runs";

/// One directory under `runs/`: its summary, or why it could not be read.
struct Run {
    dir: String,
    summary: Result<Summary, String>,
    has_index: bool,
}

/// Reads `SITE/runs/*/summary.json` and writes `SITE/index.html` (through a
/// temporary file and a rename), returning its path. A run whose summary is
/// missing or unreadable is listed with the reason; a site without runs gets
/// a page that says so.
pub fn build(site: &Path) -> Result<PathBuf> {
    fs::create_dir_all(site).with_context(|| format!("creating {}", site.display()))?;
    let runs = read_runs(&site.join("runs"))?;
    let html = render(&runs)?;
    let path = site.join("index.html");
    write_atomically(&path, html.as_bytes())?;
    Ok(path)
}

/// Every run directory, newest first (run ids are UTC timestamps, so they
/// sort by time).
fn read_runs(runs_dir: &Path) -> Result<Vec<Run>> {
    let entries = match fs::read_dir(runs_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", runs_dir.display())),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", runs_dir.display()))?;
        let dir = entry.file_name().to_string_lossy().into_owned();
        if dir.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        let summary = read_summary(&entry.path().join("summary.json"));
        let has_index = entry.path().join("index.html").is_file();
        runs.push(Run {
            dir,
            summary,
            has_index,
        });
    }
    runs.sort_by(|a, b| b.dir.cmp(&a.dir));
    Ok(runs)
}

fn read_summary(path: &Path) -> Result<Summary, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no summary.json".to_owned());
        }
        Err(e) => return Err(format!("cannot read summary.json: {e}")),
    };
    let summary: Summary =
        serde_json::from_str(&text).map_err(|e| format!("summary.json is not valid: {e}"))?;
    if !(1..=SCHEMA_VERSION).contains(&summary.schema_version) {
        return Err(format!(
            "summary.json has schema_version {}, this page reads 1 to {SCHEMA_VERSION}",
            summary.schema_version
        ));
    }
    Ok(summary)
}

/// The metric names across all runs: the newest run's order first, then any
/// others in the order they are met.
fn metrics(runs: &[Run]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for run in runs {
        if let Ok(s) = &run.summary {
            for h in &s.headlines {
                if !names.contains(&h.metric) {
                    names.push(h.metric.clone());
                }
            }
        }
    }
    names
}

/// The comparison the page follows: the newest readable run's first
/// (baseline, other), or the default Rust and Go targets with no run.
fn site_pair(runs: &[Run]) -> (String, String) {
    runs.iter()
        .filter_map(|r| r.summary.as_ref().ok())
        .flat_map(|s| s.headlines.first())
        .map(|h| (h.baseline.clone(), h.other.clone()))
        .next()
        .unwrap_or_else(|| {
            let registry = crate::target::Registry::builtin();
            (registry.legacy_name("rust"), registry.legacy_name("go"))
        })
}

/// The headline of `metric` in `s` that compares `pair`.
fn headline<'s>(s: &'s Summary, metric: &str, pair: &(String, String)) -> Option<&'s Headline> {
    s.headlines
        .iter()
        .find(|h| h.metric == metric && (&h.baseline, &h.other) == (&pair.0, &pair.1))
}

fn render(runs: &[Run]) -> Result<String> {
    let metrics = metrics(runs);
    let pair = site_pair(runs);
    let (base, other) = (pair.0.as_str(), pair.1.as_str());
    let mut doc = Document {
        title: TITLE.to_owned(),
        heading: TITLE.to_owned(),
        blocks: Vec::new(),
    };
    if runs.is_empty() {
        doc.paragraph("No benchmark runs have been published yet.", Tone::Empty);
        return Ok(Html.render(&doc));
    }
    let badge = |text: String| Span::Badge {
        class: verdict_class(&text),
        text,
    };
    let intro = Text::plain(format!(
        "{} run{}, newest first. Each metric cell is the ratio {other} / {base} with its 95% \
         confidence interval [low–high], coloured by the verdict: ",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
    ))
    .push(badge(format!("{base} better")))
    .push(Span::Plain(" ".to_owned()))
    .push(badge(format!("{other} better")))
    .push(Span::Plain(" ".to_owned()))
    .push(badge("no significant difference".to_owned()))
    .push(Span::Plain(
        ". Hover a cell for the values and notes.".to_owned(),
    ));
    doc.paragraph(intro, Tone::Plain);
    doc.table(runs_table(runs, &metrics, &pair));
    trends(&mut doc, runs, &metrics, &pair)?;
    Ok(Html.render(&doc))
}

/// The table of runs, newest first: one row per run, one cell per metric.
fn runs_table(runs: &[Run], metrics: &[String], pair: &(String, String)) -> Table {
    let mut head = ["run", "date", "suite", "commit"]
        .map(Column::text)
        .to_vec();
    for m in metrics {
        // The unit and direction as the newest run that has the metric says.
        let about = runs
            .iter()
            .filter_map(|r| r.summary.as_ref().ok())
            .flat_map(|s| &s.headlines)
            .find(|h| &h.metric == m)
            .map(|h| format!("{}, {} is better", h.unit, h.better))
            .unwrap_or_default();
        head.push(Column::text(
            Text::plain(m.as_str()).push(Span::Aside(about)),
        ));
    }
    let rows = runs
        .iter()
        .map(|run| {
            let mut cells = vec![run_link(run)];
            match &run.summary {
                Ok(s) => {
                    let mut commit = Text::md(format!("`{}`", s.commit.replace('`', "")));
                    if s.dirty {
                        commit = commit.push(Span::Plain(" ".to_owned())).push(Span::Badge {
                            text: "dirty: uncommitted changes".to_owned(),
                            class: "dirty",
                        });
                    }
                    cells.extend([
                        Cell::plain(s.started.replacen('T', " ", 1)),
                        Cell::plain(s.suite.as_str()),
                        Cell::plain(commit),
                    ]);
                    cells.extend(metrics.iter().map(|m| headline_cell(headline(s, m, pair))));
                }
                Err(reason) => cells.push(Cell {
                    span: 3 + metrics.len(),
                    ..Cell::new(reason.as_str(), Style::Alarm)
                }),
            }
            Row::new(cells)
        })
        .collect();
    Table { head, rows }
}

/// A trend chart per metric (both targets' values) and one of the ratios,
/// oldest run first.
fn trends(
    doc: &mut Document,
    runs: &[Run],
    metrics: &[String],
    pair: &(String, String),
) -> Result<()> {
    let (base, other) = (pair.0.as_str(), pair.1.as_str());
    let readable = runs.iter().filter(|r| r.summary.is_ok()).count();
    doc.heading(Heading::new(2, "Trends across runs", Some("trends")));
    let chronological: Vec<&Summary> = runs
        .iter()
        .rev()
        .filter_map(|r| r.summary.as_ref().ok())
        .collect();
    if chronological.is_empty() || metrics.is_empty() {
        doc.paragraph(
            format!("No headline metrics to chart ({readable} readable run summaries)."),
            Tone::Empty,
        );
        return Ok(());
    }
    let labels: Vec<String> = chronological.iter().map(|s| run_label(s)).collect();
    for m in metrics {
        let svg = metric_trend(&chronological, &labels, m, pair)?;
        figure(doc, svg);
    }
    let ratio_series: Vec<TrendSeries> = metrics
        .iter()
        .map(|m| TrendSeries {
            label: m.clone(),
            values: chronological
                .iter()
                .map(|s| headline(s, m, pair).and_then(|h| h.ratio))
                .collect(),
        })
        .collect();
    let svg = plots::trend(
        &format!("{other} / {base} ratio of each metric"),
        &labels,
        &ratio_series,
        &format!("{other} / {base}"),
    )?;
    figure(doc, svg);
    Ok(())
}

/// Both targets' values of `metric` across the runs.
fn metric_trend(
    chronological: &[&Summary],
    labels: &[String],
    metric: &str,
    pair: &(String, String),
) -> Result<String> {
    let (base, other) = (pair.0.as_str(), pair.1.as_str());
    let found: Vec<Option<&Headline>> = chronological
        .iter()
        .map(|s| headline(s, metric, pair))
        .collect();
    let first = found.iter().flatten().next();
    let unit = first.map(|h| h.unit.clone()).unwrap_or_default();
    let better = first.map(|h| h.better.clone()).unwrap_or_default();
    let series = [
        (
            base,
            found
                .iter()
                .map(|h| h.and_then(|h| h.baseline_value))
                .collect(),
        ),
        (
            other,
            found
                .iter()
                .map(|h| h.and_then(|h| h.other_value))
                .collect(),
        ),
    ]
    .map(|(label, values)| TrendSeries {
        label: label.to_owned(),
        values,
    });
    let y_label = match (unit.is_empty(), better.is_empty()) {
        (false, false) => format!("{metric} ({unit}, {better} is better)"),
        (false, true) => format!("{metric} ({unit})"),
        _ => metric.to_string(),
    };
    plots::trend(
        &format!("{metric}: {base} and {other}"),
        labels,
        &series,
        &y_label,
    )
}

fn figure(doc: &mut Document, svg: String) {
    doc.blocks.push(Block::Figure(Figure {
        id: None,
        svg,
        caption: None,
    }));
}

/// The run id, linked to the run's report when it has one.
fn run_link(run: &Run) -> Cell {
    if !run.has_index {
        return Cell::plain(run.dir.as_str());
    }
    // The directory name goes into a URL path: escape what is not a plain
    // path character.
    Cell::plain(Text(vec![Span::Link {
        text: run.dir.clone(),
        to: Href::Path(format!("runs/{}/index.html", url_path_segment(&run.dir))),
    }]))
}

/// The x label of a run in the trend charts: its short commit (with "*"
/// when dirty), or its id when the commit is unknown.
fn run_label(s: &Summary) -> String {
    let commit: String = s.commit.chars().take(7).collect();
    if commit.is_empty() {
        s.run_id.clone()
    } else if s.dirty {
        format!("{commit}*")
    } else {
        commit
    }
}

fn headline_cell(h: Option<&Headline>) -> Cell {
    let Some(h) = h else {
        return Cell::new("–", Style::Missing);
    };
    let mut tip = format!(
        "{}: {} {} {unit}, {} {} {unit} ({} is better)",
        h.verdict,
        h.baseline,
        num(h.baseline_value),
        h.other,
        num(h.other_value),
        h.better,
        unit = h.unit,
    );
    if h.noisy {
        tip.push_str("; noisy");
    }
    if let Some(note) = &h.note {
        let _ = write!(tip, "; {note}");
    }
    let ratio = match h.ratio.filter(|r| r.is_finite()) {
        Some(r) => match (h.ci_low, h.ci_high) {
            (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => {
                format!("{} [{}–{}]", fmt2(r), fmt2(lo), fmt2(hi))
            }
            _ => fmt2(r),
        },
        None => "n/a".to_owned(),
    };
    let mut text = Text::plain(ratio);
    if h.noisy {
        text = text.push(Span::Plain(" ".to_owned())).push(Span::Badge {
            text: "noisy".to_owned(),
            class: "noisy",
        });
    }
    if let (None, Some(note)) = (h.ratio, &h.note) {
        text = text.push(Span::Aside(note.clone()));
    }
    Cell::new(text, Style::Verdict(plots::verdict_key(&h.verdict))).with_tip(tip)
}

/// The badge class of a verdict: the winner's colour.
fn verdict_class(verdict: &str) -> &'static str {
    html::verdict_class(plots::verdict_key(verdict))
}

fn num(v: Option<f64>) -> String {
    match v.filter(|v| v.is_finite()) {
        Some(v) => format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned(),
        None => "n/a".to_owned(),
    }
}

fn fmt2(v: f64) -> String {
    format!("{v:.2}")
}

/// `s` percent-encoded for one segment of a URL path.
fn url_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(run_id: &str, commit: &str, suite: &str, p99: (f64, f64)) -> Summary {
        Summary {
            schema_version: SCHEMA_VERSION,
            run_id: run_id.to_owned(),
            suite: suite.to_owned(),
            commit: commit.to_owned(),
            dirty: commit == "c5ff78d",
            started: format!(
                "{}-{}-{}T05:00:00Z",
                &run_id[..4],
                &run_id[4..6],
                &run_id[6..8]
            ),
            headlines: vec![
                Headline {
                    metric: "p99 latency".to_owned(),
                    unit: "ms".to_owned(),
                    better: "lower".to_owned(),
                    baseline: "rust-axum".to_owned(),
                    other: "go-gin".to_owned(),
                    baseline_value: Some(p99.0),
                    other_value: Some(p99.1),
                    ratio: Some(p99.1 / p99.0),
                    ci_low: Some(p99.1 / p99.0 * 0.9),
                    ci_high: Some(p99.1 / p99.0 * 1.1),
                    verdict: "rust-axum better".to_owned(),
                    noisy: false,
                    note: None,
                },
                Headline {
                    metric: "throughput".to_owned(),
                    unit: "req/s".to_owned(),
                    better: "higher".to_owned(),
                    baseline: "rust-axum".to_owned(),
                    other: "go-gin".to_owned(),
                    baseline_value: None,
                    other_value: Some(9000.0),
                    ratio: None,
                    ci_low: None,
                    ci_high: None,
                    verdict: "no significant difference".to_owned(),
                    noisy: true,
                    note: Some("Rust's run failed".to_owned()),
                },
            ],
        }
    }

    fn publish(site: &Path, s: &Summary) {
        let dir = site.join("runs").join(&s.run_id);
        fs::create_dir_all(dir.join("plots")).unwrap();
        fs::write(dir.join("index.html"), "<html></html>").unwrap();
        fs::write(
            dir.join("summary.json"),
            serde_json::to_string_pretty(s).unwrap(),
        )
        .unwrap();
    }

    fn svg_count(html: &str) -> usize {
        html.matches("<svg").count()
    }

    /// Version 1, written before targets had names: `rust` and `go` are the
    /// values of the default Rust (baseline) and Go targets.
    #[test]
    fn summary_reads_the_documented_json() {
        let json = r#"{
          "schema_version": 1,
          "run_id": "20261130T050000Z",
          "suite": "full",
          "commit": "c5ff78d",
          "dirty": false,
          "started": "2026-11-30T05:00:00Z",
          "headlines": [
            {"metric": "p99 latency", "unit": "ms", "better": "lower",
             "rust": 1.23, "go": 2.34, "ratio": 1.9, "ci_low": 1.7, "ci_high": 2.1,
             "verdict": "Rust better", "noisy": false, "note": null},
            {"metric": "rss", "unit": "MiB", "better": "lower",
             "rust": null, "go": 20.5, "ratio": null, "ci_low": null, "ci_high": null,
             "verdict": "no significant difference", "noisy": false, "note": "no samples"}
          ]
        }"#;
        let s: Summary = serde_json::from_str(json).unwrap();
        assert_eq!(s.headlines[0].ratio, Some(1.9));
        assert_eq!(s.headlines[0].baseline, "rust-axum");
        assert_eq!(s.headlines[0].other, "go-gin");
        assert_eq!(s.headlines[0].other_value, Some(2.34));
        assert_eq!(s.headlines[1].baseline_value, None);
        assert_eq!(s.headlines[1].note.as_deref(), Some("no samples"));
        // Round trip: nulls are written as null.
        let back = serde_json::to_value(&s).unwrap();
        assert!(back["headlines"][1]["baseline_value"].is_null());
        assert_eq!(serde_json::from_value::<Summary>(back).unwrap(), s);
    }

    #[test]
    fn index_lists_runs_newest_first_with_trends() {
        let site = tempfile::tempdir().unwrap();
        let runs = [
            summary("20261128T050000Z", "a1b2c3d", "full", (1.2, 2.3)),
            summary("20261130T050000Z", "c5ff78d", "quick <smoke>", (1.1, 2.4)),
            summary("20261129T050000Z", "e9f0a1b", "full", (1.3, 2.2)),
        ];
        for s in &runs {
            publish(site.path(), s);
        }
        let path = build(site.path()).unwrap();
        assert_eq!(path, site.path().join("index.html"));
        let html = fs::read_to_string(&path).unwrap();
        assert!(html.contains("<title>Rust vs Go benchmark lab: all runs</title>"));

        let pos = |id: &str| {
            html.find(&format!("<a href=\"runs/{id}/index.html\">{id}</a>"))
                .unwrap_or_else(|| panic!("no link to {id}"))
        };
        assert!(pos("20261130T050000Z") < pos("20261129T050000Z"));
        assert!(pos("20261129T050000Z") < pos("20261128T050000Z"));

        // Escaped suite name, dirty marker, ratio cells coloured by verdict.
        assert!(html.contains("quick &lt;smoke&gt;"));
        assert!(!html.contains("<smoke>"));
        assert!(html.contains("class=\"dirty\""));
        assert!(html.contains("<td class=\"v v-rust\""));
        assert!(html.contains("2.18 [1.96–2.40]"), "ratio of the newest run");
        assert!(
            html.contains("Rust&#39;s run failed"),
            "note of a missing ratio"
        );

        // A trend per metric and one of the ratios; the x axis is oldest first.
        assert_eq!(svg_count(&html), 3);
        assert!(html.contains("p99 latency: rust-axum and go-gin"));
        assert!(html.contains("throughput: rust-axum and go-gin"));
        assert!(html.contains("go-gin / rust-axum ratio of each metric"));
        assert!(html.contains("the ratio go-gin / rust-axum with its 95%"));
        // (plotters writes each text on a line of its own)
        let a = html
            .find(">\na1b2c3d\n</text>")
            .expect("oldest commit on the x axis");
        let c = html
            .find(">\nc5ff78d*\n</text>")
            .expect("newest commit, dirty, on the x axis");
        assert!(a < c);
        // Self-contained: no scripts, no external references.
        for bad in ["<script", "http://", "https://", "src="] {
            let rest = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!rest.contains(bad), "{bad} in the page");
        }
        // Nothing left behind from the atomic write.
        let leftovers: Vec<_> = fs::read_dir(site.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn broken_summaries_are_listed_with_their_error() {
        let site = tempfile::tempdir().unwrap();
        publish(
            site.path(),
            &summary("20261128T050000Z", "a1b2c3d", "full", (1.2, 2.3)),
        );
        let broken = site.path().join("runs/20261129T050000Z");
        fs::create_dir_all(&broken).unwrap();
        fs::write(broken.join("summary.json"), "{ not json").unwrap();
        fs::create_dir_all(site.path().join("runs/20261130T050000Z")).unwrap();
        let future = site.path().join("runs/20261201T050000Z");
        fs::create_dir_all(&future).unwrap();
        let mut v2 =
            serde_json::to_value(summary("20261201T050000Z", "b", "full", (1.0, 1.0))).unwrap();
        v2["schema_version"] = 3.into();
        fs::write(future.join("summary.json"), v2.to_string()).unwrap();
        // A stray file under runs/ is not a run.
        fs::write(site.path().join("runs/README"), "x").unwrap();

        let html = fs::read_to_string(build(site.path()).unwrap()).unwrap();
        assert!(html.contains("summary.json is not valid: "), "{html}");
        assert!(html.contains("no summary.json"));
        assert!(html.contains("schema_version 3, this page reads 1 to 2"));
        assert!(html.contains("<a href=\"runs/20261128T050000Z/index.html\">"));
        // Without an index.html the run id is not a link.
        assert!(html.contains("<td>20261130T050000Z</td>"));
        assert!(!html.contains("README"));
        assert!(html.contains("4 runs"));
        // The readable run still gets its trends.
        assert_eq!(svg_count(&html), 3);
    }

    #[test]
    fn empty_site_says_so() {
        let site = tempfile::tempdir().unwrap();
        let html = fs::read_to_string(build(site.path()).unwrap()).unwrap();
        assert!(html.contains("No benchmark runs have been published yet."));
        assert_eq!(svg_count(&html), 0);
        // An empty runs/ directory too, and rebuilding replaces the page.
        fs::create_dir_all(site.path().join("runs")).unwrap();
        let html = fs::read_to_string(build(site.path()).unwrap()).unwrap();
        assert!(html.contains("No benchmark runs have been published yet."));
    }

    #[test]
    fn escapes_and_encodes() {
        use crate::report::export::html::escape;
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(url_path_segment("run 1#x"), "run%201%23x");
    }

    /// Writes a sample site to /tmp/plots-sample/site for a look:
    /// `cargo test -p harness --lib pages::tests::write_sample_site -- --ignored`.
    #[test]
    #[ignore = "writes files to /tmp/plots-sample/site"]
    fn write_sample_site() {
        let site = Path::new("/tmp/plots-sample/site");
        let _ = fs::remove_dir_all(site);
        for (i, s) in [
            summary("20261126T050000Z", "1a2b3c4", "full", (1.25, 2.3)),
            summary("20261127T050000Z", "5d6e7f8", "full", (1.2, 2.35)),
            summary("20261128T050000Z", "a1b2c3d", "full", (1.3, 2.2)),
            summary("20261129T050000Z", "e9f0a1b", "quick", (1.1, 2.5)),
            summary("20261130T050000Z", "c5ff78d", "full", (1.15, 2.4)),
        ]
        .iter()
        .enumerate()
        {
            let mut s = s.clone();
            if i == 3 {
                s.headlines[1].baseline_value = Some(12000.0);
                s.headlines[1].ratio = Some(0.75);
                s.headlines[1].ci_low = Some(0.7);
                s.headlines[1].ci_high = Some(0.8);
                s.headlines[1].verdict = "go-gin better".to_owned();
                s.headlines[1].note = None;
            }
            publish(site, &s);
        }
        let broken = site.join("runs/20261125T050000Z");
        fs::create_dir_all(&broken).unwrap();
        fs::write(broken.join("summary.json"), "{").unwrap();
        build(site).unwrap();
    }
}
