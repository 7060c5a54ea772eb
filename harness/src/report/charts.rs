//! The report's charts: which runs each one draws, turned into `plots` input.

use std::collections::BTreeMap;

use anyhow::Context;
use hdrhistogram::Histogram;

use super::analysis::{Analysis, CapacityReport, Comparison, ScenarioReport, StartupReport};
use super::plots;
use crate::results::RunRecord;

/// One chart: `plots/<name>.svg`.
pub struct Chart {
    pub name: String,
    pub caption: String,
    pub svg: String,
}

/// Decodes a run's latency histogram (V2 + deflate, base64, µs).
pub fn histogram(run: &RunRecord) -> anyhow::Result<Histogram<u64>> {
    use base64::Engine;
    use hdrhistogram::serialization::Deserializer;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&run.histogram)
        .context("histogram is not base64")?;
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| anyhow::anyhow!("histogram does not decode: {e:?}"))
}

/// Every chart of a report, in the order the page shows them.
pub fn all(a: &Analysis) -> anyhow::Result<Vec<Chart>> {
    let mut charts = ratio_charts(a)?;
    for s in &a.scenarios {
        charts.push(spectrum(a, s)?);
        let representative: BTreeMap<&String, &RunRecord> = s
            .representative
            .iter()
            .map(|(t, &i)| (t, &a.results.runs[i]))
            .collect();
        charts.push(timeline(s, &representative)?);
        charts.push(usage(s, &representative)?);
    }
    for c in &a.capacity {
        charts.push(capacity(a, c)?);
    }
    if let Some(s) = &a.startup {
        charts.push(startup(s)?);
    }
    if !a.sizes.is_empty() {
        charts.push(sizes(a)?);
    }
    Ok(charts)
}

/// A ratio row per comparison that has a ratio.
fn ratio_rows<'a>(
    a: &Analysis,
    rows: impl Iterator<Item = (String, &'a Comparison)>,
) -> Vec<plots::RatioRow> {
    rows.filter_map(|(label, c)| {
        let r = c.ratio?;
        Some(plots::RatioRow {
            label,
            estimate: r.estimate,
            low: r.low,
            high: r.high,
            verdict: c
                .verdict
                .map_or("n/a".to_owned(), |v| a.pair.verdict_text(v)),
        })
    })
    .collect()
}

/// The headline ratios, and the p99 ratio of each scenario.
fn ratio_charts(a: &Analysis) -> anyhow::Result<Vec<Chart>> {
    let mut charts = Vec::new();
    let (base, other) = (a.pair.base.as_str(), a.pair.other.as_str());
    let rows = ratio_rows(a, a.headlines.iter().map(|c| (c.metric.clone(), c)));
    if !rows.is_empty() {
        charts.push(Chart {
            name: "ratios-headline".to_owned(),
            caption: format!(
                "{} of each headline metric with its 95% interval (log scale). Left of 1: \
                 {other}'s figure is lower; right of 1: {other}'s is higher.",
                a.pair.ratio_label()
            ),
            svg: plots::ratios(
                &format!("Decision table: {}", a.pair.ratio_label()),
                base,
                other,
                &rows,
            )?,
        });
    }
    let p99 = a.scenarios.iter().filter_map(|s| {
        let c = s.metrics.iter().find(|m| m.metric == "p99 latency")?;
        Some((s.name.clone(), c))
    });
    let p99_rows = ratio_rows(a, p99);
    if !p99_rows.is_empty() {
        charts.push(Chart {
            name: "ratios-p99".to_owned(),
            caption: format!(
                "p99 latency per scenario, {} with 95% intervals (log scale; right of 1: \
                 {base} is faster).",
                a.pair.ratio_label()
            ),
            svg: plots::ratios(
                &format!("p99 latency: {} per scenario", a.pair.ratio_label()),
                base,
                other,
                &p99_rows,
            )?,
        });
    }
    Ok(charts)
}

/// Every kept repetition's histogram, merged per target.
fn spectrum(a: &Analysis, s: &ScenarioReport) -> anyhow::Result<Chart> {
    let mut series = Vec::new();
    for (target, ix) in &s.kept {
        let mut merged: Option<Histogram<u64>> = None;
        for &i in ix {
            let h = histogram(&a.results.runs[i])
                .with_context(|| format!("{} {} repetition", s.name, target))?;
            match &mut merged {
                Some(m) => m
                    .add(&h)
                    .map_err(|e| anyhow::anyhow!("merging histograms: {e:?}"))?,
                None => merged = Some(h),
            }
        }
        if let Some(h) = merged {
            series.push(plots::SpectrumSeries {
                label: format!("{} ({} runs)", target, ix.len()),
                points: plots::spectrum_points(&h, 1000.0),
            });
        }
    }
    Ok(Chart {
        name: format!("spectrum-{}", s.name),
        caption: "Latency by percentile (coordinated-omission corrected: from each \
                  request's intended start), all kept repetitions merged."
            .to_owned(),
        svg: plots::spectrum(&format!("{}: latency by percentile", s.name), &series)?,
    })
}

/// "rust-axum repetition 2, go-gin repetition 1": the runs a chart draws.
fn representatives_text(representative: &BTreeMap<&String, &RunRecord>) -> String {
    let reps: Vec<String> = representative
        .iter()
        .map(|(t, r)| {
            format!(
                "{} repetition {}",
                t,
                r.repetition.map_or("-".to_owned(), |n| n.to_string())
            )
        })
        .collect();
    reps.join(", ")
}

/// Latency and throughput per second of the run with the median p99 of
/// each target.
fn timeline(
    s: &ScenarioReport,
    representative: &BTreeMap<&String, &RunRecord>,
) -> anyhow::Result<Chart> {
    let timeline: Vec<plots::TimelineSeries> = representative
        .iter()
        .map(|(t, r)| plots::TimelineSeries {
            label: t.to_string(),
            points: r
                .timeline
                .iter()
                .map(|p| plots::TimelinePoint {
                    t_s: p.t_s,
                    p50_ms: p.p50_us.map(|v| v as f64 / 1000.0),
                    p99_ms: p.p99_us.map(|v| v as f64 / 1000.0),
                    rps: p.requests as f64,
                })
                .collect(),
        })
        .collect();
    Ok(Chart {
        name: format!("timeline-{}", s.name),
        caption: format!(
            "Per second of the measured window: p50 and p99 latency, and requests \
             completed. The run with the median p99 of each target: {}.",
            representatives_text(representative)
        ),
        svg: plots::timeline(
            &format!("{}: latency and throughput over time", s.name),
            &timeline,
        )?,
    })
}

/// The service's memory and CPU over the same runs as the timeline.
fn usage(
    s: &ScenarioReport,
    representative: &BTreeMap<&String, &RunRecord>,
) -> anyhow::Result<Chart> {
    let usage: Vec<plots::UsageSeries> = representative
        .iter()
        .filter_map(|(t, r)| {
            let server = r.server.as_ref()?;
            Some(plots::UsageSeries {
                label: t.to_string(),
                points: server
                    .timeline
                    .iter()
                    .map(|p| (p.t_s, p.rss_kib as f64 / 1024.0, p.cpu_pct))
                    .collect(),
                load_window: Some((server.phases_s.measure_start, server.phases_s.measure_end)),
            })
        })
        .collect();
    Ok(Chart {
        name: format!("usage-{}", s.name),
        caption: format!(
            "The service's RSS and CPU (% of one core) at 10 Hz, from start to stop; the \
             band is the measured window. Same runs as the timeline: {}.",
            representatives_text(representative)
        ),
        svg: plots::server_usage(&format!("{}: service memory and CPU", s.name), &usage)?,
    })
}

/// Each stage of the sweep with the median capacity of each target.
fn capacity(a: &Analysis, c: &CapacityReport) -> anyhow::Result<Chart> {
    let series: Vec<plots::CapacitySeries> = c
        .representative
        .iter()
        .map(|(t, &i)| {
            let sweep = &a.results.capacity[i];
            let mut stages: Vec<plots::CapacityStage> = sweep
                .stages
                .iter()
                .map(|s| plots::CapacityStage {
                    offered_rps: s.offered_rps,
                    achieved_rps: s.achieved_rps,
                    p99_ms: s.p99_us.map(|v| v as f64 / 1000.0),
                    held: s.held,
                })
                .collect();
            stages.sort_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps));
            plots::CapacitySeries {
                label: format!("{} (repetition {})", t, sweep.repetition),
                stages,
                capacity_rps: sweep.capacity_rps,
            }
        })
        .collect();
    Ok(Chart {
        name: format!("capacity-{}", c.scenario),
        caption: "Each stage of the sweep with the median capacity of each target: p99 \
                  against the offered rate (a cross: the stage did not hold), and achieved against \
                  offered."
            .to_owned(),
        svg: plots::capacity(
            &format!("{}: capacity at SLO", c.scenario),
            Some(c.slo_p99_ms),
            &series,
        )?,
    })
}

fn startup(s: &StartupReport) -> anyhow::Result<Chart> {
    let series: Vec<plots::StartupSeries> = s
        .samples
        .iter()
        .map(|(t, samples)| plots::StartupSeries {
            label: format!("{} ({} runs, first cold)", t, samples.len()),
            samples_ms: samples.clone(),
        })
        .collect();
    Ok(Chart {
        name: "startup".to_owned(),
        caption: "Spawn to ready (HTTP /health 200 and gRPC SERVING) of every run, as a \
                  cumulative distribution."
            .to_owned(),
        svg: plots::startup("Startup: spawn to ready", &series)?,
    })
}

fn sizes(a: &Analysis) -> anyhow::Result<Chart> {
    let categories: Vec<String> = a.sizes.iter().map(|c| c.metric.clone()).collect();
    let series = vec![
        plots::BarSeries {
            label: a.pair.base.clone(),
            values: a.sizes.iter().map(|c| c.base).collect(),
        },
        plots::BarSeries {
            label: a.pair.other.clone(),
            values: a.sizes.iter().map(|c| c.other).collect(),
        },
    ];
    Ok(Chart {
        name: "sizes".to_owned(),
        caption: "Binary sizes as built, stripped and static, and the FROM-scratch image \
                  (unpacked, and its layers gzipped), in MiB."
            .to_owned(),
        svg: plots::sizes("Binary and image size (MiB)", &categories, &series)?,
    })
}
