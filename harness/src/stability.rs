//! `harness stability`: do repeated benches of the same code give the same
//! answer? For each headline row of the decision table it sets every run's
//! estimate, interval and verdict side by side, and says whether the verdicts
//! agree and whether every two runs' intervals overlap. Intervals of the same
//! code on the same machine that do not even overlap are over-confident.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::report::analysis::{self, Analysis, Comparison};
use crate::report::format;
use crate::stats::{Interval, Verdict};

/// At most this share of the runs may be left out after their retries.
pub const MAX_LEFT_OUT: f64 = 1.0 / 50.0;

/// One results file, analysed.
pub struct Run {
    pub path: PathBuf,
    pub analysis: Analysis,
}

/// Reads each results.json (or a run directory holding one).
pub fn read(paths: &[PathBuf]) -> anyhow::Result<Vec<Run>> {
    paths
        .iter()
        .map(|p| {
            let path = if p.is_dir() {
                p.join("results.json")
            } else {
                p.clone()
            };
            let results = analysis::read(&path)?;
            // The first comparison: the baseline against the first other target.
            let pair = analysis::pairs(&results).remove(0);
            Ok(Run {
                analysis: analysis::analyse(results, pair),
                path,
            })
        })
        .collect()
}

/// One headline row across the runs.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    /// Per run: the row as that run reported it (None: the run has no such row).
    pub cells: Vec<Option<Comparison>>,
    pub verdicts_agree: bool,
    /// Pairs of runs (1-based) whose intervals do not overlap.
    pub disjoint: Vec<(usize, usize)>,
}

/// Runs left out of one run's statistics, after retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeftOut {
    pub left_out: usize,
    pub places: usize,
    pub retried: usize,
}

pub struct Stability {
    pub rows: Vec<Row>,
    pub left_out: Vec<LeftOut>,
}

impl Stability {
    pub fn left_out_total(&self) -> LeftOut {
        self.left_out.iter().fold(
            LeftOut {
                left_out: 0,
                places: 0,
                retried: 0,
            },
            |a, b| LeftOut {
                left_out: a.left_out + b.left_out,
                places: a.places + b.places,
                retried: a.retried + b.retried,
            },
        )
    }

    /// Why the runs do not agree; empty when they do.
    pub fn problems(&self) -> Vec<String> {
        let mut why = Vec::new();
        for row in &self.rows {
            if !row.verdicts_agree {
                why.push(format!("{}: the verdicts differ", row.metric));
            }
            for (a, b) in &row.disjoint {
                why.push(format!(
                    "{}: the intervals of runs {a} and {b} do not overlap",
                    row.metric
                ));
            }
        }
        let total = self.left_out_total();
        if total.left_out as f64 > MAX_LEFT_OUT * total.places as f64 {
            why.push(format!(
                "{} of {} runs left out after retries: more than 1 in {}",
                total.left_out,
                total.places,
                (1.0 / MAX_LEFT_OUT).round()
            ));
        }
        why
    }
}

/// Compares the headline rows of `analyses`, in the first run's row order.
pub fn check(analyses: &[&Analysis]) -> Stability {
    let mut metrics: Vec<&str> = Vec::new();
    for a in analyses {
        for h in &a.headlines {
            if !metrics.contains(&h.metric.as_str()) {
                metrics.push(&h.metric);
            }
        }
    }
    let rows = metrics
        .iter()
        .map(|&metric| {
            let cells: Vec<Option<Comparison>> = analyses
                .iter()
                .map(|a| a.headlines.iter().find(|h| h.metric == metric).cloned())
                .collect();
            let verdicts: Vec<Option<Verdict>> = cells
                .iter()
                .map(|c| c.as_ref().and_then(|c| c.verdict))
                .collect();
            let verdicts_agree = verdicts.windows(2).all(|w| w[0] == w[1]);
            let intervals: Vec<Option<Interval>> = cells
                .iter()
                .map(|c| c.as_ref().and_then(|c| c.ratio))
                .collect();
            let mut disjoint = Vec::new();
            for (i, a) in intervals.iter().enumerate() {
                for (j, b) in intervals.iter().enumerate().skip(i + 1) {
                    if let (Some(a), Some(b)) = (a, b)
                        && !overlap(a, b)
                    {
                        disjoint.push((i + 1, j + 1));
                    }
                }
            }
            Row {
                metric: metric.to_owned(),
                cells,
                verdicts_agree,
                disjoint,
            }
        })
        .collect();
    let left_out = analyses.iter().map(|a| left_out(a)).collect();
    Stability { rows, left_out }
}

/// Two closed intervals share at least one point.
fn overlap(a: &Interval, b: &Interval) -> bool {
    a.low.max(b.low) <= a.high.min(b.high)
}

/// Places (scenario runs, capacity sweeps, failures) whose last try is left
/// out of the statistics, out of all places.
fn left_out(a: &Analysis) -> LeftOut {
    let r = &a.results;
    let places = r.runs.iter().filter(|run| run.retried.is_none()).count()
        + r.failures.iter().filter(|f| !f.retried).count()
        + r.capacity.len();
    LeftOut {
        left_out: a.flags.len(),
        places,
        retried: a.retries.len(),
    }
}

/// The comparison as Markdown: one table, then the left-out counts and the verdict.
pub fn render(runs: &[Run], s: &Stability) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Stability of {} runs\n", runs.len());
    for (i, run) in runs.iter().enumerate() {
        let env = run.analysis.results.environment.as_ref();
        let commit = env
            .and_then(|e| e.commit.as_deref())
            .map_or("unknown commit".to_owned(), |c| {
                c.chars().take(12).collect::<String>()
            });
        let suite = run
            .analysis
            .results
            .suite
            .as_ref()
            .map_or("no suite", |s| s.name.as_str());
        let started = env.map_or("", |e| e.started.as_str());
        let _ = writeln!(
            out,
            "- run {}: {} (suite {suite}, commit {commit}{}{})",
            i + 1,
            run.path.display(),
            if env.and_then(|e| e.dirty) == Some(true) {
                ", dirty"
            } else {
                ""
            },
            if started.is_empty() {
                String::new()
            } else {
                format!(", started {started}")
            }
        );
    }
    for note in mismatches(runs) {
        let _ = writeln!(out, "\n⚠ {note}");
    }
    out.push('\n');
    let mut head = "| headline |".to_owned();
    let mut rule = "|---|".to_owned();
    for i in 1..=runs.len() {
        head.push_str(&format!(" run {i} |"));
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{head} verdicts agree | intervals overlap |");
    let _ = writeln!(out, "{rule}---|---|");
    for row in &s.rows {
        let mut line = format!("| {} |", row.metric);
        for cell in &row.cells {
            let pair = &runs[0].analysis.pair;
            line.push_str(&format!(" {} |", cell_text(pair, cell.as_ref())));
        }
        let overlap = if row.disjoint.is_empty() {
            "yes".to_owned()
        } else {
            let pairs: Vec<String> = row
                .disjoint
                .iter()
                .map(|(a, b)| format!("{a}–{b}"))
                .collect();
            format!("**no** ({})", pairs.join(", "))
        };
        let agree = if row.verdicts_agree { "yes" } else { "**no**" };
        let _ = writeln!(out, "{line} {agree} | {overlap} |");
    }
    let total = s.left_out_total();
    let per_run: Vec<String> = s
        .left_out
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "run {}: {} of {} ({} retried)",
                i + 1,
                l.left_out,
                l.places,
                l.retried
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "\nLeft out after retries: {}; in all {} of {} ({}; at most 1 in {} may be).",
        per_run.join(", "),
        total.left_out,
        total.places,
        percent(total.left_out, total.places),
        (1.0 / MAX_LEFT_OUT).round()
    );
    let problems = s.problems();
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "\n**Stable**: every headline row has the same verdict in every run, and every \
             two runs' intervals overlap."
        );
    } else {
        let _ = writeln!(out, "\n**Not stable**:");
        for p in problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    out
}

/// `1.489 [1.195–1.855] rust-axum better`, or the note of a row without a ratio.
fn cell_text(pair: &analysis::Pair, c: Option<&Comparison>) -> String {
    let Some(c) = c else {
        return "absent".to_owned();
    };
    match (c.ratio, c.verdict) {
        (Some(r), Some(v)) => format!("{} {}", format::interval(&r), pair.verdict_text(v)),
        (Some(r), None) => format!("{} no verdict", format::interval(&r)),
        _ => "n/a".to_owned(),
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "n/a".to_owned();
    }
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

/// Differences between the runs that make the comparison less telling: other
/// commits, other suites, uncommitted changes.
fn mismatches(runs: &[Run]) -> Vec<String> {
    let mut notes = Vec::new();
    let field = |f: &dyn Fn(&Run) -> Option<String>| -> Vec<Option<String>> {
        runs.iter().map(f).collect()
    };
    let commits = field(&|r| {
        r.analysis
            .results
            .environment
            .as_ref()
            .and_then(|e| e.commit.clone())
    });
    if commits.windows(2).any(|w| w[0] != w[1]) {
        notes.push(
            "the runs are of different commits: this compares code, not repeatability".to_owned(),
        );
    }
    let suites = field(&|r| r.analysis.results.suite.as_ref().map(|s| s.name.clone()));
    if suites.windows(2).any(|w| w[0] != w[1]) {
        notes.push("the runs are of different suites".to_owned());
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Better;

    fn row(ratio: Option<(f64, f64, f64)>, verdict: Option<Verdict>) -> Comparison {
        Comparison {
            metric: "p99 latency".to_owned(),
            unit: "ms",
            better: Better::Lower,
            base: Some(1.0),
            other: Some(1.5),
            ratio: ratio.map(|(estimate, low, high)| Interval {
                estimate,
                low,
                high,
            }),
            verdict,
            base_cv: None,
            other_cv: None,
            noisy: false,
            base_n: 3,
            other_n: 3,
            note: None,
        }
    }

    fn analysis_with(rows: Vec<Comparison>) -> Analysis {
        let results: crate::results::Results =
            serde_json::from_str(r#"{"schema_version": 1, "complete": true}"#).unwrap();
        let pair = analysis::pairs(&results).remove(0);
        let mut a = analysis::analyse(results, pair);
        a.headlines = rows;
        a
    }

    #[test]
    fn agreeing_overlapping_runs_are_stable() {
        let a = analysis_with(vec![row(
            Some((1.5, 1.2, 1.9)),
            Some(Verdict::BaselineBetter),
        )]);
        let b = analysis_with(vec![row(
            Some((1.7, 1.3, 2.2)),
            Some(Verdict::BaselineBetter),
        )]);
        let c = analysis_with(vec![row(
            Some((1.4, 1.1, 1.8)),
            Some(Verdict::BaselineBetter),
        )]);
        let s = check(&[&a, &b, &c]);
        assert!(s.rows[0].verdicts_agree);
        assert!(s.rows[0].disjoint.is_empty());
        assert!(s.problems().is_empty(), "{:?}", s.problems());
    }

    #[test]
    fn a_different_verdict_or_disjoint_intervals_are_not_stable() {
        let a = analysis_with(vec![row(
            Some((1.5, 1.2, 1.9)),
            Some(Verdict::BaselineBetter),
        )]);
        let b = analysis_with(vec![row(
            Some((1.05, 0.9, 1.19)),
            Some(Verdict::NoSignificantDifference),
        )]);
        let c = analysis_with(vec![row(
            Some((2.6, 2.3, 2.9)),
            Some(Verdict::BaselineBetter),
        )]);
        let s = check(&[&a, &b, &c]);
        assert!(!s.rows[0].verdicts_agree);
        // 1–2 overlap by nothing (1.19 < 1.2), 1–3 and 2–3 do not either.
        assert_eq!(s.rows[0].disjoint, vec![(1, 2), (1, 3), (2, 3)]);
        let problems = s.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("the verdicts differ"));
        assert!(problems[1].contains("runs 1 and 2 do not overlap"));
    }

    #[test]
    fn intervals_that_touch_overlap() {
        let a = Interval {
            estimate: 1.0,
            low: 0.9,
            high: 1.1,
        };
        let b = Interval {
            estimate: 1.2,
            low: 1.1,
            high: 1.3,
        };
        assert!(overlap(&a, &b) && overlap(&b, &a));
        let c = Interval {
            estimate: 1.2,
            low: 1.1000001,
            high: 1.3,
        };
        assert!(!overlap(&a, &c) && !overlap(&c, &a));
    }

    #[test]
    fn rows_without_a_ratio_agree_when_all_lack_it() {
        let na = || {
            let mut c = row(None, None);
            c.metric = "capacity at SLO".to_owned();
            c
        };
        let a = analysis_with(vec![na()]);
        let b = analysis_with(vec![na()]);
        let s = check(&[&a, &b]);
        assert!(s.problems().is_empty());
        // One run with a verdict and one without is a disagreement.
        let mut measured = na();
        measured.ratio = Some(Interval {
            estimate: 0.7,
            low: 0.6,
            high: 0.8,
        });
        measured.verdict = Some(Verdict::BaselineBetter);
        let c = analysis_with(vec![measured]);
        assert!(!check(&[&a, &c]).rows[0].verdicts_agree);
    }

    #[test]
    fn more_than_one_run_in_fifty_left_out_is_not_stable() {
        let mut s = Stability {
            rows: Vec::new(),
            left_out: vec![
                LeftOut {
                    left_out: 1,
                    places: 100,
                    retried: 3,
                },
                LeftOut {
                    left_out: 1,
                    places: 100,
                    retried: 0,
                },
            ],
        };
        assert!(s.problems().is_empty(), "2 of 200 is 1 in 100");
        s.left_out[1].left_out = 4;
        let problems = s.problems();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("5 of 200 runs left out"),
            "{problems:?}"
        );
    }
}
