//! `results.json`: the raw results of a command, the input of every report.
//! Field names are a public interface (reports and external tools read them);
//! `reports/README.md` documents each. The file is rewritten atomically after
//! every run, so an interrupted command keeps what it measured.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::Serialize;

pub mod drain;
pub mod summary;

pub use drain::DrainRecord;

use crate::load::recorder::Summary;
use crate::load::{Measured, Point};
use crate::probe::Machine;
use crate::scenario::{Call, Expect, Model, Scenario};
use crate::target::Target;

pub const SCHEMA_VERSION: u32 = 1;

/// The whole file. Commands add to it: `run` appends `runs`, `startup`
/// appends `startup`, `images` appends `artifacts`. Entries are kept as JSON
/// values so that a file written by an earlier command is carried over as is.
#[derive(Debug, Serialize)]
pub struct Results {
    pub schema_version: u32,
    /// False while a command is still writing (or if it was interrupted).
    pub complete: bool,
    pub harness_version: &'static str,
    /// Where the latest command ran.
    pub machine: Machine,
    /// `harness bench`: the suite that was run (null for other commands).
    pub suite: Option<serde_json::Value>,
    /// `harness bench`: toolchains, library versions, commit, command.
    pub environment: Option<serde_json::Value>,
    /// The targets the commands ran (from the registry, `targets.toml`), in
    /// the order they were first met: name, language, framework, version.
    pub targets: Vec<serde_json::Value>,
    pub runs: Vec<serde_json::Value>,
    /// `harness bench`: capacity sweeps.
    pub capacity: Vec<serde_json::Value>,
    /// Runs that could not be measured (`harness bench`; `harness run`: runs
    /// whose service died), when, and why.
    pub failures: Vec<serde_json::Value>,
    /// Drain scenarios: SIGTERM under load, request by request.
    pub drains: Vec<serde_json::Value>,
    pub startup: Vec<serde_json::Value>,
    pub artifacts: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub scenario: String,
    /// `harness bench`: the repetition (1-based) this run belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u32>,
    /// `harness bench`: which try at this place in the interleaving (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `harness bench`: why this try was run again (the instrument spoiled
    /// it); such a try is kept here but not in the statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried: Option<String>,
    /// `harness bench`, a retry: seconds it waited before it started for the
    /// hypervisor's steal on the generator's CPUs to fall back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settle_s: Option<f64>,
    pub description: String,
    pub target: String,
    pub protocol: &'static str,
    pub model: &'static str,
    pub call: String,
    /// gRPC streams: "server" or "bidi".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<&'static str>,
    /// The outcome that counts as `ok`: an HTTP status or a gRPC code name.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_latency_us: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    /// `latency_us`'s histogram, HdrHistogram V2 + deflate, base64, in µs.
    pub histogram: String,
    pub timeline: Vec<Point>,
    pub loadgen: Loadgen,
    pub concurrency: usize,
    pub connections: usize,
    /// Requests that waited for the in-flight cap (open loop).
    pub cap_waits: u64,
    /// HTTP/2 and gRPC: the server's SETTINGS_MAX_CONCURRENT_STREAMS ("unlimited"
    /// if it sets none, null with `_note` if it could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_max_concurrent_streams: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_max_concurrent_streams_note: Option<String>,
    pub seed: u64,
    pub slo: Slo,
    /// What the service used (CPU, memory); null with `server_note` when the
    /// harness did not start it (`--url`).
    pub server: Option<crate::probe::ServerUsage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_note: Option<String>,
    /// Overlapping CPU sets, or CPUs asked for that the machine lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement_warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Loadgen {
    /// CPU time (user + system) of the whole harness over the measured window.
    pub cpu_seconds: f64,
    /// `cpu_seconds` per request sent in the window, in µs (null with none).
    pub cpu_us_per_request: Option<f64>,
    /// Peak RSS of the harness process so far.
    pub max_rss_kib: u64,
    pub workers: usize,
    /// The CPUs the harness ran on (its affinity during the run).
    pub cpus: Vec<usize>,
    /// CPUs kept from halting by a SCHED_IDLE spinner (`placement::Awake`)
    /// during the run: the service's and the generator's unless
    /// `--let-cpus-idle`.
    pub cpus_kept_awake: Vec<usize>,
    /// `realtime`, `run_delay_us`, `steal_ms`.
    #[serde(flatten)]
    pub scheduling: crate::load::Scheduling,
}

#[derive(Debug, Clone, Serialize)]
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

pub fn encode_histogram(h: &Histogram<u64>) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|err| anyhow::anyhow!("serializing a histogram: {err:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
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
            protocol: scenario.protocol.name(),
            model: match scenario.load.model {
                Model::Open => "open",
                Model::Closed => "closed",
            },
            call: call_text(scenario),
            stream: scenario.stream.as_ref().map(|s| match s.kind {
                crate::scenario::GrpcKind::Bidi => "bidi",
                _ => "server",
            }),
            expect: expect_text(scenario.expect),
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
            histogram: encode_histogram(&t.corrected)?,
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

/// A target as results.json records it (`targets[]`).
#[derive(Debug, Clone, Serialize)]
pub struct TargetRecord {
    pub name: &'static str,
    pub language: &'static str,
    pub framework: &'static str,
    /// The framework's version from its lock file (the registry's `version`).
    pub version: Option<String>,
    /// Why `version` is null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_note: Option<String>,
}

impl TargetRecord {
    pub fn of(root: &Path, target: Target) -> Self {
        let spec = target.spec();
        let (version, version_note) = match &spec.version {
            None => (
                None,
                Some("the registry names no `version` package".to_owned()),
            ),
            Some(package) => match package.version(root) {
                Ok(v) => (Some(v), None),
                Err(why) => (None, Some(why)),
            },
        };
        Self {
            name: target.name(),
            language: &spec.language,
            framework: &spec.framework,
            version,
            version_note,
        }
    }
}

/// A run that could not be measured (`failures[]`): `harness bench` goes on
/// with the next run, `harness run` with the next scenario or target.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// `run` or `capacity`.
    pub kind: &'static str,
    pub target: String,
    pub scenario: String,
    /// `harness bench`: the repetition; null for `harness run`.
    pub repetition: Option<u32>,
    pub error: String,
    /// When it failed: UTC wall time with milliseconds.
    pub at: String,
    /// Seconds from the start of the run (before its service was started).
    pub at_s: f64,
    /// What the run was doing when its service died (`start`, `idle`,
    /// `load`, `after`, `capacity`); null for other failures.
    pub phase: Option<&'static str>,
    /// The signal that killed the service (`SIGKILL`), if one did.
    pub signal: Option<&'static str>,
    /// The service's exit code, if it exited by itself.
    pub exit_code: Option<i32>,
    /// `harness bench`: which try at this place in the interleaving (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `harness bench`: the place was run again (a probe failed), so this
    /// failure does not fail the bench.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retried: bool,
    /// `harness bench`, a retry: seconds it waited before it started for the
    /// hypervisor's steal on the generator's CPUs to fall back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settle_s: Option<f64>,
}

impl Failure {
    /// A failure from the error a run returned; `at_s` is used unless the
    /// error is a `ServiceDied`, which knows when the service died.
    pub fn new(
        kind: &'static str,
        target: &str,
        scenario: &str,
        repetition: Option<u32>,
        err: &anyhow::Error,
        at_s: f64,
    ) -> Self {
        let died = err.downcast_ref::<crate::target::ServiceDied>();
        Self {
            kind,
            target: target.to_owned(),
            scenario: scenario.to_owned(),
            repetition,
            error: format!("{err:#}"),
            at: died.map_or_else(crate::environment::now_rfc3339_millis, |d| d.at.clone()),
            at_s: died.map_or(at_s, |d| d.at_s),
            phase: died.map(|d| d.phase),
            signal: died.and_then(|d| d.signal),
            exit_code: died.and_then(|d| d.exit_code),
            attempt: None,
            retried: false,
            settle_s: None,
        }
    }
}

/// The call as the scenario file wrote it: `GET /v1/users/{id}`.
pub fn call_text(scenario: &Scenario) -> String {
    match &scenario.call {
        Call::Rest { method, path } => {
            let mut text = format!("{method} ");
            for part in &path.parts {
                match part {
                    crate::scenario::Part::Lit(s) => text.push_str(s),
                    crate::scenario::Part::Var(i) => {
                        text.push('{');
                        text.push_str(&scenario.params[*i].0);
                        text.push('}');
                    }
                }
            }
            text
        }
        Call::Grpc { path, .. } => path.trim_start_matches('/').to_owned(),
    }
}

pub fn expect_text(expect: Expect) -> String {
    match expect {
        Expect::Http(status) => status.to_string(),
        Expect::Grpc(code) => lab_proto::code_name(code).to_owned(),
    }
}

/// `DIR/results.json`, rewritten atomically (temporary file, fsync, rename)
/// whenever an entry is added.
pub struct ResultsFile {
    path: PathBuf,
    pub results: Results,
}

impl ResultsFile {
    /// Opens `DIR/results.json` to add to it, or starts one. A file of another
    /// schema version, or one that is not a results file, is an error rather
    /// than something to overwrite.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("results.json");
        let mut results = Results {
            schema_version: SCHEMA_VERSION,
            complete: false,
            harness_version: env!("CARGO_PKG_VERSION"),
            machine: Machine::detect(),
            suite: None,
            environment: None,
            targets: Vec::new(),
            runs: Vec::new(),
            capacity: Vec::new(),
            failures: Vec::new(),
            drains: Vec::new(),
            startup: Vec::new(),
            artifacts: Vec::new(),
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                // Refused, never overwritten: it may be someone's only copy.
                let old = parse(&path, &bytes)
                    .map_err(|err| anyhow::anyhow!("{err}; move it away or pick another --out"))?;
                let list = |key: &str| -> Vec<serde_json::Value> {
                    old[key].as_array().cloned().unwrap_or_default()
                };
                results.targets = list("targets");
                results.runs = list("runs");
                results.capacity = list("capacity");
                results.failures = list("failures");
                results.drains = list("drains");
                results.suite = Some(old["suite"].clone()).filter(|v| !v.is_null());
                results.environment = Some(old["environment"].clone()).filter(|v| !v.is_null());
                results.startup = list("startup");
                results.artifacts = list("artifacts");
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        }
        let file = Self { path, results };
        file.write()?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn push_run(&mut self, run: &RunRecord) -> anyhow::Result<()> {
        self.results.runs.push(serde_json::to_value(run)?);
        self.write()
    }

    pub fn push_capacity(&mut self, entry: &impl Serialize) -> anyhow::Result<()> {
        self.results.capacity.push(serde_json::to_value(entry)?);
        self.write()
    }

    pub fn push_drain(&mut self, entry: &impl Serialize) -> anyhow::Result<()> {
        self.results.drains.push(serde_json::to_value(entry)?);
        self.write()
    }

    pub fn push_failure(&mut self, entry: &impl Serialize) -> anyhow::Result<()> {
        self.results.failures.push(serde_json::to_value(entry)?);
        self.write()
    }

    /// Records what `harness bench` is about to run.
    pub fn set_bench(
        &mut self,
        suite: &impl Serialize,
        environment: &impl Serialize,
    ) -> anyhow::Result<()> {
        self.results.suite = Some(serde_json::to_value(suite)?);
        self.results.environment = Some(serde_json::to_value(environment)?);
        self.write()
    }

    /// Records each of `targets` not recorded yet.
    pub fn add_targets(&mut self, root: &Path, targets: &[Target]) -> anyhow::Result<()> {
        for t in targets {
            let known = self.results.targets.iter().any(|v| v["name"] == t.name());
            if !known {
                let record = TargetRecord::of(root, *t);
                self.results.targets.push(serde_json::to_value(record)?);
            }
        }
        self.write()
    }

    pub fn push_startup(&mut self, entry: &impl Serialize) -> anyhow::Result<()> {
        self.results.startup.push(serde_json::to_value(entry)?);
        self.write()
    }

    pub fn push_artifact(&mut self, entry: &impl Serialize) -> anyhow::Result<()> {
        self.results.artifacts.push(serde_json::to_value(entry)?);
        self.write()
    }

    pub fn complete(&mut self) -> anyhow::Result<()> {
        self.results.complete = true;
        self.write()
    }

    fn write(&self) -> anyhow::Result<()> {
        write_atomically(&self.path, &serde_json::to_vec_pretty(&self.results)?)
    }
}

/// Parses a results.json and checks its schema version. Every error is one
/// line that names the file: `FILE:LINE:COL: ...` for JSON that does not
/// parse (a truncated file, or not JSON at all), and for a newer schema
/// `FILE: schema N is newer than this harness (M); upgrade the harness`.
pub fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<serde_json::Value> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| json_error(path, &err))?;
    match value.get("schema_version").map(serde_json::Value::as_u64) {
        None => anyhow::bail!("{}: not a results file (no schema_version)", path.display()),
        Some(None) => anyhow::bail!(
            "{}: not a results file (schema_version is {}, not a number)",
            path.display(),
            value["schema_version"]
        ),
        Some(Some(v)) if v > u64::from(SCHEMA_VERSION) => anyhow::bail!(
            "{}: schema {v} is newer than this harness ({SCHEMA_VERSION}); upgrade the harness",
            path.display()
        ),
        Some(Some(v)) if v < u64::from(SCHEMA_VERSION) => anyhow::bail!(
            "{}: schema {v} is older than this harness ({SCHEMA_VERSION}) reads",
            path.display()
        ),
        Some(Some(_)) => Ok(value),
    }
}

/// `FILE:LINE:COL: what is wrong`, from a serde_json error.
pub fn json_error(path: &Path, err: &serde_json::Error) -> anyhow::Error {
    let text = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    let what = match err.classify() {
        serde_json::error::Category::Eof => "truncated (the JSON ends early)",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "not a results file of this harness",
        serde_json::error::Category::Io => "unreadable",
    };
    anyhow::anyhow!(
        "{}:{}:{}: {what}: {message}",
        path.display(),
        err.line(),
        err.column()
    )
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it
/// over `path`: readers see the old file or the new one, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> anyhow::Result<()> {
        let mut file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    })();
    if written.is_err() {
        // Leave no half-written temporary file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn a_failed_atomic_write_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // A directory where the file should go: the rename fails.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        let err = write_atomically(&blocked, b"x").unwrap_err();
        assert!(format!("{err:#}").contains("renaming"), "{err:#}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!left.iter().any(|n| n.contains(".tmp-")), "{left:?}");
    }

    #[test]
    fn histograms_round_trip_through_v2_deflate_base64() {
        let mut h = crate::load::recorder::new_histogram();
        for v in [1u64, 10, 100, 1_000, 10_000, 1_000_000] {
            h.record_n(v, v).unwrap();
        }
        let text = encode_histogram(&h).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        // V2 + deflate cookie.
        assert_eq!(&bytes[..4], &[0x1c, 0x84, 0x93, 0x14]);
        let back: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn the_results_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = ResultsFile::open(dir.path()).unwrap();
        let read = || -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap())
                .unwrap()
        };
        assert_eq!(read()["complete"], false);
        assert_eq!(read()["schema_version"], 1);
        file.push_startup(&serde_json::json!({"target": "rust"}))
            .unwrap();
        file.complete().unwrap();
        assert_eq!(read()["complete"], true);
        // A second command adds to the file and keeps what was there.
        let mut again = ResultsFile::open(dir.path()).unwrap();
        assert_eq!(read()["complete"], false);
        again
            .push_artifact(&serde_json::json!({"target": "go"}))
            .unwrap();
        again.complete().unwrap();
        let json = read();
        assert_eq!(json["startup"][0]["target"], "rust");
        assert_eq!(json["artifacts"][0]["target"], "go");
        assert_eq!(json["runs"], serde_json::json!([]));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "results.json")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn refuses_to_add_to_a_file_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        std::fs::write(&path, "not json").unwrap();
        assert!(ResultsFile::open(dir.path()).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
        std::fs::write(&path, r#"{"schema_version": 1, "runs": ["#).unwrap();
        let err = ResultsFile::open(dir.path()).err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "{}:1:31: truncated (the JSON ends early): EOF while parsing a list; \
                 move it away or pick another --out",
                path.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"schema_version": 1, "runs": ["#
        );
        std::fs::write(&path, r#"{"schema_version": 99}"#).unwrap();
        let err = ResultsFile::open(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("schema 99 is newer than this harness (1); upgrade the harness"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"schema_version": 99}"#
        );
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left beside it");
    }

    #[test]
    fn parse_errors_name_the_file_and_where() {
        let path = Path::new("dir/results.json");
        let err = |text: &str| parse(path, text.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err("hello"),
            "dir/results.json:1:1: not valid JSON: expected value"
        );
        assert_eq!(
            err("{\n  \"schema_version\": 1,\n  \"runs\": [1,"),
            "dir/results.json:3:13: truncated (the JSON ends early): EOF while parsing a value"
        );
        assert_eq!(
            err("[]"),
            "dir/results.json: not a results file (no schema_version)"
        );
        assert_eq!(
            err(r#"{"schema_version": 2}"#),
            "dir/results.json: schema 2 is newer than this harness (1); upgrade the harness"
        );
        assert_eq!(
            err(r#"{"schema_version": 0}"#),
            "dir/results.json: schema 0 is older than this harness (1) reads"
        );
        assert!(parse(path, br#"{"schema_version": 1}"#).is_ok());
    }
}
