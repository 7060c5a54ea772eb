//! One load-generator worker: an OS thread with its own single-threaded
//! runtime, its own connections, its share of the schedule and its own
//! recorder. Workers share nothing while the run lasts, like wrk's threads.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio::task::LocalSet;

use super::client::{self, CallSpec, H2Conn, Handle, Maker, MessageSink};
use super::clock::{Clock, Pacer};
use super::recorder::{Interval, Outcome, Recorder, Totals};
use super::sched;
use super::schedule::Plan;
use crate::scenario::{Model, Protocol, Scenario};

/// Counters the progress display reads while the run goes on.
#[derive(Debug, Default)]
pub struct Live {
    pub done: AtomicU64,
    pub errors: AtomicU64,
}

/// What a worker is given.
pub struct Assignment {
    pub index: usize,
    pub workers: usize,
    pub scenario: Scenario,
    pub addr: SocketAddr,
    /// Requests in flight (closed) or the in-flight cap (open), for this worker.
    pub concurrency: usize,
    /// Connections this worker opens (HTTP/2 and gRPC; HTTP/1.1 opens `concurrency`).
    pub connections: usize,
    pub plan: Plan,
    pub intervals: Sender<Interval>,
    pub live: Arc<Live>,
    pub cpu: Option<usize>,
    /// Workers on this worker's CPU (itself included).
    pub sharing: usize,
    pub abort: Option<super::Abort>,
    pub on_request: Option<super::OnRequest>,
}

/// What a worker measured, and how it was scheduled.
pub struct Finished {
    pub totals: Totals,
    /// Its real-time priority: `Scheduling::realtime`'s words.
    pub realtime: String,
    /// Time it was runnable but waited for its CPU over the measured window.
    pub run_delay_ns: Option<u64>,
    /// Its timer slack, as the kernel reports it; None if it could not be set.
    pub timer_slack_ns: Option<u64>,
}

/// Runs a worker on the current thread: connects, reports ready on `ready`,
/// waits for the start clock on `start` (None aborts), then runs the load.
pub fn run(
    a: Assignment,
    ready: Sender<Result<usize, String>>,
    start: Receiver<Option<Clock>>,
) -> anyhow::Result<Finished> {
    if let Some(cpu) = a.cpu {
        let mut set = nix::sched::CpuSet::new();
        set.set(cpu).context("CPU index out of range")?;
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .with_context(|| format!("pinning load worker {} to CPU {cpu}", a.index))?;
    }
    let timer_slack_ns = sched::set_timer_slack(sched::TIMER_SLACK_NS).ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a worker runtime")?;
    let local = LocalSet::new();
    let handles = match local.block_on(&runtime, connect(&a)) {
        Ok(handles) => {
            let _ = ready.send(Ok(a.index));
            handles
        }
        Err(err) => {
            let _ = ready.send(Err(format!("{err:#}")));
            return Err(err);
        }
    };
    let Ok(Some(clock)) = start.recv() else {
        anyhow::bail!("run aborted before it started");
    };
    let seed = a.scenario.load.seed ^ (a.index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let ctx = Rc::new(Ctx {
        maker: RefCell::new(Maker::new(&a.scenario, a.addr, seed)?),
        recorder: RefCell::new(Recorder::new(
            a.index,
            a.plan.measure_start_ns,
            a.plan.end_ns,
            a.intervals.clone(),
        )),
        spec: CallSpec::new(&a.scenario)?,
        clock,
        timeout: a.scenario.load.timeout,
        live: a.live.clone(),
        on_request: a.on_request.clone(),
    });
    let run_delay = Rc::new(Cell::new((None, None)));
    local.spawn_local(watch_run_delay(clock, a.plan.clone(), run_delay.clone()));
    let realtime = Rc::new(RefCell::new(String::new()));
    let load = async {
        match a.scenario.load.model {
            Model::Open => {
                *realtime.borrow_mut() = match sched::become_realtime() {
                    Ok(()) => {
                        tokio::task::spawn_local(guard_realtime(
                            clock,
                            a.sharing,
                            realtime.clone(),
                        ));
                        format!("SCHED_FIFO {}", sched::PRIORITY)
                    }
                    Err(err) => format!("unavailable: {err:?}"),
                };
                open_loop(&a, ctx.clone(), handles, clock).await
            }
            Model::Closed => {
                *realtime.borrow_mut() = "not used: closed loop".to_owned();
                closed_loop(&a, ctx.clone(), handles).await;
                Ok(())
            }
        }
    };
    let finished = match &a.abort {
        Some(abort) => local.block_on(&runtime, abort.until(load)),
        None => Ok(local.block_on(&runtime, load)),
    };
    // Requests still in flight after an abort are dropped with their tasks.
    drop(local);
    drop(runtime);
    finished??;
    let ctx =
        Rc::try_unwrap(ctx).map_err(|_| anyhow::anyhow!("a request task outlived the run"))?;
    let realtime = realtime.take();
    let run_delay_ns = match run_delay.get() {
        (Some(start), end) => end
            .or_else(sched::run_delay_ns)
            .map(|e| e.saturating_sub(start)),
        (None, _) => None,
    };
    Ok(Finished {
        totals: ctx.recorder.into_inner().finish(),
        realtime,
        run_delay_ns,
        timer_slack_ns,
    })
}

/// Reads this thread's run delay as the measured window starts and ends.
async fn watch_run_delay(clock: Clock, plan: Plan, out: Rc<Cell<(Option<u64>, Option<u64>)>>) {
    let until = |t: u64| tokio::time::sleep(Duration::from_nanos(t.saturating_sub(clock.now())));
    until(plan.measure_start_ns).await;
    out.set((sched::run_delay_ns(), None));
    until(plan.end_ns).await;
    out.set((out.get().0, sched::run_delay_ns()));
}

/// Drops this real-time worker to normal priority once it keeps its CPU too
/// busy to leave the harness's other threads their share.
async fn guard_realtime(clock: Clock, sharing: usize, realtime: Rc<RefCell<String>>) {
    let mut guard = sched::RealtimeGuard::new(sharing);
    let mut tick = tokio::time::interval(sched::CHECK_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = clock.now();
        if let Some(busy) = guard.check(now, sched::thread_cpu_ns()) {
            let what = match sched::become_normal() {
                Ok(()) => "normal priority since",
                Err(_) => "failed to drop it at",
            };
            *realtime.borrow_mut() = format!(
                "SCHED_FIFO {}, {what} {:.1} s: the worker kept its CPU {:.0}% busy",
                sched::PRIORITY,
                now as f64 / 1e9,
                busy * 100.0
            );
            return;
        }
    }
}

struct Ctx {
    maker: RefCell<Maker>,
    recorder: RefCell<Recorder>,
    spec: CallSpec,
    clock: Clock,
    timeout: Duration,
    live: Arc<Live>,
    on_request: Option<super::OnRequest>,
}

struct Messages<'a> {
    ctx: &'a Ctx,
    intended: u64,
}

impl MessageSink for Messages<'_> {
    fn message(&self, latency_ns: u64) {
        self.ctx
            .recorder
            .borrow_mut()
            .record_message(self.intended, latency_ns);
    }
}

impl Ctx {
    /// Sends one request over `handle` and records it.
    async fn call(&self, handle: &mut Handle, intended: u64, sent: u64) {
        let sink = Messages {
            ctx: self,
            intended,
        };
        let clock = self.clock;
        let now = move || clock.now();
        // Read only for a hook: the common run has none.
        let reused = self.on_request.is_some()
            && matches!(handle, Handle::H1(Some(sender), _) if !sender.is_closed());
        let exchange = handle.exchange(&self.spec, &self.maker, &sink, &now);
        let outcome = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => {
                if let Handle::H1(slot, _) = handle {
                    // The response may still arrive: the connection is unusable.
                    *slot = None;
                }
                Outcome::Error("timeout".to_owned())
            }
        };
        let done = self.clock.now();
        if let Outcome::Error(_) = outcome {
            self.live.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.live.done.fetch_add(1, Ordering::Relaxed);
        self.recorder
            .borrow_mut()
            .record(intended, sent, done, &outcome);
        if let Some(hook) = &self.on_request {
            hook(&super::Ended {
                sent_ns: sent,
                outcome: &outcome,
                reused,
            });
        }
    }
}

/// Opens this worker's connections before the clock starts, so that the
/// measured window holds requests, not handshakes.
async fn connect(a: &Assignment) -> anyhow::Result<Vec<Handle>> {
    let mut handles = Vec::new();
    match a.scenario.protocol {
        Protocol::Http1 => {
            for _ in 0..a.concurrency {
                let sender = client::connect_h1(a.addr)
                    .await
                    .with_context(|| format!("connecting to {} (HTTP/1.1)", a.addr))?;
                handles.push(Handle::H1(Some(sender), a.addr));
            }
        }
        Protocol::Http2 => {
            let mut conns = Vec::new();
            for _ in 0..a.connections {
                let sender = client::connect_h2(a.addr).await.with_context(|| {
                    format!("connecting to {} (HTTP/2 prior knowledge)", a.addr)
                })?;
                conns.push(Rc::new(H2Conn::new(a.addr, sender)));
            }
            for i in 0..a.concurrency {
                handles.push(Handle::H2(conns[i % conns.len()].clone()));
            }
        }
        Protocol::Grpc => {
            let mut channels = Vec::new();
            for _ in 0..a.connections {
                let grpc = client::connect_grpc(a.addr)
                    .await
                    .with_context(|| format!("connecting to {} (gRPC)", a.addr))?;
                channels.push(grpc);
            }
            for i in 0..a.concurrency {
                handles.push(Handle::Grpc(channels[i % channels.len()].clone()));
            }
        }
    }
    Ok(handles)
}

/// Closed loop: each task sends its next request as soon as the previous one
/// completes, until the measured window ends.
async fn closed_loop(a: &Assignment, ctx: Rc<Ctx>, handles: Vec<Handle>) {
    let end = a.plan.end_ns;
    let mut tasks = Vec::with_capacity(handles.len());
    for mut handle in handles {
        let ctx = ctx.clone();
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                let start = ctx.clock.now();
                if start >= end {
                    break;
                }
                ctx.call(&mut handle, start, start).await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// Open loop: request `i` is released at its intended time whether or not
/// earlier ones have been answered. Beyond the in-flight cap it waits, and the
/// wait counts in its latency. What cannot be sent by the end of the window is
/// counted as dropped: requests still waiting for the cap when the window
/// ends, or still unsent 1 s after it.
async fn open_loop(
    a: &Assignment,
    ctx: Rc<Ctx>,
    handles: Vec<Handle>,
    clock: Clock,
) -> anyhow::Result<()> {
    let mut pacer = Pacer::new(clock)?;
    let cap = handles.len();
    let pool = Rc::new(RefCell::new(handles));
    let slots = Arc::new(Semaphore::new(cap));
    let end = a.plan.end_ns;
    let mut schedule = a.plan.worker(
        a.scenario.load.arrival,
        a.index,
        a.workers,
        a.scenario.load.seed,
    );
    while let Some(intended) = schedule.next() {
        pacer.sleep_until(intended).await?;
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                ctx.recorder.borrow_mut().record_cap_wait(intended);
                let left = Duration::from_nanos(end.saturating_sub(clock.now()));
                match tokio::time::timeout(left, slots.clone().acquire_owned()).await {
                    Ok(permit) => permit?,
                    Err(_) => {
                        drop_rest(&ctx, intended, &mut schedule);
                        break;
                    }
                }
            }
        };
        let sent = clock.now();
        // A generator that has fallen this far behind stops rather than
        // stretching the run; what it could not send is counted.
        if sent > end + LATE_LIMIT_NS {
            drop_rest(&ctx, intended, &mut schedule);
            break;
        }
        let ctx = ctx.clone();
        let pool = pool.clone();
        tokio::task::spawn_local(async move {
            let mut handle = pool
                .borrow_mut()
                .pop()
                .expect("a permit guarantees a handle");
            ctx.call(&mut handle, intended, sent).await;
            pool.borrow_mut().push(handle);
            drop(permit);
        });
    }
    // Wait for the requests in flight; each is bounded by the timeout.
    let _ = slots.acquire_many(cap as u32).await;
    Ok(())
}

/// How far past the end of the window a late generator may still send.
const LATE_LIMIT_NS: u64 = 1_000_000_000;

fn drop_rest(ctx: &Ctx, first: u64, rest: &mut impl Iterator<Item = u64>) {
    let mut recorder = ctx.recorder.borrow_mut();
    recorder.record_dropped(first);
    for intended in rest {
        recorder.record_dropped(intended);
    }
}
