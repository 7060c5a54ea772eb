//! Command-line interface: one subcommand per job of the lab.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::conformance;
use crate::report::terminal;
use crate::runner::{self, Endpoint, RunOptions};
use crate::scenario::{self, Model, Overrides, Scenario};
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
    /// Run scenarios: start the target service (building it first) or load one
    /// already running at --url, and print latency, throughput and errors.
    ///
    /// Every scenario file is validated before any load is sent.
    #[command(group(clap::ArgGroup::new("endpoint").required(true).args(["target", "url"])))]
    Run {
        /// Scenario files, or directories whose *.toml files are all run.
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
        /// Start this service on free loopback ports (all: rust, then go).
        #[arg(long, value_enum)]
        target: Option<TargetArg>,
        /// Load a service that is already running: http://HOST:PORT of the
        /// scenario's protocol (the REST port for http1/http2, the gRPC port for grpc).
        #[arg(long, conflicts_with = "target")]
        url: Option<String>,
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
        /// Load-generator threads; default: the CPUs the harness may use.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        workers: Option<u64>,
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
    },
    /// Check the load generator against wrk and its own rate and memory
    /// targets, with the service and the generators on disjoint CPUs.
    LoadgenBench {
        #[arg(long, value_enum, default_value_t = TargetArg::All)]
        target: TargetArg,
        /// CPUs of the service (its --workers is their count).
        #[arg(long, default_value = "0", value_parser = crate::placement::parse_cpus)]
        server_cpus: std::vec::Vec<usize>,
        /// CPUs of wrk and of the harness's load workers.
        #[arg(long, default_value = "1", value_parser = crate::placement::parse_cpus)]
        loadgen_cpus: std::vec::Vec<usize>,
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
    },
    /// Check scenario files (or every *.toml in directories) without running them.
    Validate {
        #[arg(required = true, value_name = "SCENARIO")]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModelArg {
    Open,
    Closed,
}

/// Expands directories into their `*.toml` files (sorted) and loads them all,
/// reporting every bad file, not just the first.
fn load_scenarios(paths: &[PathBuf]) -> anyhow::Result<Vec<Scenario>> {
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
    // Only the commands that build or start services need the repository.
    let root = cli.root;
    let layout = move || -> anyhow::Result<Layout> {
        let root = match root {
            Some(root) => root,
            None => Layout::find_root(
                &std::env::current_dir().context("reading the current directory")?,
            )?,
        };
        Ok(Layout::new(root))
    };
    match cli.command {
        Command::Build { target } => {
            let layout = layout()?;
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
            let mut layout = layout()?;
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
        Command::LoadgenBench {
            target,
            server_cpus,
            loadgen_cpus,
            rounds,
            seconds,
            rate_seconds,
            memory_seconds,
            wrk,
        } => {
            if server_cpus.iter().any(|c| loadgen_cpus.contains(c)) {
                eprintln!(
                    "warning: --server-cpus and --loadgen-cpus overlap; the figures will mix both"
                );
            }
            let options = crate::loadgen_bench::Options {
                targets: target.targets(),
                server_cpus,
                loadgen_cpus,
                rounds: rounds.max(1),
                seconds,
                rate_seconds,
                memory_seconds,
                wrk,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let passed = runtime.block_on(crate::loadgen_bench::run(&layout()?, &options))?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Validate { paths } => {
            let scenarios = load_scenarios(&paths)?;
            for s in &scenarios {
                println!("ok  {} ({})", s.path.display(), s.name);
            }
            println!("{} scenario files valid", scenarios.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            scenarios,
            target,
            url,
            rate,
            model,
            concurrency,
            connections,
            duration,
            warmup,
            out,
            workers,
            check,
            no_spectrum,
            quiet,
            no_build,
        } => {
            let mut scenarios = load_scenarios(&scenarios)?;
            let overrides = Overrides {
                model: model.map(|m| match m {
                    ModelArg::Open => Model::Open,
                    ModelArg::Closed => Model::Closed,
                }),
                rate,
                concurrency: concurrency.map(|c| c as usize),
                connections: connections.map(|c| c as usize),
                duration,
                warmup,
            };
            for s in &mut scenarios {
                s.apply_overrides(&overrides)
                    .map_err(|err| anyhow::anyhow!("{}: {err}", s.path.display()))?;
            }
            let endpoint = match (target, url) {
                (Some(target), _) => Endpoint::Targets(layout()?, target.targets()),
                (None, Some(url)) => Endpoint::Url(runner::parse_url(&url)?),
                (None, None) => anyhow::bail!("give --target or --url"),
            };
            let workers = match workers {
                Some(n) => n as usize,
                None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            };
            let options = RunOptions {
                load: crate::load::Options {
                    workers,
                    cpus: None,
                    progress: !quiet,
                    label: String::new(),
                },
                out,
                spectrum: !no_spectrum,
                build: !no_build,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let records = runtime.block_on(runner::run(&scenarios, endpoint, &options))?;
            print!("\n{}", terminal::table(&records));
            let failed: Vec<String> = records
                .iter()
                .filter(|r| r.dropped > 0 || r.errors.values().sum::<u64>() > 0)
                .map(|r| format!("{} {}", r.target, r.scenario))
                .collect();
            if check && !failed.is_empty() {
                eprintln!(
                    "check failed: errors or dropped requests in {}",
                    failed.join(", ")
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
