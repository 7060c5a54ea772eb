//! `summary.json`: what the site index (`harness pages`) shows of a run.
//! `report` writes it beside each run's reports; `pages` reads them all.

use serde::{Deserialize, Serialize};

/// The `schema_version` of the [`Summary`] this code writes. Version 1
/// (before targets had names: `rust`, `go`, "Go / Rust") is still read.
pub const SCHEMA_VERSION: u32 = 2;

/// A run's `summary.json`: what the site index shows of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The run's id, also the name of its directory under `runs/`, e.g.
    /// "20261130T050000Z".
    pub run_id: String,
    /// Which suite ran, e.g. "full" or "quick".
    pub suite: String,
    /// The lab's commit (short hash) that ran.
    pub commit: String,
    /// Whether the work tree had uncommitted changes.
    pub dirty: bool,
    /// When the run started, RFC 3339 in UTC.
    pub started: String,
    /// The run's headline comparisons, in the report's order.
    pub headlines: Vec<Headline>,
}

/// One headline comparison of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// What is compared, e.g. "p99 latency".
    pub metric: String,
    /// The unit of the values, e.g. "ms".
    pub unit: String,
    /// "lower" or "higher": which way is better.
    pub better: String,
    /// The baseline target's name (version 1: the default Rust target).
    #[serde(default = "legacy_baseline")]
    pub baseline: String,
    /// The other target's name (version 1: the default Go target).
    #[serde(default = "legacy_other")]
    pub other: String,
    /// The baseline's value (geometric mean over repetitions), `None` when
    /// not measured.
    #[serde(alias = "rust")]
    pub baseline_value: Option<f64>,
    /// The other's value, `None` when not measured.
    #[serde(alias = "go")]
    pub other_value: Option<f64>,
    /// other / baseline, `None` when it could not be computed.
    pub ratio: Option<f64>,
    /// Lower end of the ratio's 95 % confidence interval.
    pub ci_low: Option<f64>,
    /// Upper end of the ratio's 95 % confidence interval.
    pub ci_high: Option<f64>,
    /// "<target> better" or "no significant difference" (version 1: "Rust
    /// better", "Go better").
    pub verdict: String,
    /// Whether the repetitions varied too much to trust the verdict.
    pub noisy: bool,
    /// Why a value is missing, or anything else worth a reader's eye.
    pub note: Option<String>,
}

fn legacy_baseline() -> String {
    crate::target::Registry::builtin().legacy_name("rust")
}

fn legacy_other() -> String {
    crate::target::Registry::builtin().legacy_name("go")
}
