//! `suite` of results.json: what `harness bench` was asked to run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The suite `harness bench` ran, with the options that shape it. Fields
/// marked `default` may be missing from files written by older harnesses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteRecord {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub path: String,
    /// Empty in files written before suites named their targets' order.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Every ratio is another target's figure / this one's. None in files
    /// written before suites had a baseline: the first target.
    #[serde(default)]
    pub baseline: Option<String>,
    pub repetitions: u32,
    /// Scenarios that run another number of repetitions than the suite's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenario_repetitions: BTreeMap<String, u32>,
    /// `--retries`: how many more tries a spoiled run gets in its place.
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub idle_wait_s: f64,
    #[serde(default)]
    pub after_wait_s: f64,
    #[serde(default)]
    pub scenarios: Vec<String>,
    #[serde(default)]
    pub startup_runs: u32,
    #[serde(default)]
    pub images: bool,
    #[serde(default)]
    pub capacity_scenarios: Vec<String>,
    #[serde(default)]
    pub capacity_repetitions: u32,
    /// The conformance suite passed for every target before any load.
    #[serde(default)]
    pub verified: bool,
    #[serde(default)]
    pub server_cpus: Vec<usize>,
    #[serde(default)]
    pub loadgen_cpus: Vec<usize>,
    /// CPUs a SCHED_IDLE spinner kept from halting (empty: --let-cpus-idle).
    /// None in files written before the harness kept CPUs awake.
    #[serde(default)]
    pub cpus_kept_awake: Option<Vec<usize>>,
}

impl SuiteRecord {
    /// "3 repetitions", or "3 repetitions (5 for a, b)" when scenarios set
    /// their own.
    pub fn repetitions_text(&self) -> String {
        let mut by_count: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for (name, &n) in &self.scenario_repetitions {
            by_count.entry(n).or_default().push(name);
        }
        let mut text = format!("{} repetitions", self.repetitions);
        if !by_count.is_empty() {
            let own: Vec<String> = by_count
                .iter()
                .map(|(n, names)| format!("{n} for {}", names.join(", ")))
                .collect();
            text.push_str(&format!(" ({})", own.join("; ")));
        }
        text
    }
}
