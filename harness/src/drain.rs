//! The drain scenario (contract/README.md, "Running a service"): a fresh
//! service takes open-loop load, gets SIGTERM `signal_after` into the window,
//! and the load goes on until the window ends. Every request sent after the
//! signal is sorted by how it ended:
//!
//! - **completed**: the expected answer;
//! - **not accepted**: no byte of the request reached the service, so a
//!   client may safely retry it: a refused connection (the listener had
//!   closed); a request the HTTP client never wrote because its connection
//!   had closed (hyper hands it back unsent); or an HTTP/2 stream the service
//!   refused (above the last stream id of its GOAWAY, or reset with
//!   REFUSED_STREAM; RFC 9113 §8.7);
//! - **failed**: anything else, such as an error status, a timeout, or a
//!   connection closed or reset after the request was written, whether the
//!   connection was fresh or an idle keep-alive one the service closed as the
//!   request arrived: the client cannot tell whether it was processed. A
//!   drain that loses nothing has none.
//!
//! Alongside, probes on fresh connections time when `GET /health` turned 503
//! and when the listener stopped accepting, and the service's exit is timed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use tokio::sync::oneshot;

use crate::load::client::{self, CallSpec, Handle, Maker, MessageSink};
use crate::load::recorder::Outcome;
use crate::placement::Placement;
use crate::results::call_text;
use crate::results::drain::{DrainRecord, classes, sent_between};
use crate::scenario::{Drain, Protocol, Scenario};
use crate::target::{Layout, Target};

/// How often the probes look after the signal.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// How long a probe connect may go unanswered before the listener counts as
/// stopped: a listening socket on loopback answers a SYN in microseconds.
const CONNECT_WITHIN: Duration = Duration::from_millis(100);

/// How fast readiness must turn off after the signal.
const READINESS_WITHIN: Duration = Duration::from_millis(100);

/// Starts `target` with the scenario's drain flags, drives the load, signals,
/// and judges the drain.
pub async fn run(
    layout: &Layout,
    target: Target,
    scenario: &Scenario,
    placement: &Placement,
) -> anyhow::Result<DrainRecord> {
    let drain = scenario
        .drain
        .context("not a drain scenario (no [drain] table)")?;
    let delay = humantime::format_duration(drain.delay).to_string();
    let timeout = humantime::format_duration(drain.timeout).to_string();
    let flags = ["--drain-delay", &delay, "--drain-timeout", &timeout];
    let mut service = layout
        .start_with(
            target,
            Duration::from_secs(20),
            Some(&placement.server_cpus),
            &flags,
        )
        .await?;
    let pid = service.pid().context("the service exited as it started")?;
    let addr = service.addr(scenario.protocol);
    let health = service.http;

    let (signalled_tx, signalled_rx) = oneshot::channel::<Instant>();
    let owned = scenario.clone();
    let drive = tokio::task::spawn_blocking(move || {
        drive(&owned, addr, health, pid, signalled_tx)
            .with_context(|| format!("{target} {}: drain load against {addr}", owned.name))
    });
    // Exit waits: the delay, the drain timeout, and a second for the process to go.
    let exit_within = drain.delay + drain.timeout + Duration::from_secs(1);
    let exited = async {
        let Ok(signalled) = signalled_rx.await else {
            return (
                None,
                "not signalled: the load stopped before SIGTERM".to_owned(),
            );
        };
        match service.wait(exit_within).await {
            Ok(status) => {
                let ms = signalled.elapsed().as_secs_f64() * 1e3;
                (Some(ms), exit_text(status))
            }
            Err(err) => (None, format!("{err:#}")),
        }
    };
    let (driven, (exit_ms, exit)) = tokio::join!(drive, exited);
    let driven = driven.context("the drain load panicked")??;
    Ok(judge(target, scenario, drain, driven, exit_ms, exit))
}

fn exit_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited {code}"),
        (None, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
            Ok(sig) => format!("killed by {sig}"),
            Err(_) => format!("killed by signal {signal}"),
        },
        (None, None) => status.to_string(),
    }
}

/// What the load and probes saw; times are since the signal.
struct Driven {
    before: u64,
    before_errors: BTreeMap<String, u64>,
    after: Vec<Sample>,
    readiness_off: Option<Duration>,
    stopped_listening: Option<Duration>,
}

/// A request sent after the signal.
struct Sample {
    sent: Duration,
    class: Class,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    Completed,
    NotAccepted(&'static str),
    Failed(String),
}

/// Sorts an outcome: not accepted only when no byte of the request reached
/// the service. `reused` says the request went out on an HTTP/1.1 connection
/// that had already carried a response: a reset there is the keep-alive race
/// (the service closed the idle connection as the request arrived), named
/// apart but failed all the same, since the request was written.
fn classify(outcome: &Outcome, reused: bool) -> Class {
    match outcome {
        Outcome::Ok => Class::Completed,
        Outcome::Error(class) if class == "connect" => Class::NotAccepted("connection refused"),
        Outcome::Error(class) if class == "refused_stream" => {
            Class::NotAccepted("stream refused (GOAWAY)")
        }
        Outcome::Error(class) if class == "not_sent" => {
            Class::NotAccepted("connection closed before sending")
        }
        Outcome::Error(class) if class == "reset" && reused => {
            Class::Failed("reset on a reused keep-alive connection".to_owned())
        }
        Outcome::Error(class) => Class::Failed(class.clone()),
    }
}

struct NoSink;

impl MessageSink for NoSink {
    fn message(&self, _latency_ns: u64) {}
}

/// Runs the open-loop load on a current-thread runtime (the load engine's
/// handles are single-threaded), sends SIGTERM to `pid` on time, and probes.
fn drive(
    scenario: &Scenario,
    addr: SocketAddr,
    health: SocketAddr,
    pid: u32,
    signalled: oneshot::Sender<Instant>,
) -> anyhow::Result<Driven> {
    let drain = scenario.drain.context("no [drain] table")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let load = &scenario.load;
        let rate = load.stages.first().map_or(0, |s| s.rate).max(1);
        let period = Duration::from_secs_f64(1.0 / rate as f64);
        let spec = Rc::new(CallSpec::new(scenario)?);
        let maker = Rc::new(RefCell::new(Maker::new(scenario, addr, load.seed)?));
        let grpc = match scenario.protocol {
            Protocol::Grpc => Some(client::connect_grpc(addr).await?),
            Protocol::Http1 | Protocol::Http2 => None,
        };
        let h2 = match scenario.protocol {
            Protocol::Http2 => Some(Rc::new(client::H2Conn::new(
                addr,
                client::connect_h2(addr).await?,
            ))),
            Protocol::Http1 | Protocol::Grpc => None,
        };
        let pool: Rc<RefCell<Vec<Handle>>> = Rc::new(RefCell::new(Vec::new()));
        let samples: Rc<RefCell<Vec<(Instant, Outcome, bool)>>> = Rc::default();
        let origin = Instant::now();
        let now = Rc::new(move || origin.elapsed().as_nanos() as u64);

        let t0 = tokio::time::Instant::now();
        let end = t0 + load.warmup + load.duration;
        let mut sigterm = Sigterm {
            at: t0 + load.warmup + drain.signal_after,
            pid,
            tx: Some(signalled),
            sent: None,
            probes: None,
        };
        let mut tasks = tokio::task::JoinSet::new();
        let mut i: u32 = 0;
        loop {
            // Open loop: each request has its time; a late loop catches up at once.
            let due = t0 + period * i;
            if due >= end {
                break;
            }
            if sigterm.sent.is_none() && sigterm.at <= due {
                sigterm.send(drain, end, health, addr).await?;
            }
            tokio::time::sleep_until(due).await;
            let mut handle = take_handle(&pool, grpc.as_ref(), h2.as_ref(), addr);
            let reused = matches!(&handle, Handle::H1(Some(sender), _) if !sender.is_closed());
            let (spec, maker, pool, samples, now) = (
                Rc::clone(&spec),
                Rc::clone(&maker),
                Rc::clone(&pool),
                Rc::clone(&samples),
                Rc::clone(&now),
            );
            let timeout = load.timeout;
            tasks.spawn_local(async move {
                let sent = Instant::now();
                let outcome =
                    tokio::time::timeout(timeout, handle.exchange(&spec, &maker, &NoSink, &*now))
                        .await
                        .unwrap_or_else(|_| Outcome::Error("timeout".to_owned()));
                samples.borrow_mut().push((sent, outcome, reused));
                if matches!(handle, Handle::H1(..)) {
                    pool.borrow_mut().push(handle);
                }
            });
            i += 1;
        }
        while tasks.join_next().await.is_some() {}
        let signal_instant = sigterm.sent.context("the window ended before the signal")?;
        let (readiness_off, stopped_listening) = match sigterm.probes {
            Some(task) => task.await?,
            None => (None, None),
        };
        Ok(sort_samples(
            samples.take(),
            signal_instant,
            readiness_off,
            stopped_listening,
        ))
    })
}

/// What the probes return: when readiness turned off, when the listener stopped.
type ProbeTimes = (Option<Duration>, Option<Duration>);

/// SIGTERM to the service, once, at its time, and the probes it starts.
struct Sigterm {
    at: tokio::time::Instant,
    pid: u32,
    /// Tells `run` when the signal went, so that it times the exit from there.
    tx: Option<oneshot::Sender<Instant>>,
    /// When the signal went.
    sent: Option<Instant>,
    probes: Option<tokio::task::JoinHandle<ProbeTimes>>,
}

impl Sigterm {
    /// Waits for the signal's time, sends SIGTERM, and starts the probes.
    async fn send(
        &mut self,
        drain: Drain,
        end: tokio::time::Instant,
        health: SocketAddr,
        addr: SocketAddr,
    ) -> anyhow::Result<()> {
        tokio::time::sleep_until(self.at).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(self.pid)?),
            nix::sys::signal::Signal::SIGTERM,
        )
        .context("sending SIGTERM to the service")?;
        let at = Instant::now();
        self.sent = Some(at);
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(at);
        }
        // Probe past the window if need be: until the listener must have closed.
        let until = end.into_std().max(at + drain.delay + drain.timeout);
        self.probes = Some(tokio::task::spawn_local(probe(health, addr, at, until)));
        Ok(())
    }
}

/// The handle for the next request: the HTTP/1.1 connection returned last to
/// the pool, else a new one, or the one shared gRPC or HTTP/2 connection.
fn take_handle(
    pool: &RefCell<Vec<Handle>>,
    grpc: Option<&tonic::client::Grpc<tonic::transport::Channel>>,
    h2: Option<&Rc<client::H2Conn>>,
    addr: SocketAddr,
) -> Handle {
    pool.borrow_mut().pop().unwrap_or_else(|| match (grpc, h2) {
        (Some(grpc), _) => Handle::Grpc(grpc.clone()),
        (None, Some(h2)) => Handle::H2(Rc::clone(h2)),
        (None, None) => Handle::H1(None, addr),
    })
}

/// Counts the requests sent before the signal (and their errors), and sorts
/// those sent after it by how they ended.
fn sort_samples(
    samples: Vec<(Instant, Outcome, bool)>,
    signal_instant: Instant,
    readiness_off: Option<Duration>,
    stopped_listening: Option<Duration>,
) -> Driven {
    let mut driven = Driven {
        before: 0,
        before_errors: BTreeMap::new(),
        after: Vec::new(),
        readiness_off,
        stopped_listening,
    };
    for (sent, outcome, reused) in samples {
        match sent.checked_duration_since(signal_instant) {
            None => {
                driven.before += 1;
                if let Outcome::Error(class) = outcome {
                    *driven.before_errors.entry(class).or_default() += 1;
                }
            }
            Some(since) => driven.after.push(Sample {
                sent: since,
                class: classify(&outcome, reused),
            }),
        }
    }
    driven
}

/// From the signal to `until`, every [`PROBE_EVERY`]: `GET /health` on a new
/// connection (until it answers 503) and a bare connect to `addr` (until it
/// is refused, or left unanswered for [`CONNECT_WITHIN`]: a closing listener
/// first drops new SYNs, and the client would only learn of the close from
/// its SYN retransmitted a second later). Returns both times since
/// `signalled`; a connect left unanswered counts from when it was tried.
async fn probe(
    health: SocketAddr,
    addr: SocketAddr,
    signalled: Instant,
    until: Instant,
) -> ProbeTimes {
    let mut readiness_off = None;
    let mut stopped = None;
    while Instant::now() < until && (readiness_off.is_none() || stopped.is_none()) {
        if readiness_off.is_none() && health_status(health).await == Some(503) {
            readiness_off = Some(signalled.elapsed());
        }
        if stopped.is_none() {
            let tried = signalled.elapsed();
            match tokio::time::timeout(CONNECT_WITHIN, tokio::net::TcpStream::connect(addr)).await {
                Err(_unanswered) => stopped = Some(tried),
                Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                    stopped = Some(signalled.elapsed());
                }
                Ok(_) => {}
            }
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
    (readiness_off, stopped)
}

/// The status of `GET /health` on a new HTTP/1.1 connection, if it answers.
async fn health_status(addr: SocketAddr) -> Option<u16> {
    let mut sender = client::connect_h1(addr).await.ok()?;
    let request = http::Request::get("/health")
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(bytes::Bytes::new()))
        .ok()?;
    let response = tokio::time::timeout(Duration::from_secs(1), sender.send_request(request))
        .await
        .ok()?
        .ok()?;
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    Some(status)
}

fn judge(
    target: Target,
    scenario: &Scenario,
    drain: Drain,
    driven: Driven,
    exit_ms: Option<f64>,
    exit: String,
) -> DrainRecord {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut not_accepted = BTreeMap::new();
    let mut failed = BTreeMap::new();
    let mut failed_sent_ms = Vec::new();
    let mut completed = 0;
    let mut completed_while_listening = 0;
    for sample in &driven.after {
        match &sample.class {
            Class::Completed => {
                completed += 1;
                if driven.stopped_listening.is_none_or(|t| sample.sent < t) {
                    completed_while_listening += 1;
                }
            }
            Class::NotAccepted(why) => *not_accepted.entry((*why).to_owned()).or_default() += 1,
            Class::Failed(class) => {
                *failed.entry(class.clone()).or_default() += 1;
                failed_sent_ms.push(ms(sample.sent));
            }
        }
    }
    let mut record = DrainRecord {
        target: target.name().to_owned(),
        scenario: scenario.name.clone(),
        protocol: scenario.protocol.name().to_owned(),
        call: call_text(scenario),
        repetition: None,
        rate: scenario.load.stages.first().map_or(0, |s| s.rate),
        duration_s: scenario.load.duration.as_secs_f64(),
        signal_after_s: drain.signal_after.as_secs_f64(),
        drain_delay_s: drain.delay.as_secs_f64(),
        drain_timeout_s: drain.timeout.as_secs_f64(),
        before: driven.before,
        before_errors: driven.before_errors,
        sent: driven.after.len() as u64,
        completed,
        completed_while_listening,
        not_accepted,
        failed,
        failed_sent_ms,
        readiness_off_ms: driven.readiness_off.map(ms),
        stopped_listening_ms: driven.stopped_listening.map(ms),
        exit_ms,
        exit,
        passed: false,
        problems: Vec::new(),
    };
    record.problems = problems(&record, drain);
    record.passed = record.problems.is_empty();
    record
}

/// Everything that makes a drain fail, in words.
fn problems(r: &DrainRecord, drain: Drain) -> Vec<String> {
    let mut problems = Vec::new();
    let before_errors: u64 = r.before_errors.values().sum();
    if before_errors > 0 {
        problems.push(format!(
            "{before_errors} requests failed before SIGTERM{}",
            classes(&r.before_errors)
        ));
    }
    if r.failed_total() > 0 {
        problems.push(format!(
            "{} accepted requests failed{}{}",
            r.failed_total(),
            classes(&r.failed),
            sent_between(&r.failed_sent_ms)
        ));
    }
    let delay_ms = drain.delay.as_secs_f64() * 1e3;
    // With a delay, the listener is open after the signal, so readiness is observable.
    if delay_ms >= 2.0 * READINESS_WITHIN.as_secs_f64() * 1e3 {
        match r.readiness_off_ms {
            None => problems.push("GET /health never answered 503 after SIGTERM".to_owned()),
            Some(t) if t > READINESS_WITHIN.as_secs_f64() * 1e3 => problems.push(format!(
                "GET /health answered 503 only {t:.0} ms after SIGTERM (limit {} ms)",
                READINESS_WITHIN.as_millis()
            )),
            Some(_) => {}
        }
        if r.completed_while_listening == 0 {
            problems.push("no request sent during --drain-delay completed".to_owned());
        }
    }
    match r.stopped_listening_ms {
        None => problems.push(
            "the listener still accepted connections after --drain-delay + --drain-timeout"
                .to_owned(),
        ),
        // The probe runs every few ms; allow for one period of lateness in the service's timer.
        Some(t) if t + 1.0 < delay_ms * 0.95 => problems.push(format!(
            "stopped listening {t:.0} ms after SIGTERM, before --drain-delay ({delay_ms:.0} ms)"
        )),
        Some(_) => {}
    }
    if r.exit != "exited 0" {
        problems.push(format!("the service {} (expected exit 0)", r.exit));
    }
    let limit_ms = (drain.delay + drain.timeout).as_secs_f64() * 1e3;
    if let Some(t) = r.exit_ms
        && t > limit_ms
    {
        problems.push(format!(
            "exit took {t:.0} ms, beyond --drain-delay + --drain-timeout ({limit_ms:.0} ms)"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> DrainRecord {
        DrainRecord {
            target: "rust".into(),
            scenario: "drain".into(),
            protocol: "http1".into(),
            call: "GET /v1/users/{id}".into(),
            repetition: None,
            rate: 1000,
            duration_s: 4.0,
            signal_after_s: 1.5,
            drain_delay_s: 1.0,
            drain_timeout_s: 5.0,
            before: 1500,
            before_errors: BTreeMap::new(),
            sent: 2500,
            completed: 1000,
            completed_while_listening: 1000,
            not_accepted: BTreeMap::from([("connection refused".to_owned(), 1500)]),
            failed: BTreeMap::new(),
            failed_sent_ms: Vec::new(),
            readiness_off_ms: Some(3.0),
            stopped_listening_ms: Some(1004.0),
            exit_ms: Some(1010.0),
            exit: "exited 0".into(),
            passed: true,
            problems: Vec::new(),
        }
    }

    fn drain() -> Drain {
        Drain {
            signal_after: Duration::from_millis(1500),
            delay: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn a_clean_drain_passes() {
        let r = record();
        assert_eq!(problems(&r, drain()), Vec::<String>::new());
        assert_eq!(r.accepted(), 1000);
        assert!(r.line().ends_with("PASS"), "{}", r.line());
    }

    #[test]
    fn each_fault_is_named() {
        type Fault = Box<dyn Fn(&mut DrainRecord)>;
        let cases: Vec<(Fault, &str)> = vec![
            (
                Box::new(|r| {
                    r.failed.insert("reset".into(), 3);
                    r.failed_sent_ms = vec![1004.2, 1001.4, 1003.0];
                }),
                "3 accepted requests failed (reset 3), sent 1001-1004 ms after SIGTERM",
            ),
            (
                Box::new(|r| {
                    r.before_errors.insert("http_500".into(), 1);
                }),
                "1 requests failed before SIGTERM (http_500 1)",
            ),
            (
                Box::new(|r| r.readiness_off_ms = None),
                "GET /health never answered 503",
            ),
            (
                Box::new(|r| r.readiness_off_ms = Some(250.0)),
                "answered 503 only 250 ms after SIGTERM",
            ),
            (
                Box::new(|r| r.stopped_listening_ms = None),
                "still accepted connections after",
            ),
            (
                Box::new(|r| r.stopped_listening_ms = Some(2.0)),
                "before --drain-delay",
            ),
            (
                Box::new(|r| r.exit = "exited 1".into()),
                "the service exited 1",
            ),
            (
                Box::new(|r| r.exit_ms = Some(7000.0)),
                "beyond --drain-delay + --drain-timeout",
            ),
            (
                Box::new(|r| r.completed_while_listening = 0),
                "no request sent during --drain-delay completed",
            ),
        ];
        for (fault, needle) in cases {
            let mut r = record();
            fault(&mut r);
            let found = problems(&r, drain());
            assert_eq!(found.len(), 1, "{needle}: {found:?}");
            assert!(found[0].contains(needle), "{needle}: {found:?}");
        }
    }

    #[test]
    fn without_a_delay_readiness_is_not_required() {
        let mut r = record();
        r.readiness_off_ms = None;
        r.completed_while_listening = 0;
        r.stopped_listening_ms = Some(1.0);
        let no_delay = Drain {
            delay: Duration::ZERO,
            ..drain()
        };
        assert_eq!(problems(&r, no_delay), Vec::<String>::new());
    }

    #[test]
    fn samples_are_counted_before_the_signal_and_sorted_after_it() {
        let signal = Instant::now();
        let at = |ms: i64| {
            let d = Duration::from_millis(ms.unsigned_abs());
            if ms < 0 { signal - d } else { signal + d }
        };
        let err = |c: &str| Outcome::Error(c.to_owned());
        let samples = vec![
            (at(-20), Outcome::Ok, false),
            (at(-10), err("http_500"), true),
            (at(0), Outcome::Ok, true),
            (at(5), err("connect"), false),
            (at(7), err("reset"), true),
        ];
        let stopped = Some(Duration::from_millis(6));
        let driven = sort_samples(samples, signal, None, stopped);
        assert_eq!(driven.before, 2);
        assert_eq!(
            driven.before_errors,
            BTreeMap::from([("http_500".to_owned(), 1)])
        );
        let after: Vec<(Duration, Class)> = driven
            .after
            .into_iter()
            .map(|s| (s.sent, s.class))
            .collect();
        assert_eq!(
            after,
            vec![
                (Duration::ZERO, Class::Completed),
                (
                    Duration::from_millis(5),
                    Class::NotAccepted("connection refused")
                ),
                (
                    Duration::from_millis(7),
                    Class::Failed("reset on a reused keep-alive connection".into())
                ),
            ]
        );
        assert_eq!(driven.readiness_off, None);
        assert_eq!(driven.stopped_listening, stopped);
    }

    #[test]
    fn outcomes_are_sorted_by_whether_the_service_took_them() {
        assert_eq!(classify(&Outcome::Ok, false), Class::Completed);
        let err = |c: &str| Outcome::Error(c.to_owned());
        assert_eq!(
            classify(&err("connect"), false),
            Class::NotAccepted("connection refused")
        );
        // Written, then closed: the client cannot tell whether it was processed.
        assert_eq!(
            classify(&err("reset"), true),
            Class::Failed("reset on a reused keep-alive connection".into())
        );
        assert_eq!(
            classify(&err("refused_stream"), false),
            Class::NotAccepted("stream refused (GOAWAY)")
        );
        assert_eq!(
            classify(&err("not_sent"), false),
            Class::NotAccepted("connection closed before sending")
        );
        assert_eq!(
            classify(&err("reset"), false),
            Class::Failed("reset".into())
        );
        assert_eq!(
            classify(&err("http_503"), true),
            Class::Failed("http_503".into())
        );
        assert_eq!(
            classify(&err("timeout"), true),
            Class::Failed("timeout".into())
        );
    }
}
