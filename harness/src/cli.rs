//! Command-line interface: one subcommand per job of the lab.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::conformance;
use crate::target::{Layout, Target};

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about = "Rust-vs-Go microservice benchmark lab"
)]
pub struct Cli {
    /// Repository root (holds Cargo.toml and go-svc/); found by walking up from
    /// the current directory when not given.
    #[arg(long, global = true, env = "LAB_ROOT")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the services in release mode (cargo build --release, go build -trimpath).
    Build {
        #[arg(long, value_enum, default_value_t = TargetArg::All)]
        target: TargetArg,
    },
    /// Start each built service on free loopback ports, run the conformance
    /// suite against it, stop it with SIGTERM and check that it exits 0.
    ///
    /// With `--target all`, the differential run also sends the same seeded
    /// requests to both services and compares the responses.
    Verify {
        #[arg(long, value_enum, default_value_t = TargetArg::All)]
        target: TargetArg,
        /// Number of seeded random requests in the differential run (all only).
        #[arg(long, default_value_t = 600)]
        requests: usize,
        /// Seed of the differential run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Use this rust-svc binary instead of target/release/rust-svc.
        #[arg(long)]
        rust_bin: Option<PathBuf>,
        /// Use this go-svc binary instead of target/go-svc/go-svc.
        #[arg(long)]
        go_bin: Option<PathBuf>,
        /// How many differences to print before summarising the rest.
        #[arg(long, default_value_t = 10)]
        max_diffs: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TargetArg {
    Rust,
    Go,
    All,
}

impl TargetArg {
    fn targets(self) -> Vec<Target> {
        match self {
            TargetArg::Rust => vec![Target::Rust],
            TargetArg::Go => vec![Target::Go],
            TargetArg::All => vec![Target::Rust, Target::Go],
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = match cli.root {
        Some(root) => root,
        None => {
            Layout::find_root(&std::env::current_dir().context("reading the current directory")?)?
        }
    };
    let mut layout = Layout::new(root);
    match cli.command {
        Command::Build { target } => {
            for t in target.targets() {
                layout.build(t)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            target,
            requests,
            seed,
            rust_bin,
            go_bin,
            max_diffs,
        } => {
            if let Some(bin) = rust_bin {
                layout.set_binary(Target::Rust, bin);
            }
            if let Some(bin) = go_bin {
                layout.set_binary(Target::Go, bin);
            }
            let options = conformance::Options {
                differential_requests: requests,
                seed,
                max_diffs,
                ready_timeout: Duration::from_secs(20),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let passed =
                runtime.block_on(conformance::verify(&layout, &target.targets(), &options))?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
