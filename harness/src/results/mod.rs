//! `results.json`: the raw results of a command, the input of every report.
//! Field names are a public interface (reports and external tools read them);
//! `reports/README.md` documents each. The file is rewritten atomically after
//! every run, so an interrupted command keeps what it measured.
//!
//! One set of types is written and read: a command adding to a file, and
//! every report, read it through the records below. Files written by older
//! harnesses lack some fields; those are `#[serde(default)]` or `Option`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

pub mod artifact;
pub mod capacity;
pub mod drain;
pub mod failure;
pub mod run;
pub mod startup;
pub mod suite;
pub mod summary;
pub mod target;

pub use artifact::ArtifactRecord;
pub use capacity::{CapacityRecord, CapacityStage};
pub use drain::DrainRecord;
pub use failure::FailureRecord;
pub use run::{Loadgen, RunRecord, Slo, StreamLimit};
pub use startup::{StartupRecord, StartupStats};
pub use suite::SuiteRecord;
pub use target::TargetRecord;

use crate::environment::Environment;
use crate::probe::Machine;
use crate::scenario::{Call, Expect, Scenario};
use crate::target::Target;

pub const SCHEMA_VERSION: u32 = 1;

/// The whole file. Commands add to it: `run` appends `runs`, `startup`
/// appends `startup`, `images` appends `artifacts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: u32,
    /// False while a command is still writing (or if it was interrupted).
    #[serde(default)]
    pub complete: bool,
    /// Always written; optional for reading.
    #[serde(default)]
    pub harness_version: Option<String>,
    /// Where the latest command ran (always written; optional for reading).
    #[serde(default)]
    pub machine: Option<Machine>,
    /// `harness bench`: the suite that was run (null for other commands).
    #[serde(default)]
    pub suite: Option<SuiteRecord>,
    /// `harness bench`: toolchains, library versions, commit, command.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// The targets the commands ran (from the registry, `targets.toml`), in
    /// the order they were first met: name, language, framework, version.
    /// Empty in files written before targets had names (`rust`, `go`).
    #[serde(default)]
    pub targets: Vec<TargetRecord>,
    #[serde(default)]
    pub runs: Vec<RunRecord>,
    /// `harness bench`: capacity sweeps.
    #[serde(default)]
    pub capacity: Vec<CapacityRecord>,
    /// Runs that could not be measured (`harness bench`; `harness run`: runs
    /// whose service died), when, and why.
    #[serde(default)]
    pub failures: Vec<FailureRecord>,
    /// Drain scenarios: SIGTERM under load, request by request.
    #[serde(default)]
    pub drains: Vec<DrainRecord>,
    #[serde(default)]
    pub startup: Vec<StartupRecord>,
    #[serde(default)]
    pub artifacts: Vec<ArtifactRecord>,
}

impl Results {
    /// An empty file of this harness on this machine, not complete yet.
    pub fn empty() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            complete: false,
            harness_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            machine: Some(Machine::detect()),
            suite: None,
            environment: None,
            targets: Vec::new(),
            runs: Vec::new(),
            capacity: Vec::new(),
            failures: Vec::new(),
            drains: Vec::new(),
            startup: Vec::new(),
            artifacts: Vec::new(),
        }
    }

    /// A file written before targets had names calls them `rust` and `go`:
    /// they are read as the default targets of those languages, as the
    /// repository's registry names them (`rust-axum`, `go-gin`).
    pub fn name_legacy_targets(&mut self) {
        if !self.targets.is_empty() {
            return;
        }
        let registry = crate::target::Registry::builtin();
        let rename = |name: &mut String| *name = registry.legacy_name(name);
        self.runs.iter_mut().for_each(|r| rename(&mut r.target));
        self.capacity.iter_mut().for_each(|c| rename(&mut c.target));
        self.failures.iter_mut().for_each(|f| rename(&mut f.target));
        self.drains.iter_mut().for_each(|d| rename(&mut d.target));
        self.startup.iter_mut().for_each(|s| rename(&mut s.target));
        self.artifacts
            .iter_mut()
            .for_each(|a| rename(&mut a.target));
        if let Some(suite) = &mut self.suite {
            suite.targets.iter_mut().for_each(rename);
            if let Some(b) = &mut suite.baseline {
                rename(b);
            }
        }
    }

    /// The targets in order: the suite's, else as recorded, else as first met.
    pub fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.suite {
            Some(s) if !s.targets.is_empty() => s.targets.clone(),
            _ => self.targets.iter().map(|t| t.name.clone()).collect(),
        };
        let met = (self.runs.iter().map(|r| &r.target))
            .chain(self.capacity.iter().map(|c| &c.target))
            .chain(self.startup.iter().map(|s| &s.target))
            .chain(self.artifacts.iter().map(|a| &a.target))
            .chain(self.drains.iter().map(|d| &d.target));
        for name in met {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// Only what the targets `keep` accepts ran.
    pub fn retain_targets(&mut self, keep: impl Fn(&str) -> bool) {
        self.runs.retain(|r| keep(&r.target));
        self.capacity.retain(|c| keep(&c.target));
        self.failures.retain(|f| keep(&f.target));
        self.drains.retain(|d| keep(&d.target));
        self.startup.retain(|s| keep(&s.target));
        self.artifacts.retain(|a| keep(&a.target));
    }
}

pub fn encode_histogram(h: &Histogram<u64>) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|err| anyhow::anyhow!("serializing a histogram: {err:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
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
        let mut results = Results::empty();
        match std::fs::read(&path) {
            Ok(bytes) => {
                // Refused, never overwritten: it may be someone's only copy.
                let old = parse(&path, &bytes)
                    .map_err(|err| anyhow::anyhow!("{err}; move it away or pick another --out"))?;
                // What was measured is kept; the machine and the harness are this command's.
                results.suite = old.suite;
                results.environment = old.environment;
                results.targets = old.targets;
                results.runs = old.runs;
                results.capacity = old.capacity;
                results.failures = old.failures;
                results.drains = old.drains;
                results.startup = old.startup;
                results.artifacts = old.artifacts;
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
        self.results.runs.push(run.clone());
        self.write()
    }

    pub fn push_capacity(&mut self, entry: &CapacityRecord) -> anyhow::Result<()> {
        self.results.capacity.push(entry.clone());
        self.write()
    }

    pub fn push_drain(&mut self, entry: &DrainRecord) -> anyhow::Result<()> {
        self.results.drains.push(entry.clone());
        self.write()
    }

    pub fn push_failure(&mut self, entry: &FailureRecord) -> anyhow::Result<()> {
        self.results.failures.push(entry.clone());
        self.write()
    }

    /// Records what `harness bench` is about to run.
    pub fn set_bench(
        &mut self,
        suite: &SuiteRecord,
        environment: &Environment,
    ) -> anyhow::Result<()> {
        self.results.suite = Some(suite.clone());
        self.results.environment = Some(environment.clone());
        self.write()
    }

    /// Records each of `targets` not recorded yet.
    pub fn add_targets(&mut self, root: &Path, targets: &[Target]) -> anyhow::Result<()> {
        for t in targets {
            let known = self.results.targets.iter().any(|r| r.name == t.name());
            if !known {
                self.results.targets.push(TargetRecord::of(root, *t));
            }
        }
        self.write()
    }

    pub fn push_startup(&mut self, entry: &StartupRecord) -> anyhow::Result<()> {
        self.results.startup.push(entry.clone());
        self.write()
    }

    pub fn push_artifact(&mut self, entry: &ArtifactRecord) -> anyhow::Result<()> {
        self.results.artifacts.push(entry.clone());
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
/// parse (a truncated file, or not JSON at all) or a field of the wrong
/// shape, and for a newer schema `FILE: schema N is newer than this harness
/// (M); upgrade the harness`.
pub fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<Results> {
    match serde_json::from_slice::<Results>(bytes) {
        Ok(results) => {
            check_version(path, u64::from(results.schema_version))?;
            Ok(results)
        }
        // Only a file that does not read is parsed again, to say why: not
        // JSON, not a results file, another schema, or a field of the wrong
        // shape (in that order).
        Err(err) => {
            let value: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|err| json_error(path, &err))?;
            match value.get("schema_version").map(serde_json::Value::as_u64) {
                None => anyhow::bail!("{}: not a results file (no schema_version)", path.display()),
                Some(None) => anyhow::bail!(
                    "{}: not a results file (schema_version is {}, not a number)",
                    path.display(),
                    value["schema_version"]
                ),
                Some(Some(v)) => check_version(path, v)?,
            }
            Err(json_error(path, &err))
        }
    }
}

fn check_version(path: &Path, v: u64) -> anyhow::Result<()> {
    if v > u64::from(SCHEMA_VERSION) {
        anyhow::bail!(
            "{}: schema {v} is newer than this harness ({SCHEMA_VERSION}); upgrade the harness",
            path.display()
        );
    }
    if v < u64::from(SCHEMA_VERSION) {
        anyhow::bail!(
            "{}: schema {v} is older than this harness ({SCHEMA_VERSION}) reads",
            path.display()
        );
    }
    Ok(())
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
mod tests;
