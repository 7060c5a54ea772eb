//! The hostile group: every row of contract/README.md's "Limits and hostile
//! input", sent to one running service. HTTP goes through a raw HTTP/1.1
//! client (exact bytes, see `raw_http`), gRPC through a codec that sends raw
//! message bytes and an h2 connection that never reads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::wire::codec::RawCodec;
use bytes::{BufMut, Bytes};
use lab_proto::v1;
use prost::Message;
use serde_json::{Value, json};

use super::Check;
use lab_proto::code_name;

use super::golden::{self, Expect, MIB};
use crate::wire::client::{GrpcClient, GrpcRequest, Outcome};
use crate::wire::raw_http::{self, RawOutcome, SlowOutcome, ms};

/// How long one hostile HTTP exchange may take (a 1 MiB body on a busy machine).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `--header-read-timeout` verify starts services with.
pub const HEADER_READ_TIMEOUT: &str = "2s";
/// When the slow client must see its connection closed.
const SLOW_CLOSE: (Duration, Duration) = (Duration::from_millis(1500), Duration::from_secs(4));
const SLOW_INTERVAL: Duration = Duration::from_millis(200);
/// How fast other clients must be answered while a hostile client is at work.
const SERVED_WITHIN: Duration = Duration::from_millis(500);
/// How long the never-reading gRPC client is left in place.
const FLOOD_FOR: Duration = Duration::from_secs(2);
const FLOOD_RSS_LIMIT_KIB: u64 = 64 * 1024;

/// The service under test.
pub struct Subject {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    /// Set when the harness started the process, so that its memory can be read.
    pub pid: Option<u32>,
    /// Set when the service refused `--header-read-timeout` and runs with its default.
    pub flags_refused: Option<String>,
}

/// Every hostile check, HTTP then gRPC.
pub async fn run(subject: &Subject) -> Vec<Check> {
    let mut checks = Vec::new();
    let flag = format!("accepts --header-read-timeout {HEADER_READ_TIMEOUT}");
    checks.push(match &subject.flags_refused {
        None => Check::pass(&flag),
        Some(why) => Check::fail(&flag, vec![why.clone()]),
    });
    checks.extend(http(subject).await);
    checks.extend(grpc(subject).await);
    checks
}

// ---------------------------------------------------------------- HTTP

/// What an HTTP case must get back.
#[derive(Debug)]
enum Want {
    /// Status, content type and JSON body exactly (a golden expectation).
    Json(Expect),
    /// Only the status (the body comes from the HTTP library).
    Status(u16),
    /// 200 with a JSON object whose `n` equals this number by value.
    Number(f64),
}

impl Want {
    fn describe(&self) -> String {
        match self {
            Want::Json(Expect::Exact(v)) => format!("HTTP {} {}", v["status"], v["body"]),
            Want::Json(other) => format!("{other:?}"),
            Want::Status(s) => format!("HTTP {s} (status only)"),
            Want::Number(n) => format!("HTTP 200 {{\"n\": {n:e}}} (equal by value)"),
        }
    }
}

#[derive(Debug)]
struct HttpCase {
    name: String,
    request: Vec<u8>,
    want: Want,
}

fn case(name: impl Into<String>, request: Vec<u8>, want: Want) -> HttpCase {
    HttpCase {
        name: format!("http: {}", name.into()),
        request,
        want,
    }
}

const JSON: Option<&str> = Some("application/json");

/// A request head of exactly `len` bytes: GET /health with one padding field.
fn head_of(len: usize) -> Vec<u8> {
    let bare = raw_http::get("/health", &["X-Pad: ".into()]).len();
    raw_http::get(
        "/health",
        &[format!("X-Pad: {}", "p".repeat(len.saturating_sub(bare)))],
    )
}

/// A request head with exactly `fields` header fields, `Host` and
/// `Connection` included; with `one_name` the others all share a name (a
/// field count, unlike a count of distinct names, sees them all).
fn fields(fields: usize, one_name: bool) -> Vec<u8> {
    let extra: Vec<String> = (0..fields.saturating_sub(2))
        .map(|i| {
            if one_name {
                format!("X-Field: {i}")
            } else {
                format!("X-Field-{i}: {i}")
            }
        })
        .collect();
    raw_http::get("/health", &extra)
}

fn http_cases() -> Vec<HttpCase> {
    let too_large = golden::error(413, "payload_too_large", golden::TOO_LARGE);
    let bad_json = || Want::Json(golden::bad_request(golden::BAD_JSON));
    let over = golden::padded_json(MIB + 1);
    let order = |body: &[u8]| raw_http::post("/v1/orders", JSON, body);
    let echo = |body: &[u8]| raw_http::post("/v1/echo", JSON, body);
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let health_ok = || Want::Json(golden::ok(200, json!({"status": "ok"})));
    let mut cases = vec![
        case(
            "echo body of 1 MiB + 1 by Content-Length → 413",
            echo(&over),
            Want::Json(too_large.clone()),
        ),
        case(
            "echo body of 1 MiB + 1 chunked with no length → 413",
            raw_http::post_chunked("/v1/echo", JSON, &over, 64 * 1024),
            Want::Json(too_large.clone()),
        ),
        case(
            "order body of 1 MiB + 1 chunked with no length → 413",
            raw_http::post_chunked("/v1/orders", JSON, &over, 64 * 1024),
            Want::Json(too_large),
        ),
        case("malformed JSON echo → 400", echo(br#"{"a":}"#), bad_json()),
        case(
            "truncated JSON order → 400",
            order(br#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":"#),
            bad_json(),
        ),
        case(
            "echo nested 10,000 levels deep → 400",
            echo(nested(10_000).as_bytes()),
            bad_json(),
        ),
        case(
            "order with a field nested 10,000 levels deep → 400",
            order(
                format!(
                    r#"{{"user_id":1,"items":[{{"sku":"SKU-00001","quantity":1}}],"x":{}}}"#,
                    nested(9_999)
                )
                .as_bytes(),
            ),
            bad_json(),
        ),
        case(
            "echo with invalid UTF-8 in a string → 400",
            echo(b"{\"s\":\"\xff\xfe\"}"),
            bad_json(),
        ),
        case(
            "order with invalid UTF-8 in a sku → 400",
            order(b"{\"user_id\":1,\"items\":[{\"sku\":\"SKU-0000\xc3\x28\",\"quantity\":1}]}"),
            bad_json(),
        ),
        case(
            "order with user_id 18446744073709551616 → 400 not an integer",
            order(
                br#"{"user_id":18446744073709551616,"items":[{"sku":"SKU-00001","quantity":1}]}"#,
            ),
            Want::Json(golden::bad_request("field user_id must be an integer")),
        ),
        case(
            "echo 123456789012345678901234567890 → 200, equal by value",
            echo(br#"{"n":123456789012345678901234567890}"#),
            Want::Number(123_456_789_012_345_678_901_234_567_890.0),
        ),
        case("echo 1e400 → 400", echo(br#"{"n":1e400}"#), bad_json()),
        case(
            "echo with Content-Type text/plain → 415",
            raw_http::post("/v1/echo", Some("text/plain"), b"{}"),
            Want::Json(golden::error(
                415,
                "unsupported_media_type",
                golden::NOT_JSON,
            )),
        ),
        case(
            "order with no Content-Type → 415",
            raw_http::post(
                "/v1/orders",
                None,
                br#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1}]}"#,
            ),
            Want::Json(golden::error(
                415,
                "unsupported_media_type",
                golden::NOT_JSON,
            )),
        ),
    ];
    for id in [
        "-1",
        "0",
        "1e3",
        "%00",
        "%2e%2e",
        "..",
        "99999999999999999999",
    ] {
        cases.push(case(
            format!("GET /v1/users/{id} → 400 invalid id"),
            raw_http::get(&format!("/v1/users/{id}"), &[]),
            Want::Json(golden::bad_request(golden::BAD_ID)),
        ));
    }
    for path in ["/v1/users/../", "/v1/users/../1"] {
        cases.push(case(
            format!("GET {path} → 404 no such route"),
            raw_http::get(path, &[]),
            Want::Json(golden::error(404, "not_found", "no such route")),
        ));
    }
    cases.extend([
        case("100 header fields → 200", fields(100, false), health_ok()),
        case(
            "101 header fields → 431",
            fields(101, false),
            Want::Status(431),
        ),
        case(
            "101 header fields, 99 of them X-Field → 431",
            fields(101, true),
            Want::Status(431),
        ),
        case(
            "request head of 15 KiB → 200",
            head_of(15 * 1024),
            health_ok(),
        ),
        case(
            "request head of 17 KiB → 431",
            head_of(17 * 1024),
            Want::Status(431),
        ),
    ]);
    cases
}

/// Problems with `outcome` against `want`.
fn judge(want: &Want, outcome: &RawOutcome) -> Vec<String> {
    let Some(response) = outcome.response() else {
        return vec![format!("expected {}, got {outcome}", want.describe())];
    };
    let problems = match want {
        Want::Json(expect) => super::check(expect, &response.outcome()),
        Want::Status(status) if *status == response.status => vec![],
        Want::Status(_) => vec!["status differs".into()],
        Want::Number(n) => {
            let value = serde_json::from_slice::<Value>(&response.body).ok();
            let got = value.as_ref().and_then(|v| v["n"].as_f64());
            let content_type = response.header("content-type");
            if response.status == 200 && content_type == Some("application/json") && got == Some(*n)
            {
                vec![]
            } else {
                vec![format!(
                    "n read back as {}",
                    got.map_or("nothing".into(), |g| format!("{g:e}"))
                )]
            }
        }
    };
    if problems.is_empty() {
        return problems;
    }
    let mut lines = vec![format!("expected {}, got {outcome}", want.describe())];
    lines.extend(problems.into_iter().filter(|p| p != "(expected != actual)"));
    lines
}

async fn http(subject: &Subject) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut server_errors = Vec::new();
    for case in http_cases() {
        let outcome = raw_http::exchange(subject.http, case.request, EXCHANGE_TIMEOUT).await;
        if let Some(status @ 500..) = outcome.status() {
            server_errors.push(format!("{}: {status}", case.name));
        }
        checks.push(Check::new(&case.name, judge(&case.want, &outcome)).with_observed(&outcome));
    }
    let (slow, served) = slowloris(subject).await;
    checks.push(slow);
    checks.push(served);
    checks.push(Check::new(
        "http: no hostile request got a 5xx",
        server_errors,
    ));
    let health = raw_http::exchange(
        subject.http,
        raw_http::get("/health", &[]),
        EXCHANGE_TIMEOUT,
    )
    .await;
    checks.push(
        Check::new(
            "http: GET /health still 200 after the hostile requests",
            judge(
                &Want::Json(golden::ok(200, json!({"status": "ok"}))),
                &health,
            ),
        )
        .with_observed(&health),
    );
    checks
}

/// A head that the slow client never finishes (it sends 20 bytes in 4 s).
const SLOW_HEAD: &[u8] =
    b"GET /health HTTP/1.1\r\nHost: lab.test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

/// One client sends its head a byte every 200 ms while another asks for
/// /health on fresh connections every 100 ms.
async fn slowloris(subject: &Subject) -> (Check, Check) {
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let slow = async {
        let outcome =
            raw_http::send_slowly(subject.http, SLOW_HEAD, SLOW_INTERVAL, SLOW_CLOSE.1).await;
        let _ = done_tx.send(());
        outcome
    };
    let others = async {
        let mut answers = Vec::new();
        loop {
            let outcome = raw_http::exchange(
                subject.http,
                raw_http::get("/health", &[]),
                Duration::from_secs(2),
            )
            .await;
            answers.push(outcome);
            tokio::select! {
                _ = &mut done_rx => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        answers
    };
    let (slow, answers) = tokio::join!(slow, others);

    let name = format!(
        "http: a head sent a byte every {} ms is closed with no response after --header-read-timeout ({HEADER_READ_TIMEOUT}: between {} and {} s)",
        SLOW_INTERVAL.as_millis(),
        SLOW_CLOSE.0.as_secs_f64(),
        SLOW_CLOSE.1.as_secs_f64()
    );
    let mut problems = Vec::new();
    let mut note = None;
    match &slow {
        SlowOutcome::Closed {
            after,
            sent,
            answer,
        } => {
            if !answer.is_empty() {
                let text = String::from_utf8_lossy(answer);
                problems.push(format!(
                    "expected a close with no response, got {} bytes first: {:?}",
                    answer.len(),
                    crate::wire::client::truncate(text.lines().next().unwrap_or_default(), 120)
                ));
            }
            if *after < SLOW_CLOSE.0 || *after > SLOW_CLOSE.1 {
                problems.push(format!(
                    "expected the close between {:.1} and {:.1} s, got it after {:.2} s ({sent} bytes sent)",
                    SLOW_CLOSE.0.as_secs_f64(),
                    SLOW_CLOSE.1.as_secs_f64(),
                    after.as_secs_f64()
                ));
            }
            note = Some(format!(
                "closed after {:.2} s, {sent} bytes sent",
                after.as_secs_f64()
            ));
        }
        SlowOutcome::StillOpen { after, sent } => problems.push(format!(
            "expected the close between {:.1} and {:.1} s, got a connection still open after {:.2} s ({sent} bytes sent, no response)",
            SLOW_CLOSE.0.as_secs_f64(),
            SLOW_CLOSE.1.as_secs_f64(),
            after.as_secs_f64()
        )),
        SlowOutcome::Failed(err) => problems.push(format!("could not connect: {err}")),
    }
    if !problems.is_empty() && subject.flags_refused.is_some() {
        problems
            .push("(the service refused --header-read-timeout and runs with its default)".into());
    }
    let slow_check = Check::new(&name, problems).with_note(note);

    let name = format!(
        "http: other clients get GET /health within {} ms meanwhile",
        SERVED_WITHIN.as_millis()
    );
    let served = served_meanwhile(&name, &answers, |o| {
        let mut problems = judge(&Want::Json(golden::ok(200, json!({"status": "ok"}))), o);
        match o {
            RawOutcome::Response { after, .. } if *after > SERVED_WITHIN => {
                problems.push(format!(
                    "answered after {:.0} ms, expected within {} ms",
                    ms(*after),
                    SERVED_WITHIN.as_millis()
                ));
            }
            _ => {}
        }
        (problems, latency(o))
    });
    (slow_check, served)
}

fn latency(outcome: &RawOutcome) -> Option<Duration> {
    match outcome {
        RawOutcome::Response { after, .. } => Some(*after),
        _ => None,
    }
}

/// One check over the answers a well-behaved client got while a hostile one
/// was at work: each must pass `judge`; the note gives their count and the slowest.
fn served_meanwhile<T>(
    name: &str,
    answers: &[T],
    judge: impl Fn(&T) -> (Vec<String>, Option<Duration>),
) -> Check {
    let mut problems = Vec::new();
    let mut slowest = Duration::ZERO;
    for (i, answer) in answers.iter().enumerate() {
        let (found, took) = judge(answer);
        slowest = slowest.max(took.unwrap_or_default());
        for p in found {
            problems.push(format!("request {} of {}: {p}", i + 1, answers.len()));
        }
    }
    if answers.is_empty() {
        problems.push("no request completed".into());
    }
    Check::new(name, problems).with_note(Some(format!(
        "{} requests, slowest {:.0} ms",
        answers.len(),
        ms(slowest)
    )))
}

// ---------------------------------------------------------------- gRPC

/// One unary call with `message` as its exact bytes, on a connection of its own.
/// Returns the reply's length: the load engine's codec sends the bytes as
/// given and counts the reply without decoding it.
async fn raw_unary(addr: SocketAddr, path: &str, message: Bytes) -> Result<usize, String> {
    let call = async {
        let client = GrpcClient::connect(addr)
            .await
            .map_err(|e| format!("connecting: {e:#}"))?;
        let mut grpc =
            tonic::client::Grpc::new(client.channel()).max_decoding_message_size(8 * MIB);
        grpc.ready()
            .await
            .map_err(|e| format!("connection not ready: {e}"))?;
        let path = http::uri::PathAndQuery::try_from(path).map_err(|e| e.to_string())?;
        grpc.unary(tonic::Request::new(message), path, RawCodec)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| {
                format!(
                    "{} {:?}",
                    code_name(status.code()),
                    crate::wire::client::truncate(status.message(), 200)
                )
            })
    };
    match tokio::time::timeout(EXCHANGE_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {EXCHANGE_TIMEOUT:?}")),
    }
}

struct GrpcCase {
    name: String,
    path: &'static str,
    message: Bytes,
    want: tonic::Code,
}

fn grpc_cases() -> Vec<GrpcCase> {
    let big = v1::EchoRequest {
        payload: vec![7; 4 * MIB + 1],
    };
    vec![
        GrpcCase {
            name: "GetUser with a message that is not protobuf (a cut-off varint) → INTERNAL"
                .into(),
            path: "/lab.v1.UserService/GetUser",
            message: Bytes::from_static(&[0x08, 0x80, 0x80]),
            want: tonic::Code::Internal,
        },
        GrpcCase {
            name: "Echo of a 4 MiB + 1 payload → RESOURCE_EXHAUSTED".into(),
            path: "/lab.v1.EchoService/Echo",
            message: Bytes::from(big.encode_to_vec()),
            want: tonic::Code::ResourceExhausted,
        },
        GrpcCase {
            name: "unknown method lab.v1.UserService/DeleteUser → UNIMPLEMENTED".into(),
            path: "/lab.v1.UserService/DeleteUser",
            message: Bytes::new(),
            want: tonic::Code::Unimplemented,
        },
        GrpcCase {
            name: "unknown service lab.v1.NoSuchService/Get → UNIMPLEMENTED".into(),
            path: "/lab.v1.NoSuchService/Get",
            message: Bytes::new(),
            want: tonic::Code::Unimplemented,
        },
    ]
}

async fn grpc(subject: &Subject) -> Vec<Check> {
    let mut checks = Vec::new();
    for case in grpc_cases() {
        let name = format!("grpc: {}", case.name);
        let result = raw_unary(subject.grpc, case.path, case.message).await;
        let want = code_name(case.want);
        let got = match &result {
            Err(got) => got.clone(),
            Ok(reply) => format!("OK with {reply} bytes"),
        };
        let problems = if got.starts_with(&format!("{want} ")) {
            vec![]
        } else {
            vec![format!("expected {want}, got {got}")]
        };
        checks.push(Check::new(&name, problems).with_observed(got));
    }
    checks.extend(never_reading_client(subject).await);
    checks
}

/// `message` in gRPC's length-prefixed framing, uncompressed.
fn grpc_frame(message: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len()).expect("messages here are small"));
    frame.extend_from_slice(message);
    Bytes::from(frame)
}

fn grpc_post(addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a valid request")
}

const FLOOD_STREAM_PRODUCTS: usize = 64;
const FLOOD_ECHO_STREAMS: usize = 16;
const FLOOD_ECHO_MESSAGE: usize = 64 * 1024;

/// Streams that a client opened on one connection and never reads.
struct Flood {
    /// Held, never polled: the responses the client does not read.
    _responses: Vec<h2::client::ResponseFuture>,
    _send: h2::client::SendRequest<Bytes>,
    tasks: tokio::task::JoinSet<()>,
    /// Request bytes the echo streams got out (flow control let through).
    sent: Arc<AtomicU64>,
}

impl Flood {
    async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        // Unread DATA frames are the point here: lift h2's guard against
        // buffering many small ones, which would otherwise end the connection.
        let (mut send, connection) = h2::client::Builder::new()
            .data_frame_budget(usize::MAX)
            .handshake(tcp)
            .await?;
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            let _ = connection.await;
        });
        let mut responses = Vec::new();
        let page = v1::ListProductsRequest {
            limit: Some(1000),
            offset: Some(0),
        };
        for _ in 0..FLOOD_STREAM_PRODUCTS {
            send = send.ready().await?;
            let (response, mut body) = send.send_request(
                grpc_post(addr, "/lab.v1.CatalogService/StreamProducts"),
                false,
            )?;
            body.send_data(grpc_frame(&page.encode_to_vec()), true)?;
            responses.push(response);
        }
        let sent = Arc::new(AtomicU64::new(0));
        let ping = grpc_frame(
            &v1::EchoRequest {
                payload: vec![b'x'; FLOOD_ECHO_MESSAGE],
            }
            .encode_to_vec(),
        );
        for _ in 0..FLOOD_ECHO_STREAMS {
            send = send.ready().await?;
            let (response, body) =
                send.send_request(grpc_post(addr, "/lab.v1.EchoService/EchoStream"), false)?;
            responses.push(response);
            tasks.spawn(pump(body, ping.clone(), Arc::clone(&sent)));
        }
        Ok(Self {
            _responses: responses,
            _send: send,
            tasks,
            sent,
        })
    }
}

/// Sends `message` over and over, as fast as the server's flow control allows.
async fn pump(mut body: h2::SendStream<Bytes>, message: Bytes, sent: Arc<AtomicU64>) {
    loop {
        let mut rest = message.clone();
        while !rest.is_empty() {
            body.reserve_capacity(rest.len());
            let granted = match std::future::poll_fn(|cx| body.poll_capacity(cx)).await {
                Some(Ok(n)) => n,
                _ => return,
            };
            let piece = rest.split_to(granted.min(rest.len()));
            let len = piece.len() as u64;
            if body.send_data(piece, false).is_err() {
                return;
            }
            sent.fetch_add(len, Ordering::Relaxed);
        }
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    crate::probe::Process::new(pid)
        .rss_and_peak_kib()
        .ok()
        .map(|(rss, _)| rss)
}

/// A client opens many streams on one connection and never reads; meanwhile
/// GetUser on another connection, and the service's memory, are watched.
async fn never_reading_client(subject: &Subject) -> Vec<Check> {
    let what = format!(
        "{FLOOD_STREAM_PRODUCTS} StreamProducts (limit 1000) and {FLOOD_ECHO_STREAMS} EchoStream ({} KiB messages) on one connection that never reads",
        FLOOD_ECHO_MESSAGE / 1024
    );
    let served_name = format!(
        "grpc: {what}: GetUser on another connection answers within {} ms",
        SERVED_WITHIN.as_millis()
    );
    let rss_name = format!(
        "grpc: {what}: service RSS grows less than {} MiB",
        FLOOD_RSS_LIMIT_KIB / 1024
    );
    let after_name = "grpc: GetUser still answers after that connection is dropped";
    let other = match GrpcClient::connect(subject.grpc).await {
        Ok(client) => client,
        Err(err) => {
            let why = vec![format!("could not connect a second client: {err:#}")];
            return vec![
                Check::fail(&served_name, why.clone()),
                Check::fail(&rss_name, why.clone()),
                Check::fail(after_name, why),
            ];
        }
    };
    let baseline = subject.pid.and_then(rss_kib);
    let flood = match Flood::open(subject.grpc).await {
        Ok(flood) => flood,
        Err(err) => {
            return vec![
                Check::fail(&served_name, vec![format!("opening the streams: {err:#}")]),
                Check::skip(&rss_name, "the streams could not be opened"),
                Check::skip(after_name, "the streams could not be opened"),
            ];
        }
    };
    let watched = watch_flood(flood, &other, subject.pid, baseline).await;
    let served = served_during_flood(&served_name, &watched);
    let rss = rss_growth(&rss_name, subject.pid, baseline, watched.peak);
    // A fresh connection: the service must have come through.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = get_user_on_a_fresh_connection(subject.grpc).await;
    vec![served, rss, Check::new(after_name, after)]
}

/// What was seen while the never-reading client was in place.
struct FloodWatch {
    /// Each GetUser on the other connection (`Err`: no answer within 2 s) and
    /// how long it took.
    answers: Vec<(Result<Outcome, tokio::time::error::Elapsed>, Duration)>,
    /// Request bytes the echo streams got out.
    sent: u64,
    /// The service's peak RSS in KiB, from the baseline on.
    peak: Option<u64>,
}

fn get_user_1() -> GrpcRequest {
    GrpcRequest::GetUser(v1::GetUserRequest { id: 1 })
}

/// Leaves `flood` in place for [`FLOOD_FOR`], sending GetUser on `other`
/// every 100 ms and reading the RSS of `pid`; then drops the flood.
async fn watch_flood(
    mut flood: Flood,
    other: &GrpcClient,
    pid: Option<u32>,
    baseline: Option<u64>,
) -> FloodWatch {
    let get_user = get_user_1();
    let started = Instant::now();
    let mut answers = Vec::new();
    let mut peak = baseline;
    while started.elapsed() < FLOOD_FOR {
        let t = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(2), other.send(&get_user)).await;
        answers.push((outcome, t.elapsed()));
        if let Some(pid) = pid {
            peak = peak.max(rss_kib(pid));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = flood.sent.load(Ordering::Relaxed);
    if let Some(pid) = pid {
        peak = peak.max(rss_kib(pid));
    }
    flood.tasks.abort_all();
    drop(flood);
    FloodWatch {
        answers,
        sent,
        peak,
    }
}

/// Each GetUser during the flood answered user 1 within [`SERVED_WITHIN`].
fn served_during_flood(name: &str, watched: &FloodWatch) -> Check {
    let expected_user = vec![super::model::user(1)];
    let mut served = served_meanwhile(name, &watched.answers, |(outcome, took)| {
        let mut problems = Vec::new();
        match outcome {
            Err(_) => problems.push("no answer within 2 s".to_string()),
            Ok(Outcome::Grpc {
                code: tonic::Code::Ok,
                messages,
                ..
            }) if *messages == expected_user => {}
            Ok(other) => problems.push(format!("expected OK user 1, got {other}")),
        }
        if *took > SERVED_WITHIN {
            problems.push(format!(
                "answered after {:.0} ms, expected within {} ms",
                ms(*took),
                SERVED_WITHIN.as_millis()
            ));
        }
        (problems, Some(*took))
    });
    served.note = served.note.map(|n| {
        format!(
            "{n}; the echo streams got {:.1} MiB out",
            watched.sent as f64 / MIB as f64
        )
    });
    served
}

/// The service's RSS grew less than [`FLOOD_RSS_LIMIT_KIB`] from `baseline` to `peak`.
fn rss_growth(name: &str, pid: Option<u32>, baseline: Option<u64>, peak: Option<u64>) -> Check {
    match (pid, baseline, peak) {
        (None, ..) => Check::skip(
            name,
            "the harness did not start this process, so its memory cannot be read",
        ),
        (Some(_), Some(before), Some(peak)) => {
            let grew = peak.saturating_sub(before);
            let problems = if grew < FLOOD_RSS_LIMIT_KIB {
                vec![]
            } else {
                vec![format!(
                    "expected RSS growth under {} MiB, got {:.1} MiB ({:.1} → {:.1} MiB)",
                    FLOOD_RSS_LIMIT_KIB / 1024,
                    grew as f64 / 1024.0,
                    before as f64 / 1024.0,
                    peak as f64 / 1024.0
                )]
            };
            Check::new(name, problems).with_note(Some(format!(
                "RSS {:.1} → peak {:.1} MiB",
                before as f64 / 1024.0,
                peak as f64 / 1024.0
            )))
        }
        (Some(pid), ..) => Check::fail(name, vec![format!("could not read /proc/{pid}/status")]),
    }
}

/// GetUser 1 on a new connection: the problems, none when it answers user 1.
async fn get_user_on_a_fresh_connection(addr: SocketAddr) -> Vec<String> {
    let expected_user = vec![super::model::user(1)];
    match GrpcClient::connect(addr).await {
        Ok(client) => match client.send(&get_user_1()).await {
            Outcome::Grpc {
                code: tonic::Code::Ok,
                messages,
                ..
            } if messages == expected_user => vec![],
            other => vec![format!("expected OK user 1, got {other}")],
        },
        Err(err) => vec![format!("expected OK user 1, got no connection: {err:#}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_fields(request: &[u8]) -> usize {
        let text = String::from_utf8_lossy(request);
        let head = text.split("\r\n\r\n").next().unwrap();
        head.lines().skip(1).filter(|l| l.contains(':')).count()
    }

    #[test]
    fn header_cases_have_the_sizes_they_claim() {
        assert_eq!(head_fields(&fields(100, false)), 100);
        assert_eq!(head_fields(&fields(101, false)), 101);
        assert_eq!(head_fields(&fields(101, true)), 101);
        assert_eq!(head_of(15 * 1024).len(), 15 * 1024);
        assert_eq!(head_of(17 * 1024).len(), 17 * 1024);
        assert!(
            fields(101, false).len() < 4096,
            "a field count case must not hit the size limit"
        );
    }

    #[test]
    fn oversized_bodies_are_one_byte_over() {
        let cases = http_cases();
        let chunked = cases
            .iter()
            .find(|c| c.name.contains("echo body of 1 MiB + 1 chunked"))
            .unwrap();
        let text = String::from_utf8_lossy(&chunked.request);
        assert!(!text.to_ascii_lowercase().contains("content-length"));
        let by_length = cases
            .iter()
            .find(|c| c.name.contains("Content-Length"))
            .unwrap();
        assert!(
            String::from_utf8_lossy(&by_length.request)
                .contains(&format!("Content-Length: {}\r\n", MIB + 1))
        );
    }

    #[test]
    fn nested_order_is_ten_thousand_levels() {
        let cases = http_cases();
        let order = cases
            .iter()
            .find(|c| c.name.contains("order with a field nested"))
            .unwrap();
        let body = order.request.split(|&b| b == b'\n').next_back().unwrap();
        let mut depth: usize = 0;
        let mut max = 0;
        for &b in body {
            match b {
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' | b'}' => depth -= 1,
                _ => {}
            }
        }
        assert_eq!(max, 10_000);
    }

    #[test]
    fn the_big_number_is_what_serde_reads() {
        let v: Value = serde_json::from_str(r#"{"n":123456789012345678901234567890}"#).unwrap();
        assert_eq!(
            v["n"].as_f64(),
            Some(123_456_789_012_345_678_901_234_567_890.0)
        );
        assert!(serde_json::from_str::<Value>(r#"{"n":1e400}"#).is_err());
    }

    #[test]
    fn judging_reports_expected_and_got() {
        let outcome = RawOutcome::Response {
            response: raw_http::RawResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: br#"{"s":"\ufffd"}"#.to_vec(),
            },
            after: Duration::from_millis(3),
        };
        let want = Want::Json(golden::bad_request(golden::BAD_JSON));
        let problems = judge(&want, &outcome);
        assert!(
            problems[0].starts_with("expected HTTP 400 {\"error\""),
            "{problems:?}"
        );
        assert!(problems[0].contains("got HTTP 200"), "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("$.status: 400 != 200")),
            "{problems:?}"
        );
        assert!(judge(&Want::Status(200), &outcome).is_empty());
        assert_eq!(
            judge(&Want::Status(431), &RawOutcome::Failed("refused".into())),
            vec!["expected HTTP 431 (status only), got could not connect: refused"]
        );
    }

    #[test]
    fn grpc_frames_are_length_prefixed() {
        assert_eq!(&grpc_frame(b"ab")[..], &[0, 0, 0, 0, 2, b'a', b'b']);
        // The cut-off varint really is not a GetUserRequest.
        let case = &grpc_cases()[0];
        assert!(v1::GetUserRequest::decode(case.message.clone()).is_err());
        assert!(grpc_cases()[1].message.len() > 4 * MIB);
    }
}
