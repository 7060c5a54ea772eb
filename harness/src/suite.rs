//! Suites: one TOML file names the targets, the repetitions and the scenarios
//! of a whole comparison (`harness bench`), plus startup, images and a
//! capacity sweep. `scenarios/README.md` documents every key; a bad file is
//! rejected before anything runs, with `file:line:col: what was expected`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{self, File, Model, Overrides, Scenario, ScenarioError};
use crate::target::Target;

/// A validated suite, with its scenarios loaded and their overrides applied.
#[derive(Debug, Clone)]
pub struct Suite {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    /// In the order of the first repetition; later repetitions alternate it.
    pub targets: Vec<Target>,
    pub repetitions: u32,
    pub idle_wait: Duration,
    pub after_wait: Duration,
    pub scenarios: Vec<Scenario>,
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
}

// ---- raw form --------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: Spanned<String>,
    description: Option<String>,
    targets: Option<Spanned<Vec<Spanned<String>>>>,
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

/// Reads and validates a suite and every scenario it names.
pub fn load(path: &Path) -> Result<Suite, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        at: None,
        message: format!("cannot read suite: {e}"),
    })?;
    let file = File { path, text: &src };
    let raw: RawSuite = toml::from_str(&src).map_err(|e| file.toml_err(&e))?;
    build(&file, raw)
}

fn build(file: &File, raw: RawSuite) -> Result<Suite, ScenarioError> {
    let name = raw.name.get_ref().clone();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(file.err(
            raw.name.span(),
            "name must be kebab-case: letters, digits and '-'",
        ));
    }
    let targets = match &raw.targets {
        None => vec![Target::Rust, Target::Go],
        Some(list) => {
            let mut targets = Vec::new();
            for t in list.get_ref() {
                let target = match t.get_ref().as_str() {
                    "rust" => Target::Rust,
                    "go" => Target::Go,
                    other => {
                        return Err(file.err(
                            t.span(),
                            format!("unknown target `{other}`: expected rust or go"),
                        ));
                    }
                };
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
    let repetitions = match &raw.repetitions {
        None => 3,
        Some(r) => positive_u32(file, r, "repetitions")?,
    };
    let idle_wait = optional_duration(file, &raw.idle_wait)?.unwrap_or(Duration::from_secs(1));
    let after_wait = optional_duration(file, &raw.after_wait)?.unwrap_or(Duration::from_secs(5));
    let defaults = raw.defaults.clone().unwrap_or_default();

    let mut scenarios: Vec<Scenario> = Vec::new();
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
        repetitions,
        idle_wait,
        after_wait,
        scenarios,
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
    humantime::parse_duration(v.get_ref())
        .map(Some)
        .map_err(|e| file.err(v.span(), format!("bad duration {:?}: {e}", v.get_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let result = load(&path);
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
        assert_eq!(s.targets, vec![Target::Rust, Target::Go]);
        assert_eq!(s.repetitions, 3);
        assert_eq!(s.idle_wait, Duration::from_secs(1));
        assert_eq!(s.after_wait, Duration::from_secs(5));
        assert_eq!(s.startup_runs, 0);
        assert!(!s.images);
        assert!(s.capacity.is_none());
        assert_eq!(s.scenarios[0].name, "get-user-http1");
        assert_eq!(s.order(1), vec![Target::Rust, Target::Go]);
        assert_eq!(s.order(2), vec![Target::Go, Target::Rust]);
        assert_eq!(s.order(3), vec![Target::Rust, Target::Go]);
    }

    #[test]
    fn defaults_then_entry_overrides_apply() {
        let s = suite(
            "name = \"s\"\nrepetitions = 5\nidle_wait = \"200ms\"\n\
             [defaults]\nduration = \"2s\"\nwarmup = \"1s\"\n\
             [[scenario]]\nfile = \"get-user-http1.toml\"\n\
             [[scenario]]\nfile = \"get-user-http1.toml\"\nname = \"get-user-closed\"\n\
             model = \"closed\"\nconcurrency = 32\nduration = \"3s\"\n\
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
        fails("name = \"s\"\nrepetitions = 0\n", (2, 15), "at least 1");
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
            let s = load(&dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.scenarios.is_empty(), "{name}");
        }
    }
}
