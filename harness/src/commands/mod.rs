//! One file per subcommand: its clap arguments and its `main`. Each `main`
//! turns the arguments into options, calls the library, and says how the
//! process exits; `cli` only parses and dispatches.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::ValueEnum;

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
pub mod validate;
pub mod verify;

/// What every subcommand may need besides its own arguments.
#[derive(Debug, Clone)]
pub struct Context {
    /// `--root`, or none to look for the repository from the current directory.
    pub root: Option<PathBuf>,
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
        Ok(Layout::new(root))
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    Rust,
    Go,
    All,
}

impl TargetArg {
    pub fn targets(self) -> Vec<Target> {
        match self {
            TargetArg::Rust => vec![Target::Rust],
            TargetArg::Go => vec![Target::Go],
            TargetArg::All => vec![Target::Rust, Target::Go],
        }
    }
}

/// Binaries to use in place of the ones `harness build` makes.
#[derive(Debug, clap::Args)]
pub struct BinaryArgs {
    /// Use this rust-svc binary instead of target/release/rust-svc.
    #[arg(long)]
    rust_bin: Option<PathBuf>,
    /// Use this go-svc binary instead of target/go-svc/go-svc.
    #[arg(long)]
    go_bin: Option<PathBuf>,
}

impl BinaryArgs {
    pub fn apply(self, mut layout: Layout) -> Layout {
        if let Some(bin) = self.rust_bin {
            layout.set_binary(Target::Rust, bin);
        }
        if let Some(bin) = self.go_bin {
            layout.set_binary(Target::Go, bin);
        }
        layout
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
