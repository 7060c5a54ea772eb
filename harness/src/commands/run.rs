//! `harness run`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;

use super::{BinaryArgs, Context, CpuArgs};
use crate::placement::Placement;
use crate::report::terminal;
use crate::runner::{self, Endpoint, Outcome, RunOptions};
use crate::scenario::{Model, Overrides};

/// Run scenarios: start the target service (building it first) or load one
/// already running at --url, and print latency, throughput and errors.
///
/// Every scenario file is validated before any load is sent. A run whose
/// service dies is recorded as a failure and the next one starts (exit
/// code 1 at the end). Ctrl-C or SIGTERM stops the load and the services,
/// keeps the finished runs in results.json with "complete": false, and
/// exits 130 or 143; a second Ctrl-C exits at once.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("endpoint").required(true).args(["target", "url"])))]
pub struct Args {
    /// Scenario files, or directories whose *.toml files are all run.
    #[arg(required = true, value_name = "SCENARIO")]
    scenarios: Vec<PathBuf>,
    /// Start this target on free loopback ports: a name from targets.toml,
    /// `all` (each in registry order), or a language (`rust`, `go`) for its
    /// default target. Repeat it for several.
    #[arg(long, value_name = "NAME")]
    target: Vec<String>,
    /// Load a service that is already running: http://HOST:PORT of the
    /// scenario's protocol (the REST port for http1/http2, the gRPC port for grpc).
    /// HOST must resolve to loopback addresses only, unless --allow-remote.
    #[arg(long, conflicts_with = "target")]
    url: Option<String>,
    /// Let --url point at a host that is not this machine (a non-loopback
    /// address). Without it such a URL is refused with exit code 2.
    #[arg(long, requires = "url")]
    allow_remote: bool,
    /// Override the open-loop rate, requests/s (replaces any stages).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
    /// Override the load model.
    #[arg(long, value_enum)]
    model: Option<ModelArg>,
    /// Override the requests in flight (closed) or the in-flight cap (open).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: Option<u64>,
    /// Override the HTTP/2 and gRPC connections.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    connections: Option<u64>,
    /// Override the measured duration (e.g. 30s, 2m).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Override the warm-up (e.g. 0s).
    #[arg(long, value_parser = humantime::parse_duration)]
    warmup: Option<Duration>,
    /// Write DIR/results.json (atomically, after every run).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Load-generator threads; default: the number of --loadgen-cpus.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    workers: Option<u64>,
    #[command(flatten)]
    cpus: CpuArgs,
    /// How long each fresh service idles after it is ready before its
    /// idle memory is read.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    idle_wait: Duration,
    /// How long after the load the service's memory is read again (is
    /// memory given back?).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    after_wait: Duration,
    /// Exit 1 if any run had errors or dropped requests.
    #[arg(long)]
    check: bool,
    /// Do not print the percentile spectrum of each run.
    #[arg(long)]
    no_spectrum: bool,
    /// Do not show progress.
    #[arg(long)]
    quiet: bool,
    /// Use the binaries as they are (no cargo / go build first).
    #[arg(long)]
    no_build: bool,
    /// Let the CPUs halt when idle. By default a SCHED_IDLE spinner on
    /// each of the service's and the generator's CPUs keeps them awake (a
    /// halted CPU of a VM waits for the host to wake it, and that wait
    /// lands in the latencies); results.json records which CPUs were.
    #[arg(long)]
    let_cpus_idle: bool,
    #[command(flatten)]
    binaries: BinaryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModelArg {
    Open,
    Closed,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let mut scenarios = super::load_scenarios(&args.scenarios)?;
    let overrides = Overrides {
        model: args.model.map(|m| match m {
            ModelArg::Open => Model::Open,
            ModelArg::Closed => Model::Closed,
        }),
        rate: args.rate,
        concurrency: args.concurrency.map(|c| c as usize),
        connections: args.connections.map(|c| c as usize),
        duration: args.duration,
        warmup: args.warmup,
    };
    for s in &mut scenarios {
        s.apply_overrides(&overrides)
            .map_err(|err| anyhow::anyhow!("{}: {err}", s.path.display()))?;
    }
    let url_mode = args.url.is_some();
    let endpoint = match (args.target.is_empty(), args.url) {
        (false, _) => {
            let layout = args.binaries.apply(cx.layout()?)?;
            let targets = super::resolve_targets(&layout, &args.target)?;
            super::check_protocols(&targets, &scenarios)?;
            Endpoint::Targets(layout, targets)
        }
        (true, Some(url)) => match runner::parse_url(&url, args.allow_remote) {
            Ok(addr) => Endpoint::Url(addr),
            Err(err) if err.is::<runner::NotLoopback>() => {
                eprintln!("error: {err}");
                return Ok(ExitCode::from(2));
            }
            Err(err) => return Err(err),
        },
        (true, None) => anyhow::bail!("give --target or --url"),
    };
    // With --url the service is not ours to place: the harness stays
    // where it is unless --loadgen-cpus says otherwise.
    let pinned = !(url_mode && args.cpus.loadgen_cpus.is_none());
    let placement = if pinned {
        let placement = args.cpus.resolve()?;
        // Before any thread exists, so that every thread inherits it.
        placement.pin_self()?;
        placement
    } else {
        Placement {
            server_cpus: Vec::new(),
            loadgen_cpus: crate::placement::available_cpus()?,
            warnings: Vec::new(),
        }
    };
    let workers = match args.workers {
        Some(n) => n as usize,
        None => placement.loadgen_cpus.len(),
    };
    // The CPUs this run places: with --url, only the generator's.
    let placed = if url_mode {
        placement.loadgen_cpus.clone()
    } else {
        placement.all_cpus()
    };
    let options = RunOptions {
        load: crate::load::Options {
            workers,
            cpus: pinned.then(|| placement.loadgen_cpus.clone()),
            progress: !args.quiet,
            label: String::new(),
            on_window: None,
            abort: None,
            hooks: Default::default(),
        },
        out: args.out,
        spectrum: !args.no_spectrum,
        build: !args.no_build,
        placement,
        idle_wait: args.idle_wait,
        after_wait: args.after_wait,
    };
    let _awake = (pinned && !args.let_cpus_idle)
        .then(|| crate::placement::Awake::keep(&placed))
        .transpose()?;
    let runtime = super::runtime()?;
    crate::interrupt::install()?;
    let outcome = runtime.block_on(runner::run(&scenarios, endpoint, &options))?;
    Ok(judge(&outcome, args.check))
}

/// Prints the table and what failed, and says how the process exits: 128 +
/// the signal if interrupted, 1 if a run failed (or, with `check`, had
/// errors, dropped requests or a failed drain), else 0.
fn judge(outcome: &Outcome, check: bool) -> ExitCode {
    let records = &outcome.records;
    if !records.is_empty() {
        print!("\n{}", terminal::table(records));
    }
    for f in &outcome.failures {
        eprintln!("FAILED {} {}: {}", f.target, f.scenario, f.error);
    }
    if let Some(signal) = outcome.interrupted {
        eprintln!(
            "interrupted by {signal}: {} runs finished before it",
            records.len()
        );
        return ExitCode::from(128 + signal as u8);
    }
    if !outcome.failures.is_empty() {
        eprintln!(
            "{} of {} runs failed (above)",
            outcome.failures.len(),
            outcome.failures.len() + records.len()
        );
        return ExitCode::from(1);
    }
    if !check {
        return ExitCode::SUCCESS;
    }
    let failed: Vec<String> = records
        .iter()
        .filter(|r| r.dropped > 0 || r.errors.values().sum::<u64>() > 0)
        .map(|r| format!("{} {}", r.target, r.scenario))
        .collect();
    let failed_drains: Vec<String> = outcome
        .drains
        .iter()
        .filter(|d| !d.passed)
        .map(|d| format!("{} {}", d.target, d.scenario))
        .collect();
    if !failed.is_empty() {
        eprintln!(
            "check failed: errors or dropped requests in {}",
            failed.join(", ")
        );
    }
    if !failed_drains.is_empty() {
        eprintln!(
            "check failed: drain lost requests or misbehaved in {}",
            failed_drains.join(", ")
        );
    }
    super::exit_code(failed.is_empty() && failed_drains.is_empty())
}
