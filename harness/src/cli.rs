//! Command-line interface: the clap types and the dispatch. Each subcommand
//! lives in its own file under `commands/`, with its arguments and `main`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{self, Context};

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about = "Rust-vs-Go microservice benchmark lab"
)]
pub struct Cli {
    /// Repository root (holds Cargo.toml and targets.toml); found by walking up from
    /// the current directory when not given.
    #[arg(long, global = true, env = "LAB_ROOT")]
    root: Option<PathBuf>,
    /// The target registry; the root's targets.toml when not given.
    #[arg(long, global = true, env = "LAB_TARGETS", value_name = "FILE")]
    targets: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Targets(commands::targets::Args),
    Build(commands::build::Args),
    Verify(commands::verify::Args),
    Run(commands::run::Args),
    Startup(commands::startup::Args),
    LoadgenBench(commands::loadgen_bench::Args),
    Bench(commands::bench::Args),
    Report(commands::report::Args),
    Compare(commands::compare::Args),
    Stability(commands::stability::Args),
    Pages(commands::pages::Args),
    Validate(commands::validate::Args),
    Images(commands::images::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cx = Context {
        root: cli.root,
        targets: cli.targets,
    };
    match cli.command {
        Command::Targets(args) => commands::targets::main(args, &cx),
        Command::Build(args) => commands::build::main(args, &cx),
        Command::Verify(args) => commands::verify::main(args, &cx),
        Command::Run(args) => commands::run::main(args, &cx),
        Command::Startup(args) => commands::startup::main(args, &cx),
        Command::LoadgenBench(args) => commands::loadgen_bench::main(args, &cx),
        Command::Bench(args) => commands::bench::main(args, &cx),
        Command::Report(args) => commands::report::main(args, &cx),
        Command::Compare(args) => commands::compare::main(args, &cx),
        Command::Stability(args) => commands::stability::main(args, &cx),
        Command::Pages(args) => commands::pages::main(args, &cx),
        Command::Validate(args) => commands::validate::main(args, &cx),
        Command::Images(args) => commands::images::main(args, &cx),
    }
}
