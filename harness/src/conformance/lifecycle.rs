//! The lifecycle group: the drain order of contract/README.md ("Running a
//! service"), on fresh processes the harness starts and signals itself.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use super::Check;
use lab_proto::code_name;

use super::golden;
use crate::target::{Layout, Service, Target};
use crate::wire::client::{GrpcClient, GrpcRequest, Outcome};
use crate::wire::raw_http::{self, RawOutcome, ms};

const DRAIN_DELAY: Duration = Duration::from_secs(1);
/// The flags of the first instance; the second needs only the delay.
const FLAGS: [&str; 4] = ["--drain-delay", "1s", "--header-read-timeout", "2s"];
/// Readiness must turn off this soon after SIGTERM.
const NOT_READY_WITHIN: Duration = Duration::from_millis(100);
/// When a new connection must still be accepted (inside the delay).
const STILL_ACCEPTING_AT: Duration = Duration::from_millis(800);
/// By when new connections must be refused (the delay plus slack).
const REFUSED_BY: Duration = Duration::from_millis(1500);
/// By when a second SIGTERM, 100 ms after the first, must have closed the listeners.
const REFUSED_AFTER_SECOND_BY: Duration = Duration::from_millis(600);
/// The services' default `--drain-timeout`, plus slack for a busy machine.
const EXIT_WITHIN: Duration = Duration::from_secs(12);
const SERVICES: [&str; 5] = [
    "",
    "lab.v1.UserService",
    "lab.v1.CatalogService",
    "lab.v1.OrderService",
    "lab.v1.EchoService",
];

/// Every lifecycle check for `target`.
pub async fn run(layout: &Layout, target: Target, ready_timeout: Duration) -> Vec<Check> {
    let mut checks = Vec::new();
    match super::start_with_flags(layout, target, ready_timeout, &FLAGS).await {
        Ok((service, refused)) => {
            let name = format!("starts with {}", FLAGS.join(" "));
            checks.push(match refused {
                None => Check::pass(&name),
                Some(why) => Check::fail(&name, vec![why]),
            });
            checks.push(loopback(&service));
            checks.extend(drain(service).await);
        }
        Err(err) => checks.push(Check::fail("start", vec![format!("{err:#}")])),
    }
    match super::start_with_flags(layout, target, ready_timeout, &FLAGS[..2]).await {
        Ok((service, _)) => checks.extend(second_signal(service).await),
        Err(err) => checks.push(Check::fail(
            "start a second instance",
            vec![format!("{err:#}")],
        )),
    }
    // The default flags: no drain delay, so the listeners close at the signal.
    match layout.start(target, ready_timeout).await {
        Ok(service) => checks.extend(requests_in_flight(service).await),
        Err(err) => checks.push(Check::fail(
            "start a third instance (default flags)",
            vec![format!("{err:#}")],
        )),
    }
    checks
}

fn loopback(service: &Service) -> Check {
    let want = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut problems = Vec::new();
    for (which, addr) in [("http", service.http), ("grpc", service.grpc)] {
        if addr.ip() != want {
            problems.push(format!(
                "expected {which}=127.0.0.1:PORT, got {which}={addr}"
            ));
        }
    }
    Check::new(
        "the ready line names the loopback addresses the harness asked for (127.0.0.1:0)",
        problems,
    )
}

/// SIGTERM, then every step of the drain in order.
async fn drain(mut service: Service) -> Vec<Check> {
    let mut checks = Vec::new();
    let watch = Watch::open(service.grpc).await;
    let signalled = Instant::now();
    if let Err(err) = service.terminate() {
        return vec![Check::fail("SIGTERM", vec![format!("{err:#}")])];
    }

    // 1. Readiness off at once.
    checks.push(readiness_off(&service, signalled).await);
    // First, since the drain waits for open streams such as this one.
    checks.push(watch.sees_not_serving().await);

    // 2. Every other route keeps working.
    let outcome = raw_http::exchange(
        service.http,
        raw_http::get("/v1/users/1", &[]),
        Duration::from_secs(2),
    )
    .await;
    checks.push(
        Check::new(
            "during the drain delay, GET /v1/users/1 on a new connection is 200",
            judge(&golden::ok(200, super::model::user(1)), &outcome),
        )
        .with_observed(&outcome),
    );

    // 2b. A keep-alive HTTP/1.1 request is answered with `Connection: close`.
    checks.push(keep_alive_closes(&service).await);

    // 3. gRPC health reports NOT_SERVING, to a new Check and to a Watch.
    checks.push(grpc_not_serving(service.grpc).await);

    // 4. New connections are still accepted inside the delay.
    tokio::time::sleep_until((signalled + STILL_ACCEPTING_AT).into()).await;
    let mut problems = Vec::new();
    for (which, addr) in [("http", service.http), ("grpc", service.grpc)] {
        if let Err(err) = tokio::net::TcpStream::connect(addr).await {
            problems.push(format!(
                "expected a new {which} connection to be accepted {:.0} ms after SIGTERM (drain delay {} s), got {err}",
                ms(signalled.elapsed()),
                DRAIN_DELAY.as_secs()
            ));
        }
    }
    checks.push(Check::new(
        &format!(
            "{} ms after SIGTERM (drain delay 1 s), new TCP connections are still accepted",
            STILL_ACCEPTING_AT.as_millis()
        ),
        problems,
    ));

    // 5. After the delay the listeners close.
    tokio::time::sleep_until((signalled + DRAIN_DELAY).into()).await;
    checks.push(
        refused_by(
            &service,
            signalled,
            REFUSED_BY,
            &format!(
                "after the drain delay (by {} ms), new TCP connections are refused",
                REFUSED_BY.as_millis()
            ),
        )
        .await,
    );

    // 6. The process exits 0.
    checks.push(exits_zero(&mut service, signalled, "exits 0 after the drain").await);
    checks
}

/// Within `NOT_READY_WITHIN` of SIGTERM, `/health` on a new connection is
/// 503 draining: the first answer that is not the old 200 must be the 503.
async fn readiness_off(service: &Service, signalled: Instant) -> Check {
    let name = format!(
        "within {} ms of SIGTERM, GET /health on a new connection is 503 {{\"status\":\"draining\"}}",
        NOT_READY_WITHIN.as_millis()
    );
    let draining = golden::ok(503, json!({"status": "draining"}));
    let mut problems = Vec::new();
    let mut note = None;
    loop {
        let outcome = raw_http::exchange(
            service.http,
            raw_http::get("/health", &[]),
            Duration::from_millis(500),
        )
        .await;
        let at = signalled.elapsed();
        let still_ready = outcome.status() == Some(200);
        if !still_ready {
            let found = judge(&draining, &outcome);
            if found.is_empty() && at > NOT_READY_WITHIN {
                problems.push(format!(
                    "expected the 503 within {} ms, got it after {:.0} ms",
                    NOT_READY_WITHIN.as_millis(),
                    ms(at)
                ));
            }
            if problems.is_empty() && found.is_empty() {
                note = Some(format!("503 after {:.0} ms", ms(at)));
            }
            problems.extend(found);
            break;
        }
        if at > NOT_READY_WITHIN {
            problems.push(format!(
                "expected HTTP 503 {{\"status\":\"draining\"}}, got {outcome} {:.0} ms after SIGTERM",
                ms(at)
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Check::new(&name, problems).with_note(note)
}

/// During the delay a keep-alive HTTP/1.1 request is answered with
/// `Connection: close`, so that the client does not reuse the connection and
/// race its close.
async fn keep_alive_closes(service: &Service) -> Check {
    let outcome = raw_http::exchange(
        service.http,
        raw_http::get_keep_alive("/v1/users/1"),
        Duration::from_secs(2),
    )
    .await;
    let mut problems = judge(&golden::ok(200, super::model::user(1)), &outcome);
    if let Some(response) = outcome.response() {
        let connection = response.header("connection");
        if !connection.is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            problems.push(format!(
                "expected the header Connection: close, got {}",
                connection.map_or("none".to_owned(), |v| format!("Connection: {v}"))
            ));
        }
    }
    Check::new(
            "during the drain delay, a keep-alive HTTP/1.1 GET /v1/users/1 is 200 with Connection: close",
            problems,
        )
        .with_observed(&outcome)
}

fn judge(expect: &golden::Expect, outcome: &RawOutcome) -> Vec<String> {
    match outcome.response() {
        Some(response) => {
            let problems = super::check(expect, &response.outcome());
            if problems.is_empty() {
                return problems;
            }
            let mut lines = vec![format!("got {outcome}")];
            lines.extend(problems.into_iter().filter(|p| p != "(expected != actual)"));
            lines
        }
        None => match expect {
            golden::Expect::Exact(v) => vec![format!(
                "expected HTTP {} {}, got {outcome}",
                v["status"], v["body"]
            )],
            other => vec![format!("expected {other:?}, got {outcome}")],
        },
    }
}

async fn grpc_not_serving(addr: SocketAddr) -> Check {
    let name = "during the drain delay, gRPC Health/Check on a new connection is NOT_SERVING for \"\" and each lab.v1 service";
    let client = match GrpcClient::connect(addr).await {
        Ok(client) => client,
        Err(err) => {
            return Check::fail(
                name,
                vec![format!("expected a new gRPC connection, got {err:#}")],
            );
        }
    };
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for service in SERVICES {
        // Short: a call stuck on a closed listener's backlog must not stall the group.
        let outcome = tokio::time::timeout(
            Duration::from_secs(1),
            client.send(&GrpcRequest::Health(service.into())),
        )
        .await
        .unwrap_or_else(|_| Outcome::Failed("no answer within 1 s".into()));
        let got = match &outcome {
            Outcome::Grpc {
                code: tonic::Code::Ok,
                messages,
                ..
            } => messages
                .first()
                .and_then(|m| m["status"].as_str())
                .unwrap_or("no status")
                .to_string(),
            Outcome::Grpc { code, message, .. } => format!("{} {message:?}", code_name(*code)),
            other => other.to_string(),
        };
        if got != "NOT_SERVING" {
            problems.push(format!("{service:?}: expected NOT_SERVING, got {got}"));
        }
        seen.push(format!("{service:?} {got}"));
    }
    Check::new(name, problems).with_observed(seen.join(", "))
}

/// `grpc.health.v1.Health/Watch("")`, opened before SIGTERM.
struct Watch {
    stream: Result<tonic::Streaming<tonic_health::pb::HealthCheckResponse>, String>,
    /// Keeps the connection that carries the stream.
    _client: Option<GrpcClient>,
}

impl Watch {
    async fn open(addr: SocketAddr) -> Self {
        let client = GrpcClient::connect(addr).await;
        let stream = async {
            let client = client.as_ref().map_err(|e| format!("connecting: {e:#}"))?;
            let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel());
            let mut stream = health
                .watch(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map_err(|s| format!("{} {:?}", code_name(s.code()), s.message()))?
                .into_inner();
            match stream.message().await {
                Ok(Some(first)) if first.status == SERVING => Ok(stream),
                Ok(Some(first)) => Err(format!("first status {}", status_name(first.status))),
                Ok(None) => Err("the stream ended at once".into()),
                Err(s) => Err(format!("{} {:?}", code_name(s.code()), s.message())),
            }
        };
        let stream = stream.await;
        Self {
            stream,
            _client: client.ok(),
        }
    }

    /// The next status after SERVING must be NOT_SERVING. Consumes the
    /// watch: the stream is cancelled, since the drain waits for open streams.
    async fn sees_not_serving(self) -> Check {
        let name = "a gRPC Health/Watch(\"\") opened before SIGTERM sees NOT_SERVING";
        let mut stream = match self.stream {
            Ok(stream) => stream,
            Err(err) => {
                return Check::fail(
                    name,
                    vec![format!(
                        "expected a watch that starts with SERVING, got: {err}"
                    )],
                );
            }
        };
        let got = match tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
            Ok(Ok(Some(next))) if next.status == NOT_SERVING => return Check::pass(name),
            Ok(Ok(Some(next))) => status_name(next.status),
            Ok(Ok(None)) => "the stream ended with OK".into(),
            Ok(Err(s)) => format!("{} {:?}", code_name(s.code()), s.message()),
            Err(_) => "nothing within 500 ms".into(),
        };
        Check::fail(name, vec![format!("expected NOT_SERVING, got {got}")])
    }
}

const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
const NOT_SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;

fn status_name(status: i32) -> String {
    tonic_health::pb::health_check_response::ServingStatus::try_from(status)
        .map(|s| s.as_str_name().to_string())
        .unwrap_or_else(|_| status.to_string())
}

/// Whether a new connection to `addr` is refused now; `Err` says what happened instead.
async fn refused(addr: SocketAddr) -> Result<(), String> {
    match tokio::time::timeout(
        Duration::from_millis(200),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    {
        Ok(Err(err)) if err.kind() == ErrorKind::ConnectionRefused => Ok(()),
        Ok(Err(err)) => Err(format!("connect failed otherwise: {err}")),
        Ok(Ok(_)) => Err("accepted".into()),
        Err(_) => Err("connect timed out".into()),
    }
}

/// Polls both ports until each refuses a new connection, until `signalled + by`.
async fn refused_by(service: &Service, signalled: Instant, by: Duration, name: &str) -> Check {
    let mut when = [None, None];
    let mut last = [String::new(), String::new()];
    let ports = [("http", service.http), ("grpc", service.grpc)];
    let mut first = true;
    while (first || signalled.elapsed() <= by) && when.iter().any(Option::is_none) {
        first = false;
        for (i, (_, addr)) in ports.iter().enumerate() {
            if when[i].is_none() {
                match refused(*addr).await {
                    Ok(()) => when[i] = Some(signalled.elapsed()),
                    Err(what) => last[i] = what,
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut problems = Vec::new();
    let mut refused_at = Vec::new();
    for (i, (which, addr)) in ports.iter().enumerate() {
        match when[i] {
            Some(at) if at > by => problems.push(format!(
                "expected a new {which} connection to {addr} to be refused by {} ms after the first SIGTERM, got the first refusal at {:.0} ms",
                by.as_millis(),
                ms(at)
            )),
            Some(at) => refused_at.push(format!("{which} refused at {:.0} ms", ms(at))),
            None => problems.push(format!(
                "expected a new {which} connection to {addr} to be refused by {} ms after the first SIGTERM, got: {}",
                by.as_millis(),
                last[i]
            )),
        }
    }
    let note = (!refused_at.is_empty()).then(|| refused_at.join(", "));
    Check::new(name, problems).with_note(note)
}

async fn exits_zero(service: &mut Service, signalled: Instant, name: &str) -> Check {
    match service.wait(EXIT_WITHIN).await {
        Ok(status) if status.success() => Check::pass(name).with_note(Some(format!(
            "exit 0 {:.0} ms after the first SIGTERM",
            ms(signalled.elapsed())
        ))),
        Ok(status) => Check::fail(name, vec![format!("expected exit 0, got {status}")]),
        Err(err) => Check::fail(name, vec![format!("expected exit 0, got: {err:#}")]),
    }
}

/// SIGTERM, then a second one 100 ms later: the delay ends at once.
async fn second_signal(mut service: Service) -> Vec<Check> {
    let signalled = Instant::now();
    if let Err(err) = service.terminate() {
        return vec![Check::fail("SIGTERM", vec![format!("{err:#}")])];
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    if let Err(err) = service.terminate() {
        return vec![Check::fail("second SIGTERM", vec![format!("{err:#}")])];
    }
    vec![
        refused_by(
            &service,
            signalled,
            REFUSED_AFTER_SECOND_BY,
            &format!(
                "a second SIGTERM 100 ms after the first ends the 1 s drain delay: new TCP connections refused by {} ms",
                REFUSED_AFTER_SECOND_BY.as_millis()
            ),
        )
        .await,
        exits_zero(&mut service, signalled, "exits 0 after two SIGTERMs").await,
    ]
}

/// Connections that carry a request in flight at SIGTERM.
const IN_FLIGHT: usize = 32;
/// The size of each request's echo body, under the 1 MiB limit.
const ECHO_BYTES: usize = 900_000;
/// How long each request may take to be answered after SIGTERM.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// How much of a request the client had sent when SIGTERM came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Nothing yet: on the service's side, the same as a request already
    /// sent that it has not read yet.
    Nothing,
    PartOfHead,
    HeadAndPartOfBody,
}

impl Sent {
    fn of(i: usize) -> Self {
        match i % 3 {
            0 => Sent::Nothing,
            1 => Sent::PartOfHead,
            _ => Sent::HeadAndPartOfBody,
        }
    }

    /// How many bytes of `request` (`head_len` of them the head) go before the signal.
    fn bytes(self, head_len: usize) -> usize {
        match self {
            Sent::Nothing => 0,
            Sent::PartOfHead => head_len / 2,
            Sent::HeadAndPartOfBody => head_len + ECHO_BYTES / 4,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Sent::Nothing => "nothing sent yet",
            Sent::PartOfHead => "part of the head sent",
            Sent::HeadAndPartOfBody => "the head and part of the body sent",
        }
    }
}

/// A JSON echo body of about [`ECHO_BYTES`], distinct for each `n`.
fn echo_body(n: usize) -> Vec<u8> {
    format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(ECHO_BYTES)).into_bytes()
}

/// [`IN_FLIGHT`] large `POST /v1/echo` on new connections the service has
/// accepted, each cut at a different point (nothing sent, part of the head,
/// the head and part of the body); SIGTERM with no drain delay; once the
/// listener has closed, the rest of each request. Each must be answered:
/// hyper's graceful shutdown used to close a connection whose request head
/// it had not read yet as if it were idle, so a request already sent got no
/// response (issue 13). Go gives a new connection 5 s to send its request.
async fn requests_in_flight(mut service: Service) -> Vec<Check> {
    let name = format!(
        "{IN_FLIGHT} POST /v1/echo of 900 KB on connections accepted before SIGTERM (--drain-delay 0s), \
         each cut before its head, inside it or inside its body, the rest written after the listener closed: \
         each is answered 200 with its body echoed"
    );
    let mut open = Vec::with_capacity(IN_FLIGHT);
    for i in 0..IN_FLIGHT {
        let body = echo_body(i);
        let mut request = format!(
            "POST /v1/echo HTTP/1.1\r\nHost: lab.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        let sent = Sent::of(i);
        let before = sent.bytes(request.len());
        request.extend_from_slice(&body);
        let stream = async {
            let mut stream = tokio::net::TcpStream::connect(service.http).await?;
            stream.set_nodelay(true)?;
            stream.write_all(&request[..before]).await?;
            std::io::Result::Ok(stream)
        };
        match stream.await {
            Ok(stream) => open.push((i, sent, stream, request.split_off(before), body)),
            Err(err) => {
                return vec![Check::fail(
                    &name,
                    vec![format!(
                        "expected to open connection #{i} before SIGTERM, got {err}"
                    )],
                )];
            }
        }
    }
    // Long enough for the service to accept every connection and read what came.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    if let Err(err) = service.terminate() {
        return vec![Check::fail("SIGTERM", vec![format!("{err:#}")])];
    }
    // The drain has begun once the listener refuses: only then the rest.
    while refused(service.http).await.is_err() && signalled.elapsed() < REFUSED_BY {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut answers = tokio::task::JoinSet::new();
    for (i, sent, stream, rest, body) in open {
        answers.spawn(async move {
            let outcome = raw_http::finish(stream, rest, Instant::now(), ANSWER_WITHIN).await;
            (i, sent, outcome, body)
        });
    }
    let mut problems = Vec::new();
    let mut answered = 0;
    let mut by_kind = BTreeMap::<&str, (usize, usize)>::new();
    let mut results = answers.join_all().await;
    results.sort_by_key(|(i, ..)| *i);
    for (i, sent, outcome, body) in results {
        let counts = by_kind.entry(sent.words()).or_default();
        counts.0 += 1;
        let echoed = outcome.response().is_some_and(|r| {
            r.status == 200
                && serde_json::from_slice::<serde_json::Value>(&r.body).ok()
                    == serde_json::from_slice::<serde_json::Value>(&body).ok()
        });
        if echoed {
            answered += 1;
            counts.1 += 1;
        } else {
            problems.push(format!(
                "#{i} ({}): expected HTTP 200 with its body echoed, got {outcome}",
                sent.words()
            ));
        }
    }
    let kinds: Vec<String> = by_kind
        .iter()
        .map(|(words, (n, ok))| format!("{ok} of {n} with {words}"))
        .collect();
    let summary = format!(
        "{IN_FLIGHT} requests in flight at SIGTERM, {answered} answered ({})",
        kinds.join(", ")
    );
    let check = if problems.is_empty() {
        Check::pass(&name).with_note(Some(summary))
    } else {
        problems.insert(0, summary);
        Check::fail(&name, problems)
    };
    vec![
        check,
        exits_zero(
            &mut service,
            signalled,
            "exits 0 after answering the requests in flight",
        )
        .await,
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Verdict;
    use super::*;

    /// The in-flight check, `LAB_RUNS` times (20) against each built service
    /// (target/release/rust-svc, target/go-svc/go-svc, or `LAB_RUST_BIN`,
    /// `LAB_GO_BIN`): `cargo test -p harness --lib requests_in_flight -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "starts the built services, for minutes"]
    async fn requests_in_flight_are_answered_every_time() {
        let root = Layout::find_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let mut layout = Layout::open(root, None).unwrap();
        let targets = layout.registry().all().to_vec();
        for (language, var) in [("rust", "LAB_RUST_BIN"), ("go", "LAB_GO_BIN")] {
            if let Some(bin) = std::env::var_os(var) {
                let target = layout.registry().resolve_one(language).unwrap();
                layout.set_binary(target, bin.into());
            }
        }
        let runs: usize = std::env::var("LAB_RUNS").map_or(20, |v| v.parse().unwrap());
        let mut failed = Vec::new();
        for target in targets {
            let mut passes = 0;
            for run in 1..=runs {
                let service = layout.start(target, Duration::from_secs(20)).await.unwrap();
                let checks = requests_in_flight(service).await;
                let fails: Vec<&Check> = checks
                    .iter()
                    .filter(|c| matches!(c.verdict, Verdict::Fail(_)))
                    .collect();
                let note = checks[0].note.clone().unwrap_or_default();
                if fails.is_empty() {
                    passes += 1;
                    println!("{target} run {run}: pass: {note}");
                } else {
                    println!("{target} run {run}: FAIL: {fails:?}");
                }
            }
            println!("{target}: {passes}/{runs} passed");
            if passes != runs {
                failed.push(format!("{target} {passes}/{runs}"));
            }
        }
        assert!(failed.is_empty(), "{failed:?}");
    }
}
