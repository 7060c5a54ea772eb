//! `runs[]` of results.json: one record per measured run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::load::recorder::Summary;
use crate::load::{Measured, Point};
use crate::scenario::{Model, Scenario};

/// One run. Fields marked `default` may be missing from files written by
/// older harnesses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub scenario: String,
    /// `harness bench`: the repetition (1-based) this run belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u32>,
    /// `harness bench`: which try at this place in the interleaving (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `harness bench`: why this try was run again (the instrument spoiled
    /// it); such a try is kept here but not in the statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<String>,
    /// `harness bench`, a retry: seconds it waited before it started for the
    /// hypervisor's steal on the generator's CPUs to fall back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_s: Option<f64>,
    #[serde(default)]
    pub description: String,
    pub target: String,
    /// `http1`, `http2` or `grpc`.
    pub protocol: String,
    /// `open` or `closed`.
    pub model: String,
    pub call: String,
    /// gRPC streams: "server" or "bidi".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The outcome that counts as `ok`: an HTTP status or a gRPC code name.
    #[serde(default)]
    pub expect: String,
    /// Open loop: the schedule's rate over the measured window. Closed loop: null.
    pub offered_rps: Option<f64>,
    /// Open loop: requests the schedule held for the measured window
    /// (`requests + dropped` equals it).
    pub scheduled: Option<u64>,
    pub achieved_rps: f64,
    /// Requests sent in the measured window (answered, failed or timed out).
    pub requests: u64,
    pub ok: u64,
    /// Scheduled in the measured window but never sent.
    pub dropped: u64,
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub generator_saturated: bool,
    /// Why the run is marked `generator_saturated`.
    pub saturation: Option<String>,
    /// Successful requests: completion − intended start. Null if none succeeded.
    pub latency_us: Option<Summary>,
    /// Successful requests: completion − actual send.
    pub uncorrected_latency_us: Option<Summary>,
    /// Every sent request: actual send − intended start.
    pub scheduler_lag_us: Option<Summary>,
    /// gRPC streams: per-message latency (bidi: send to reply; server: gap between messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_latency_us: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    /// `latency_us`'s histogram, HdrHistogram V2 + deflate, base64, in µs.
    #[serde(default)]
    pub histogram: String,
    #[serde(default)]
    pub timeline: Vec<Point>,
    pub loadgen: Loadgen,
    pub concurrency: usize,
    pub connections: usize,
    /// Requests that waited for the in-flight cap (open loop).
    #[serde(default)]
    pub cap_waits: u64,
    /// HTTP/2 and gRPC: the server's SETTINGS_MAX_CONCURRENT_STREAMS ("unlimited"
    /// if it sets none, null with `_note` if it could not be read).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_is_a_value"
    )]
    pub http2_max_concurrent_streams: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_max_concurrent_streams_note: Option<String>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub slo: Slo,
    /// What the service used (CPU, memory); null with `server_note` when the
    /// harness did not start it (`--url`).
    pub server: Option<crate::probe::ServerUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_note: Option<String>,
    /// Overlapping CPU sets, or CPUs asked for that the machine lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_warnings: Vec<String>,
}

/// A present `null` is `Some(Null)` (the limit could not be read), an absent
/// key `None` (not HTTP/2), so that a file read and written back is unchanged.
fn null_is_a_value<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Loadgen {
    /// CPU time (user + system) of the whole harness over the measured window.
    #[serde(default)]
    pub cpu_seconds: f64,
    /// `cpu_seconds` per request sent in the window, in µs (null with none).
    pub cpu_us_per_request: Option<f64>,
    /// Peak RSS of the harness process so far.
    #[serde(default)]
    pub max_rss_kib: u64,
    pub workers: usize,
    /// The CPUs the harness ran on (its affinity during the run).
    #[serde(default)]
    pub cpus: Vec<usize>,
    /// CPUs kept from halting by a SCHED_IDLE spinner (`placement::Awake`)
    /// during the run: the service's and the generator's unless
    /// `--let-cpus-idle`.
    #[serde(default)]
    pub cpus_kept_awake: Vec<usize>,
    /// `realtime`, `run_delay_us`, `steal_ms`.
    #[serde(flatten)]
    pub scheduling: crate::load::Scheduling,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Slo {
    pub p99_us: Option<u64>,
    /// Null when the scenario sets no SLO or nothing succeeded.
    pub met: Option<bool>,
}

/// What was learnt about the server's HTTP/2 stream limit.
#[derive(Debug, Clone)]
pub enum StreamLimit {
    NotApplicable,
    Limit(u32),
    Unlimited,
    Unavailable(String),
}

impl RunRecord {
    pub fn new(
        scenario: &Scenario,
        target: &str,
        m: &Measured,
        streams: &StreamLimit,
    ) -> anyhow::Result<Self> {
        let t = &m.totals;
        let latency = Measured::summary(&t.corrected);
        let slo_p99 = scenario.slo.p99.map(|d| d.as_micros() as u64);
        let saturation = m.saturation();
        let (streams_value, streams_note) = match streams {
            StreamLimit::NotApplicable => (None, None),
            StreamLimit::Limit(n) => (Some(serde_json::json!(n)), None),
            StreamLimit::Unlimited => (Some(serde_json::json!("unlimited")), None),
            StreamLimit::Unavailable(why) => (Some(serde_json::Value::Null), Some(why.clone())),
        };
        let streaming = scenario.stream.is_some();
        Ok(Self {
            scenario: scenario.name.clone(),
            repetition: None,
            attempt: None,
            retried: None,
            settle_s: None,
            description: scenario.description.clone(),
            target: target.to_owned(),
            protocol: scenario.protocol.name().to_owned(),
            model: match scenario.load.model {
                Model::Open => "open",
                Model::Closed => "closed",
            }
            .to_owned(),
            call: super::call_text(scenario),
            stream: scenario.stream.as_ref().map(|s| {
                match s.kind {
                    crate::scenario::GrpcKind::Bidi => "bidi",
                    _ => "server",
                }
                .to_owned()
            }),
            expect: super::expect_text(scenario.expect),
            offered_rps: m.offered_rps,
            scheduled: m.scheduled,
            achieved_rps: m.achieved_rps(),
            requests: t.requests,
            ok: t.ok,
            dropped: t.dropped,
            errors: t.errors.clone(),
            duration_s: m.duration.as_secs_f64(),
            warmup_s: scenario.load.warmup.as_secs_f64(),
            generator_saturated: saturation.is_some(),
            saturation,
            latency_us: latency,
            uncorrected_latency_us: Measured::summary(&t.uncorrected),
            scheduler_lag_us: Measured::summary(&t.lag),
            message_latency_us: if streaming {
                Measured::summary(&t.message)
            } else {
                None
            },
            messages: streaming.then_some(t.messages),
            histogram: super::encode_histogram(&t.corrected)?,
            timeline: m.timeline.clone(),
            loadgen: Loadgen {
                cpu_seconds: m.loadgen_cpu_seconds,
                cpu_us_per_request: (t.requests > 0)
                    .then(|| m.loadgen_cpu_seconds * 1e6 / t.requests as f64),
                max_rss_kib: m.loadgen_max_rss_kib,
                workers: m.workers,
                cpus: crate::placement::available_cpus().unwrap_or_default(),
                cpus_kept_awake: crate::placement::kept_awake(),
                scheduling: m.scheduling.clone(),
            },
            concurrency: m.concurrency,
            connections: m.connections,
            cap_waits: t.cap_waits,
            http2_max_concurrent_streams: streams_value,
            http2_max_concurrent_streams_note: streams_note,
            seed: scenario.load.seed,
            slo: Slo {
                p99_us: slo_p99,
                met: slo_p99.zip(latency).map(|(limit, l)| l.p99 <= limit),
            },
            server: None,
            server_note: None,
            placement_warnings: Vec::new(),
        })
    }
}
