//! `harness loadgen-bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, CpuArgs, TargetArg};

/// Check the load generator against wrk and its own rate and memory
/// targets, with the service and the generators on disjoint CPUs.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArg,
    #[command(flatten)]
    cpus: CpuArgs,
    /// Alternating wrk/harness rounds per target.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per throughput measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Seconds of the 20,000 requests/s rate check (0 skips it).
    #[arg(long, default_value_t = 10)]
    rate_seconds: u64,
    /// Seconds of the 30,000 requests/s memory check (0 skips it).
    #[arg(long, default_value_t = 60)]
    memory_seconds: u64,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    wrk: PathBuf,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let placement = args.cpus.resolve()?;
    let layout = cx.layout()?;
    let options = crate::loadgen_bench::Options {
        targets: args.target.targets(&layout)?,
        server_cpus: placement.server_cpus,
        loadgen_cpus: placement.loadgen_cpus,
        rounds: args.rounds.max(1),
        seconds: args.seconds,
        rate_seconds: args.rate_seconds,
        memory_seconds: args.memory_seconds,
        wrk: args.wrk,
    };
    let passed = super::runtime()?.block_on(crate::loadgen_bench::run(&layout, &options))?;
    Ok(super::exit_code(passed))
}
