//! `harness bench`: a whole comparison from a suite. Verifies every target,
//! runs the scenarios in interleaved repetitions (A B, then B A), sweeps
//! capacity, times startup, measures images, then writes the reports. Every
//! result is added to `results.json` as soon as it is measured.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::drain;
use crate::environment::Environment;
use crate::interrupt::{self, Interrupted};
use crate::load::{self, Edge, WindowHook};
use crate::placement::Placement;
use crate::probe::procfs::Process;
use crate::results::{
    CapacityRecord, CapacityStage, FailureRecord, ResultsFile, RunRecord, SuiteRecord,
};
use crate::runner::{self, RunOptions};
use crate::scenario::{Protocol, Scenario};
use crate::suite::{Capacity, CapacityScenario, Suite};
use crate::target::{Layout, RunWatch, Target};

mod schedule;

use schedule::{Executor, Place, Sweep, Tried};

pub struct Options {
    pub out: PathBuf,
    pub placement: Placement,
    /// Build the services (and static binaries for images) first.
    pub build: bool,
    /// Run the conformance suite first (refuse targets that fail it).
    pub verify: bool,
    /// How many more times a run the instrument spoiled is tried in its place.
    pub retries: u32,
    /// Keep the service's and the generator's CPUs from halting while the
    /// scenarios, startup and images are measured (`placement::Awake`).
    pub keep_awake: bool,
}

/// Runs `suite`; returns false when a run failed or an image could not be
/// built (the report is written either way). A SIGINT or SIGTERM stops it
/// after the run in progress is aborted: it returns false and leaves
/// results.json with `"complete": false` (`interrupt::requested` says why).
pub fn run(layout: &Layout, suite: &Suite, options: &Options) -> anyhow::Result<bool> {
    let started = Instant::now();
    if options.build {
        for &target in &suite.targets {
            layout.build(target)?;
        }
    }
    // Before any thread exists, so that every thread inherits it.
    options.placement.pin_self()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    if options.verify {
        let conformance = crate::conformance::Options {
            differential_requests: 600,
            seed: 1,
            max_diffs: 10,
            ready_timeout: Duration::from_secs(20),
            verbose: false,
        };
        let passed = runtime.block_on(interrupt::or_interrupt(crate::conformance::verify(
            layout,
            &suite.targets,
            &conformance,
        )))?;
        if !passed {
            bail!(
                "conformance failed (above): refusing to benchmark services that do not \
                 implement the same contract"
            );
        }
    }
    let mut file = ResultsFile::open(&options.out)?;
    let mut environment = Environment::detect(layout.root());
    for target in &suite.targets {
        let (libraries, notes) = target.libraries(layout.root());
        environment.libraries.extend(libraries);
        environment.notes.extend(notes);
    }
    file.add_targets(layout.root(), &suite.targets)?;
    file.set_bench(&suite_record(suite, options), &environment)?;
    // Until the bench returns: every measurement below, for both targets.
    let _awake = options
        .keep_awake
        .then(|| crate::placement::Awake::keep(&options.placement.all_cpus()))
        .transpose()?;

    let run_options = RunOptions {
        load: load::Options {
            workers: options.placement.loadgen_cpus.len(),
            cpus: Some(options.placement.loadgen_cpus.clone()),
            progress: false,
            label: String::new(),
            on_window: None,
            abort: None,
            hooks: Default::default(),
        },
        out: None,
        spectrum: false,
        build: false,
        placement: options.placement.clone(),
        idle_wait: suite.idle_wait,
        after_wait: suite.after_wait,
    };
    let mut measure = Measure {
        layout,
        options,
        runtime: &runtime,
        run_options,
        file: &mut file,
        progress: Progress::new(suite.scenario_runs(), &options.out),
        capacity: suite.capacity.as_ref(),
        error: None,
    };
    let ended = schedule::run(suite, options.retries, &mut measure);
    if let Some(err) = measure.error.take() {
        return Err(err);
    }
    let mut ok = ended.ok;
    let interrupted = ended.interrupted;
    drop(runtime);

    // Startup and images open results.json themselves and add to it.
    drop(file);
    if interrupted {
        eprintln!(
            "bench: interrupted after {:.0} s; what was measured is in {} (\"complete\": false)",
            started.elapsed().as_secs_f64(),
            options.out.join("results.json").display()
        );
        return Ok(false);
    }
    if suite.startup_runs > 0 {
        let startup = crate::startup::Options {
            runs: suite.startup_runs as usize,
            progress: true,
            ..crate::startup::Options::new(options.placement.clone())
        };
        crate::startup::run(layout, &suite.targets, &startup, false, Some(&options.out))?;
    }
    if suite.images {
        ok &= crate::images::run(
            layout,
            &suite.targets,
            crate::images::BuilderChoice::Auto,
            options.build,
            Some(&options.out),
        )?;
    }
    let mut file = ResultsFile::open(&options.out)?;
    file.complete()?;
    eprintln!(
        "bench: measured in {:.0} s; results in {}",
        started.elapsed().as_secs_f64(),
        file.path().display()
    );
    Ok(ok)
}

/// The executor of the schedule: each place measured on a fresh service and
/// recorded in results.json as it finishes.
struct Measure<'a> {
    layout: &'a Layout,
    options: &'a Options,
    runtime: &'a tokio::runtime::Runtime,
    run_options: RunOptions,
    file: &'a mut ResultsFile,
    progress: Progress,
    capacity: Option<&'a Capacity>,
    /// A results.json that could not be written stops the schedule (as an
    /// interruption does) and is the bench's error.
    error: Option<anyhow::Error>,
}

impl Measure<'_> {
    /// Writes to results.json; on failure keeps the error and stops.
    fn record(
        &mut self,
        tried: Tried,
        write: impl FnOnce(&mut ResultsFile) -> anyhow::Result<()>,
    ) -> Tried {
        match write(self.file) {
            Ok(()) => tried,
            Err(err) => {
                self.error.get_or_insert(err);
                Tried::Interrupted
            }
        }
    }

    /// Prints a run that could not be measured and records it in `failures[]`.
    fn failed(
        &mut self,
        kind: &'static str,
        target: Target,
        scenario: &Scenario,
        repetition: u32,
        err: &anyhow::Error,
        began: Instant,
    ) -> Tried {
        eprintln!("  FAILED: {err:#}");
        let failure = FailureRecord::new(
            kind,
            target.name(),
            &scenario.name,
            Some(repetition),
            err,
            began.elapsed().as_secs_f64(),
        );
        self.record(Tried::Failed, |file| file.push_failure(&failure))
    }
}

impl Executor for Measure<'_> {
    fn starting(&mut self, place: &Place) {
        self.progress.starting(
            place.repetition,
            place.repetitions,
            place.target,
            &place.scenario.name,
        );
    }

    fn run(&mut self, place: &Place, attempt: u32, retry: bool, settle_s: Option<f64>) -> Tried {
        let began = Instant::now();
        let outcome = self.runtime.block_on(runner::run_on_fresh_service(
            self.layout,
            place.target,
            place.scenario,
            &self.run_options,
        ));
        match outcome {
            Ok((mut record, _)) => {
                record.repetition = Some(place.repetition);
                record.attempt = Some(attempt);
                record.settle_s = settle_s;
                record.placement_warnings = self.options.placement.warnings.clone();
                let spoiled = spoiled(&record);
                if retry {
                    record.retried = spoiled.clone();
                }
                eprintln!("  {}", crate::report::terminal::run_line(&record));
                let tried = spoiled.map_or(Tried::Kept, Tried::Spoiled);
                self.record(tried, |file| file.push_run(&record))
            }
            Err(err) if err.is::<Interrupted>() => Tried::Interrupted,
            Err(err) => {
                // A probe that could not read the service is the
                // instrument's failure: the place is tried again.
                let probe = err.is::<runner::ProbeFailed>();
                let mut failure = FailureRecord::new(
                    "run",
                    place.target.name(),
                    &place.scenario.name,
                    Some(place.repetition),
                    &err,
                    began.elapsed().as_secs_f64(),
                );
                failure.attempt = Some(attempt);
                failure.settle_s = settle_s;
                failure.retried = probe && retry;
                eprintln!("  FAILED: {err:#}");
                let tried = if failure.retried {
                    Tried::Spoiled(format!("{err:#}"))
                } else {
                    Tried::Failed
                };
                self.record(tried, |file| file.push_failure(&failure))
            }
        }
    }

    fn drain(&mut self, place: &Place) -> Tried {
        let began = Instant::now();
        let outcome = self.runtime.block_on(drain::run(
            self.layout,
            place.target,
            place.scenario,
            &self.options.placement,
        ));
        match outcome {
            Ok(mut record) => {
                record.repetition = Some(place.repetition);
                eprintln!("  {}", record.line());
                // A service that loses requests on SIGTERM fails the bench like a failed run.
                let tried = if record.passed {
                    Tried::Kept
                } else {
                    Tried::Failed
                };
                self.record(tried, |file| file.push_drain(&record))
            }
            Err(err) if err.is::<Interrupted>() => Tried::Interrupted,
            Err(err) => self.failed(
                "drain",
                place.target,
                place.scenario,
                place.repetition,
                &err,
                began,
            ),
        }
    }

    fn retrying(&mut self, attempt: u32, why: &str) {
        self.progress.retrying(attempt, self.options.retries, why);
    }

    // A retry first lets the hypervisor's steal fall back: it comes in bursts
    // of seconds to minutes, and a retry inside the same burst is spoiled the
    // same way.
    fn settle(&mut self) -> f64 {
        settle(&self.options.placement.loadgen_cpus)
    }

    fn sweep(&mut self, s: &Sweep) -> Tried {
        let Some(capacity) = self.capacity else {
            return Tried::Kept;
        };
        eprintln!(
            "capacity {}/{}: {} {} (SLO p99 {})",
            s.repetition,
            capacity.repetitions,
            s.target,
            s.scenario.scenario.name,
            humantime::format_duration(s.scenario.slo_p99)
        );
        let began = Instant::now();
        let outcome = self.runtime.block_on(sweep(
            self.layout,
            s.target,
            s.scenario,
            capacity,
            s.repetition,
            &self.run_options,
        ));
        match outcome {
            Ok(record) => {
                eprintln!(
                    "  capacity at SLO: {} ({} stages; limited by {})",
                    record
                        .capacity_rps
                        .map_or("none".to_owned(), |r| format!("{r:.0}/s")),
                    record.stages.len(),
                    record.limited_by
                );
                self.record(Tried::Kept, |file| file.push_capacity(&record))
            }
            Err(err) if err.is::<Interrupted>() => Tried::Interrupted,
            Err(err) => self.failed(
                "capacity",
                s.target,
                &s.scenario.scenario,
                s.repetition,
                &err,
                began,
            ),
        }
    }

    fn interrupted(&self) -> bool {
        interrupt::requested().is_some()
    }
}

/// Why the instrument, not the service, spoiled a run, if it did: the
/// generator could not keep its schedule.
fn spoiled(record: &RunRecord) -> Option<String> {
    record
        .generator_saturated
        .then(|| match &record.saturation {
            Some(why) => format!("generator saturated ({why})"),
            None => "generator saturated".to_owned(),
        })
}

fn suite_record(suite: &Suite, options: &Options) -> SuiteRecord {
    SuiteRecord {
        name: suite.name.clone(),
        description: suite.description.clone(),
        path: suite.path.display().to_string(),
        targets: suite.targets.iter().map(|t| t.name().to_owned()).collect(),
        baseline: Some(suite.baseline.name().to_owned()),
        repetitions: suite.repetitions,
        scenario_repetitions: suite
            .scenarios
            .iter()
            .zip(&suite.scenario_repetitions)
            .filter(|&(_, &r)| r != suite.repetitions)
            .map(|(s, &r)| (s.name.clone(), r))
            .collect(),
        retries: options.retries,
        idle_wait_s: suite.idle_wait.as_secs_f64(),
        after_wait_s: suite.after_wait.as_secs_f64(),
        scenarios: suite.scenarios.iter().map(|s| s.name.clone()).collect(),
        startup_runs: suite.startup_runs,
        images: suite.images,
        capacity_scenarios: suite
            .capacity
            .iter()
            .flat_map(|c| c.scenarios.iter().map(|s| s.scenario.name.clone()))
            .collect(),
        capacity_repetitions: suite.capacity.as_ref().map_or(0, |c| c.repetitions),
        verified: options.verify,
        server_cpus: options.placement.server_cpus.clone(),
        loadgen_cpus: options.placement.loadgen_cpus.clone(),
        cpus_kept_awake: Some(if options.keep_awake {
            options.placement.all_cpus()
        } else {
            Vec::new()
        }),
    }
}

/// A retry starts once the hypervisor took at most this share of the
/// generator's CPUs over a [`SETTLE_WINDOW`] of keeping them busy. Unspoiled
/// open-loop runs here saw a median 2.3% (p90 5.4%); spoiled ones a median
/// 13%, up to 40%.
const SETTLED_STEAL: f64 = 0.04;
const SETTLE_WINDOW: Duration = Duration::from_secs(1);
/// The longest a retry waits for the steal to fall back; then it runs anyway
/// (and may be spoiled again).
const SETTLE_MAX: Duration = Duration::from_secs(30);

/// Before a retry: keeps the generator's CPUs busy, a [`SETTLE_WINDOW`] at a
/// time, until the hypervisor takes at most [`SETTLED_STEAL`] of a window, or
/// for [`SETTLE_MAX`]. Steal accrues only while a CPU has work, so an idle
/// CPU would show none in the middle of a burst. Returns the seconds waited
/// (one window when the machine is quiet).
fn settle(cpus: &[usize]) -> f64 {
    let began = Instant::now();
    let limit_ms = SETTLED_STEAL * SETTLE_WINDOW.as_secs_f64() * 1e3 * cpus.len() as f64;
    let mut last_ms = None;
    // None: no steal count to go on (not a VM, or /proc/stat unreadable).
    while let Some(ms) = busy_steal_ms(cpus, SETTLE_WINDOW) {
        last_ms = Some(ms);
        if ms as f64 <= limit_ms
            || began.elapsed() >= SETTLE_MAX
            || interrupt::requested().is_some()
        {
            break;
        }
    }
    let waited = began.elapsed().as_secs_f64();
    let window = SETTLE_WINDOW.as_secs_f64();
    match last_ms {
        Some(ms) if ms as f64 > limit_ms => eprintln!(
            "  waited {waited:.1} s for the hypervisor's steal on the generator's CPU to \
             fall back; it still took {ms} ms of the last {window} s"
        ),
        Some(ms) if waited > window * 1.5 => eprintln!(
            "  waited {waited:.1} s for the hypervisor's steal on the generator's CPU to \
             fall back ({ms} ms of the last {window} s)"
        ),
        _ => {}
    }
    waited
}

/// Keeps `cpus` busy for `window`, one spinning thread pinned to each, and
/// returns what the hypervisor took of them meanwhile, in ms.
fn busy_steal_ms(cpus: &[usize], window: Duration) -> Option<u64> {
    let before = load::steal_ms(cpus)?;
    let until = Instant::now() + window;
    std::thread::scope(|s| {
        for &cpu in cpus {
            s.spawn(move || {
                let mut set = nix::sched::CpuSet::new();
                if set.set(cpu).is_ok() {
                    // Unpinned, it still spins on one of the harness's CPUs.
                    let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
                }
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            });
        }
    });
    Some(load::steal_ms(cpus)?.saturating_sub(before))
}

/// One line per run with an estimate of the time left.
struct Progress {
    total: usize,
    done: usize,
    started: Instant,
}

impl Progress {
    fn new(total: usize, out: &Path) -> Self {
        eprintln!(
            "bench: {total} scenario runs; results are written to {} as they finish",
            out.join("results.json").display()
        );
        Self {
            total,
            done: 0,
            started: Instant::now(),
        }
    }

    fn starting(&mut self, rep: u32, reps: u32, target: Target, scenario: &str) {
        let eta = if self.done == 0 {
            String::new()
        } else {
            let per_run = self.started.elapsed().as_secs_f64() / self.done as f64;
            format!(
                ", about {:.0} s left",
                per_run * (self.total - self.done) as f64
            )
        };
        self.done += 1;
        eprintln!(
            "[{}/{}] repetition {rep}/{reps}: {target} {scenario}{eta}",
            self.done, self.total
        );
    }

    /// A try was spoiled by the instrument; the next runs in its place.
    fn retrying(&mut self, attempt: u32, retries: u32, why: &str) {
        self.total += 1;
        self.done += 1;
        eprintln!(
            "  retrying in place, try {} of at most {}: {why}",
            attempt + 1,
            retries + 1
        );
    }
}

/// Sweeps one target's capacity on one scenario: one fresh service, open-loop
/// stages at rising rates until one breaks, then bisection.
async fn sweep(
    layout: &Layout,
    target: Target,
    cs: &CapacityScenario,
    capacity: &Capacity,
    rep: u32,
    options: &RunOptions,
) -> anyhow::Result<CapacityRecord> {
    let run_watch = RunWatch::default();
    let (mut service, pid) = runner::start_fresh(layout, target, options).await?;
    let addr = service.addr(cs.scenario.protocol);
    let slo_us = cs.slo_p99.as_micros() as u64;
    run_watch.phase("capacity");
    let stepped = async {
        let mut stages = Vec::new();
        let abort = Some(run_watch.abort());
        let mut stage_at = async |rate: u64| -> anyhow::Result<bool> {
            let stage = run_stage(cs, rate, target, addr, pid, options, abort).await?;
            eprintln!(
                "  {rate}/s: p99 {} ms, {} errors{}",
                stage
                    .p99_us
                    .map_or("n/a".to_owned(), |v| format!("{:.3}", v as f64 / 1000.0)),
                stage.errors,
                stage
                    .broke
                    .as_ref()
                    .map_or(String::new(), |why| format!(": broke ({why})"))
            );
            let held = stage.held;
            stages.push(stage);
            Ok(held)
        };
        let mut good: Option<u64> = None;
        let mut bad: Option<u64> = None;
        let mut rate = cs.start_rate;
        loop {
            if stage_at(rate).await? {
                good = Some(rate);
                if rate >= cs.max_rate {
                    break;
                }
                rate = ((rate as f64 * capacity.factor).ceil() as u64).min(cs.max_rate);
            } else {
                bad = Some(rate);
                break;
            }
        }
        if let (Some(mut lo), Some(mut hi)) = (good, bad) {
            for _ in 0..capacity.refine {
                let mid = lo + (hi - lo) / 2;
                if mid == lo || mid == hi {
                    break;
                }
                if stage_at(mid).await? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            good = Some(lo);
        }
        Ok((good, stages))
    };
    let (good, stages) = match service.supervise(&run_watch, stepped).await {
        Ok(swept) => swept,
        Err(err) => {
            if err.is::<Interrupted>() {
                service.shut_down(runner::INTERRUPT_GRACE).await;
            }
            return Err(err);
        }
    };
    service.stop(Duration::from_secs(15)).await?;
    let (limited_by, note) = limit_of(good, &stages, cs);
    let load = &cs.scenario.load;
    Ok(CapacityRecord {
        scenario: cs.scenario.name.clone(),
        target: target.name().to_owned(),
        repetition: rep,
        protocol: cs.scenario.protocol.name().to_owned(),
        call: crate::results::call_text(&cs.scenario),
        slo_p99_us: slo_us,
        stage_s: capacity.stage.as_secs_f64(),
        warmup_s: capacity.warmup.as_secs_f64(),
        concurrency: load.concurrency,
        connections: match cs.scenario.protocol {
            Protocol::Http1 => load.concurrency,
            _ => load.connections,
        },
        capacity_rps: good.map(|g| g as f64),
        limited_by,
        note,
        stages,
    })
}

/// What limited a sweep, and a note for the reader: the lowest rate that
/// broke decides; with none, the sweep's max rate did.
fn limit_of(
    good: Option<u64>,
    stages: &[CapacityStage],
    cs: &CapacityScenario,
) -> (String, Option<String>) {
    let limiting = stages
        .iter()
        .filter(|s| !s.held)
        .min_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps));
    match (good, limiting) {
        (_, None) => (
            "max rate".to_owned(),
            Some(format!(
                "every stage held up to the sweep's max of {}/s",
                cs.max_rate
            )),
        ),
        (None, Some(first)) => (
            kind_of(first).to_owned(),
            Some(format!(
                "the first stage ({}/s) already broke: lower `start`",
                cs.start_rate
            )),
        ),
        (Some(_), Some(stage)) => {
            let kind = kind_of(stage);
            let note = (kind == "generator").then(|| {
                "the generator could not keep its schedule before the service broke its SLO: \
                 the service's capacity is at least this"
                    .to_owned()
            });
            (kind.to_owned(), note)
        }
    }
}

/// What broke a stage: errors first, then the SLO, then the generator.
fn kind_of(stage: &CapacityStage) -> &str {
    stage.limit.as_deref().unwrap_or("generator")
}

/// The service's CPU seconds at the start and the end of a stage's window.
type WindowMarks = [Option<(Instant, f64)>; 2];

async fn run_stage(
    cs: &CapacityScenario,
    rate: u64,
    target: Target,
    addr: std::net::SocketAddr,
    pid: u32,
    options: &RunOptions,
    abort: Option<&load::Abort>,
) -> anyhow::Result<CapacityStage> {
    let slo_us = cs.slo_p99.as_micros() as u64;
    let mut scenario = cs.scenario.clone();
    scenario
        .apply_overrides(&crate::scenario::Overrides {
            rate: Some(rate),
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.path.display()))?;
    let process = Process::new(pid);
    let marks: Arc<Mutex<WindowMarks>> = Arc::default();
    let hook = {
        let marks = marks.clone();
        WindowHook(Arc::new(move |edge| {
            if let Ok(cpu) = process.cpu_seconds() {
                let i = usize::from(edge == Edge::End);
                marks.lock().expect("marks lock")[i] = Some((Instant::now(), cpu));
            }
        }))
    };
    let (record, _) =
        runner::run_one(&scenario, target.name(), addr, options, Some(hook), abort).await?;
    let marks = *marks.lock().expect("marks lock");
    let server_cpu = match marks {
        [Some((t0, c0)), Some((t1, c1))] => Some((c1 - c0, (t1 - t0).as_secs_f64())),
        _ => None,
    };
    Ok(stage_of(&record, slo_us, server_cpu))
}

/// Judges one stage from its run record.
fn stage_of(r: &RunRecord, slo_us: u64, server_cpu: Option<(f64, f64)>) -> CapacityStage {
    let errors: u64 = r.errors.values().sum();
    let p99 = r.latency_us.map(|l| l.p99);
    let loadgen_busy = r.loadgen.cpu_seconds / (r.duration_s * r.loadgen.cpus.len().max(1) as f64);
    let mut broke = Vec::new();
    let mut limit = None;
    if errors > 0 {
        broke.push(format!("{errors} errors"));
        limit.get_or_insert("errors");
    }
    match p99 {
        Some(p) if p > slo_us => {
            broke.push(format!(
                "p99 {:.3} ms > SLO {:.3} ms",
                p as f64 / 1000.0,
                slo_us as f64 / 1000.0
            ));
            limit.get_or_insert("slo");
        }
        None => {
            broke.push("no request succeeded".to_owned());
            limit.get_or_insert("errors");
        }
        _ => {}
    }
    // A stage whose schedule slipped (scheduler lag or requests never sent) is
    // the service's limit when requests queued for the in-flight cap while the
    // generator had CPU to spare: they waited for the service, and the wait is
    // in the corrected latency above. With no such waits, or with the
    // generator's CPU nearly full, the slip is the generator's own.
    let slipped = r.generator_saturated;
    let generator_bound = r.cap_waits == 0 || loadgen_busy >= 0.95;
    if slipped && !generator_bound && r.dropped > 0 {
        broke.push(format!(
            "{} requests never sent: the in-flight cap of {} stayed full",
            r.dropped, r.concurrency
        ));
        limit.get_or_insert("slo");
    }
    if slipped && generator_bound {
        broke.push(format!(
            "generator: {} (its CPU {:.0}% busy)",
            r.saturation.as_deref().unwrap_or("near its CPU limit"),
            loadgen_busy * 100.0
        ));
        limit.get_or_insert("generator");
    }
    CapacityStage {
        offered_rps: r.offered_rps.unwrap_or(0.0),
        achieved_rps: r.achieved_rps,
        requests: r.requests,
        ok: r.ok,
        errors,
        dropped: r.dropped,
        cap_waits: r.cap_waits,
        p50_us: r.latency_us.map(|l| l.p50),
        p99_us: p99,
        p999_us: r.latency_us.map(|l| l.p999),
        generator_saturated: r.generator_saturated,
        loadgen_cpu_pct: loadgen_busy * 100.0,
        server_cpu_us_per_request: server_cpu
            .filter(|_| r.requests > 0)
            .map(|(cpu, _)| cpu * 1e6 / r.requests as f64),
        server_cpu_pct: server_cpu
            .filter(|(_, wall)| *wall > 0.0)
            .map(|(cpu, wall)| 100.0 * cpu / wall),
        held: broke.is_empty(),
        limit: limit.map(str::to_owned),
        broke: (!broke.is_empty()).then(|| broke.join("; ")),
    }
}

/// Points `DIR/../latest` at `DIR` (a relative symlink, replaced atomically).
pub fn link_latest(out: &Path) -> anyhow::Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = out
        .file_name()
        .with_context(|| format!("{}: no directory name", out.display()))?;
    let tmp = parent.join(format!(".latest.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name, &tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    std::fs::rename(&tmp, parent.join("latest"))
        .with_context(|| format!("replacing {}", parent.join("latest").display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steal_probe_keeps_the_cpu_busy_for_its_window() {
        let cpu = crate::placement::available_cpus().unwrap()[0];
        let began = Instant::now();
        let cpu_before = Process::new(std::process::id()).cpu_seconds();
        let steal = busy_steal_ms(&[cpu], Duration::from_millis(300));
        let cpu_after = Process::new(std::process::id()).cpu_seconds();
        assert!(began.elapsed() >= Duration::from_millis(300));
        // A steal count from /proc/stat, at most the window.
        assert!(steal.is_some_and(|ms| ms <= 310), "{steal:?}");
        // It spun: this process used CPU through the window. Only a lower
        // bound, and a low one: a busy machine takes the CPU away.
        if let (Ok(a), Ok(b)) = (cpu_before, cpu_after) {
            assert!(b - a >= 0.03, "{a} s then {b} s of CPU");
        }
    }
}
