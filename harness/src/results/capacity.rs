//! `capacity[]` of results.json: `harness bench`'s capacity sweeps.

use serde::{Deserialize, Serialize};

/// One capacity sweep: one target, one scenario, one repetition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityRecord {
    pub scenario: String,
    pub target: String,
    pub repetition: u32,
    pub protocol: String,
    pub call: String,
    pub slo_p99_us: u64,
    pub stage_s: f64,
    #[serde(default)]
    pub warmup_s: f64,
    pub concurrency: usize,
    pub connections: usize,
    /// The highest offered rate whose stage held the SLO with no errors; null
    /// when the first stage already broke.
    pub capacity_rps: Option<f64>,
    /// What ended the sweep: "slo", "errors", "generator" (the generator could
    /// not keep its schedule, so capacity is a lower bound), or "max rate".
    pub limited_by: String,
    pub note: Option<String>,
    pub stages: Vec<CapacityStage>,
}

/// One stage of a sweep. Fields marked `default` may be missing from files
/// written by older harnesses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityStage {
    pub offered_rps: f64,
    pub achieved_rps: f64,
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub ok: u64,
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub dropped: u64,
    /// Requests that waited for the in-flight cap (the service was behind).
    #[serde(default)]
    pub cap_waits: u64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    #[serde(default)]
    pub generator_saturated: bool,
    /// The generator's CPU use over the stage, in % of its CPUs.
    #[serde(default)]
    pub loadgen_cpu_pct: f64,
    /// Service CPU (user + system) per request over the stage, in µs.
    pub server_cpu_us_per_request: Option<f64>,
    pub server_cpu_pct: Option<f64>,
    pub held: bool,
    /// What broke the stage first: "errors", "slo" or "generator".
    pub limit: Option<String>,
    /// Why the stage did not hold.
    pub broke: Option<String>,
}
