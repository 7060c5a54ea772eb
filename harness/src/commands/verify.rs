//! `harness verify`.

use std::process::ExitCode;
use std::time::Duration;

use super::{BinaryArgs, Context, TargetArg};
use crate::conformance;

/// Start each built service on free loopback ports (with
/// --header-read-timeout 2s), run the conformance suite against it, stop
/// it with SIGTERM and check that it exits 0.
///
/// The suite: golden cases; with `--target all`, a differential run that
/// sends the same seeded requests to both services and compares the
/// responses; the hostile group (contract/README.md, "Limits and hostile
/// input"); and last the lifecycle group, which starts fresh processes
/// with --drain-delay 1s and checks the drain order on SIGTERM.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArg,
    /// Number of seeded random requests in the differential run (all only).
    #[arg(long, default_value_t = 600)]
    requests: usize,
    /// Seed of the differential run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    binaries: BinaryArgs,
    /// How many differences to print before summarising the rest.
    #[arg(long, default_value_t = 10)]
    max_diffs: usize,
    /// Also print what each hostile and lifecycle check saw when it passed.
    #[arg(long)]
    verbose: bool,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let layout = args.binaries.apply(cx.layout()?)?;
    let options = conformance::Options {
        differential_requests: args.requests,
        seed: args.seed,
        max_diffs: args.max_diffs,
        ready_timeout: Duration::from_secs(20),
        verbose: args.verbose,
    };
    let passed = super::runtime()?.block_on(conformance::verify(
        &layout,
        &args.target.targets(&layout)?,
        &options,
    ))?;
    Ok(super::exit_code(passed))
}
