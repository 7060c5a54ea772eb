//! `failures[]` of results.json: runs that could not be measured.

use serde::{Deserialize, Serialize};

/// A run that could not be measured: `harness bench` goes on with the next
/// run, `harness run` with the next scenario or target. Fields marked
/// `default` may be missing from files written by older harnesses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureRecord {
    /// `run` or `capacity`.
    pub kind: String,
    pub target: String,
    pub scenario: String,
    /// `harness bench`: the repetition; null for `harness run`.
    #[serde(default)]
    pub repetition: Option<u32>,
    pub error: String,
    /// When it failed: UTC wall time with milliseconds.
    #[serde(default)]
    pub at: Option<String>,
    /// Seconds from the start of the run (before its service was started).
    #[serde(default)]
    pub at_s: Option<f64>,
    /// What the run was doing when its service died (`start`, `idle`,
    /// `load`, `after`, `capacity`); null for other failures.
    #[serde(default)]
    pub phase: Option<String>,
    /// The signal that killed the service (`SIGKILL`), if one did.
    #[serde(default)]
    pub signal: Option<String>,
    /// The service's exit code, if it exited by itself.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// `harness bench`: which try at this place in the interleaving (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `harness bench`: the place was run again (a probe failed), so this
    /// failure does not fail the bench.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retried: bool,
    /// `harness bench`, a retry: seconds it waited before it started for the
    /// hypervisor's steal on the generator's CPUs to fall back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_s: Option<f64>,
}

impl FailureRecord {
    /// A failure from the error a run returned; `at_s` is used unless the
    /// error is a `ServiceDied`, which knows when the service died.
    pub fn new(
        kind: &str,
        target: &str,
        scenario: &str,
        repetition: Option<u32>,
        err: &anyhow::Error,
        at_s: f64,
    ) -> Self {
        let died = err.downcast_ref::<crate::target::ServiceDied>();
        Self {
            kind: kind.to_owned(),
            target: target.to_owned(),
            scenario: scenario.to_owned(),
            repetition,
            error: format!("{err:#}"),
            at: Some(died.map_or_else(crate::environment::now_rfc3339_millis, |d| d.at.clone())),
            at_s: Some(died.map_or(at_s, |d| d.at_s)),
            phase: died.map(|d| d.phase.to_owned()),
            signal: died.and_then(|d| d.signal).map(str::to_owned),
            exit_code: died.and_then(|d| d.exit_code),
            attempt: None,
            retried: false,
            settle_s: None,
        }
    }
}
