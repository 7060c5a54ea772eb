//! `harness startup`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{BinaryArgs, Context, CpuArgs, TargetArg};

/// Time each service's start (spawn to ready) and stop (SIGTERM to exit).
///
/// Every run is a fresh process, ready once HTTP /health answers 200 and
/// gRPC health SERVING. Run 1 is cold: the binary is evicted from the page
/// cache first. The services are built first unless --no-build.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArg,
    /// Fresh processes per target.
    #[arg(short = 'n', long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    #[command(flatten)]
    cpus: CpuArgs,
    /// Pause between failed readiness attempts (e.g. 100us, 1ms).
    #[arg(long, default_value = "100us", value_parser = humantime::parse_duration)]
    poll_interval: Duration,
    /// Write DIR/results.json (added to if it exists).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Use the binaries as they are (no cargo / go build first).
    #[arg(long)]
    no_build: bool,
    #[command(flatten)]
    binaries: BinaryArgs,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let layout = args.binaries.apply(cx.layout()?)?;
    let options = crate::startup::Options {
        runs: args.runs as usize,
        poll_interval: args.poll_interval,
        progress: true,
        ..crate::startup::Options::new(args.cpus.resolve()?)
    };
    // Builds, then pins the harness before any thread exists.
    crate::startup::run(
        &layout,
        &args.target.targets(&layout)?,
        &options,
        !args.no_build,
        args.out.as_deref(),
    )?;
    Ok(ExitCode::SUCCESS)
}
