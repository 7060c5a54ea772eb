//! One file per subcommand: its clap arguments and its `main`. Each `main`
//! turns the arguments into options, calls the library, and says how the
//! process exits; `cli` only parses and dispatches.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::placement::Placement;
use crate::scenario::{self, Scenario};
use crate::target::{Layout, Target};

pub mod bench;
pub mod build;
pub mod compare;
pub mod images;
pub mod loadgen_bench;
pub mod pages;
pub mod report;
pub mod run;
pub mod stability;
pub mod startup;
pub mod targets;
pub mod validate;
pub mod verify;

/// What every subcommand may need besides its own arguments.
#[derive(Debug, Clone)]
pub struct Context {
    /// `--root`, or none to look for the repository from the current directory.
    pub root: Option<PathBuf>,
    /// `--targets`, or none for the repository's `targets.toml`.
    pub targets: Option<PathBuf>,
}

impl Context {
    /// The repository's layout. Only the commands that build or start
    /// services ask for it, so the others run anywhere.
    pub fn layout(&self) -> anyhow::Result<Layout> {
        let root = match &self.root {
            Some(root) => root.clone(),
            None => Layout::find_root(
                &std::env::current_dir().context("reading the current directory")?,
            )?,
        };
        Layout::open(root, self.targets.as_deref())
    }
}

/// The multi-threaded tokio runtime the async commands run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// Exit 0 when the command's check passed, 1 when it did not.
pub fn exit_code(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A run's id: its UTC start, `20261130T050000Z`.
pub fn run_id() -> String {
    crate::environment::now_rfc3339().replace(['-', ':'], "")
}

/// Expands directories into their `*.toml` files (sorted) and loads them all,
/// reporting every bad file, not just the first.
pub fn load_scenarios(paths: &[PathBuf]) -> anyhow::Result<Vec<Scenario>> {
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            match scenario::validate_dir(path) {
                Ok(found) if found.is_empty() => {
                    errors.push(format!("{}: no *.toml scenario files", path.display()))
                }
                Ok(found) => scenarios.extend(found),
                Err(errs) => errors.extend(errs.iter().map(ToString::to_string)),
            }
        } else {
            match scenario::load(path) {
                Ok(s) => scenarios.push(s),
                Err(err) => errors.push(err.to_string()),
            }
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    Ok(scenarios)
}

/// An argument the command line accepted but the command cannot use (an
/// unknown target name): `main` exits 2 for it, as for clap's own errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `--target`: a registered name (`harness targets` lists them), `all`, or a
/// language for its default target (`rust`, `go`).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArg {
    /// Which targets: a name from targets.toml, `all`, or a language (`rust`,
    /// `go`) for its default target. Repeat it for several.
    #[arg(long = "target", value_name = "NAME", default_value = "all")]
    words: Vec<String>,
}

impl TargetArg {
    /// The targets named, in registry order, each once.
    pub fn targets(&self, layout: &Layout) -> anyhow::Result<Vec<Target>> {
        resolve_targets(layout, &self.words)
    }
}

/// `words` (names, languages, `all`) as targets, in registry order, each once.
pub fn resolve_targets(layout: &Layout, words: &[String]) -> anyhow::Result<Vec<Target>> {
    let registry = layout.registry();
    let mut wanted = Vec::new();
    for word in words {
        let found = registry.resolve(word).map_err(|why| {
            UsageError(format!("--target: {why} ({})", registry.path().display()))
        })?;
        wanted.extend(found);
    }
    Ok(registry
        .all()
        .iter()
        .copied()
        .filter(|t| wanted.contains(t))
        .collect())
}

/// Refuses a scenario whose protocol a target does not serve (its
/// `protocols` in the registry), naming both.
pub fn check_protocols<'a>(
    targets: &[Target],
    scenarios: impl IntoIterator<Item = &'a Scenario> + Clone,
) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for t in targets {
        for s in scenarios
            .clone()
            .into_iter()
            .filter(|s| !t.serves(s.protocol))
        {
            problems.push(format!(
                "{}: scenario `{}` speaks {}, which target {t} does not serve (its `protocols` in targets.toml)",
                s.path.display(),
                s.name,
                s.protocol.name()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", problems.join("\n"))
    }
}

/// Binaries to use in place of the ones `harness build` makes.
#[derive(Debug, clap::Args)]
pub struct BinaryArgs {
    /// Use this binary for a target: NAME=PATH, NAME a registered name or a
    /// language (its default target). Repeat it for several.
    #[arg(long = "bin", value_name = "NAME=PATH")]
    bins: Vec<String>,
    /// Use this binary for the default Rust target (as --bin rust=PATH).
    #[arg(long)]
    rust_bin: Option<PathBuf>,
    /// Use this binary for the default Go target (as --bin go=PATH).
    #[arg(long)]
    go_bin: Option<PathBuf>,
}

impl BinaryArgs {
    pub fn apply(self, mut layout: Layout) -> anyhow::Result<Layout> {
        let mut pairs = Vec::new();
        for bin in &self.bins {
            let (name, path) = bin
                .split_once('=')
                .ok_or_else(|| UsageError(format!("--bin {bin}: expected NAME=PATH")))?;
            pairs.push((name.to_owned(), PathBuf::from(path)));
        }
        pairs.extend(self.rust_bin.map(|p| ("rust".to_owned(), p)));
        pairs.extend(self.go_bin.map(|p| ("go".to_owned(), p)));
        for (name, path) in pairs {
            let target = layout
                .registry()
                .resolve_one(&name)
                .map_err(|why| UsageError(format!("--bin {name}=…: {why}")))?;
            layout.set_binary(target, path);
        }
        Ok(layout)
    }
}

/// Where the service and the harness run (`placement::Placement`).
#[derive(Debug, clap::Args)]
pub struct CpuArgs {
    /// CPUs of the service under test (e.g. 0, 0-1 or 0,2); its --workers is
    /// their count. Default: the first half of the CPUs the harness may use
    /// (CPU 0 on a 2-CPU machine).
    #[arg(long, value_parser = crate::placement::parse_cpus, value_name = "LIST")]
    server_cpus: Option<std::vec::Vec<usize>>,
    /// CPUs of the harness: its load workers, pollers and wrk. Default: the
    /// other half (CPU 1 on a 2-CPU machine). With `run --url` the harness
    /// pins itself only when this is given.
    #[arg(long, value_parser = crate::placement::parse_cpus, value_name = "LIST")]
    pub loadgen_cpus: Option<std::vec::Vec<usize>>,
}

impl CpuArgs {
    /// Resolves the sets and prints any warning.
    pub fn resolve(self) -> anyhow::Result<Placement> {
        let placement = Placement::resolve(self.server_cpus, self.loadgen_cpus)?;
        placement.warn();
        Ok(placement)
    }
}
