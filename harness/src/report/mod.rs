//! Reports: what the harness prints and writes about its runs. `write` turns a
//! results.json into `report.md`, `index.html`, `plots/*.svg` and
//! `summary.json` (the headline figures CI's trend page reads).
//!
//! `analysis` turns results into figures and verdicts; `sections` lays them
//! out as one `document`; each format in `export` renders that document;
//! `charts` draws with the `plots` toolkit.

pub mod analysis;
pub mod charts;
pub mod compare;
pub mod document;
pub mod drain;
pub mod export;
pub mod format;
pub mod plots;
pub mod sections;
pub mod terminal;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::results::write_atomically;
use analysis::Analysis;
use export::Exporter as _;

/// Renders every report of `results` into `out`; returns the path of index.html.
/// The first comparison (the baseline against the first other target) is
/// the report in `out`; with more than two targets, each further one gets
/// the same files in `out/vs-<target>/`, linked from the first.
pub fn write(results: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let results = analysis::read(results)?;
    let analyses = analysis::analyse_all(&results);
    let run_id = out
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "run".to_owned());
    let mut headlines = Vec::new();
    let mut index = None;
    let others: Vec<String> = analyses
        .iter()
        .skip(1)
        .map(|a| a.pair.other.clone())
        .collect();
    for (i, analysis) in analyses.iter().enumerate() {
        let dir = match i {
            0 => out.to_path_buf(),
            _ => out.join(format!("vs-{}", analysis.pair.other)),
        };
        let links = if i == 0 { others.as_slice() } else { &[] };
        let written = write_one(analysis, &dir, links)?;
        index.get_or_insert(written);
        headlines.extend(summary(analysis, &run_id).headlines);
    }
    let mut summary = summary(&analyses[0], &run_id);
    summary.headlines = headlines;
    write_atomically(
        &out.join("summary.json"),
        &serde_json::to_vec_pretty(&summary)?,
    )?;
    Ok(index.expect("analyse_all gives at least one comparison"))
}

/// One comparison's plots and its page in each format (report.md,
/// index.html) in `out`; `others` are the further comparisons to link to
/// (`vs-<target>/`). Returns the path of index.html.
fn write_one(analysis: &Analysis, out: &Path, others: &[String]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out.join("plots"))
        .with_context(|| format!("creating {}", out.join("plots").display()))?;
    let charts = charts::all(analysis)?;
    for chart in &charts {
        write_atomically(
            &out.join("plots").join(format!("{}.svg", chart.name)),
            chart.svg.as_bytes(),
        )?;
    }
    let document = sections::document(analysis, &charts, others);
    for exporter in export::ALL {
        write_atomically(
            &out.join(exporter.file_name()),
            exporter.render(&document).as_bytes(),
        )?;
    }
    eprintln!(
        "report {}: {} charts, report.md and index.html in {}",
        analysis.pair.ratio_label(),
        charts.len(),
        out.display()
    );
    Ok(out.join(export::html::Html.file_name()))
}

/// The headline figures of a run, for the trend page across runs.
pub fn summary(a: &Analysis, run_id: &str) -> crate::results::summary::Summary {
    let env = a.results.environment.as_ref();
    let unknown = || "unknown".to_owned();
    crate::results::summary::Summary {
        schema_version: crate::results::summary::SCHEMA_VERSION,
        run_id: run_id.to_owned(),
        suite: a
            .results
            .suite
            .as_ref()
            .map_or_else(unknown, |s| s.name.clone()),
        commit: env
            .and_then(|e| e.commit.as_ref().map(|c| c.chars().take(12).collect()))
            .unwrap_or_else(unknown),
        dirty: env.and_then(|e| e.dirty).unwrap_or(false),
        started: env.map_or_else(unknown, |e| e.started.clone()),
        headlines: a
            .headlines
            .iter()
            .map(|c| crate::results::summary::Headline {
                metric: c.metric.clone(),
                unit: c.unit.to_owned(),
                better: match c.better {
                    crate::stats::Better::Lower => "lower".to_owned(),
                    crate::stats::Better::Higher => "higher".to_owned(),
                },
                baseline: a.pair.base.clone(),
                other: a.pair.other.clone(),
                baseline_value: c.base,
                other_value: c.other,
                ratio: c.ratio.map(|r| r.estimate),
                ci_low: c.ratio.map(|r| r.low),
                ci_high: c.ratio.map(|r| r.high),
                verdict: c
                    .verdict
                    .map_or("n/a".to_owned(), |v| a.pair.verdict_text(v)),
                noisy: c.noisy,
                note: c.note.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
