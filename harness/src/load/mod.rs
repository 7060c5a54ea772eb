//! The load engine: drives one scenario against one endpoint and measures it.
//!
//! `schedule` fixes the open-loop arrival times, `clock` paces them finer than
//! tokio's timer, `sched` gets the pacing thread its CPU on time, `worker`
//! runs one thread of connections, `client` speaks the protocols and
//! `recorder` keeps HdrHistograms. This module starts the
//! workers, shows progress, and merges what they measured into a `Run`.

pub mod client;
mod clock;
mod progress;
pub mod recorder;
mod sched;
mod schedule;
mod worker;

pub use sched::steal_ms;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;

pub use clock::Clock;
use recorder::{Interval, Outcome, Summary, Totals, new_histogram};
pub use schedule::Plan;
use worker::{Assignment, Live};

use crate::scenario::{Model, Protocol, Scenario};

/// How to run the generator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (each with its own runtime and connections).
    pub workers: usize,
    /// Pin worker `i` to `cpus[i % len]` when given.
    pub cpus: Option<Vec<usize>>,
    /// Draw a progress bar (or periodic lines when stderr is not a terminal).
    pub progress: bool,
    /// Shown in progress lines: the target's name.
    pub label: String,
    /// Called as the measured window starts and ends (probes read the
    /// service's CPU time there).
    pub on_window: Option<WindowHook>,
    /// Stops the run early (its service died, or the harness was
    /// interrupted): `run` then returns an error within about 100 ms.
    pub abort: Option<Abort>,
    /// Actions at set times of the run, and a look at every request (the
    /// drain scenario sends its SIGTERM and sorts each request with them).
    pub hooks: Hooks,
}

/// What a caller runs inside the load.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Each runs once, on the thread that called `run`, within a
    /// millisecond of its time on the run's clock (if the run lasts that long).
    pub marks: Vec<Mark>,
    /// Called on the worker's thread as each request ends: keep it short.
    pub on_request: Option<OnRequest>,
}

/// A look at each request as it ends.
pub type OnRequest = Arc<dyn Fn(&Ended) + Send + Sync>;

/// An action at a time of the run.
#[derive(Clone)]
pub struct Mark {
    /// Since the run's clock started (the start of the warm-up).
    pub at: Duration,
    /// Given the clock's reading when it runs, in ns.
    pub action: Arc<dyn Fn(u64) + Send + Sync>,
}

/// The marks not yet run, with their times on the run's clock.
struct Marks<'a>(Vec<(u64, &'a Mark)>);

impl<'a> Marks<'a> {
    fn of(hooks: &'a Hooks) -> Self {
        Marks(
            hooks
                .marks
                .iter()
                .map(|m| (m.at.as_nanos() as u64, m))
                .collect(),
        )
    }

    /// Runs each mark that is due at `now`, once.
    fn fire(&mut self, now: u64, clock: &Clock) {
        self.0.retain(|&(at, mark)| {
            let due = now >= at;
            if due {
                (mark.action)(clock.now());
            }
            !due
        });
    }

    fn times(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().map(|&(at, _)| at)
    }
}

/// A request as it ended.
pub struct Ended<'a> {
    /// When it was sent, on the run's clock (ns).
    pub sent_ns: u64,
    pub outcome: &'a Outcome,
    /// It went out on an HTTP/1.1 connection that was open before it (opened
    /// ahead of the run, or kept alive), not on one opened for it.
    pub reused: bool,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("marks", &self.marks.len())
            .field("on_request", &self.on_request.is_some())
            .finish()
    }
}

pub use crate::interrupt::Abort;

/// An edge of the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Start,
    End,
}

/// A callback for the edges of the measured window. It runs on the thread
/// that called `run`, within a millisecond of the edge, so keep it short.
#[derive(Clone)]
pub struct WindowHook(pub Arc<dyn Fn(Edge) + Send + Sync>);

impl std::fmt::Debug for WindowHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WindowHook")
    }
}

/// One second of the measured window, by completion time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// The second's start: always whole, and written as an integer; a float
    /// because the charts place it on a continuous axis.
    #[serde(serialize_with = "whole_seconds")]
    pub t_s: f64,
    pub requests: u64,
    #[serde(default)]
    pub errors: u64,
    /// None when no request succeeded in that second.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub totals: Totals,
    pub timeline: Vec<Point>,
    /// Offered rate of the measured window (open loop).
    pub offered_rps: Option<f64>,
    /// Requests the schedule held for the measured window (open loop).
    pub scheduled: Option<u64>,
    pub duration: Duration,
    pub workers: usize,
    pub concurrency: usize,
    pub connections: usize,
    /// CPU time of the whole harness process over the measured window.
    pub loadgen_cpu_seconds: f64,
    pub loadgen_max_rss_kib: u64,
    pub scheduling: Scheduling,
}

/// `t_s` as results.json has always had it: `3`, not `3.0`.
fn whole_seconds<S: serde::Serializer>(t_s: &f64, s: S) -> Result<S::Ok, S::Error> {
    if t_s.fract() == 0.0 && (0.0..u64::MAX as f64).contains(t_s) {
        s.serialize_u64(*t_s as u64)
    } else {
        s.serialize_f64(*t_s)
    }
}

/// How the load workers were scheduled over the measured window: the
/// `loadgen` fields of a run in results.json that explain scheduler lag.
/// Files written before these were recorded lack them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Scheduling {
    /// The workers' real-time priority: "SCHED_FIFO 1" (open loop), how it
    /// ended if a worker had to give it up, "unavailable: EPERM" (not
    /// permitted) or "not used: closed loop". Workers that differ are listed
    /// with "; ".
    pub realtime: String,
    /// Per worker, the time it was runnable but waited for its CPU over the
    /// measured window, in µs (null: the kernel keeps no schedstats).
    pub run_delay_us: Vec<Option<u64>>,
    /// Time the hypervisor took the generator's CPUs away over the measured
    /// window, in ms, summed over them (in clock ticks, usually 10 ms; null:
    /// unreadable).
    pub steal_ms: Option<u64>,
    /// Per worker, its timer slack in ns (`PR_GET_TIMERSLACK` after asking
    /// for 1 ns; null if it could not be set).
    pub timer_slack_ns: Vec<Option<u64>>,
}

impl Measured {
    pub fn achieved_rps(&self) -> f64 {
        self.totals.requests as f64 / self.duration.as_secs_f64()
    }

    /// Why the generator could not keep its schedule, if it could not. Closed
    /// loop has no schedule: there it is why the generator could not keep its
    /// requests coming.
    pub fn saturation(&self) -> Option<String> {
        if self.offered_rps.is_none() {
            return self.starvation();
        }
        let mut reasons = Vec::new();
        if !self.totals.lag.is_empty() {
            let p99 = self.totals.lag.value_at_quantile(0.99);
            if p99 > 1_000 {
                let mut why = Vec::new();
                if self.totals.cap_waits > 0 {
                    why.push(format!(
                        "{} requests waited for the in-flight cap of {}",
                        self.totals.cap_waits, self.concurrency
                    ));
                }
                let delay_us: u64 = self.scheduling.run_delay_us.iter().flatten().sum();
                if delay_us >= 1_000 {
                    why.push(format!(
                        "the workers waited {} ms for their CPU",
                        delay_us / 1_000
                    ));
                }
                match self.scheduling.steal_ms {
                    Some(steal) if steal > 0 => {
                        why.push(format!("the hypervisor took {steal} ms of their CPU"))
                    }
                    _ => {}
                }
                let mut reason = format!("scheduler lag p99 {p99} µs > 1000 µs");
                if !why.is_empty() {
                    reason.push_str(&format!(" ({})", why.join("; ")));
                }
                reasons.push(reason);
            }
        }
        if self.totals.dropped > 0 {
            reasons.push(format!(
                "{} scheduled requests never sent",
                self.totals.dropped
            ));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Closed loop: the generator's workers lost more than
    /// [`STARVED_FRACTION`] of the measured window, waiting for their CPU or
    /// with that CPU taken by the hypervisor. The requests they would have
    /// sent meanwhile are missing from the throughput, which then measures
    /// the generator's CPU rather than the service.
    fn starvation(&self) -> Option<String> {
        let workers = self.scheduling.run_delay_us.len().max(1) as f64;
        let delay_ms = self.scheduling.run_delay_us.iter().flatten().sum::<u64>() as f64 / 1e3;
        // Steal is summed over the generator's CPUs, one worker each.
        let steal_ms = self.scheduling.steal_ms.unwrap_or(0) as f64;
        let lost_ms = (delay_ms + steal_ms) / workers;
        let window_ms = self.duration.as_secs_f64() * 1e3;
        (lost_ms > STARVED_FRACTION * window_ms).then(|| {
            format!(
                "the workers lost {lost_ms:.0} ms of the {:.1} s window (> {:.0}%): they waited \
                 {delay_ms:.0} ms for their CPU and the hypervisor took {steal_ms:.0} ms of it",
                window_ms / 1e3,
                STARVED_FRACTION * 100.0
            )
        })
    }

    pub fn summary(h: &Histogram<u64>) -> Option<Summary> {
        (!h.is_empty()).then(|| Summary::of(h))
    }
}

/// The share of a closed-loop window the generator may lose to its CPU's
/// other work or to the hypervisor before the run counts as spoiled. Quiet
/// closed-loop runs here lose 0.5–4% (30–240 ms of 6 s); the spoiled ones seen
/// lost 21–29% (1.4–1.7 s).
pub const STARVED_FRACTION: f64 = 0.10;

/// Splits `total` into `parts` shares that differ by at most one.
fn share(total: usize, parts: usize, i: usize) -> usize {
    total / parts + usize::from(i < total % parts)
}

/// CPU seconds (user + system) of this process so far, and its peak RSS in KiB.
fn self_usage() -> (f64, u64) {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            (
                secs(u.user_time()) + secs(u.system_time()),
                u.max_rss() as u64,
            )
        }
        Err(_) => (0.0, 0),
    }
}

/// Runs `scenario` against `addr`. Blocks the calling thread (which shows
/// progress) while worker threads generate the load.
pub fn run(scenario: &Scenario, addr: SocketAddr, options: &Options) -> anyhow::Result<Measured> {
    if let Some(reason) = options.abort.as_ref().and_then(Abort::reason) {
        bail!("aborted: {reason}");
    }
    let load = &scenario.load;
    let plan = match load.model {
        Model::Open => Plan::new(&load.stages, load.warmup),
        Model::Closed => Plan::window(load.warmup, load.duration),
    };
    let connections = match scenario.protocol {
        Protocol::Http1 => load.concurrency,
        Protocol::Http2 | Protocol::Grpc => load.connections.min(load.concurrency),
    };
    let workers = options.workers.max(1).min(connections);
    // The harness's CPUs: their steal time is the generator's.
    let generator_cpus = crate::placement::available_cpus().unwrap_or_default();

    let live = Arc::new(Live::default());
    let spawned = spawn(scenario, addr, options, &plan, workers, connections, &live)?;
    let Spawned {
        starts,
        threads,
        intervals: interval_rx,
        ready: ready_rx,
    } = spawned;

    let aborted = || options.abort.as_ref().and_then(Abort::reason);
    let failure = wait_connected(&ready_rx, workers, &aborted);
    if let Some(err) = failure {
        for start in &starts {
            let _ = start.send(None);
        }
        for thread in threads {
            let _ = thread.join();
        }
        bail!("{err}");
    }

    let clock = Clock::starting_in(0);
    for start in &starts {
        let _ = start.send(Some(clock));
    }
    let seconds = (plan.end_ns - plan.measure_start_ns).div_ceil(1_000_000_000);
    let mut timeline = TimelineBuilder::new(workers, seconds);
    let mut progress = progress::Progress::new(options, scenario, plan.end_ns, live.clone());
    let mut window = Window::default();
    let steal = || sched::steal_ms(&generator_cpus);
    let mut marks = Marks::of(&options.hooks);
    loop {
        // Edges first: with no warm-up the window starts at once.
        let now = clock.now();
        if window.cpu_start.is_none() && now >= plan.measure_start_ns {
            window.edge(Edge::Start, steal(), options);
        }
        if window.cpu_end.is_none() && now >= plan.end_ns {
            window.edge(Edge::End, steal(), options);
        }
        marks.fire(now, &clock);
        while let Ok(interval) = interval_rx.try_recv() {
            timeline.add(interval);
        }
        progress.tick(now, timeline.latest_p99());
        if threads.iter().all(|t| t.is_finished()) || aborted().is_some() {
            break;
        }
        // Wake every 100 ms, at each edge of the window, and at each mark.
        let next = [plan.measure_start_ns, plan.end_ns]
            .into_iter()
            .chain(marks.times())
            .filter(|&mark| mark > now)
            .fold(now + 100_000_000, u64::min);
        std::thread::sleep(Duration::from_nanos(next - now));
    }
    window.close(options);
    if let Some(reason) = aborted() {
        // The workers see the same abort and stop within a few milliseconds.
        for thread in threads {
            let _ = thread.join();
        }
        progress.finish();
        bail!("aborted: {reason}");
    }
    let joined = join(threads);
    while let Ok(interval) = interval_rx.try_recv() {
        timeline.add(interval);
    }
    progress.finish();
    let Joined {
        totals,
        realtime,
        run_delay_us,
        timer_slack_ns,
    } = joined?;
    let (cpu_now, max_rss) = self_usage();
    let cpu = window.cpu_end.unwrap_or(cpu_now) - window.cpu_start.unwrap_or(cpu_now);
    let open = load.model == Model::Open;
    Ok(Measured {
        totals,
        timeline: timeline.finish(),
        offered_rps: open.then(|| plan.offered_rps()),
        scheduled: open.then(|| plan.measured_requests()),
        duration: Duration::from_nanos(plan.end_ns - plan.measure_start_ns),
        workers,
        concurrency: load.concurrency,
        connections,
        loadgen_cpu_seconds: cpu,
        loadgen_max_rss_kib: max_rss,
        scheduling: Scheduling {
            realtime: realtime.join("; "),
            run_delay_us,
            steal_ms: window
                .steal_start
                .zip(window.steal_end)
                .map(|(a, b)| b.saturating_sub(a)),
            timer_slack_ns,
        },
    })
}

/// The generator's own readings at the measured window's edges.
#[derive(Default)]
struct Window {
    cpu_start: Option<f64>,
    cpu_end: Option<f64>,
    steal_start: Option<u64>,
    steal_end: Option<u64>,
}

impl Window {
    /// Reads the harness's CPU time at `edge`, keeps `steal`, and tells the
    /// window hook.
    fn edge(&mut self, edge: Edge, steal: Option<u64>, options: &Options) {
        let cpu = Some(self_usage().0);
        match edge {
            Edge::Start => (self.cpu_start, self.steal_start) = (cpu, steal),
            Edge::End => (self.cpu_end, self.steal_end) = (cpu, steal),
        }
        if let Some(hook) = &options.on_window {
            (hook.0)(edge);
        }
    }

    /// A run that ended early still gets both edges (with no steal reading).
    fn close(&mut self, options: &Options) {
        if self.cpu_start.is_none() {
            self.edge(Edge::Start, None, options);
        }
        if self.cpu_end.is_none() {
            self.edge(Edge::End, None, options);
        }
    }
}

/// The workers, started and connecting, and the channels they answer on.
struct Spawned {
    /// Each worker's start signal: the shared clock, or None to give up.
    starts: Vec<mpsc::Sender<Option<Clock>>>,
    threads: Vec<std::thread::JoinHandle<anyhow::Result<worker::Finished>>>,
    intervals: mpsc::Receiver<Interval>,
    /// Each worker's connected count, or why it could not connect.
    ready: mpsc::Receiver<Result<usize, String>>,
}

/// Starts `workers` load threads, each with its share of the concurrency and
/// connections, pinned as `options.cpus` says.
fn spawn(
    scenario: &Scenario,
    addr: SocketAddr,
    options: &Options,
    plan: &Plan,
    workers: usize,
    connections: usize,
    live: &Arc<Live>,
) -> anyhow::Result<Spawned> {
    let load = &scenario.load;
    let cpu_of = |index: usize| options.cpus.as_ref().map(|c| c[index % c.len()]);
    // The harness's CPUs: unpinned workers float over them.
    let generator_cpus = crate::placement::available_cpus().unwrap_or_default();
    let floating = workers.div_ceil(generator_cpus.len().max(1));
    let (interval_tx, interval_rx) = mpsc::channel::<Interval>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut starts = Vec::new();
    let mut threads = Vec::new();
    for index in 0..workers {
        let (start_tx, start_rx) = mpsc::channel();
        starts.push(start_tx);
        let assignment = Assignment {
            index,
            workers,
            scenario: scenario.clone(),
            addr,
            concurrency: share(load.concurrency, workers, index),
            connections: share(connections, workers, index),
            plan: plan.clone(),
            intervals: interval_tx.clone(),
            live: live.clone(),
            cpu: cpu_of(index),
            sharing: match cpu_of(index) {
                Some(cpu) => (0..workers).filter(|&i| cpu_of(i) == Some(cpu)).count(),
                None => floating,
            },
            abort: options.abort.clone(),
            on_request: options.hooks.on_request.clone(),
        };
        let ready = ready_tx.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("load-{index}"))
                .spawn(move || worker::run(assignment, ready, start_rx))
                .context("starting a load worker thread")?,
        );
    }
    Ok(Spawned {
        starts,
        threads,
        intervals: interval_rx,
        ready: ready_rx,
    })
}

/// Waits until every worker has connected; returns why not, if one failed,
/// the run was aborted, or 30 s passed.
fn wait_connected(
    ready: &mpsc::Receiver<Result<usize, String>>,
    workers: usize,
    aborted: &dyn Fn() -> Option<String>,
) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut connected = 0;
    while connected < workers {
        // In slices, so that an abort is seen while workers connect.
        match ready.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(_)) => connected += 1,
            Ok(Err(err)) => return Some(err),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Some("a load worker exited before connecting".to_owned());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(reason) = aborted() {
                    return Some(format!("aborted: {reason}"));
                } else if std::time::Instant::now() > deadline {
                    return Some("workers did not connect within 30 s".to_owned());
                }
            }
        }
    }
    None
}

/// What the workers measured, merged.
struct Joined {
    totals: Totals,
    /// Each distinct scheduling class the workers ran in.
    realtime: Vec<String>,
    run_delay_us: Vec<Option<u64>>,
    timer_slack_ns: Vec<Option<u64>>,
}

/// Joins every worker and merges what they measured; fails with every
/// worker's error if any failed.
fn join(
    threads: Vec<std::thread::JoinHandle<anyhow::Result<worker::Finished>>>,
) -> anyhow::Result<Joined> {
    let mut joined = Joined {
        totals: Totals::default(),
        realtime: Vec::new(),
        run_delay_us: Vec::new(),
        timer_slack_ns: Vec::new(),
    };
    let mut errors = Vec::new();
    for thread in threads {
        match thread.join() {
            Ok(Ok(finished)) => {
                joined.totals.merge(&finished.totals);
                if !joined.realtime.contains(&finished.realtime) {
                    joined.realtime.push(finished.realtime);
                }
                joined
                    .run_delay_us
                    .push(finished.run_delay_ns.map(|ns| ns / 1_000));
                joined.timer_slack_ns.push(finished.timer_slack_ns);
            }
            Ok(Err(err)) => errors.push(format!("{err:#}")),
            Err(_) => errors.push("a load worker panicked".to_owned()),
        }
    }
    if !errors.is_empty() {
        bail!("load workers failed: {}", errors.join("; "));
    }
    Ok(joined)
}

/// Merges the workers' per-second intervals. A second is final once every
/// worker has moved past it; only seconds not yet final keep a histogram.
struct TimelineBuilder {
    seconds: u64,
    pending: BTreeMap<u64, (u64, u64, Histogram<u64>)>,
    points: BTreeMap<u64, Point>,
    reached: Vec<u64>,
    latest_p99: Option<u64>,
}

impl TimelineBuilder {
    fn new(workers: usize, seconds: u64) -> Self {
        Self {
            seconds,
            pending: BTreeMap::new(),
            points: BTreeMap::new(),
            reached: vec![0; workers],
            latest_p99: None,
        }
    }

    fn add(&mut self, interval: Interval) {
        let entry = self
            .pending
            .entry(interval.second)
            .or_insert_with(|| (0, 0, new_histogram()));
        entry.0 += interval.requests;
        entry.1 += interval.errors;
        entry.2.add(&interval.latency).expect("same bounds");
        let reached = &mut self.reached[interval.worker];
        *reached = (*reached).max(interval.second);
        let settled = self.reached.iter().copied().min().unwrap_or(0);
        let done: Vec<u64> = self.pending.range(..settled).map(|(s, _)| *s).collect();
        for second in done {
            self.settle(second);
        }
    }

    fn settle(&mut self, second: u64) {
        if let Some((requests, errors, h)) = self.pending.remove(&second) {
            let ok = !h.is_empty();
            let point = Point {
                t_s: second as f64,
                requests,
                errors,
                p50_us: ok.then(|| h.value_at_quantile(0.5)),
                p99_us: ok.then(|| h.value_at_quantile(0.99)),
            };
            if point.p99_us.is_some() {
                self.latest_p99 = point.p99_us;
            }
            self.points.insert(second, point);
        }
    }

    fn latest_p99(&self) -> Option<u64> {
        self.latest_p99
    }

    fn finish(mut self) -> Vec<Point> {
        let left: Vec<u64> = self.pending.keys().copied().collect();
        for second in left {
            self.settle(second);
        }
        (0..self.seconds)
            .map(|t_s| {
                self.points.remove(&t_s).unwrap_or(Point {
                    t_s: t_s as f64,
                    requests: 0,
                    errors: 0,
                    p50_us: None,
                    p99_us: None,
                })
            })
            .collect()
    }
}
