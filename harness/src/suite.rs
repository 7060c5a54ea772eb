//! Suites: one TOML file names the targets, the repetitions and the scenarios
//! of a whole comparison (`harness bench`), plus startup, images and a
//! capacity sweep. `scenarios/README.md` documents every key; a bad file is
//! rejected before anything runs, with `file:line:col: what was expected`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{self, File, Model, Overrides, Scenario, ScenarioError};
use crate::target::{Registry, Target};

/// A validated suite, with its scenarios loaded and their overrides applied.
#[derive(Debug, Clone)]
pub struct Suite {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    /// In the order of the first repetition; later repetitions alternate it.
    pub targets: Vec<Target>,
    /// What every ratio is taken against: each other target / the baseline.
    pub baseline: Target,
    /// Repetitions of a scenario that sets none of its own.
    pub repetitions: u32,
    pub idle_wait: Duration,
    pub after_wait: Duration,
    pub scenarios: Vec<Scenario>,
    /// Per scenario (same order), how many repetitions it runs: its entry's
    /// `repetitions`, or the suite's.
    pub scenario_repetitions: Vec<u32>,
    /// Fresh processes per target for startup; 0 skips startup.
    pub startup_runs: u32,
    /// Measure binary and image sizes (images need podman or docker).
    pub images: bool,
    pub capacity: Option<Capacity>,
}

/// The capacity sweep: open-loop stages at rising rates until a stage breaks
/// the scenario's p99 SLO, has errors, or the generator cannot keep up.
#[derive(Debug, Clone)]
pub struct Capacity {
    /// Sweeps per target (interleaved like the scenarios); default: the suite's.
    pub repetitions: u32,
    /// Measured time per stage.
    pub stage: Duration,
    /// Load before each stage's measured window, at the stage's rate.
    pub warmup: Duration,
    /// Each rate is the previous one times this, until a stage breaks.
    pub factor: f64,
    /// Bisection steps between the last rate that held and the first that broke.
    pub refine: u32,
    pub scenarios: Vec<CapacityScenario>,
}

#[derive(Debug, Clone)]
pub struct CapacityScenario {
    pub scenario: Scenario,
    /// p99 limit a stage must hold (the scenario's `[slo] p99`).
    pub slo_p99: Duration,
    pub start_rate: u64,
    pub max_rate: u64,
}

impl Suite {
    /// The target order of repetition `rep` (1-based): A B, then B A, and so on,
    /// so that drift on a noisy machine falls on both targets alike.
    pub fn order(&self, rep: u32) -> Vec<Target> {
        let mut order = self.targets.clone();
        if rep % 2 == 0 {
            order.reverse();
        }
        order
    }

    /// The repetitions the bench loops over: the most any scenario runs. A
    /// scenario with fewer sits out the repetitions beyond its own.
    pub fn max_repetitions(&self) -> u32 {
        self.scenario_repetitions
            .iter()
            .copied()
            .max()
            .unwrap_or(self.repetitions)
    }

    /// Scenario runs over the whole suite: every repetition of every scenario
    /// against every target.
    pub fn scenario_runs(&self) -> usize {
        self.scenario_repetitions
            .iter()
            .map(|&r| r as usize * self.targets.len())
            .sum()
    }
}

// ---- raw form --------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: Spanned<String>,
    description: Option<String>,
    targets: Option<Spanned<Vec<Spanned<String>>>>,
    baseline: Option<Spanned<String>>,
    repetitions: Option<Spanned<i64>>,
    idle_wait: Option<Spanned<String>>,
    after_wait: Option<Spanned<String>>,
    defaults: Option<RawOverrides>,
    #[serde(default)]
    scenario: Vec<RawEntry>,
    startup: Option<RawStartup>,
    images: Option<RawImages>,
    capacity: Option<RawCapacity>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    model: Option<Spanned<String>>,
    rate: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
    connections: Option<Spanned<i64>>,
    duration: Option<Spanned<String>>,
    warmup: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    file: Spanned<String>,
    name: Option<Spanned<String>>,
    repetitions: Option<Spanned<i64>>,
    // The keys of `RawOverrides`, spelled out: serde's flatten loses the spans.
    model: Option<Spanned<String>>,
    rate: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
    connections: Option<Spanned<i64>>,
    duration: Option<Spanned<String>>,
    warmup: Option<Spanned<String>>,
}

impl RawEntry {
    fn overrides(&self) -> RawOverrides {
        RawOverrides {
            model: self.model.clone(),
            rate: self.rate.clone(),
            concurrency: self.concurrency.clone(),
            connections: self.connections.clone(),
            duration: self.duration.clone(),
            warmup: self.warmup.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStartup {
    runs: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImages {
    measure: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapacity {
    repetitions: Option<Spanned<i64>>,
    stage: Option<Spanned<String>>,
    warmup: Option<Spanned<String>>,
    factor: Option<Spanned<f64>>,
    refine: Option<Spanned<i64>>,
    scenario: Vec<RawCapacityEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapacityEntry {
    file: Spanned<String>,
    start: Spanned<i64>,
    max: Spanned<i64>,
    concurrency: Option<Spanned<i64>>,
    connections: Option<Spanned<i64>>,
}

// ---- checks ----------------------------------------------------------------------

/// Reads and validates a suite and every scenario it names; its targets are
/// looked up in `registry`.
pub fn load(path: &Path, registry: &Registry) -> Result<Suite, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        at: None,
        message: format!("cannot read suite: {e}"),
    })?;
    let file = File { path, text: &src };
    let raw: RawSuite = toml::from_str(&src).map_err(|e| file.toml_err(&e))?;
    build(&file, raw, registry)
}

fn build(file: &File, raw: RawSuite, registry: &Registry) -> Result<Suite, ScenarioError> {
    let name = raw.name.get_ref().clone();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(file.err(
            raw.name.span(),
            "name must be kebab-case: letters, digits and '-'",
        ));
    }
    let targets = match &raw.targets {
        None => registry.all().to_vec(),
        Some(list) => {
            let mut targets = Vec::new();
            for t in list.get_ref() {
                let target = registry
                    .resolve_one(t.get_ref())
                    .map_err(|why| file.err(t.span(), why))?;
                if targets.contains(&target) {
                    return Err(file.err(t.span(), format!("target `{target}` is listed twice")));
                }
                targets.push(target);
            }
            if targets.is_empty() {
                return Err(file.err(list.span(), "targets must name at least one target"));
            }
            targets
        }
    };
    let baseline = match &raw.baseline {
        None => targets[0],
        Some(b) => {
            let target = registry
                .resolve_one(b.get_ref())
                .map_err(|why| file.err(b.span(), why))?;
            if !targets.contains(&target) {
                return Err(file.err(
                    b.span(),
                    format!("baseline `{target}` is not one of the suite's targets"),
                ));
            }
            target
        }
    };
    let repetitions = match &raw.repetitions {
        None => 3,
        Some(r) => positive_u32(file, r, "repetitions")?,
    };
    let idle_wait = optional_duration(file, &raw.idle_wait)?.unwrap_or(Duration::from_secs(1));
    let after_wait = optional_duration(file, &raw.after_wait)?.unwrap_or(Duration::from_secs(5));
    let defaults = raw.defaults.clone().unwrap_or_default();

    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut scenario_repetitions = Vec::new();
    for entry in &raw.scenario {
        let mut scenario = load_scenario(file, &entry.file)?;
        let merged = merge(&defaults, &entry.overrides());
        let overrides = overrides(file, &merged)?;
        scenario
            .apply_overrides(&overrides)
            .map_err(|message| file.err(entry.file.span(), message))?;
        if let Some(n) = &entry.name {
            scenario.name = n.get_ref().clone();
        }
        if let Some(other) = scenarios.iter().find(|s| s.name == scenario.name) {
            let span = entry.name.as_ref().map_or(entry.file.span(), Spanned::span);
            return Err(file.err(
                span,
                format!(
                    "scenario name `{}` is already used (by {}); give this entry its own `name`",
                    scenario.name,
                    other.path.display()
                ),
            ));
        }
        scenario_repetitions.push(match &entry.repetitions {
            None => repetitions,
            Some(r) => positive_u32(file, r, "repetitions")?,
        });
        scenarios.push(scenario);
    }
    if scenarios.is_empty() && raw.capacity.is_none() {
        return Err(file.no_pos("a suite needs at least one [[scenario]] or a [capacity] section"));
    }

    let startup_runs = match &raw.startup {
        None => 0,
        Some(s) if *s.runs.get_ref() == 0 => 0,
        Some(s) => positive_u32(file, &s.runs, "startup.runs")?,
    };
    let capacity = raw
        .capacity
        .as_ref()
        .map(|c| capacity(file, c, repetitions))
        .transpose()?;
    Ok(Suite {
        path: file.path.to_path_buf(),
        name,
        description: raw.description.unwrap_or_default(),
        targets,
        baseline,
        repetitions,
        idle_wait,
        after_wait,
        scenarios,
        scenario_repetitions,
        startup_runs,
        images: raw.images.is_some_and(|i| i.measure),
        capacity,
    })
}

fn capacity(
    file: &File,
    raw: &RawCapacity,
    suite_repetitions: u32,
) -> Result<Capacity, ScenarioError> {
    let repetitions = match &raw.repetitions {
        None => suite_repetitions,
        Some(r) => positive_u32(file, r, "capacity.repetitions")?,
    };
    let stage = optional_duration(file, &raw.stage)?.unwrap_or(Duration::from_secs(3));
    if stage.is_zero() {
        return Err(file.err(
            raw.stage.as_ref().map_or(0..0, Spanned::span),
            "stage must be > 0",
        ));
    }
    let warmup = optional_duration(file, &raw.warmup)?.unwrap_or(Duration::from_secs(1));
    let factor = match &raw.factor {
        None => 1.5,
        Some(f) if *f.get_ref() > 1.0 && f.get_ref().is_finite() => *f.get_ref(),
        Some(f) => return Err(file.err(f.span(), "factor must be a number above 1")),
    };
    let refine = match &raw.refine {
        None => 2,
        Some(r) if (0..=10).contains(r.get_ref()) => *r.get_ref() as u32,
        Some(r) => return Err(file.err(r.span(), "refine must be 0 to 10 bisection steps")),
    };
    if raw.scenario.is_empty() {
        return Err(file.no_pos("[capacity] needs at least one [[capacity.scenario]]"));
    }
    let mut scenarios: Vec<CapacityScenario> = Vec::new();
    for entry in &raw.scenario {
        let mut scenario = load_scenario(file, &entry.file)?;
        let start_rate = positive(file, &entry.start, "start")?;
        let max_rate = positive(file, &entry.max, "max")?;
        if max_rate < start_rate {
            return Err(file.err(entry.max.span(), "max must be at least start"));
        }
        if scenario.stream.is_some() {
            return Err(file.err(
                entry.file.span(),
                "capacity sweeps unary calls (a stream's p99 is per call, not per message)",
            ));
        }
        let Some(slo_p99) = scenario.slo.p99 else {
            return Err(file.err(
                entry.file.span(),
                format!(
                    "{} sets no [slo] p99: capacity is the highest rate that holds it",
                    scenario.path.display()
                ),
            ));
        };
        let o = Overrides {
            model: Some(Model::Open),
            rate: Some(start_rate),
            concurrency: entry
                .concurrency
                .as_ref()
                .map(|c| positive(file, c, "concurrency"))
                .transpose()?
                .map(|c| c as usize),
            connections: entry
                .connections
                .as_ref()
                .map(|c| positive(file, c, "connections"))
                .transpose()?
                .map(|c| c as usize),
            duration: Some(stage),
            warmup: Some(warmup),
        };
        scenario
            .apply_overrides(&o)
            .map_err(|message| file.err(entry.file.span(), message))?;
        if scenarios.iter().any(|s| s.scenario.name == scenario.name) {
            return Err(file.err(
                entry.file.span(),
                format!("scenario `{}` is swept twice", scenario.name),
            ));
        }
        scenarios.push(CapacityScenario {
            scenario,
            slo_p99,
            start_rate,
            max_rate,
        });
    }
    Ok(Capacity {
        repetitions,
        stage,
        warmup,
        factor,
        refine,
        scenarios,
    })
}

/// Loads a scenario named relative to the suite file.
fn load_scenario(file: &File, name: &Spanned<String>) -> Result<Scenario, ScenarioError> {
    let dir = file.path.parent().unwrap_or(Path::new(""));
    let path = dir.join(name.get_ref());
    if !path.is_file() {
        return Err(file.err(name.span(), format!("no scenario file {}", path.display())));
    }
    // The scenario's own errors name the scenario file and its line.
    scenario::load(&path)
}

/// An entry's own keys win over `[defaults]`. A default `rate` is for the open
/// loop, so an entry that makes itself closed does not inherit it.
fn merge(defaults: &RawOverrides, entry: &RawOverrides) -> RawOverrides {
    let closed = entry
        .model
        .as_ref()
        .is_some_and(|m| m.get_ref() == "closed");
    RawOverrides {
        model: entry.model.clone().or_else(|| defaults.model.clone()),
        rate: entry
            .rate
            .clone()
            .or_else(|| defaults.rate.clone().filter(|_| !closed)),
        concurrency: entry
            .concurrency
            .clone()
            .or_else(|| defaults.concurrency.clone()),
        connections: entry
            .connections
            .clone()
            .or_else(|| defaults.connections.clone()),
        duration: entry.duration.clone().or_else(|| defaults.duration.clone()),
        warmup: entry.warmup.clone().or_else(|| defaults.warmup.clone()),
    }
}

fn overrides(file: &File, raw: &RawOverrides) -> Result<Overrides, ScenarioError> {
    let model = match &raw.model {
        None => None,
        Some(m) => Some(match m.get_ref().as_str() {
            "open" => Model::Open,
            "closed" => Model::Closed,
            other => {
                return Err(file.err(
                    m.span(),
                    format!("unknown model `{other}`: expected open or closed"),
                ));
            }
        }),
    };
    let count = |v: &Option<Spanned<i64>>, key: &str| -> Result<Option<u64>, ScenarioError> {
        v.as_ref().map(|v| positive(file, v, key)).transpose()
    };
    let duration = optional_duration(file, &raw.duration)?;
    if let (Some(d), Some(span)) = (duration, raw.duration.as_ref()) {
        if d.is_zero() {
            return Err(file.err(span.span(), "duration must be > 0"));
        }
    }
    Ok(Overrides {
        model,
        rate: count(&raw.rate, "rate")?,
        concurrency: count(&raw.concurrency, "concurrency")?.map(|c| c as usize),
        connections: count(&raw.connections, "connections")?.map(|c| c as usize),
        duration,
        warmup: optional_duration(file, &raw.warmup)?,
    })
}

fn positive(file: &File, v: &Spanned<i64>, key: &str) -> Result<u64, ScenarioError> {
    match *v.get_ref() {
        n if n >= 1 => Ok(n as u64),
        n => Err(file.err(v.span(), format!("{key} must be at least 1 (got {n})"))),
    }
}

/// A count held as a u32 (repetitions, runs): at least 1, and refused above
/// u32::MAX rather than cast, which would make 2^32 repetitions 0.
fn positive_u32(file: &File, v: &Spanned<i64>, key: &str) -> Result<u32, ScenarioError> {
    let n = positive(file, v, key)?;
    u32::try_from(n).map_err(|_| {
        file.err(
            v.span(),
            format!("{key} must be at most {} (got {n})", u32::MAX),
        )
    })
}

fn optional_duration(
    file: &File,
    v: &Option<Spanned<String>>,
) -> Result<Option<Duration>, ScenarioError> {
    let Some(v) = v else { return Ok(None) };
    let d = humantime::parse_duration(v.get_ref())
        .map_err(|e| file.err(v.span(), format!("bad duration {:?}: {e}", v.get_ref())))?;
    if d > crate::scenario::MAX_DURATION {
        return Err(file.err(
            v.span(),
            format!("duration {:?} is longer than a day (24h)", v.get_ref()),
        ));
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn rust() -> Target {
        Registry::builtin().get("rust-axum").unwrap()
    }

    pub(super) fn go() -> Target {
        Registry::builtin().get("go-gin").unwrap()
    }

    /// Writes `text` as `suite.toml` in a directory that also holds a copy of
    /// the shipped scenarios (and their bodies), and loads it.
    fn suite(text: &str) -> Result<Suite, ScenarioError> {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        std::fs::create_dir(dir.path().join("bodies")).unwrap();
        for entry in std::fs::read_dir(root.join("bodies")).unwrap() {
            let p = entry.unwrap().path();
            std::fs::copy(&p, dir.path().join("bodies").join(p.file_name().unwrap())).unwrap();
        }
        for name in ["get-user-http1.toml", "echo-bidi-grpc.toml", "health.toml"] {
            std::fs::copy(root.join(name), dir.path().join(name)).unwrap();
        }
        let path = dir.path().join("suite.toml");
        std::fs::write(&path, text).unwrap();
        let result = load(&path, Registry::builtin());
        // Keep paths in errors readable: only the file name matters to the assertions.
        result.map_err(|mut e| {
            e.path = PathBuf::from(e.path.file_name().unwrap());
            e
        })
    }

    fn fails(text: &str, at: (usize, usize), needle: &str) {
        let err = suite(text).expect_err("the suite must be rejected");
        assert_eq!(err.at, Some(at), "{err}");
        assert!(err.message.contains(needle), "{err}");
    }

    const MIN: &str = "name = \"s\"\n[[scenario]]\nfile = \"get-user-http1.toml\"\n";

    #[test]
    fn defaults_and_interleaved_order() {
        let s = suite(MIN).unwrap();
        assert_eq!(s.name, "s");
        assert_eq!(s.targets, vec![rust(), go()]);
        assert_eq!(s.baseline, rust(), "the first target by default");
        assert_eq!(s.repetitions, 3);
        assert_eq!(s.idle_wait, Duration::from_secs(1));
        assert_eq!(s.after_wait, Duration::from_secs(5));
        assert_eq!(s.startup_runs, 0);
        assert!(!s.images);
        assert!(s.capacity.is_none());
        assert_eq!(s.scenarios[0].name, "get-user-http1");
        assert_eq!(s.order(1), vec![rust(), go()]);
        assert_eq!(s.order(2), vec![go(), rust()]);
        assert_eq!(s.order(3), vec![rust(), go()]);
        let s = suite(&format!(
            "targets = [\"go-gin\", \"rust\"]\nbaseline = \"rust-axum\"\n{MIN}"
        ))
        .unwrap();
        assert_eq!(s.targets, vec![go(), rust()]);
        assert_eq!(s.baseline, rust());
    }

    #[test]
    fn defaults_then_entry_overrides_apply() {
        let s = suite(
            "name = \"s\"\nrepetitions = 5\nidle_wait = \"200ms\"\n\
             [defaults]\nduration = \"2s\"\nwarmup = \"1s\"\n\
             [[scenario]]\nfile = \"get-user-http1.toml\"\n\
             [[scenario]]\nfile = \"get-user-http1.toml\"\nname = \"get-user-closed\"\n\
             model = \"closed\"\nconcurrency = 32\nduration = \"3s\"\nrepetitions = 7\n\
             [startup]\nruns = 10\n[images]\nmeasure = true\n",
        )
        .unwrap();
        assert_eq!(s.repetitions, 5);
        assert_eq!(s.idle_wait, Duration::from_millis(200));
        assert_eq!(s.scenarios.len(), 2);
        let open = &s.scenarios[0];
        assert_eq!(open.load.model, Model::Open);
        assert_eq!(open.load.duration, Duration::from_secs(2));
        assert_eq!(open.load.warmup, Duration::from_secs(1));
        assert_eq!(open.load.stages[0].rate, 2000);
        let closed = &s.scenarios[1];
        assert_eq!(closed.name, "get-user-closed");
        assert_eq!(closed.load.model, Model::Closed);
        assert_eq!(closed.load.concurrency, 32);
        assert_eq!(closed.load.duration, Duration::from_secs(3));
        // The entry's own repetitions; the other keeps the suite's.
        assert_eq!(s.scenario_repetitions, vec![5, 7]);
        assert_eq!(s.max_repetitions(), 7);
        assert_eq!(s.scenario_runs(), 2 * (5 + 7));
        assert_eq!(s.startup_runs, 10);
        assert!(s.images);
    }

    #[test]
    fn capacity_section() {
        let s = suite(
            "name = \"s\"\n[capacity]\nstage = \"2s\"\nfactor = 2.0\n\
             [[capacity.scenario]]\nfile = \"get-user-http1.toml\"\nstart = 1000\nmax = 64000\n",
        )
        .unwrap();
        let c = s.capacity.unwrap();
        assert_eq!(c.stage, Duration::from_secs(2));
        assert_eq!(c.warmup, Duration::from_secs(1));
        assert_eq!(c.factor, 2.0);
        assert_eq!(c.refine, 2);
        assert_eq!(c.repetitions, 3, "the suite's by default");
        let sc = &c.scenarios[0];
        assert_eq!(sc.slo_p99, Duration::from_millis(10));
        assert_eq!((sc.start_rate, sc.max_rate), (1000, 64000));
        assert_eq!(sc.scenario.load.model, Model::Open);
        assert_eq!(sc.scenario.load.duration, Duration::from_secs(2));
    }

    #[test]
    fn errors_point_at_the_key() {
        fails("name = \"S s\"\n", (1, 8), "kebab-case");
        fails(
            "name = \"s\"\ntargets = [\"rust\", \"java\"]\n",
            (2, 20),
            "unknown target `java`",
        );
        fails(
            "name = \"s\"\ntargets = [\"go\", \"go\"]\n",
            (2, 18),
            "listed twice",
        );
        fails(
            "name = \"s\"\ntargets = [\"go\"]\nbaseline = \"rust\"\n",
            (3, 12),
            "baseline `rust-axum` is not one of the suite's targets",
        );
        fails("name = \"s\"\nrepetitions = 0\n", (2, 15), "at least 1");
        fails(
            &format!("{MIN}repetitions = 0\n"),
            (4, 15),
            "repetitions must be at least 1",
        );
        fails(
            "name = \"s\"\n[[scenario]]\nfile = \"nope.toml\"\n",
            (3, 8),
            "no scenario file",
        );
        fails(
            "name = \"s\"\n[[scenario]]\nfile = \"get-user-http1.toml\"\nmodel = \"shut\"\n",
            (4, 9),
            "unknown model",
        );
        fails(
            "name = \"s\"\n[[scenario]]\nfile = \"get-user-http1.toml\"\nspeed = 1\n",
            (4, 1),
            "unknown key `speed`",
        );
        fails(
            &format!("{MIN}[[scenario]]\nfile = \"get-user-http1.toml\"\n"),
            (5, 8),
            "already used",
        );
        fails(
            "name = \"s\"\n[[scenario]]\nfile = \"get-user-http1.toml\"\nduration = \"soon\"\n",
            (4, 12),
            "bad duration",
        );
        fails(
            "name = \"s\"\n[capacity]\nfactor = 1.0\n[[capacity.scenario]]\n\
             file = \"get-user-http1.toml\"\nstart = 1\nmax = 2\n",
            (3, 10),
            "above 1",
        );
        fails(
            "name = \"s\"\n[capacity]\n[[capacity.scenario]]\n\
             file = \"health.toml\"\nstart = 100\nmax = 10\n",
            (6, 7),
            "at least start",
        );
        fails(
            "name = \"s\"\n[capacity]\n[[capacity.scenario]]\n\
             file = \"echo-bidi-grpc.toml\"\nstart = 1\nmax = 2\n",
            (4, 8),
            "unary",
        );
    }

    #[test]
    fn counts_beyond_u32_are_refused_not_wrapped() {
        // Found by generated_suites_round_trip: 2^32 runs were cast to 0.
        fails(
            &format!("{MIN}[startup]\nruns = 4294967296\n"),
            (5, 8),
            "startup.runs must be at most 4294967295 (got 4294967296)",
        );
        fails(
            &format!("repetitions = 4294967297\n{MIN}"),
            (1, 15),
            "repetitions must be at most 4294967295",
        );
        fails(
            "name = \"s\"\n[capacity]\nrepetitions = 4294967296\n[[capacity.scenario]]\n\
             file = \"get-user-http1.toml\"\nstart = 1\nmax = 2\n",
            (3, 15),
            "capacity.repetitions must be at most 4294967295",
        );
        let s = suite(&format!(
            "repetitions = 4294967295\n{MIN}[startup]\nruns = 4294967295\n"
        ))
        .unwrap();
        assert_eq!((s.repetitions, s.startup_runs), (u32::MAX, u32::MAX));
    }

    #[test]
    fn a_suite_with_nothing_to_run_is_rejected() {
        let err = suite("name = \"s\"\n").err().unwrap();
        assert!(err.message.contains("at least one"), "{err}");
    }

    #[test]
    fn a_bad_scenario_names_its_own_file() {
        let err = suite("name = \"s\"\n[[scenario]]\nfile = \"bodies/order.json\"\n")
            .err()
            .unwrap();
        assert_eq!(err.path, PathBuf::from("order.json"), "{err}");
    }

    #[test]
    fn the_shipped_suites_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/suites");
        for name in ["quick.toml", "full.toml", "smoke.toml"] {
            let s = load(&dir.join(name), Registry::builtin()).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.scenarios.is_empty(), "{name}");
        }
    }
    /// Properties over generated suite files, beside copies of three shipped
    /// scenarios (open http1, open http1 without params, bidi gRPC).
    mod properties {
        use proptest::prelude::*;

        use super::*;

        const FILES: [&str; 3] = ["get-user-http1.toml", "health.toml", "echo-bidi-grpc.toml"];

        /// A directory with the scenarios, reused across the cases of a test.
        struct Dir(tempfile::TempDir);

        impl Dir {
            fn new() -> Self {
                let dir = tempfile::tempdir().unwrap();
                let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
                std::fs::create_dir(dir.path().join("bodies")).unwrap();
                std::fs::copy(
                    root.join("bodies/echo-bidi.json"),
                    dir.path().join("bodies/echo-bidi.json"),
                )
                .unwrap();
                for name in FILES {
                    std::fs::copy(root.join(name), dir.path().join(name)).unwrap();
                }
                Dir(dir)
            }

            fn path(&self) -> PathBuf {
                self.0.path().join("suite.toml")
            }

            fn load(&self, text: &[u8]) -> Result<Suite, ScenarioError> {
                std::fs::write(self.path(), text).unwrap();
                load(&self.path(), Registry::builtin())
            }
        }

        thread_local! {
            static DIR: Dir = Dir::new();
        }

        /// Overrides as a suite writes them: `[defaults]` or an entry's keys.
        #[derive(Debug, Clone, Default)]
        struct Keys {
            model: Option<Model>,
            rate: Option<u64>,
            concurrency: Option<u64>,
            connections: Option<u64>,
            duration: Option<u64>,
            warmup: Option<u64>,
        }

        #[derive(Debug, Clone)]
        struct SuiteSpec {
            name: String,
            targets: Option<Vec<Target>>,
            repetitions: Option<i64>,
            idle_wait_ms: Option<u64>,
            after_wait_ms: Option<u64>,
            defaults: Option<Keys>,
            entries: Vec<(usize, Keys)>,
            startup: Option<i64>,
            images: Option<bool>,
        }

        /// Small values most of the time, so that rules between keys bite.
        fn count(max: u64) -> impl Strategy<Value = u64> {
            prop_oneof![3 => 1..=16u64, 1 => 1..=max]
        }

        fn keys() -> impl Strategy<Value = Keys> {
            (
                prop::option::of(prop_oneof![Just(Model::Open), Just(Model::Closed)]),
                prop::option::of(count(100_000)),
                prop::option::of(count(256)),
                prop::option::of(count(256)),
                prop::option::of(1..=30u64),
                prop::option::of(0..=5u64),
            )
                .prop_map(
                    |(model, rate, concurrency, connections, duration, warmup)| Keys {
                        model,
                        rate,
                        concurrency,
                        connections,
                        duration,
                        warmup,
                    },
                )
        }

        fn suite_spec() -> impl Strategy<Value = SuiteSpec> {
            let targets = prop_oneof![
                Just(vec![rust()]),
                Just(vec![go()]),
                Just(vec![rust(), go()]),
                Just(vec![go(), rust()]),
            ];
            (
                "[a-z0-9]{1,5}(-[a-z0-9]{1,5}){0,2}",
                prop::option::of(targets),
                prop::option::of(prop_oneof![1..=10i64, 1..=i64::MAX]),
                prop::option::of(0..=5000u64),
                prop::option::of(0..=5000u64),
                prop::option::of(keys()),
                prop::collection::vec((0..FILES.len(), keys()), 1..=3),
                prop::option::of(prop_oneof![0..=20i64, 0..=i64::MAX]),
                prop::option::of(any::<bool>()),
            )
                .prop_map(
                    |(
                        name,
                        targets,
                        repetitions,
                        idle,
                        after,
                        defaults,
                        entries,
                        startup,
                        images,
                    )| {
                        SuiteSpec {
                            name,
                            targets,
                            repetitions,
                            idle_wait_ms: idle,
                            after_wait_ms: after,
                            defaults,
                            entries,
                            startup,
                            images,
                        }
                    },
                )
        }

        /// Where a value went: 0-based line and byte column.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Field {
            Repetitions,
            IdleWait,
            Target(usize),
            EntryFile(usize),
            EntryRate(usize),
            EntryDuration(usize),
            EntryModel(usize),
            StartupRuns,
        }

        fn model_name(m: Model) -> &'static str {
            if m == Model::Open { "open" } else { "closed" }
        }

        fn write_keys(
            lines: &mut Vec<String>,
            at: &mut Vec<(Field, usize, usize)>,
            k: &Keys,
            entry: Option<usize>,
        ) {
            let mut key =
                |lines: &mut Vec<String>, name: &str, value: String, field: Option<Field>| {
                    if let Some(f) = field {
                        at.push((f, lines.len(), name.len() + 3));
                    }
                    lines.push(format!("{name} = {value}"));
                };
            if let Some(m) = k.model {
                key(
                    lines,
                    "model",
                    format!("\"{}\"", model_name(m)),
                    entry.map(Field::EntryModel),
                );
            }
            if let Some(r) = k.rate {
                key(lines, "rate", r.to_string(), entry.map(Field::EntryRate));
            }
            if let Some(c) = k.concurrency {
                key(lines, "concurrency", c.to_string(), None);
            }
            if let Some(c) = k.connections {
                key(lines, "connections", c.to_string(), None);
            }
            if let Some(d) = k.duration {
                key(
                    lines,
                    "duration",
                    format!("\"{d}s\""),
                    entry.map(Field::EntryDuration),
                );
            }
            if let Some(w) = k.warmup {
                key(lines, "warmup", format!("\"{w}s\""), None);
            }
        }

        impl SuiteSpec {
            fn render(&self) -> (String, Vec<(Field, usize, usize)>) {
                let mut lines = vec![format!("name = \"{}\"", self.name)];
                let mut at = Vec::new();
                if let Some(targets) = &self.targets {
                    let mut line = "targets = [".to_string();
                    for (i, t) in targets.iter().enumerate() {
                        if i > 0 {
                            line.push_str(", ");
                        }
                        at.push((Field::Target(i), lines.len(), line.len()));
                        line.push_str(&format!("\"{}\"", t.name()));
                    }
                    line.push(']');
                    lines.push(line);
                }
                if let Some(r) = self.repetitions {
                    at.push((Field::Repetitions, lines.len(), 14));
                    lines.push(format!("repetitions = {r}"));
                }
                if let Some(ms) = self.idle_wait_ms {
                    at.push((Field::IdleWait, lines.len(), 12));
                    lines.push(format!("idle_wait = \"{ms}ms\""));
                }
                if let Some(ms) = self.after_wait_ms {
                    lines.push(format!("after_wait = \"{ms}ms\""));
                }
                if let Some(d) = &self.defaults {
                    lines.push("[defaults]".into());
                    write_keys(&mut lines, &mut at, d, None);
                }
                for (i, (file, keys)) in self.entries.iter().enumerate() {
                    lines.push("[[scenario]]".into());
                    at.push((Field::EntryFile(i), lines.len(), 7));
                    lines.push(format!("file = \"{}\"", FILES[*file]));
                    lines.push(format!("name = \"e{i}\""));
                    write_keys(&mut lines, &mut at, keys, Some(i));
                }
                if let Some(runs) = self.startup {
                    lines.push("[startup]".into());
                    at.push((Field::StartupRuns, lines.len(), 7));
                    lines.push(format!("runs = {runs}"));
                }
                if let Some(measure) = self.images {
                    lines.push("[images]".into());
                    lines.push(format!("measure = {measure}"));
                }
                (lines.join("\n") + "\n", at)
            }
        }

        /// What the suite should make of entry `i`: its scenario with the
        /// entry's keys over `[defaults]` (a default rate is not for an entry
        /// that makes itself closed), or the message it is refused with.
        fn expected_entry(dir: &Dir, spec: &SuiteSpec, i: usize) -> Result<Scenario, String> {
            let (file, own) = &spec.entries[i];
            let d = spec.defaults.clone().unwrap_or_default();
            let closed = own.model == Some(Model::Closed);
            let o = Overrides {
                model: own.model.or(d.model),
                rate: own.rate.or(d.rate.filter(|_| !closed)),
                concurrency: own.concurrency.or(d.concurrency).map(|c| c as usize),
                connections: own.connections.or(d.connections).map(|c| c as usize),
                duration: own.duration.or(d.duration).map(Duration::from_secs),
                warmup: own.warmup.or(d.warmup).map(Duration::from_secs),
            };
            let mut s = scenario::load(&dir.0.path().join(FILES[*file])).unwrap();
            s.apply_overrides(&o)?;
            Ok(s)
        }

        /// The scenarios a suite should hold, or the first field it should be
        /// refused at (in the order `build` checks them) and why.
        fn expected(dir: &Dir, spec: &SuiteSpec) -> Result<Vec<Scenario>, (Field, String)> {
            let max = i64::from(u32::MAX);
            if let Some(r) = spec.repetitions.filter(|&r| r > max) {
                let message = format!("repetitions must be at most {max} (got {r})");
                return Err((Field::Repetitions, message));
            }
            let scenarios = (0..spec.entries.len())
                .map(|i| expected_entry(dir, spec, i).map_err(|m| (Field::EntryFile(i), m)))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(n) = spec.startup.filter(|&n| n > max) {
                let message = format!("startup.runs must be at most {max} (got {n})");
                return Err((Field::StartupRuns, message));
            }
            Ok(scenarios)
        }

        /// `spec` with what makes most generated suites invalid taken out:
        /// counts past u32, connections (two of the scenarios are http1),
        /// and rates where the model ends up closed.
        fn valid(mut spec: SuiteSpec) -> SuiteSpec {
            let max = i64::from(u32::MAX);
            spec.repetitions = spec.repetitions.map(|r| r.min(max));
            spec.startup = spec.startup.map(|n| n.min(max));
            let default_model = spec.defaults.as_ref().and_then(|d| d.model);
            if let Some(d) = &mut spec.defaults {
                d.connections = None;
                if d.model == Some(Model::Closed) {
                    d.rate = None;
                }
            }
            for (_, keys) in &mut spec.entries {
                keys.connections = None;
                if keys.model.or(default_model) == Some(Model::Closed) {
                    keys.rate = None;
                }
            }
            spec
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// A suite written from random valid values loads with those
            /// values, its entries' overrides applied over the defaults; or,
            /// when an entry's overrides do not fit its scenario, is refused
            /// at that entry with the reason.
            #[test]
            fn generated_suites_round_trip(spec in suite_spec()) {
                let (text, at) = spec.render();
                DIR.with(|dir| {
                    let result = dir.load(text.as_bytes());
                    let scenarios = match expected(dir, &spec) {
                        Ok(scenarios) => scenarios,
                        Err((field, message)) => {
                            let err = result.as_ref().err().ok_or_else(|| {
                                TestCaseError::fail(format!("accepted, expected `{message}`\n{text}"))
                            })?;
                            let &(_, line, col) = at.iter().find(|(f, _, _)| *f == field).unwrap();
                            prop_assert_eq!(&err.message, &message);
                            prop_assert_eq!(err.at, Some((line + 1, col + 1)));
                            return Ok(());
                        }
                    };
                    let suite = result.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                    prop_assert_eq!(&suite.name, &spec.name);
                    let targets = spec.targets.clone().unwrap_or(vec![rust(), go()]);
                    prop_assert_eq!(&suite.targets, &targets);
                    prop_assert_eq!(i64::from(suite.repetitions), spec.repetitions.unwrap_or(3));
                    prop_assert_eq!(suite.idle_wait, Duration::from_millis(spec.idle_wait_ms.unwrap_or(1000)));
                    prop_assert_eq!(suite.after_wait, Duration::from_millis(spec.after_wait_ms.unwrap_or(5000)));
                    prop_assert_eq!(i64::from(suite.startup_runs), spec.startup.unwrap_or(0));
                    prop_assert_eq!(suite.images, spec.images.unwrap_or(false));
                    prop_assert_eq!(suite.scenarios.len(), scenarios.len());
                    for (i, (got, want)) in suite.scenarios.iter().zip(&scenarios).enumerate() {
                        prop_assert_eq!(&got.name, &format!("e{i}"));
                        prop_assert_eq!(&got.path, &want.path);
                        let (g, w) = (&got.load, &want.load);
                        prop_assert_eq!(g.model, w.model);
                        prop_assert_eq!(&g.stages, &w.stages);
                        prop_assert_eq!((g.duration, g.warmup), (w.duration, w.warmup));
                        prop_assert_eq!((g.concurrency, g.connections), (w.concurrency, w.connections));
                    }
                    Ok(())
                })?;
            }

            /// One field of a valid suite given an invalid value: refused at
            /// that value's line and column.
            #[test]
            fn one_invalid_suite_field_is_refused_at_its_place(
                spec in suite_spec().prop_map(valid),
                pick in any::<prop::sample::Index>(),
                bad_int in prop_oneof![Just(0i64), i64::MIN..0],
                bad_word in "[a-z0-9]{0,6}",
            ) {
                let (text, at) = spec.render();
                prop_assume!(DIR.with(|d| expected(d, &spec)).is_ok(), "a valid suite to start from");
                let mut options: Vec<(Field, String)> = Vec::new();
                for &(field, _, _) in &at {
                    let bad = match field {
                        Field::Repetitions | Field::EntryRate(_) => bad_int.to_string(),
                        Field::StartupRuns => bad_int.min(-1).to_string(),
                        Field::IdleWait => format!("\"{bad_word}x\""),
                        Field::Target(_) | Field::EntryModel(_) => format!("\"{bad_word}x\""),
                        Field::EntryFile(_) => format!("\"{bad_word}x.toml\""),
                        Field::EntryDuration(_) => {
                            (if bad_int % 2 == 0 { "\"0s\"" } else { "\"soon\"" }).to_string()
                        }
                    };
                    options.push((field, bad));
                }
                prop_assume!(!options.is_empty());
                let (field, bad) = pick.get(&options).clone();
                let &(_, line, col) = at.iter().find(|(f, _, _)| *f == field).unwrap();
                let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
                let end = lines[line][col..]
                    .find([',', ']'])
                    .map_or(lines[line].len(), |i| col + i);
                lines[line].replace_range(col..end, &bad);
                let text = lines.join("\n");
                let err = DIR.with(|d| d.load(text.as_bytes())).err().ok_or_else(|| {
                    TestCaseError::fail(format!("{field:?} = {bad} was accepted\n{text}"))
                })?;
                prop_assert_eq!(err.at, Some((line + 1, col + 1)), "{:?} = {}: {}\n{}", field, bad, err, text);
                prop_assert_eq!(err.path, DIR.with(Dir::path));
            }

            /// Any text: loaded or refused with a position inside the suite.
            #[test]
            fn arbitrary_suite_text_never_panics(
                lines in prop::collection::vec(
                    prop_oneof![
                        3 => (
                            prop::sample::select(vec![
                                "name", "targets", "repetitions", "idle_wait", "after_wait", "file",
                                "model", "rate", "concurrency", "connections", "duration", "warmup",
                                "runs", "measure", "stage", "factor", "refine", "start", "max",
                            ]),
                            prop::sample::select(vec![
                                "\"s\"", "\"S s\"", "[\"rust\"]", "[\"go\", \"go\"]", "[]", "0", "1",
                                "-1", "4294967297", "9223372036854775807", "1.5", "true", "\"1s\"",
                                "\"0s\"", "\"soon\"", "\"closed\"", "\"open\"",
                                "\"get-user-http1.toml\"", "\"health.toml\"",
                                "\"echo-bidi-grpc.toml\"", "\"bodies/echo-bidi.json\"",
                            ]),
                        )
                            .prop_map(|(k, v)| format!("{k} = {v}")),
                        2 => prop::sample::select(vec![
                            "[[scenario]]", "[defaults]", "[startup]", "[images]", "[capacity]",
                            "[[capacity.scenario]]", "name = \"s\"", "",
                        ])
                        .prop_map(str::to_string),
                        1 => "[ -~é]{0,20}",
                    ],
                    0..16,
                ),
            ) {
                let text = lines.join("\n");
                DIR.with(|d| -> Result<(), TestCaseError> {
                    let Err(err) = d.load(text.as_bytes()) else { return Ok(()) };
                    let Some((line, col)) = err.at else {
                        prop_assert!(
                            err.message.contains("at least one"),
                            "no position: {}", err
                        );
                        return Ok(());
                    };
                    let file = if err.path == d.path() {
                        text.clone()
                    } else {
                        std::fs::read_to_string(&err.path).unwrap()
                    };
                    let all: Vec<&str> = file.split('\n').collect();
                    prop_assert!((1..=all.len()).contains(&line), "{}", err);
                    prop_assert!((1..=all[line - 1].chars().count() + 1).contains(&col), "{}", err);
                    Ok(())
                })?;
            }
        }
    }
}
