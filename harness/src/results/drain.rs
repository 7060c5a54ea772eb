//! `drains[]` of results.json: one record per drain run (`harness run` of a
//! scenario with a `[drain]` table).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One drain run, as written to `results.json` (`drains[]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DrainRecord {
    pub target: String,
    pub scenario: String,
    pub protocol: String,
    pub call: String,
    #[serde(default)]
    pub repetition: Option<u32>,
    pub rate: u64,
    pub duration_s: f64,
    pub signal_after_s: f64,
    pub drain_delay_s: f64,
    pub drain_timeout_s: f64,
    /// Requests sent before the signal, and how many of those failed.
    pub before: u64,
    pub before_errors: BTreeMap<String, u64>,
    /// Requests sent after the signal, until the window ended.
    pub sent: u64,
    pub completed: u64,
    /// Sent while the listener still accepted, and completed.
    pub completed_while_listening: u64,
    pub not_accepted: BTreeMap<String, u64>,
    pub failed: BTreeMap<String, u64>,
    /// When each failed request was sent, in milliseconds after the signal.
    #[serde(default)]
    pub failed_sent_ms: Vec<f64>,
    /// Milliseconds from the signal to the first 503 from `GET /health` on a new connection.
    pub readiness_off_ms: Option<f64>,
    /// Milliseconds from the signal to the first probe connect refused or
    /// left unanswered (see [`probe`]).
    pub stopped_listening_ms: Option<f64>,
    /// Milliseconds from the signal to the process's exit.
    pub exit_ms: Option<f64>,
    /// `exited 0`, `exited 1`, `killed by SIGKILL`, or why it is unknown.
    pub exit: String,
    pub passed: bool,
    /// Why it did not pass; empty when it did.
    pub problems: Vec<String>,
}

impl DrainRecord {
    /// Requests sent after the signal that reached the service: completed plus failed.
    pub fn accepted(&self) -> u64 {
        self.completed + self.failed.values().sum::<u64>()
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    pub fn not_accepted_total(&self) -> u64 {
        self.not_accepted.values().sum()
    }

    /// One line for the terminal and the reports.
    pub fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or_else(|| "never".to_owned(), |v| format!("{v:.0} ms"));
        format!(
            "{} {}: {} sent after SIGTERM: {} accepted, {} completed, {} failed{}, {} not accepted{}; \
             /health 503 after {}, stopped listening after {}, {} after {}: {}",
            self.target,
            self.scenario,
            self.sent,
            self.accepted(),
            self.completed,
            self.failed_total(),
            classes(&self.failed),
            self.not_accepted_total(),
            classes(&self.not_accepted),
            ms(self.readiness_off_ms),
            ms(self.stopped_listening_ms),
            self.exit,
            ms(self.exit_ms),
            if self.passed {
                "PASS".to_owned()
            } else {
                format!("FAIL ({})", self.problems.join("; "))
            }
        )
    }
}

/// `, sent 1003-1010 ms after SIGTERM`, or nothing when no time is known.
pub fn sent_between(sent_ms: &[f64]) -> String {
    let first = sent_ms.iter().copied().reduce(f64::min);
    let last = sent_ms.iter().copied().reduce(f64::max);
    match (first, last) {
        (Some(first), Some(last)) if last - first >= 1.0 => {
            format!(", sent {first:.0}-{last:.0} ms after SIGTERM")
        }
        (Some(first), _) => format!(", sent {first:.0} ms after SIGTERM"),
        _ => String::new(),
    }
}

/// ` (reset 2, timeout 1)`, or nothing for an empty map.
pub fn classes(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(" ({})", parts.join(", "))
}
