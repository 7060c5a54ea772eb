//! The conformance suite: the referee that proves both services implement the
//! contract (golden cases), implement it the same way (differential run),
//! answer hostile input as the contract says (hostile group), drain in-flight
//! work on SIGTERM before exiting 0, and follow the drain order on fresh
//! processes (lifecycle group).

mod compare;
mod differential;
mod golden;
mod hostile;
mod lifecycle;
mod model;

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use lab_proto::v1;

use self::golden::{Case, Expect};
use crate::target::{ExitedEarly, Layout, Service, Target};
use crate::wire::client::{self, GrpcClient, Outcome, Request, RestClient, RestRequest};

#[derive(Debug, Clone)]
pub struct Options {
    pub differential_requests: usize,
    pub seed: u64,
    pub max_diffs: usize,
    pub ready_timeout: Duration,
    /// Print what each hostile and lifecycle check saw, also when it passed.
    pub verbose: bool,
}

/// How long a service may take to exit after SIGTERM (its drain timeout is 10 s).
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// A started service with its clients.
struct Peer {
    service: Service,
    rest: RestClient,
    grpc: GrpcClient,
    /// Why the service runs without the flags verify asked for, if it does.
    flags_refused: Option<String>,
}

impl Peer {
    async fn start(layout: &Layout, target: Target, options: &Options) -> anyhow::Result<Self> {
        let flags = ["--header-read-timeout", hostile::HEADER_READ_TIMEOUT];
        let (service, flags_refused) =
            start_with_flags(layout, target, options.ready_timeout, &flags).await?;
        let rest = RestClient::new(service.http);
        let grpc = GrpcClient::connect(service.grpc).await?;
        eprintln!(
            "{target}: started pid {} (http {}, grpc {}), ready in {:.1} ms",
            service.pid().unwrap_or(0),
            service.http,
            service.grpc,
            service.started.elapsed().as_secs_f64() * 1e3
        );
        Ok(Self {
            service,
            rest,
            grpc,
            flags_refused,
        })
    }

    async fn send(&self, request: &Request) -> Outcome {
        match request {
            Request::Rest(r) => self.rest.send(r).await,
            Request::Grpc(g) => self.grpc.send(g).await,
        }
    }
}

/// Runs the suite against `targets`; true when everything passed.
pub async fn verify(
    layout: &Layout,
    targets: &[Target],
    options: &Options,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut peers = Vec::new();
    for &target in targets {
        peers.push(Peer::start(layout, target, options).await?);
    }
    // Checks: each golden case per target, each differential request, each drain.
    let mut tally = Tally::default();
    let cases = golden::cases();
    for peer in &peers {
        let failures = run_golden(peer, &cases, options.max_diffs).await;
        println!(
            "{}: golden cases: {} of {} passed",
            peer.service.target,
            cases.len() - failures,
            cases.len()
        );
        tally.add(cases.len(), failures);
    }
    // Every other target against the first: equal to it is equal to each other.
    if let [a, rest @ ..] = peers.as_slice()
        && !rest.is_empty()
    {
        for b in rest {
            let differences = run_differential(a, b, options).await;
            println!(
                "differential: {} seeded requests (seed {}) to each of {} and {}: {} differences",
                options.differential_requests,
                options.seed,
                a.service.target,
                b.service.target,
                differences
            );
            tally.add(options.differential_requests, differences);
        }
    } else {
        println!("differential: skipped (it compares two or more targets; use --target all)");
    }
    for peer in &peers {
        let subject = hostile::Subject {
            http: peer.service.http,
            grpc: peer.service.grpc,
            pid: peer.service.pid(),
            flags_refused: peer.flags_refused.clone(),
        };
        let group_started = Instant::now();
        let checks = hostile::run(&subject).await;
        tally.add_group(
            peer.service.target,
            "hostile",
            &checks,
            group_started,
            options.verbose,
        );
    }
    for peer in peers {
        let target = peer.service.target;
        match drain_and_stop(peer).await {
            Ok(report) => {
                println!("{target}: {report}");
                tally.add(1, 0);
            }
            Err(err) => {
                println!("{target}: FAIL drain: {err:#}");
                tally.add(1, 1);
            }
        }
    }
    // Fresh processes of their own, after everything else.
    for &target in targets {
        let group_started = Instant::now();
        let checks = lifecycle::run(layout, target, options.ready_timeout).await;
        tally.add_group(target, "lifecycle", &checks, group_started, options.verbose);
    }
    println!(
        "verify {}: {} in {:.1} s",
        targets
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", "),
        if tally.failed == 0 {
            "PASSED"
        } else {
            "FAILED"
        },
        started.elapsed().as_secs_f64()
    );
    println!(
        "conformance: {} passed, {} failed",
        tally.passed, tally.failed
    );
    Ok(tally.failed == 0)
}

#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn add(&mut self, checks: usize, failures: usize) {
        self.passed += checks - failures;
        self.failed += failures;
    }

    /// Prints a group's failures (and the notes of what passed; with `verbose`
    /// what every check saw), then its count.
    fn add_group(
        &mut self,
        target: Target,
        group: &str,
        checks: &[Check],
        started: Instant,
        verbose: bool,
    ) {
        let mut failures = 0;
        let mut skipped = 0;
        for check in checks {
            match &check.verdict {
                Verdict::Pass => match (&check.note, &check.observed) {
                    (Some(note), _) => println!("{target}: ok {group}: {}: {note}", check.name),
                    (None, Some(seen)) if verbose => {
                        println!("{target}: ok {group}: {}: {seen}", check.name)
                    }
                    (None, _) if verbose => println!("{target}: ok {group}: {}", check.name),
                    _ => {}
                },
                Verdict::Skip(why) => {
                    skipped += 1;
                    println!("{target}: skip {group}: {}: {why}", check.name);
                }
                Verdict::Fail(problems) => {
                    failures += 1;
                    println!("{target}: FAIL {group}: {}", check.name);
                    for p in problems.iter().take(12) {
                        println!("    {p}");
                    }
                    if problems.len() > 12 {
                        println!("    … and {} more", problems.len() - 12);
                    }
                    if let Some(note) = &check.note {
                        println!("    ({note})");
                    }
                }
            }
        }
        let run = checks.len() - skipped;
        println!(
            "{target}: {group} checks: {} of {run} passed{} in {:.1} s",
            run - failures,
            if skipped > 0 {
                format!(" ({skipped} skipped)")
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64()
        );
        self.add(run, failures);
    }
}

/// One named check of the hostile and lifecycle groups.
#[derive(Debug)]
pub(crate) struct Check {
    name: String,
    verdict: Verdict,
    /// What was measured (timings, memory), printed with the verdict.
    note: Option<String>,
    /// The answer the check got, printed for a pass only when verbose (a
    /// failure's problems already say it).
    observed: Option<String>,
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Pass,
    /// Each line says what was expected and what came instead.
    Fail(Vec<String>),
    /// Could not be run here, and why.
    Skip(String),
}

impl Check {
    /// Passed when `problems` is empty.
    fn new(name: &str, problems: Vec<String>) -> Self {
        Self {
            name: name.to_string(),
            verdict: if problems.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail(problems)
            },
            note: None,
            observed: None,
        }
    }

    fn pass(name: &str) -> Self {
        Self::new(name, vec![])
    }

    fn fail(name: &str, problems: Vec<String>) -> Self {
        debug_assert!(!problems.is_empty());
        Self::new(name, problems)
    }

    fn skip(name: &str, why: &str) -> Self {
        Self {
            name: name.to_string(),
            verdict: Verdict::Skip(why.to_string()),
            note: None,
            observed: None,
        }
    }

    fn with_note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }

    fn with_observed(mut self, observed: impl fmt::Display) -> Self {
        self.observed = Some(observed.to_string());
        self
    }
}

/// Starts `target` with `flags` added. A service that refuses them (exit 2,
/// a bad flag) is started without them, so that the checks still say what it
/// does; the second value then says why.
async fn start_with_flags(
    layout: &Layout,
    target: Target,
    ready_timeout: Duration,
    flags: &[&str],
) -> anyhow::Result<(Service, Option<String>)> {
    match layout.start_with(target, ready_timeout, None, flags).await {
        Ok(service) => Ok((service, None)),
        Err(err)
            if err
                .downcast_ref::<ExitedEarly>()
                .is_some_and(|e| e.status.code() == Some(2)) =>
        {
            let service = layout.start(target, ready_timeout).await?;
            Ok((
                service,
                Some(format!(
                    "expected the service to start with {}, got: {err:#}; started it without them",
                    flags.join(" ")
                )),
            ))
        }
        Err(err) => Err(err),
    }
}

/// Runs every golden case in order; returns the number that failed.
async fn run_golden(peer: &Peer, cases: &[Case], max_shown: usize) -> usize {
    let target = peer.service.target;
    let mut failures = 0;
    for (i, case) in cases.iter().enumerate() {
        let outcome = peer.send(&case.request).await;
        let problems = check(&case.expect, &outcome);
        if problems.is_empty() {
            continue;
        }
        failures += 1;
        if failures <= max_shown {
            println!(
                "{target}: FAIL golden #{} {:?}: {}",
                i + 1,
                case.name,
                case.request.call()
            );
            for p in problems.iter().take(12) {
                println!("    {p}");
            }
        }
    }
    if failures > max_shown {
        println!(
            "{target}: … and {} more golden failures",
            failures - max_shown
        );
    }
    failures
}

/// Problems with `outcome` against `expect`, as `expected != actual` lines.
fn check(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    match (expect, outcome) {
        (Expect::Exact(expected), outcome) => {
            let mut lines = vec!["(expected != actual)".to_string()];
            lines.extend(compare::diff(expected, &outcome.normalized(false)));
            if lines.len() == 1 { vec![] } else { lines }
        }
        (Expect::Code(code), Outcome::Grpc { code: actual, .. }) if code == actual => vec![],
        (Expect::Code(code), outcome) => vec![format!(
            "expected gRPC {}, got {outcome}",
            lab_proto::code_name(*code)
        )],
        (
            Expect::Text {
                status,
                content_type_prefix,
                contains,
            },
            Outcome::Http {
                status: s,
                content_type,
                body,
            },
        ) => {
            let mut problems = Vec::new();
            if s != status {
                problems.push(format!("status: expected {status}, got {s}"));
            }
            if !content_type
                .as_deref()
                .is_some_and(|c| c.starts_with(content_type_prefix))
            {
                problems.push(format!(
                    "content type: expected {content_type_prefix}…, got {content_type:?}"
                ));
            }
            let text = String::from_utf8_lossy(body);
            for needle in contains {
                if !text.contains(needle) {
                    problems.push(format!("body lacks {needle:?}"));
                }
            }
            problems
        }
        (Expect::Text { .. }, outcome) => {
            vec![format!("expected an HTTP text response, got {outcome}")]
        }
    }
}

/// Sends the seeded requests to both peers in lockstep; returns how many differed.
async fn run_differential(a: &Peer, b: &Peer, options: &Options) -> usize {
    let requests = differential::requests(options.seed, options.differential_requests);
    let (ta, tb) = (a.service.target, b.service.target);
    let mut differences = 0;
    let mut classes = std::collections::BTreeMap::<String, usize>::new();
    for (i, request) in requests.iter().enumerate() {
        let (left, right) = tokio::join!(a.send(request), b.send(request));
        *classes.entry(left.class()).or_default() += 1;
        let drop_ids = request.returns_order();
        let diff = compare::diff(&left.normalized(drop_ids), &right.normalized(drop_ids));
        if diff.is_empty() {
            continue;
        }
        differences += 1;
        if differences <= options.max_diffs {
            println!("DIFF differential #{} {}", i + 1, request.call());
            if let Request::Rest(r) = request {
                if let client::RestBody::Full(body) = &r.body {
                    println!(
                        "    request body: {}",
                        client::truncate(&String::from_utf8_lossy(body), 200)
                    );
                }
            } else {
                println!(
                    "    request: {}",
                    client::truncate(&format!("{request:?}"), 200)
                );
            }
            println!("    ({ta} != {tb})");
            for line in diff.iter().take(12) {
                println!("    {line}");
            }
        }
    }
    if differences > options.max_diffs {
        println!("… and {} more differences", differences - options.max_diffs);
    }
    let mix: Vec<String> = classes
        .iter()
        .map(|(class, n)| format!("{class} ×{n}"))
        .collect();
    println!("differential: outcomes on {ta}: {}", mix.join(", "));
    differences
}

/// SIGTERM while a REST request and a gRPC stream are in flight: both must
/// complete, and the process must exit 0.
async fn drain_and_stop(peer: Peer) -> anyhow::Result<String> {
    let Peer {
        mut service, grpc, ..
    } = peer;
    // A fresh client, so that the request has a connection of its own.
    let rest = RestClient::new(service.http);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
    let request = RestRequest::json(Method::POST, "/v1/echo", "");
    let in_flight =
        tokio::spawn(async move { rest.send_body(&request, client::channel_body(rx)).await });
    tx.send(Bytes::from_static(b"{\"drain\":")).await?;

    let (ping_tx, ping_rx) = tokio::sync::mpsc::channel::<v1::EchoRequest>(1);
    let mut echo = v1::echo_service_client::EchoServiceClient::new(grpc.channel());
    // The first ping goes out before the call is awaited (see GrpcClient).
    ping_tx
        .send(v1::EchoRequest {
            payload: b"before".to_vec(),
        })
        .await?;
    let mut pongs = echo
        .echo_stream(tokio_stream::wrappers::ReceiverStream::new(ping_rx))
        .await?
        .into_inner();
    anyhow::ensure!(pongs.message().await?.is_some(), "no pong before SIGTERM");

    // Let the service see the request headers before the signal.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    service.terminate()?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    tx.send(Bytes::from_static(b"true}")).await?;
    drop(tx);
    ping_tx
        .send(v1::EchoRequest {
            payload: b"after".to_vec(),
        })
        .await?;
    let pong = pongs.message().await?;
    anyhow::ensure!(
        pong.as_ref().is_some_and(|p| p.payload == b"after"),
        "gRPC stream in flight at SIGTERM: expected pong \"after\", got {pong:?}"
    );
    drop(ping_tx);
    anyhow::ensure!(
        pongs.message().await?.is_none(),
        "stream did not end after the client half-closed"
    );

    let outcome = in_flight.await?;
    let expected = serde_json::json!({"status": 200, "content_type": "application/json", "body": {"drain": true}});
    let diff = compare::diff(&expected, &outcome.normalized(false));
    anyhow::ensure!(
        diff.is_empty(),
        "REST request in flight at SIGTERM: {outcome}"
    );

    let status = service.wait(EXIT_TIMEOUT).await?;
    anyhow::ensure!(
        status.success(),
        "exited with {status} after SIGTERM, expected 0"
    );
    Ok(format!(
        "drain: REST request and gRPC stream in flight at SIGTERM completed; exit 0 after {:.0} ms",
        signalled.elapsed().as_secs_f64() * 1e3
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn http(status: u16, body: &str) -> Outcome {
        Outcome::Http {
            status,
            content_type: Some("application/json".into()),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn exact_expectations_pass_and_fail() {
        let expect = Expect::Exact(
            json!({"status": 200, "content_type": "application/json", "body": {"a": 1}}),
        );
        assert!(check(&expect, &http(200, r#"{"a":1}"#)).is_empty());
        let problems = check(&expect, &http(200, r#"{"a":2}"#));
        assert_eq!(problems, vec!["(expected != actual)", "$.body.a: 1 != 2"]);
    }

    #[test]
    fn text_expectations_check_status_type_and_content() {
        let expect = Expect::Text {
            status: 200,
            content_type_prefix: "text/plain",
            contains: vec!["x_total"],
        };
        let ok = Outcome::Http {
            status: 200,
            content_type: Some("text/plain; version=0.0.4".into()),
            body: Bytes::from("x_total 1"),
        };
        assert!(check(&expect, &ok).is_empty());
        assert_eq!(check(&expect, &http(500, "{}")).len(), 3);
    }

    #[test]
    fn code_expectations_ignore_messages() {
        let expect = Expect::Code(tonic::Code::Unimplemented);
        let outcome = Outcome::Grpc {
            code: tonic::Code::Unimplemented,
            message: "anything".into(),
            messages: vec![],
        };
        assert!(check(&expect, &outcome).is_empty());
        assert_eq!(check(&expect, &Outcome::Failed("reset".into())).len(), 1);
    }

    #[test]
    fn normalized_values_are_json() {
        let v: Value = http(201, r#"{"id":3}"#).normalized(true);
        assert_eq!(v["body"], json!({}));
    }
}
