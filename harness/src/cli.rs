//! Command-line interface: one subcommand per job of the lab.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::conformance;
use crate::placement::Placement;
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
        /// Also build the static binaries that `images` puts into FROM scratch images.
        #[arg(long = "static")]
        with_static: bool,
    },
    /// Start each built service on free loopback ports (with
    /// --header-read-timeout 2s), run the conformance suite against it, stop
    /// it with SIGTERM and check that it exits 0.
    ///
    /// The suite: golden cases; with `--target all`, a differential run that
    /// sends the same seeded requests to both services and compares the
    /// responses; the hostile group (contract/README.md, "Limits and hostile
    /// input"); and last the lifecycle group, which starts fresh processes
    /// with --drain-delay 1s and checks the drain order on SIGTERM.
    Verify {
        #[arg(long, value_enum, default_value_t = TargetArg::All)]
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
    },
    /// Run scenarios: start the target service (building it first) or load one
    /// already running at --url, and print latency, throughput and errors.
    ///
    /// Every scenario file is validated before any load is sent. A run whose
    /// service dies is recorded as a failure and the next one starts (exit
    /// code 1 at the end). Ctrl-C or SIGTERM stops the load and the services,
    /// keeps the finished runs in results.json with "complete": false, and
    /// exits 130 or 143; a second Ctrl-C exits at once.
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
    },
    /// Time each service's start (spawn to ready) and stop (SIGTERM to exit).
    ///
    /// Every run is a fresh process, ready once HTTP /health answers 200 and
    /// gRPC health SERVING. Run 1 is cold: the binary is evicted from the page
    /// cache first. The services are built first unless --no-build.
    Startup {
        #[arg(long, value_enum, default_value_t = TargetArg::All)]
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
    },
    /// Check the load generator against wrk and its own rate and memory
    /// targets, with the service and the generators on disjoint CPUs.
    LoadgenBench {
        #[arg(long, value_enum, default_value_t = TargetArg::All)]
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
    },
    /// Run a suite (scenarios/suites/*.toml): verify every target, run its
    /// scenarios in interleaved repetitions, sweep capacity, time startup,
    /// measure images, then write results.json and the reports (report.md,
    /// index.html, plots/*.svg, summary.json) into --out, and point
    /// `<out>/../latest` at it.
    ///
    /// A failed run is recorded and the bench goes on (exit code 1 at the
    /// end). Ctrl-C or SIGTERM stops it, keeps what was measured with
    /// "complete": false, renders the report from it, and exits 130 or 143.
    Bench {
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
    },
    /// Render the reports of a results.json again (report.md, index.html,
    /// plots/*.svg, summary.json), into the file's directory or --out.
    Report {
        #[arg(value_name = "RESULTS")]
        results: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Compare two results.json files (e.g. main against a change): the change
    /// of each metric per target and scenario, head/base with a 95% bootstrap
    /// interval, and which changes are regressions.
    Compare {
        #[arg(value_name = "BASE")]
        base: PathBuf,
        #[arg(value_name = "HEAD")]
        head: PathBuf,
        /// A change smaller than this (a fraction: 0.05 = 5%) is never a
        /// regression, even when its interval excludes no change.
        #[arg(long, default_value_t = 0.05)]
        threshold: f64,
        /// Exit 1 when any metric regressed.
        #[arg(long)]
        fail_on_regression: bool,
        /// Also write the comparison as Markdown to this file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
    },
    /// Do repeated benches of the same code agree? For each headline row of
    /// the decision table, print every run's estimate, interval and verdict,
    /// whether all verdicts agree and whether every two runs' intervals
    /// overlap, and how many runs each left out after retries.
    ///
    /// Exit 1 when a row's verdicts differ, two runs' intervals do not
    /// overlap, or more than 1 run in 50 was left out: then the verdicts of
    /// one run on this machine cannot be trusted. `just bench-stability` runs
    /// the quick suite 3 times and this on the results.
    Stability {
        /// Two or more results.json files, or run directories holding one.
        #[arg(value_name = "RESULTS", num_args = 2.., required = true)]
        results: Vec<PathBuf>,
        /// Also write the table as Markdown to this file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
    },
    /// Write SITE/index.html: every run under SITE/runs/*/ (newest first) and
    /// trend charts of the headline metrics across runs (CI's GitHub Pages).
    Pages {
        #[arg(value_name = "SITE")]
        site: PathBuf,
    },
    /// Check scenario files (or every *.toml in directories) without running them.
    Validate {
        #[arg(required = true, value_name = "SCENARIO")]
        paths: Vec<PathBuf>,
    },
    /// Measure binary and container-image sizes: each release binary as built
    /// and stripped, and a FROM-scratch image (rust-svc/Containerfile,
    /// go-svc/Containerfile) holding a static build of it.
    ///
    /// Builds the services (as `harness build`) and static binaries
    /// (crt-static Rust, CGO_ENABLED=0 Go), builds each image as
    /// localhost/benchlab/<svc>:<git revision>, and reads its size, layer count
    /// and gzipped layer size. A figure that cannot be measured is null with a
    /// note. Without a usable podman or docker (on PATH, and `info` answers:
    /// a docker CLI whose daemon is down is not usable) the image fields are
    /// null with the reason, and the exit code is 0; a builder that works but
    /// whose build fails exits 1.
    Images {
        #[arg(long, value_enum, default_value_t = TargetArg::All)]
        target: TargetArg,
        /// Container builder: auto is podman if it is on PATH and `podman info`
        /// answers, else docker likewise.
        #[arg(long, value_enum, default_value_t = crate::images::BuilderChoice::Auto)]
        builder: crate::images::BuilderChoice,
        /// Add the measurements to DIR/results.json (`artifacts`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Use the binaries as they are: no `harness build`, and a static
        /// binary is built only if there is none yet.
        #[arg(long)]
        no_build: bool,
    },
}

/// Binaries to use in place of the ones `harness build` makes.
#[derive(Debug, clap::Args)]
struct BinaryArgs {
    /// Use this rust-svc binary instead of target/release/rust-svc.
    #[arg(long)]
    rust_bin: Option<PathBuf>,
    /// Use this go-svc binary instead of target/go-svc/go-svc.
    #[arg(long)]
    go_bin: Option<PathBuf>,
}

impl BinaryArgs {
    fn apply(self, mut layout: Layout) -> Layout {
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
struct CpuArgs {
    /// CPUs of the service under test (e.g. 0, 0-1 or 0,2); its --workers is
    /// their count. Default: the first half of the CPUs the harness may use
    /// (CPU 0 on a 2-CPU machine).
    #[arg(long, value_parser = crate::placement::parse_cpus, value_name = "LIST")]
    server_cpus: Option<std::vec::Vec<usize>>,
    /// CPUs of the harness: its load workers, pollers and wrk. Default: the
    /// other half (CPU 1 on a 2-CPU machine). With `run --url` the harness
    /// pins itself only when this is given.
    #[arg(long, value_parser = crate::placement::parse_cpus, value_name = "LIST")]
    loadgen_cpus: Option<std::vec::Vec<usize>>,
}

impl CpuArgs {
    /// Resolves the sets and prints any warning.
    fn resolve(self) -> anyhow::Result<Placement> {
        let placement = Placement::resolve(self.server_cpus, self.loadgen_cpus)?;
        placement.warn();
        Ok(placement)
    }
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

/// A run's id: its UTC start, `20261130T050000Z`.
fn run_id() -> String {
    crate::environment::now_rfc3339().replace(['-', ':'], "")
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
        Command::Build {
            target,
            with_static,
        } => {
            let layout = layout()?;
            for t in target.targets() {
                layout.build(t)?;
                if with_static {
                    crate::images::build_static(&layout, t)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            target,
            requests,
            seed,
            binaries,
            max_diffs,
            verbose,
        } => {
            let layout = binaries.apply(layout()?);
            let options = conformance::Options {
                differential_requests: requests,
                seed,
                max_diffs,
                ready_timeout: Duration::from_secs(20),
                verbose,
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
        Command::Startup {
            target,
            runs,
            cpus,
            poll_interval,
            out,
            no_build,
            binaries,
        } => {
            let layout = binaries.apply(layout()?);
            let placement = cpus.resolve()?;
            let options = crate::startup::Options {
                runs: runs as usize,
                poll_interval,
                progress: true,
                ..crate::startup::Options::new(placement)
            };
            // Builds, then pins the harness before any thread exists.
            crate::startup::run(
                &layout,
                &target.targets(),
                &options,
                !no_build,
                out.as_deref(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::LoadgenBench {
            target,
            cpus,
            rounds,
            seconds,
            rate_seconds,
            memory_seconds,
            wrk,
        } => {
            let placement = cpus.resolve()?;
            let options = crate::loadgen_bench::Options {
                targets: target.targets(),
                server_cpus: placement.server_cpus,
                loadgen_cpus: placement.loadgen_cpus,
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
        Command::Bench {
            suite,
            out,
            cpus,
            no_verify,
            no_build,
            retries,
            let_cpus_idle,
            binaries,
        } => {
            let suite = crate::suite::load(&suite).map_err(|e| anyhow::anyhow!("{e}"))?;
            let layout = binaries.apply(layout()?);
            let out = out.unwrap_or_else(|| layout.root().join("reports").join(run_id()));
            let options = crate::bench::Options {
                out: out.clone(),
                placement: cpus.resolve()?,
                build: !no_build,
                verify: !no_verify,
                retries,
                keep_awake: !let_cpus_idle,
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
            Ok(if measured {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Report { results, out } => {
            let out = match out {
                Some(out) => out,
                None => results
                    .parent()
                    .map_or(PathBuf::from("."), Path::to_path_buf),
            };
            let written = crate::report::write(&results, &out)?;
            println!("report: {}", written.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare {
            base,
            head,
            threshold,
            fail_on_regression,
            markdown,
        } => {
            let comparison = crate::report::compare::compare_files(&base, &head, threshold)?;
            print!("{}", comparison.text());
            if let Some(path) = markdown {
                crate::results::write_atomically(&path, comparison.markdown().as_bytes())?;
            }
            Ok(if fail_on_regression && comparison.regressions() > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Stability { results, markdown } => {
            let runs = crate::stability::read(&results)?;
            let analyses: Vec<_> = runs.iter().map(|r| &r.analysis).collect();
            let stability = crate::stability::check(&analyses);
            let text = crate::stability::render(&runs, &stability);
            print!("{text}");
            if let Some(path) = markdown {
                crate::results::write_atomically(&path, text.as_bytes())?;
            }
            Ok(if stability.problems().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Pages { site } => {
            let index = crate::pages::build(&site)?;
            println!("pages: {}", index.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { paths } => {
            let scenarios = load_scenarios(&paths)?;
            for s in &scenarios {
                println!("ok  {} ({})", s.path.display(), s.name);
            }
            println!("{} scenario files valid", scenarios.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Images {
            target,
            builder,
            out,
            no_build,
        } => {
            let passed = crate::images::run(
                &layout()?,
                &target.targets(),
                builder,
                !no_build,
                out.as_deref(),
            )?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Run {
            scenarios,
            target,
            url,
            allow_remote,
            rate,
            model,
            concurrency,
            connections,
            duration,
            warmup,
            out,
            workers,
            cpus,
            idle_wait,
            after_wait,
            check,
            no_spectrum,
            quiet,
            no_build,
            let_cpus_idle,
            binaries,
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
            let url_mode = url.is_some();
            let endpoint = match (target, url) {
                (Some(target), _) => Endpoint::Targets(binaries.apply(layout()?), target.targets()),
                (None, Some(url)) => match runner::parse_url(&url, allow_remote) {
                    Ok(addr) => Endpoint::Url(addr),
                    Err(err) if err.is::<runner::NotLoopback>() => {
                        eprintln!("error: {err}");
                        return Ok(ExitCode::from(2));
                    }
                    Err(err) => return Err(err),
                },
                (None, None) => anyhow::bail!("give --target or --url"),
            };
            // With --url the service is not ours to place: the harness stays
            // where it is unless --loadgen-cpus says otherwise.
            let pinned = !(url_mode && cpus.loadgen_cpus.is_none());
            let placement = if pinned {
                let placement = cpus.resolve()?;
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
            let workers = match workers {
                Some(n) => n as usize,
                None => placement.loadgen_cpus.len(),
            };
            let options = RunOptions {
                load: crate::load::Options {
                    workers,
                    cpus: pinned.then(|| placement.loadgen_cpus.clone()),
                    progress: !quiet,
                    label: String::new(),
                    on_window: None,
                    abort: None,
                },
                out,
                spectrum: !no_spectrum,
                build: !no_build,
                placement,
                idle_wait,
                after_wait,
            };
            // The CPUs this run places: with --url, only the generator's.
            let placed = if url_mode {
                options.placement.loadgen_cpus.clone()
            } else {
                options.placement.all_cpus()
            };
            let _awake = (pinned && !let_cpus_idle)
                .then(|| crate::placement::Awake::keep(&placed))
                .transpose()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            crate::interrupt::install()?;
            let outcome = runtime.block_on(runner::run(&scenarios, endpoint, &options))?;
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
                return Ok(ExitCode::from(128 + signal as u8));
            }
            if !outcome.failures.is_empty() {
                eprintln!(
                    "{} of {} runs failed (above)",
                    outcome.failures.len(),
                    outcome.failures.len() + records.len()
                );
                return Ok(ExitCode::from(1));
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
            if check && !failed.is_empty() {
                eprintln!(
                    "check failed: errors or dropped requests in {}",
                    failed.join(", ")
                );
            }
            if check && !failed_drains.is_empty() {
                eprintln!(
                    "check failed: drain lost requests or misbehaved in {}",
                    failed_drains.join(", ")
                );
            }
            if check && !(failed.is_empty() && failed_drains.is_empty()) {
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
