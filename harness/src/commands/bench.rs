//! `harness bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{BinaryArgs, Context, CpuArgs};

/// Run a suite (scenarios/suites/*.toml): verify every target, run its
/// scenarios in interleaved repetitions, sweep capacity, time startup,
/// measure images, then write results.json and the reports (report.md,
/// index.html, plots/*.svg, summary.json) into --out, and point
/// `<out>/../latest` at it.
///
/// A failed run is recorded and the bench goes on (exit code 1 at the
/// end). Ctrl-C or SIGTERM stops it, keeps what was measured with
/// "complete": false, renders the report from it, and exits 130 or 143.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The suite file.
    #[arg(value_name = "SUITE")]
    suite: PathBuf,
    /// The run's directory; default reports/<UTC timestamp> under the repository.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    cpus: CpuArgs,
    /// Skip the conformance check (the report then says the targets were not verified).
    #[arg(long)]
    no_verify: bool,
    /// Use the binaries as they are (no cargo / go build); a static binary
    /// for images that does not exist yet is still built.
    #[arg(long)]
    no_build: bool,
    /// Run a scenario run again, in its place in the interleaving, when the
    /// instrument spoiled it (generator saturated, or a probe failed), up
    /// to N more times. A retry first waits, up to 30 s, for the
    /// hypervisor's steal on the generator's CPU to fall back. Every try is
    /// kept in results.json; only a run whose retries are used up is left
    /// out of the statistics.
    #[arg(long, value_name = "N", default_value_t = 2)]
    retries: u32,
    /// Let the CPUs halt when idle. By default a SCHED_IDLE spinner on
    /// each of the service's and the generator's CPUs keeps them awake (a
    /// halted CPU of a VM waits for the host to wake it, and that wait
    /// lands in the latencies); results.json records which CPUs were.
    #[arg(long)]
    let_cpus_idle: bool,
    #[command(flatten)]
    binaries: BinaryArgs,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let layout = args.binaries.apply(cx.layout()?)?;
    let suite =
        crate::suite::load(&args.suite, layout.registry()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let capacity = suite.capacity.iter().flat_map(|c| &c.scenarios);
    super::check_protocols(
        &suite.targets,
        suite.scenarios.iter().chain(capacity.map(|c| &c.scenario)),
    )?;
    let out = args
        .out
        .unwrap_or_else(|| layout.root().join("reports").join(super::run_id()));
    let options = crate::bench::Options {
        out: out.clone(),
        placement: args.cpus.resolve()?,
        build: !args.no_build,
        verify: !args.no_verify,
        retries: args.retries,
        keep_awake: !args.let_cpus_idle,
    };
    crate::interrupt::install()?;
    let measured = crate::bench::run(&layout, &suite, &options);
    let results = out.join("results.json");
    if let Some(code) = crate::interrupt::exit_code() {
        // Whatever stopped it, render what was measured.
        if let Err(err) = &measured {
            eprintln!("error: {err:#}");
        }
        if results.is_file() {
            let written = crate::report::write(&results, &out)?;
            crate::bench::link_latest(&out)?;
            println!("report (incomplete run): {}", written.display());
        }
        return Ok(ExitCode::from(code));
    }
    let measured = measured?;
    let written = crate::report::write(&results, &out)?;
    crate::bench::link_latest(&out)?;
    println!("report: {}", written.display());
    Ok(super::exit_code(measured))
}
