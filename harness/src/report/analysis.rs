//! From raw results to verdicts: the statistics of each metric of each
//! scenario over repetitions, the headline rows of the decision table, and the
//! runs that were kept out of the statistics (and why). Every renderer
//! (Markdown, HTML, summary.json, compare) reads this, never results.json.

use std::collections::BTreeMap;

use crate::results::{ArtifactRecord, Results, RunRecord, StartupRecord, StartupStats};
use crate::stats::{self, Better, CONFIDENCE, Interval, Verdict};

/// Reads a results.json, with the targets of files written before targets
/// had names given the registry's names.
pub fn read(path: &std::path::Path) -> anyhow::Result<Results> {
    let bytes = std::fs::read(path)
        .map_err(|err| anyhow::anyhow!("{}: cannot read it: {err}", path.display()))?;
    let mut results = crate::results::parse(path, &bytes)?;
    results.name_legacy_targets();
    Ok(results)
}

/// The comparisons a report makes: each target against the baseline
/// (the suite's, else the first target). A single target is compared
/// with nothing, and every ratio says so.
pub fn pairs(results: &Results) -> Vec<Pair> {
    let names = results.target_names();
    let base = results
        .suite
        .as_ref()
        .and_then(|s| s.baseline.clone())
        .or_else(|| names.first().cloned())
        .unwrap_or_else(|| NO_TARGET.to_owned());
    let pairs: Vec<Pair> = names
        .iter()
        .filter(|n| **n != base)
        .map(|other| Pair {
            base: base.clone(),
            other: other.clone(),
        })
        .collect();
    if pairs.is_empty() {
        return vec![Pair {
            base,
            other: NO_TARGET.to_owned(),
        }];
    }
    pairs
}

/// Only what `pair`'s two targets ran.
fn of_pair(results: &Results, pair: &Pair) -> Results {
    let mut results = results.clone();
    results.retain_targets(|t| t == pair.base || t == pair.other);
    results
}

/// The other side of a pair when a run measured only one target.
pub const NO_TARGET: &str = "(no other target)";

// ---- output: what the reports show ----------------------------------------------

/// A metric of runs: how to read it from a run and which way is better.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub value: fn(&RunRecord) -> Option<f64>,
    /// Only closed-loop runs (open loop's throughput is the offered rate).
    pub closed_only: bool,
}

pub const METRICS: &[Metric] = &[
    Metric {
        name: "p50 latency",
        unit: "ms",
        better: Better::Lower,
        value: |r| r.latency_us.map(|l| l.p50 as f64 / 1000.0),
        closed_only: false,
    },
    Metric {
        name: "p99 latency",
        unit: "ms",
        better: Better::Lower,
        value: |r| r.latency_us.map(|l| l.p99 as f64 / 1000.0),
        closed_only: false,
    },
    Metric {
        name: "p99.9 latency",
        unit: "ms",
        better: Better::Lower,
        value: |r| r.latency_us.map(|l| l.p999 as f64 / 1000.0),
        closed_only: false,
    },
    Metric {
        name: "throughput",
        unit: "req/s",
        better: Better::Higher,
        value: |r| Some(r.achieved_rps),
        closed_only: true,
    },
    Metric {
        name: "CPU per request",
        unit: "µs",
        better: Better::Lower,
        value: |r| r.server.as_ref().and_then(|s| s.cpu_us_per_request),
        closed_only: false,
    },
    Metric {
        name: "idle RSS",
        unit: "MiB",
        better: Better::Lower,
        value: |r| r.server.as_ref().map(|s| s.rss_kib.idle as f64 / 1024.0),
        closed_only: false,
    },
    Metric {
        name: "peak RSS",
        unit: "MiB",
        better: Better::Lower,
        value: |r| r.server.as_ref().map(|s| s.rss_kib.peak as f64 / 1024.0),
        closed_only: false,
    },
];

/// The two targets a comparison is between: every ratio is `other / base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The baseline (the suite's `baseline`).
    pub base: String,
    pub other: String,
}

impl Pair {
    /// `other / base`, as table headings write the ratio.
    pub fn ratio_label(&self) -> String {
        format!("{} / {}", self.other, self.base)
    }

    /// What a verdict says, with the winner's name.
    pub fn verdict_text(&self, verdict: Verdict) -> String {
        match verdict {
            Verdict::BaselineBetter => format!("{} better", self.base),
            Verdict::OtherBetter => format!("{} better", self.other),
            Verdict::NoSignificantDifference => "no significant difference".to_owned(),
        }
    }
}

/// A metric compared between the two targets of a [`Pair`].
#[derive(Debug, Clone)]
pub struct Comparison {
    pub metric: String,
    pub unit: &'static str,
    pub better: Better,
    /// Geometric means over repetitions (or the headline's aggregate); None
    /// when not measured.
    pub base: Option<f64>,
    pub other: Option<f64>,
    /// other / base of those, with a 95% interval (Welch's t on the logs); zero
    /// width for figures measured once, or too few to have an interval.
    pub ratio: Option<Interval>,
    pub verdict: Option<Verdict>,
    /// Coefficients of variation across repetitions.
    pub base_cv: Option<f64>,
    pub other_cv: Option<f64>,
    pub noisy: bool,
    /// Values per target that entered the statistics.
    pub base_n: usize,
    pub other_n: usize,
    /// Why a figure is missing, what it aggregates, or what was left out.
    pub note: Option<String>,
}

impl Comparison {
    /// A metric measured once per repetition: other / base with its interval and
    /// verdict. With fewer than two kept repetitions on a side there is no
    /// spread to go on, so no interval and no verdict: only the ratio, and a
    /// note that says why.
    fn of_repetitions(
        pair: &Pair,
        metric: &str,
        unit: &'static str,
        better: Better,
        base: &[f64],
        other: &[f64],
    ) -> Self {
        let mut c = Self::described(metric, unit, better, base, other);
        c.ratio = stats::ratio_of_geomeans(other, base, CONFIDENCE);
        c.verdict = c.ratio.map(|r| stats::verdict(&r, better));
        if c.ratio.is_none() {
            c.ratio = stats::point_ratio(other, base);
            if c.ratio.is_some() {
                let short: Vec<String> = [(&*pair.base, base.len()), (&*pair.other, other.len())]
                    .iter()
                    .filter(|(_, n)| *n < 2)
                    .map(|(t, n)| format!("{t} {n}"))
                    .collect();
                c.note = Some(format!(
                    "no verdict: fewer than 2 kept repetitions ({})",
                    short.join(", ")
                ));
            }
        }
        c
    }

    /// A deterministic figure (a size), measured once: the ratio is exact, so
    /// its verdict needs no interval.
    fn measured_once(
        metric: &str,
        unit: &'static str,
        better: Better,
        base: &[f64],
        other: &[f64],
    ) -> Self {
        let mut c = Self::described(metric, unit, better, base, other);
        c.ratio = stats::point_ratio(other, base);
        c.verdict = c.ratio.map(|r| stats::verdict(&r, better));
        c
    }

    /// Each side's geometric mean and spread; no ratio yet.
    fn described(
        metric: &str,
        unit: &'static str,
        better: Better,
        base: &[f64],
        other: &[f64],
    ) -> Self {
        Self {
            metric: metric.to_owned(),
            unit,
            better,
            base: stats::geomean(base),
            other: stats::geomean(other),
            ratio: None,
            verdict: None,
            noisy: stats::is_noisy(base) || stats::is_noisy(other),
            base_cv: stats::cv(base),
            other_cv: stats::cv(other),
            base_n: base.len(),
            other_n: other.len(),
            note: None,
        }
    }

    fn unavailable(metric: &str, unit: &'static str, better: Better, why: String) -> Self {
        Self {
            metric: metric.to_owned(),
            unit,
            better,
            base: None,
            other: None,
            ratio: None,
            verdict: None,
            base_cv: None,
            other_cv: None,
            noisy: false,
            base_n: 0,
            other_n: 0,
            note: Some(why),
        }
    }
}

/// A run that the statistics leave out, shown in red.
#[derive(Debug, Clone)]
pub struct Flag {
    pub target: String,
    pub scenario: String,
    pub repetition: Option<u32>,
    pub why: String,
}

/// A try the instrument spoiled and bench ran again in the same place.
#[derive(Debug, Clone)]
pub struct Retry {
    pub target: String,
    pub scenario: String,
    pub repetition: Option<u32>,
    /// Which try this was (1-based).
    pub attempt: u32,
    pub why: String,
}

/// One scenario: what was measured, and each metric compared.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub protocol: String,
    pub call: String,
    pub model: String,
    /// "open loop at 2000/s" or "closed loop, 32 in flight".
    pub load: String,
    pub connections: usize,
    pub concurrency: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub slo_p99_ms: Option<f64>,
    /// Runs per target (all, including flagged ones).
    pub runs: BTreeMap<String, usize>,
    pub placement: String,
    pub metrics: Vec<Comparison>,
    /// Per target: the index (into `Analysis::runs`) of the run whose p99 is
    /// the median of the kept runs, drawn in the timeline charts.
    pub representative: BTreeMap<String, usize>,
    /// Per target: indices of the kept runs (their histograms are merged
    /// for the percentile spectrum).
    pub kept: BTreeMap<String, Vec<usize>>,
    pub flagged: usize,
}

#[derive(Debug, Clone)]
pub struct CapacityReport {
    pub scenario: String,
    pub call: String,
    pub protocol: String,
    pub slo_p99_ms: f64,
    pub comparison: Comparison,
    /// Per target: capacities of each repetition (None: the first stage broke).
    pub sweeps: BTreeMap<String, Vec<Option<f64>>>,
    /// Per target: the capacities that enter the statistics (not limited by
    /// the generator, and measured).
    pub kept: BTreeMap<String, Vec<f64>>,
    /// Per target: the index (into `Analysis::capacity`) of the median sweep.
    pub representative: BTreeMap<String, usize>,
    pub limited_by: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct StartupReport {
    pub ready: Comparison,
    pub exit: Comparison,
    /// Per target: the cold run's ready time (run 1, binary evicted).
    pub cold_ms: BTreeMap<String, f64>,
    pub p90_ms: BTreeMap<String, f64>,
    pub max_ms: BTreeMap<String, f64>,
    pub cache: BTreeMap<String, String>,
    /// Per target: every ready sample (cold first).
    pub samples: BTreeMap<String, Vec<f64>>,
}

pub struct Analysis {
    /// Only what the pair's two targets ran.
    pub results: Results,
    pub pair: Pair,
    pub headlines: Vec<Comparison>,
    pub scenarios: Vec<ScenarioReport>,
    pub capacity: Vec<CapacityReport>,
    pub startup: Option<StartupReport>,
    /// Size comparisons: binary, stripped, image, image gzip.
    pub sizes: Vec<Comparison>,
    pub flags: Vec<Flag>,
    /// Tries that were run again; none of them is in the statistics.
    pub retries: Vec<Retry>,
}

/// Why a run is kept out of the statistics, if it is.
pub fn exclusion(run: &RunRecord) -> Option<String> {
    let errors: u64 = run.errors.values().sum();
    let mut why = Vec::new();
    if errors > 0 {
        let kinds: Vec<String> = run.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        why.push(format!("{errors} errors ({})", kinds.join(", ")));
    }
    if run.dropped > 0 {
        why.push(format!("{} requests dropped", run.dropped));
    }
    if run.generator_saturated {
        why.push(format!(
            "generator saturated ({})",
            run.saturation.as_deref().unwrap_or("no reason recorded")
        ));
    }
    if run.latency_us.is_none() {
        why.push("no request succeeded".to_owned());
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// One analysis per comparison the results make ([`pairs`]): each target
/// against the baseline.
pub fn analyse_all(results: &Results) -> Vec<Analysis> {
    pairs(results)
        .into_iter()
        .map(|pair| analyse(of_pair(results, &pair), pair))
        .collect()
}

/// The comparison of `pair`'s two targets in `results`.
pub fn analyse(results: Results, pair: Pair) -> Analysis {
    let mut flags = Vec::new();
    let mut retries = Vec::new();
    for r in results.runs.iter().filter(|r| r.retried.is_some()) {
        retries.push(Retry {
            target: r.target.clone(),
            scenario: r.scenario.clone(),
            repetition: r.repetition,
            attempt: r.attempt.unwrap_or(1),
            why: r.retried.clone().unwrap_or_default(),
        });
    }
    for f in &results.failures {
        let mut when = Vec::new();
        if let Some(at_s) = f.at_s {
            when.push(format!("{at_s:.2} s into the run"));
        }
        if let Some(at) = &f.at {
            when.push(at.clone());
        }
        if let Some(signal) = &f.signal {
            when.push(format!("service killed by {signal}"));
        } else if let Some(code) = f.exit_code {
            when.push(format!("service exited with code {code}"));
        }
        let when = if when.is_empty() {
            String::new()
        } else {
            format!(" ({})", when.join(", "))
        };
        if f.retried {
            retries.push(Retry {
                target: f.target.clone(),
                scenario: f.scenario.clone(),
                repetition: f.repetition,
                attempt: f.attempt.unwrap_or(1),
                why: format!("{} failed{when}: {}", f.kind, f.error),
            });
            continue;
        }
        flags.push(Flag {
            target: f.target.clone(),
            scenario: f.scenario.clone(),
            repetition: f.repetition,
            why: format!("{} failed{when}: {}", f.kind, f.error),
        });
    }
    let mut names: Vec<String> = Vec::new();
    for r in results.runs.iter().filter(|r| r.retried.is_none()) {
        if !names.contains(&r.scenario) {
            names.push(r.scenario.clone());
        }
    }
    let mut scenarios = Vec::new();
    for name in &names {
        scenarios.push(scenario_report(&results, &pair, name, &mut flags));
    }
    let capacity = capacity_reports(&results, &pair, &mut flags);
    let startup = startup_report(&results, &pair);
    let sizes = size_comparisons(&results, &pair);
    let headlines = headlines(
        &results,
        &pair,
        &scenarios,
        &capacity,
        startup.as_ref(),
        &sizes,
    );
    Analysis {
        results,
        pair,
        headlines,
        scenarios,
        capacity,
        startup,
        sizes,
        flags,
        retries,
    }
}

fn scenario_report(
    results: &Results,
    pair: &Pair,
    name: &str,
    flags: &mut Vec<Flag>,
) -> ScenarioReport {
    // A retried try is superseded by the next one in its place.
    let indices: Vec<usize> = (0..results.runs.len())
        .filter(|&i| results.runs[i].scenario == name && results.runs[i].retried.is_none())
        .collect();
    let first = &results.runs[indices[0]];
    let mut runs = BTreeMap::new();
    let mut kept: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut flagged = 0;
    for &i in &indices {
        let r = &results.runs[i];
        *runs.entry(r.target.clone()).or_insert(0) += 1;
        match exclusion(r) {
            Some(why) => {
                flagged += 1;
                flags.push(Flag {
                    target: r.target.clone(),
                    scenario: r.scenario.clone(),
                    repetition: r.repetition,
                    why,
                });
            }
            None => kept.entry(r.target.clone()).or_default().push(i),
        }
    }
    let values = |target: &str, metric: &Metric| kept_values(&results.runs, &kept, target, metric);
    let closed = first.model == "closed";
    let mut metrics = Vec::new();
    for metric in METRICS {
        if metric.closed_only && !closed {
            continue;
        }
        let base = values(&pair.base, metric);
        let other = values(&pair.other, metric);
        let mut c = Comparison::of_repetitions(
            pair,
            metric.name,
            metric.unit,
            metric.better,
            &base,
            &other,
        );
        if base.is_empty() || other.is_empty() {
            c.note = Some(format!(
                "not measured for {}",
                [(&*pair.base, &base), (&*pair.other, &other)]
                    .iter()
                    .filter(|(_, v)| v.is_empty())
                    .map(|(t, _)| *t)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        metrics.push(c);
    }
    let mut representative = BTreeMap::new();
    for (target, ix) in &kept {
        let mut by_p99: Vec<(u64, usize)> = ix
            .iter()
            .filter_map(|&i| results.runs[i].latency_us.map(|l| (l.p99, i)))
            .collect();
        by_p99.sort();
        if let Some(&(_, i)) = by_p99.get((by_p99.len().saturating_sub(1)) / 2) {
            representative.insert(target.clone(), i);
        }
    }
    let load = match (first.model.as_str(), first.offered_rps) {
        ("open", Some(rate)) => format!("open loop at {rate:.0}/s"),
        _ => format!("closed loop, {} in flight", first.concurrency),
    };
    let placement = first.server.as_ref().map_or_else(
        || "service not started by the harness".to_owned(),
        |s| {
            format!(
                "service on CPU {} ({} worker{}), generator on CPU {} ({} worker{})",
                crate::placement::format_cpus(&s.pid_cpus),
                s.workers,
                if s.workers == 1 { "" } else { "s" },
                crate::placement::format_cpus(&first.loadgen.cpus),
                first.loadgen.workers,
                if first.loadgen.workers == 1 { "" } else { "s" },
            )
        },
    );
    ScenarioReport {
        name: name.to_owned(),
        description: first.description.clone(),
        protocol: first.protocol.clone(),
        call: first.call.clone(),
        model: first.model.clone(),
        load,
        connections: first.connections,
        concurrency: first.concurrency,
        duration_s: first.duration_s,
        warmup_s: first.warmup_s,
        slo_p99_ms: first.slo.p99_us.map(|v| v as f64 / 1000.0),
        runs,
        placement,
        metrics,
        representative,
        kept,
        flagged,
    }
}

fn capacity_reports(results: &Results, pair: &Pair, flags: &mut Vec<Flag>) -> Vec<CapacityReport> {
    let mut names: Vec<&str> = Vec::new();
    for c in &results.capacity {
        if !names.contains(&c.scenario.as_str()) {
            names.push(&c.scenario);
        }
    }
    let mut reports = Vec::new();
    for name in names {
        let mut sweeps: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
        let mut limited_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Per target: every sweep's index, and the capacities that count.
        let mut indices: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut kept: BTreeMap<String, Vec<f64>> = [&*pair.base, &*pair.other]
            .iter()
            .map(|t| (t.to_string(), Vec::new()))
            .collect();
        let mut first = None;
        for (i, c) in results.capacity.iter().enumerate() {
            if c.scenario != name {
                continue;
            }
            first.get_or_insert(c);
            sweeps
                .entry(c.target.clone())
                .or_default()
                .push(c.capacity_rps);
            limited_by
                .entry(c.target.clone())
                .or_default()
                .push(c.limited_by.clone());
            indices.entry(c.target.clone()).or_default().push(i);
            // A capacity bounded by the generator is not the service's: flag it.
            if c.limited_by == "generator" {
                flags.push(Flag {
                    target: c.target.clone(),
                    scenario: format!("{name} (capacity)"),
                    repetition: Some(c.repetition),
                    why: c
                        .note
                        .clone()
                        .unwrap_or_else(|| "the generator could not keep its schedule".to_owned()),
                });
                continue;
            }
            if let Some(rate) = c.capacity_rps {
                kept.entry(c.target.clone()).or_default().push(rate);
            }
        }
        let Some(first) = first else { continue };
        let mut comparison = Comparison::of_repetitions(
            pair,
            "capacity at SLO",
            "req/s",
            Better::Higher,
            &kept[&*pair.base],
            &kept[&*pair.other],
        );
        let at_max = limited_by.values().flatten().all(|l| l == "max rate");
        if at_max {
            let at_max = "every sweep held up to its max rate: raise `max`";
            comparison.note = Some(match &comparison.note {
                Some(note) => format!("{note}; {at_max}"),
                None => at_max.to_owned(),
            });
        }
        if comparison.ratio.is_none() {
            let bound = |t: &str| {
                sweeps
                    .get(t)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .copied()
                    .reduce(f64::max)
                    .map_or("none".to_owned(), |v| format!("{v:.0}/s"))
            };
            comparison.note = Some(format!(
                "unavailable: the generator fell behind before the service broke its SLO \
                 (lower bounds: {} ≥ {}, {} ≥ {}); give the harness more CPUs \
                 (--loadgen-cpus)",
                pair.base,
                bound(&pair.base),
                pair.other,
                bound(&pair.other)
            ));
        }
        // The chart draws each target's median sweep, usable or not: its stages
        // show where it stopped and why.
        let representative = indices
            .iter()
            .map(|(target, ix)| {
                let mut by_rate: Vec<(f64, usize)> = ix
                    .iter()
                    .map(|&i| (results.capacity[i].capacity_rps.unwrap_or(0.0), i))
                    .collect();
                by_rate.sort_by(|a, b| a.0.total_cmp(&b.0));
                (target.clone(), by_rate[(by_rate.len() - 1) / 2].1)
            })
            .collect();
        reports.push(CapacityReport {
            scenario: name.to_owned(),
            kept,
            call: first.call.clone(),
            protocol: first.protocol.clone(),
            slo_p99_ms: first.slo_p99_us as f64 / 1000.0,
            comparison,
            sweeps,
            representative,
            limited_by,
        });
    }
    reports
}

/// What the startup headline's figures are, and what its interval can see.
const STARTUP_NOTE: &str = "geometric mean of the warm runs (run 1, cold, is shown apart); \
                            the interval sees the spread within this one block of runs";

fn startup_report(results: &Results, pair: &Pair) -> Option<StartupReport> {
    let find = |t: &str| results.startup.iter().rev().find(|s| s.target == t);
    let (base, other) = (find(&pair.base), find(&pair.other));
    if base.is_none() && other.is_none() {
        return None;
    }
    // Warm runs only: run 1 starts with the binary evicted from the page cache.
    let warm = |s: Option<&StartupRecord>, f: fn(&StartupRecord) -> &StartupStats| -> Vec<f64> {
        s.map(|s| f(s).samples.iter().skip(1).copied().collect())
            .unwrap_or_default()
    };
    let mut ready = Comparison::of_repetitions(
        pair,
        "startup (spawn to ready)",
        "ms",
        Better::Lower,
        &warm(base, |s| &s.ready_ms),
        &warm(other, |s| &s.ready_ms),
    );
    ready.note = Some(match ready.note.take() {
        Some(note) => format!("{STARTUP_NOTE}; {note}"),
        None => STARTUP_NOTE.to_owned(),
    });
    let exit = Comparison::of_repetitions(
        pair,
        "stop (SIGTERM to exit)",
        "ms",
        Better::Lower,
        &warm(base, |s| &s.exit_ms),
        &warm(other, |s| &s.exit_ms),
    );
    let mut report = StartupReport {
        ready,
        exit,
        cold_ms: BTreeMap::new(),
        p90_ms: BTreeMap::new(),
        max_ms: BTreeMap::new(),
        cache: BTreeMap::new(),
        samples: BTreeMap::new(),
    };
    for s in [base, other].into_iter().flatten() {
        if let Some(&cold) = s.ready_ms.samples.first() {
            report.cold_ms.insert(s.target.clone(), cold);
        }
        report.p90_ms.insert(s.target.clone(), s.ready_ms.p90);
        report.max_ms.insert(s.target.clone(), s.ready_ms.max);
        report.cache.insert(s.target.clone(), s.cache.clone());
        report
            .samples
            .insert(s.target.clone(), s.ready_ms.samples.clone());
    }
    Some(report)
}

/// Sizes are measured once (they are deterministic): the interval is the ratio itself.
fn size_comparisons(results: &Results, pair: &Pair) -> Vec<Comparison> {
    let find = |t: &str| results.artifacts.iter().rev().find(|a| a.target == t);
    let (base, other) = (find(&pair.base), find(&pair.other));
    if base.is_none() && other.is_none() {
        return Vec::new();
    }
    type Size = fn(&ArtifactRecord) -> Option<u64>;
    let kinds: [(&str, Size); 5] = [
        ("binary", |a| Some(a.binary_bytes)),
        ("binary, stripped", |a| a.binary_stripped_bytes),
        ("static binary", |a| a.static_binary_bytes),
        ("image", |a| a.image_bytes),
        ("image, gzipped layers", |a| a.image_compressed_bytes),
    ];
    kinds
        .iter()
        .map(|(name, f)| {
            let mib = |a: Option<&ArtifactRecord>| -> Vec<f64> {
                a.and_then(f)
                    .map(|b| b as f64 / (1024.0 * 1024.0))
                    .into_iter()
                    .collect()
            };
            let mut c =
                Comparison::measured_once(name, "MiB", Better::Lower, &mib(base), &mib(other));
            if c.ratio.is_none() {
                let notes: Vec<String> = [base, other]
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.image_note.as_ref().map(|n| format!("{}: {n}", a.target)))
                    .collect();
                c.note = Some(if notes.is_empty() {
                    "unavailable: not measured for both targets".to_owned()
                } else {
                    format!("unavailable: {}", notes.join("; "))
                });
            }
            c
        })
        .collect()
}

/// One geometric-mean row over scenarios for `metric`.
fn aggregate(
    pair: &Pair,
    title: &str,
    metric: &str,
    scenarios: &[&ScenarioReport],
    results: &Results,
) -> Comparison {
    let m = METRICS
        .iter()
        .find(|m| m.name == metric)
        .expect("a known metric");
    let mut groups = Vec::new();
    let (mut base_means, mut other_means) = (Vec::new(), Vec::new());
    let mut noisy = 0;
    let mut short = 0;
    let mut included = Vec::new();
    for s in scenarios {
        let values = |t: &str| kept_values(&results.runs, &s.kept, t, m);
        let (base, other) = (values(&pair.base), values(&pair.other));
        // As for one scenario: a side with fewer than two kept repetitions has
        // no spread to go on.
        if base.len() < 2 || other.len() < 2 {
            if !base.is_empty() || !other.is_empty() {
                short += 1;
            }
            continue;
        }
        if stats::is_noisy(&base) || stats::is_noisy(&other) {
            noisy += 1;
        }
        base_means.extend(stats::geomean(&base));
        other_means.extend(stats::geomean(&other));
        groups.push((other, base));
        included.push(s.name.as_str());
    }
    if groups.is_empty() {
        return Comparison::unavailable(
            title,
            m.unit,
            m.better,
            format!("unavailable: no scenario measured {metric} for both targets"),
        );
    }
    let ratio = stats::geomean_ratio(&groups, CONFIDENCE);
    let n = groups.len();
    let mut what = if n == 1 {
        format!("1 scenario ({})", included[0])
    } else {
        format!("geometric mean of {n} scenarios")
    };
    if short > 0 {
        what.push_str(&format!(
            " ({short} left out: fewer than 2 kept repetitions on a side)"
        ));
    }
    Comparison {
        metric: title.to_owned(),
        unit: m.unit,
        better: m.better,
        base: stats::geomean(&base_means),
        other: stats::geomean(&other_means),
        verdict: ratio.map(|r| stats::verdict(&r, m.better)),
        ratio,
        base_cv: None,
        other_cv: None,
        noisy: noisy > 0,
        base_n: n,
        other_n: n,
        note: Some(if noisy > 0 {
            format!("{what}; noisy (CV > 10%) in {noisy} of them")
        } else {
            what
        }),
    }
}

fn headlines(
    results: &Results,
    pair: &Pair,
    scenarios: &[ScenarioReport],
    capacity: &[CapacityReport],
    startup: Option<&StartupReport>,
    sizes: &[Comparison],
) -> Vec<Comparison> {
    let open: Vec<&ScenarioReport> = scenarios.iter().filter(|s| s.model == "open").collect();
    let closed: Vec<&ScenarioReport> = scenarios.iter().filter(|s| s.model == "closed").collect();
    let all: Vec<&ScenarioReport> = scenarios.iter().collect();
    let mut rows = vec![
        aggregate(pair, "p99 latency", "p99 latency", &open, results),
        aggregate(
            pair,
            "throughput (closed loop)",
            "throughput",
            &closed,
            results,
        ),
    ];
    rows.push(capacity_row(pair, capacity));
    rows.push(aggregate(
        pair,
        "CPU per request",
        "CPU per request",
        &all,
        results,
    ));
    rows.push(idle_memory_row(results, pair, scenarios));
    rows.push(aggregate(
        pair,
        "peak memory (RSS)",
        "peak RSS",
        &all,
        results,
    ));
    rows.push(match startup {
        Some(s) => s.ready.clone(),
        None => Comparison::unavailable(
            "startup (spawn to ready)",
            "ms",
            Better::Lower,
            "unavailable: this run did not time startup".to_owned(),
        ),
    });
    rows.push(match sizes.iter().find(|c| c.metric == "image") {
        Some(c) => {
            let mut c = c.clone();
            c.metric = "image size".to_owned();
            if c.note.is_none() {
                c.note =
                    Some("FROM scratch, static binary; measured once (deterministic)".to_owned());
            }
            c
        }
        None => Comparison::unavailable(
            "image size",
            "MiB",
            Better::Lower,
            "unavailable: this run did not measure images".to_owned(),
        ),
    });
    rows
}

/// The capacity headline row: unavailable without a sweep, the one sweep's
/// comparison, or the geometric mean over every scenario with a usable sweep
/// for both targets.
fn capacity_row(pair: &Pair, capacity: &[CapacityReport]) -> Comparison {
    match capacity {
        [] => Comparison::unavailable(
            "capacity at SLO",
            "req/s",
            Better::Higher,
            "unavailable: this suite has no capacity sweep (just bench-full has)".to_owned(),
        ),
        [one] => {
            let mut c = one.comparison.clone();
            c.note = Some(match &c.note {
                Some(note) => format!("1 scenario ({}); {note}", one.scenario),
                None => format!("1 scenario ({})", one.scenario),
            });
            c
        }
        many => {
            let both: Vec<&CapacityReport> = many
                .iter()
                .filter(|c| c.comparison.verdict.is_some())
                .collect();
            let groups: Vec<(Vec<f64>, Vec<f64>)> = both
                .iter()
                .map(|c| {
                    let v = |t: &str| -> Vec<f64> { c.kept.get(t).cloned().unwrap_or_default() };
                    (v(&pair.other), v(&pair.base))
                })
                .collect();
            match stats::geomean_ratio(&groups, CONFIDENCE) {
                None => Comparison::unavailable(
                    "capacity at SLO",
                    "req/s",
                    Better::Higher,
                    many.iter()
                        .map(|c| {
                            format!(
                                "{}: {}",
                                c.scenario,
                                c.comparison.note.as_deref().unwrap_or("unavailable")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                Some(ratio) => {
                    let med = |t: &str| -> Vec<f64> {
                        both.iter()
                            .filter_map(|c| {
                                if t == &*pair.base {
                                    c.comparison.base
                                } else {
                                    c.comparison.other
                                }
                            })
                            .collect()
                    };
                    let left_out = many.len() - both.len();
                    Comparison {
                        metric: "capacity at SLO".to_owned(),
                        unit: "req/s",
                        better: Better::Higher,
                        base: stats::geomean(&med(&pair.base)),
                        other: stats::geomean(&med(&pair.other)),
                        verdict: Some(stats::verdict(&ratio, Better::Higher)),
                        ratio: Some(ratio),
                        base_cv: None,
                        other_cv: None,
                        noisy: both.iter().any(|c| c.comparison.noisy),
                        base_n: both.len(),
                        other_n: both.len(),
                        note: Some(if left_out == 0 {
                            format!("geometric mean of {} scenarios", both.len())
                        } else {
                            format!(
                                "geometric mean of {} of {} scenarios ({left_out} without a \
                                 usable sweep for both targets)",
                                both.len(),
                                many.len()
                            )
                        }),
                    }
                }
            }
        }
    }
}

/// The idle-memory headline row.
fn idle_memory_row(results: &Results, pair: &Pair, scenarios: &[ScenarioReport]) -> Comparison {
    // Idle memory is the same measurement in every run (a fresh service). The
    // services of one repetition share its conditions, so the interval is over
    // repetitions, each one's median service: pooling every service (~48 a
    // side in the quick suite) made it far narrower than repetitions vary.
    let idle = |t: &str| -> (Vec<f64>, usize) {
        let mut by_repetition: BTreeMap<Option<u32>, Vec<f64>> = BTreeMap::new();
        for s in scenarios {
            for &i in s.kept.get(t).into_iter().flatten() {
                let run = &results.runs[i];
                if let Some(server) = &run.server {
                    by_repetition
                        .entry(run.repetition)
                        .or_default()
                        .push(server.rss_kib.idle as f64 / 1024.0);
                }
            }
        }
        let services = by_repetition.values().map(Vec::len).sum();
        let medians = by_repetition.values().filter_map(|v| stats::median(v));
        (medians.collect(), services)
    };
    let ((base, base_services), (other, other_services)) = (idle(&pair.base), idle(&pair.other));
    let mut idle_row = Comparison::of_repetitions(
        pair,
        "idle memory (RSS)",
        "MiB",
        Better::Lower,
        &base,
        &other,
    );
    let what = format!(
        "each repetition's median fresh service ({base_services} and {other_services} services \
         in {} and {} repetitions)",
        base.len(),
        other.len()
    );
    idle_row.note = Some(match (idle_row.ratio, idle_row.note.take()) {
        (None, _) => "unavailable: no run measured the service's memory".to_owned(),
        (Some(_), Some(note)) => format!("{what}; {note}"),
        (Some(_), None) => what,
    });
    idle_row
}

impl Analysis {
    /// A metric's values over the kept repetitions of one target in one scenario.
    pub fn values(&self, scenario: &ScenarioReport, target: &str, metric: &Metric) -> Vec<f64> {
        kept_values(&self.results.runs, &scenario.kept, target, metric)
    }
}

/// A metric's finite values over the kept runs (`kept`: run indices per target).
fn kept_values(
    runs: &[RunRecord],
    kept: &BTreeMap<String, Vec<usize>>,
    target: &str,
    metric: &Metric,
) -> Vec<f64> {
    kept.get(target)
        .into_iter()
        .flatten()
        .filter_map(|&i| (metric.value)(&runs[i]))
        .filter(|v| v.is_finite())
        .collect()
}
