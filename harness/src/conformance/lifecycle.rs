//! The lifecycle group: the drain order of contract/README.md ("Running a
//! service"), on fresh processes the harness starts and signals itself.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::json;

use super::Check;
use super::client::{GrpcClient, GrpcRequest, Outcome, code_name};
use super::golden;
use super::raw_http::{self, RawOutcome, ms};
use crate::target::{Layout, Service, Target};

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

    // 1. Readiness off at once: the first answer that is not the old 200 must be the 503.
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
    checks.push(Check::new(&name, problems).with_note(note));
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
