//! The drain scenario (contract/README.md, "Running a service"): a fresh
//! service takes open-loop load from the load engine, gets SIGTERM
//! `signal_after` into the window (a mark, one of the engine's hooks), and the
//! load goes on until the window ends. Every request sent after the
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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use tokio::sync::oneshot;

use crate::load::{self, client, recorder::Outcome};
use crate::placement::Placement;
use crate::results::call_text;
use crate::results::drain::{DrainRecord, classes, sent_between};
use crate::scenario::{Drain, Scenario};
use crate::target::{Layout, Target};

/// How often the probes look after the signal.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// How long a probe connect may go unanswered before the listener counts as
/// stopped: a listening socket on loopback answers a SYN in microseconds.
const CONNECT_WITHIN: Duration = Duration::from_millis(100);

/// How fast readiness must turn off after the signal.
const READINESS_WITHIN: Duration = Duration::from_millis(100);

/// Starts `target` with the scenario's drain flags, drives the load on the
/// load engine (one worker, its open loop) with two hooks: a mark that sends
/// SIGTERM `signal_after` into the window, and a look at every request as it
/// ends. Then judges the drain.
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

    let (signalled_tx, signalled_rx) = oneshot::channel::<Result<Signalled, String>>();
    let samples: Arc<Mutex<Vec<Ended>>> = Arc::default();
    let options = load::Options {
        workers: 1,
        cpus: None,
        progress: false,
        label: target.name().to_owned(),
        on_window: None,
        abort: None,
        hooks: hooks(scenario, drain, pid, signalled_tx, samples.clone())?,
    };
    let owned = scenario.clone();
    let driven = tokio::task::spawn_blocking(move || {
        load::run(&owned, addr, &options)
            .with_context(|| format!("{target} {}: drain load against {addr}", owned.name))
    });
    let after = after_signal(scenario, drain, signalled_rx, &mut service, health, addr);
    let (measured, after) = tokio::join!(driven, after);
    measured.context("the drain load panicked")??;
    let signal_ns = after.signal.map_err(anyhow::Error::msg)?;
    let samples = std::mem::take(&mut *samples.lock().expect("no hook panicked"));
    let driven = Driven::sort(
        samples,
        signal_ns,
        after.readiness_off,
        after.stopped_listening,
    );
    Ok(judge(
        target,
        scenario,
        drain,
        driven,
        after.exit_ms,
        after.exit,
    ))
}

/// The SIGTERM, on the load's clock and the monotonic one.
struct Signalled {
    clock_ns: u64,
    at: Instant,
}

/// A request as it ended, on the load's clock.
struct Ended {
    sent_ns: u64,
    outcome: Outcome,
    reused: bool,
}

/// The load engine's hooks for a drain: SIGTERM to `pid` `signal_after` into
/// the window (said on `signalled`), and every request kept in `samples`.
fn hooks(
    scenario: &Scenario,
    drain: Drain,
    pid: u32,
    signalled: oneshot::Sender<Result<Signalled, String>>,
    samples: Arc<Mutex<Vec<Ended>>>,
) -> anyhow::Result<load::Hooks> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
    let signalled = Mutex::new(Some(signalled));
    let signal = move |clock_ns: u64| {
        let sent = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let at = Instant::now();
        if let Some(tx) = signalled.lock().expect("one mark at a time").take() {
            let _ = tx.send(
                sent.map(|()| Signalled { clock_ns, at })
                    .map_err(|err| format!("sending SIGTERM to the service: {err}")),
            );
        }
    };
    let keep = move |ended: &load::Ended| {
        samples.lock().expect("no hook panicked").push(Ended {
            sent_ns: ended.sent_ns,
            outcome: ended.outcome.clone(),
            reused: ended.reused,
        });
    };
    Ok(load::Hooks {
        marks: vec![load::Mark {
            at: scenario.load.warmup + drain.signal_after,
            action: Arc::new(signal),
        }],
        on_request: Some(Arc::new(keep)),
    })
}

/// What was seen from the signal on, beside the load.
struct AfterSignal {
    /// When SIGTERM was sent, on the load's clock; or why it was not.
    signal: Result<u64, String>,
    readiness_off: Option<Duration>,
    stopped_listening: Option<Duration>,
    exit_ms: Option<f64>,
    exit: String,
}

impl AfterSignal {
    fn unsignalled(why: String) -> Self {
        AfterSignal {
            signal: Err(why.clone()),
            readiness_off: None,
            stopped_listening: None,
            exit_ms: None,
            exit: why,
        }
    }
}

/// Waits for the signal, then probes readiness and the listener while
/// waiting for the service to exit.
async fn after_signal(
    scenario: &Scenario,
    drain: Drain,
    signalled: oneshot::Receiver<Result<Signalled, String>>,
    service: &mut crate::target::Service,
    health: SocketAddr,
    addr: SocketAddr,
) -> AfterSignal {
    let signalled = match signalled.await {
        Ok(Ok(signalled)) => signalled,
        Ok(Err(why)) => return AfterSignal::unsignalled(why),
        Err(_) => {
            return AfterSignal::unsignalled(
                "not signalled: the window ended before SIGTERM was due".to_owned(),
            );
        }
    };
    // Probe past the window if need be: until the listener must have closed.
    let window_left = scenario.load.duration.saturating_sub(drain.signal_after);
    let until = signalled.at + window_left.max(drain.delay + drain.timeout);
    // Exit waits: the delay, the drain timeout, and a second for the process to go.
    let exit_within = drain.delay + drain.timeout + Duration::from_secs(1);
    let exited = async {
        match service.wait(exit_within).await {
            Ok(status) => {
                let ms = signalled.at.elapsed().as_secs_f64() * 1e3;
                (Some(ms), exit_text(status))
            }
            Err(err) => (None, format!("{err:#}")),
        }
    };
    let ((readiness_off, stopped_listening), (exit_ms, exit)) =
        tokio::join!(probe(health, addr, signalled.at, until), exited);
    AfterSignal {
        signal: Ok(signalled.clock_ns),
        readiness_off,
        stopped_listening,
        exit_ms,
        exit,
    }
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

impl Driven {
    /// Requests sent before the signal are counted (with their errors);
    /// those sent after it are sorted one by one.
    fn sort(
        samples: Vec<Ended>,
        signal_ns: u64,
        readiness_off: Option<Duration>,
        stopped_listening: Option<Duration>,
    ) -> Self {
        let mut driven = Driven {
            before: 0,
            before_errors: BTreeMap::new(),
            after: Vec::new(),
            readiness_off,
            stopped_listening,
        };
        for ended in samples {
            match ended.sent_ns.checked_sub(signal_ns) {
                None => {
                    driven.before += 1;
                    if let Outcome::Error(class) = ended.outcome {
                        *driven.before_errors.entry(class).or_default() += 1;
                    }
                }
                Some(since) => driven.after.push(Sample {
                    sent: Duration::from_nanos(since),
                    class: classify(&ended.outcome, ended.reused),
                }),
            }
        }
        driven
    }
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
/// open before it (the load engine opens them ahead of the run and keeps
/// them alive): a reset there is the keep-alive race (the service closed the
/// idle connection as the request arrived), named apart but failed all the
/// same, since the request was written.
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
) -> (Option<Duration>, Option<Duration>) {
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
        // The signal 1 s into the run's clock.
        let signal_ns = 1_000_000_000;
        let at = |ms: i64| (signal_ns as i64 + ms * 1_000_000) as u64;
        let err = |c: &str| Outcome::Error(c.to_owned());
        let ended = |sent_ms: i64, outcome: Outcome, reused: bool| Ended {
            sent_ns: at(sent_ms),
            outcome,
            reused,
        };
        let samples = vec![
            ended(-20, Outcome::Ok, false),
            ended(-10, err("http_500"), true),
            ended(0, Outcome::Ok, true),
            ended(5, err("connect"), false),
            ended(7, err("reset"), true),
        ];
        let stopped = Some(Duration::from_millis(6));
        let driven = Driven::sort(samples, signal_ns, None, stopped);
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
