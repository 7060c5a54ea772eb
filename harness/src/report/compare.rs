//! `harness compare BASE HEAD`: how each metric moved between two runs of the
//! lab, per target and scenario, as head / base of the geometric means over
//! repetitions with a 95% interval (the same t-interval on the logs as the
//! reports' other / baseline). A regression is a change whose whole interval lies on
//! the worse side and whose estimate moved by more than the threshold. Sizes
//! are measured once: their ratio is exact, and the threshold alone decides.

use std::fmt::Write;
use std::path::Path;

use super::analysis::{self, Analysis, METRICS};
use super::format::{interval_or_na, number, with_unit};
use crate::stats::{self, Better, CONFIDENCE, Change, Interval};

#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario, or "startup", "size", "capacity: <scenario>".
    pub scope: String,
    pub target: String,
    pub metric: String,
    pub unit: &'static str,
    pub better: Better,
    pub base: Option<f64>,
    pub head: Option<f64>,
    /// head / base, with its interval; zero width for a size, or when a side
    /// has fewer than 2 values (then there is no change verdict).
    pub ratio: Option<Interval>,
    pub change: Option<Change>,
    pub noisy: bool,
}

pub struct Comparison {
    pub base: String,
    pub head: String,
    pub threshold: f64,
    pub rows: Vec<Row>,
    /// Scenarios only one of the two files has.
    pub unmatched: Vec<String>,
}

pub fn compare_files(base: &Path, head: &Path, threshold: f64) -> anyhow::Result<Comparison> {
    anyhow::ensure!(
        (0.0..1.0).contains(&threshold),
        "--threshold is a fraction in [0, 1): 0.05 means 5%"
    );
    let b = analysis::analyse_all(&analysis::read(base)?);
    let h = analysis::analyse_all(&analysis::read(head)?);
    let mut c = compare_all(&b, &h, threshold);
    c.base = base.display().to_string();
    c.head = head.display().to_string();
    Ok(c)
}

/// What a row compares.
struct What<'a> {
    scope: &'a str,
    target: &'a str,
    metric: &'a str,
    unit: &'static str,
    better: Better,
}

/// A row over repetitions: no change verdict with fewer than 2 values on a side.
fn row(what: What, base: &[f64], head: &[f64], threshold: f64) -> Row {
    let ratio = stats::ratio_of_geomeans(head, base, CONFIDENCE);
    let change = ratio.map(|r| stats::change(&r, what.better, threshold));
    let ratio = ratio.or_else(|| stats::point_ratio(head, base));
    row_with(what, base, head, ratio, change)
}

/// A size, measured once: the exact ratio against the threshold.
fn size_row(what: What, base: f64, head: f64, threshold: f64) -> Row {
    let ratio = stats::point_ratio(&[head], &[base]);
    let change = ratio.map(|r| stats::change(&r, what.better, threshold));
    row_with(what, &[base], &[head], ratio, change)
}

fn row_with(
    what: What,
    base: &[f64],
    head: &[f64],
    ratio: Option<Interval>,
    change: Option<Change>,
) -> Row {
    let What {
        scope,
        target,
        metric,
        unit,
        better,
    } = what;
    Row {
        scope: scope.to_owned(),
        target: target.to_owned(),
        metric: metric.to_owned(),
        unit,
        better,
        base: stats::geomean(base),
        head: stats::geomean(head),
        change,
        ratio,
        noisy: stats::is_noisy(base) || stats::is_noisy(head),
    }
}

/// Every comparison of head against base's with the same pair of targets;
/// each target's rows once (the baseline is in every pair).
pub fn compare_all(base: &[Analysis], head: &[Analysis], threshold: f64) -> Comparison {
    let mut all = Comparison {
        base: String::new(),
        head: String::new(),
        threshold,
        rows: Vec::new(),
        unmatched: Vec::new(),
    };
    for h in head {
        let Some(b) = base.iter().find(|b| b.pair == h.pair) else {
            all.unmatched
                .push(format!("{} (only in head)", h.pair.ratio_label()));
            continue;
        };
        let c = compare(b, h, threshold);
        for row in c.rows {
            let seen = all.rows.iter().any(|r| {
                (&r.scope, &r.target, &r.metric) == (&row.scope, &row.target, &row.metric)
            });
            if !seen {
                all.rows.push(row);
            }
        }
        for u in c.unmatched {
            if !all.unmatched.contains(&u) {
                all.unmatched.push(u);
            }
        }
    }
    all
}

/// Each target of the pair, head against base.
pub fn compare(base: &Analysis, head: &Analysis, threshold: f64) -> Comparison {
    let targets = [head.pair.base.as_str(), head.pair.other.as_str()];
    let (mut rows, unmatched) = scenario_rows(base, head, targets, threshold);
    rows.extend(capacity_rows(base, head, targets, threshold));
    rows.extend(startup_rows(base, head, targets, threshold));
    rows.extend(size_rows(base, head, targets, threshold));
    Comparison {
        base: String::new(),
        head: String::new(),
        threshold,
        rows,
        unmatched,
    }
}

/// Each metric of each scenario both runs have, and the scenarios only one has.
fn scenario_rows(
    base: &Analysis,
    head: &Analysis,
    targets: [&str; 2],
    threshold: f64,
) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for hs in &head.scenarios {
        let Some(bs) = base.scenarios.iter().find(|s| s.name == hs.name) else {
            unmatched.push(format!("{} (only in head)", hs.name));
            continue;
        };
        for target in targets {
            for metric in METRICS {
                if metric.closed_only && hs.model != "closed" {
                    continue;
                }
                let (b, h) = (
                    base.values(bs, target, metric),
                    head.values(hs, target, metric),
                );
                if b.is_empty() && h.is_empty() {
                    continue;
                }
                rows.push(row(
                    What {
                        scope: &hs.name,
                        target,
                        metric: metric.name,
                        unit: metric.unit,
                        better: metric.better,
                    },
                    &b,
                    &h,
                    threshold,
                ));
            }
        }
    }
    for bs in &base.scenarios {
        if !head.scenarios.iter().any(|s| s.name == bs.name) {
            unmatched.push(format!("{} (only in base)", bs.name));
        }
    }
    (rows, unmatched)
}

/// The capacity at SLO of each sweep both runs have.
fn capacity_rows(base: &Analysis, head: &Analysis, targets: [&str; 2], threshold: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    for hc in &head.capacity {
        let Some(bc) = base.capacity.iter().find(|c| c.scenario == hc.scenario) else {
            continue;
        };
        for target in targets {
            let v = |c: &analysis::CapacityReport| -> Vec<f64> {
                c.kept.get(target).cloned().unwrap_or_default()
            };
            rows.push(row(
                What {
                    scope: &format!("capacity: {}", hc.scenario),
                    target,
                    metric: "capacity at SLO",
                    unit: "req/s",
                    better: Better::Higher,
                },
                &v(bc),
                &v(hc),
                threshold,
            ));
        }
    }
    rows
}

/// Warm startup times (the first spawn left out), when both runs timed startup.
fn startup_rows(base: &Analysis, head: &Analysis, targets: [&str; 2], threshold: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    if let (Some(bs), Some(hs)) = (&base.startup, &head.startup) {
        for target in targets {
            let warm = |s: &analysis::StartupReport| -> Vec<f64> {
                s.samples
                    .get(target)
                    .map(|v| v.iter().skip(1).copied().collect())
                    .unwrap_or_default()
            };
            rows.push(row(
                What {
                    scope: "startup",
                    target,
                    metric: "spawn to ready (warm)",
                    unit: "ms",
                    better: Better::Lower,
                },
                &warm(bs),
                &warm(hs),
                threshold,
            ));
        }
    }
    rows
}

/// Each size both runs measured, for each target.
fn size_rows(base: &Analysis, head: &Analysis, targets: [&str; 2], threshold: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    for hsz in &head.sizes {
        let Some(bsz) = base.sizes.iter().find(|c| c.metric == hsz.metric) else {
            continue;
        };
        for target in targets {
            let pick = |c: &analysis::Comparison| {
                if target == head.pair.base {
                    c.base
                } else {
                    c.other
                }
            };
            let (Some(b), Some(h)) = (pick(bsz), pick(hsz)) else {
                continue;
            };
            rows.push(size_row(
                What {
                    scope: "size",
                    target,
                    metric: &hsz.metric,
                    unit: "MiB",
                    better: Better::Lower,
                },
                b,
                h,
                threshold,
            ));
        }
    }
    rows
}

fn change_text(c: Option<Change>) -> &'static str {
    match c {
        Some(Change::Regression) => "REGRESSION",
        Some(Change::Improvement) => "improvement",
        Some(Change::NoChange) => "no change",
        None => "n/a",
    }
}

impl Row {
    /// scope, target, metric, base, head, head/base [CI], change.
    fn cells(&self) -> [String; 7] {
        [
            self.scope.clone(),
            self.target.to_owned(),
            self.metric.clone(),
            with_unit(self.base, self.unit),
            with_unit(self.head, self.unit),
            interval_or_na(self.ratio),
            change_text(self.change).to_owned(),
        ]
    }

    fn noisy(&self) -> &'static str {
        if self.noisy { " (noisy)" } else { "" }
    }
}

impl Comparison {
    pub fn regressions(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.change == Some(Change::Regression))
            .count()
    }

    fn improvements(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.change == Some(Change::Improvement))
            .count()
    }

    fn verdict_line(&self) -> String {
        let count = |c: Option<Change>| self.rows.iter().filter(|r| r.change == c).count();
        let without = match count(None) {
            0 => String::new(),
            n => format!(", {n} n/a (fewer than 2 values on a side)"),
        };
        format!(
            "{} regressions, {} improvements, {} unchanged{without} (threshold {}%, 95% intervals)",
            self.regressions(),
            self.improvements(),
            count(Some(Change::NoChange)),
            number(self.threshold * 100.0)
        )
    }

    /// A plain-text table for the terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "base: {}\nhead: {}\n", self.base, self.head);
        let _ = writeln!(
            out,
            "{:<28} {:<9} {:<18} {:>14} {:>14}  {:<26} change",
            "scope", "target", "metric", "base", "head", "head/base [95% CI]"
        );
        for r in &self.rows {
            let [scope, target, metric, base, head, ratio, change] = r.cells();
            let _ = writeln!(
                out,
                "{scope:<28} {target:<9} {metric:<18} {base:>14} {head:>14}  {ratio:<26} {change}{}",
                r.noisy()
            );
        }
        for u in &self.unmatched {
            let _ = writeln!(out, "not compared: {u}");
        }
        let _ = writeln!(out, "\n{}", self.verdict_line());
        out
    }

    /// The same as a Markdown document (regressions first).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Compare\n\n- base: `{}`\n- head: `{}`\n",
            self.base, self.head
        );
        let _ = writeln!(out, "**{}**\n", self.verdict_line());
        let _ = writeln!(
            out,
            "| scope | target | metric | base | head | head / base [95% CI] | change |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---:|---|---|");
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| match r.change {
            Some(Change::Regression) => 0,
            Some(Change::Improvement) => 1,
            _ => 2,
        });
        for r in rows {
            let mut cells = r.cells();
            if r.change == Some(Change::Regression) {
                cells[6] = format!("🔴 **{}**", cells[6]);
            }
            cells[6].push_str(r.noisy());
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        for u in &self.unmatched {
            let _ = writeln!(out, "\nNot compared: {u}");
        }
        out
    }
}
