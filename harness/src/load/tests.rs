//! Engine tests against in-process servers that misbehave on purpose.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lab_proto::v1;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::*;
use crate::scenario::{Arrival, Call, Expect, GrpcKind, Load, Part, Slo, Stage, Stream, Template};

/// A one-thread runtime for a test server, and a listener on a free port.
fn background_listener() -> (tokio::runtime::Runtime, TcpListener, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    (runtime, listener, addr)
}

/// A REST server on a background runtime. Paths: `/ok` answers 200 (or waits
/// out a pause), `/fail` 500, `/slow` answers after 500 ms.
struct TestServer {
    addr: SocketAddr,
    pause: Arc<Mutex<Option<(Instant, Instant)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl TestServer {
    fn start() -> Self {
        let (runtime, listener, addr) = background_listener();
        let pause: Arc<Mutex<Option<(Instant, Instant)>>> = Arc::default();
        let p = pause.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                stream.set_nodelay(true).unwrap();
                let p = p.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<Incoming>| {
                        let p = p.clone();
                        async move {
                            let status = match req.uri().path() {
                                "/ok" => {
                                    let window = *p.lock().unwrap();
                                    if let Some((from, to)) = window {
                                        let now = Instant::now();
                                        if now >= from && now < to {
                                            tokio::time::sleep(to - now).await;
                                        }
                                    }
                                    200
                                }
                                "/slow" => {
                                    tokio::time::sleep(Duration::from_millis(500)).await;
                                    200
                                }
                                "/fail" => 500,
                                _ => 404,
                            };
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"{}")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            pause,
            _runtime: runtime,
        }
    }
}

/// Accepts `n` connections, then stops listening; resets each connection
/// (RST, no response) as soon as a request arrives.
fn resetting_server(n: usize) -> (SocketAddr, tokio::runtime::Runtime) {
    let (runtime, listener, addr) = background_listener();
    runtime.spawn(async move {
        for _ in 0..n {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.set_zero_linger();
                drop(stream);
            });
        }
        drop(listener);
    });
    (addr, runtime)
}

struct Users;

#[tonic::async_trait]
impl v1::user_service_server::UserService for Users {
    async fn get_user(
        &self,
        request: tonic::Request<v1::GetUserRequest>,
    ) -> Result<tonic::Response<v1::User>, tonic::Status> {
        let id = request.into_inner().id;
        if id > 5 {
            return Err(tonic::Status::not_found("no such user"));
        }
        Ok(tonic::Response::new(v1::User {
            id,
            ..Default::default()
        }))
    }
}

fn grpc_server() -> (SocketAddr, tokio::runtime::Runtime) {
    let (runtime, listener, addr) = background_listener();
    runtime.spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tonic::transport::Server::builder()
            .add_service(v1::user_service_server::UserServiceServer::new(Users))
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    (addr, runtime)
}

fn lit(text: &str) -> Template {
    Template {
        parts: vec![Part::Lit(text.to_owned())],
    }
}

fn rest(path: &str, protocol: Protocol) -> Scenario {
    Scenario {
        path: "test.toml".into(),
        name: format!("test{path}"),
        description: String::new(),
        protocol,
        call: Call::Rest {
            method: http::Method::GET,
            path: lit(path),
        },
        body: None,
        expect: Expect::Http(200),
        params: Vec::new(),
        load: Load {
            model: Model::Open,
            stages: vec![Stage {
                rate: 200,
                duration: Duration::from_secs(1),
                ramp: false,
            }],
            arrival: Arrival::Uniform,
            concurrency: 8,
            connections: 8,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            // A busy machine may stall a request this long.
            timeout: Duration::from_secs(5),
            seed: 1,
        },
        slo: Slo::default(),
        stream: None,
        drain: None,
    }
}

fn get_user_grpc(id: i64) -> Scenario {
    let pool = prost_reflect::DescriptorPool::decode(lab_proto::FILE_DESCRIPTOR_SET).unwrap();
    let method = pool
        .get_service_by_name("lab.v1.UserService")
        .unwrap()
        .methods()
        .find(|m| m.name() == "GetUser")
        .unwrap();
    let mut s = rest("/", Protocol::Grpc);
    s.call = Call::Grpc {
        path: "/lab.v1.UserService/GetUser".into(),
        kind: GrpcKind::Unary,
        input: method.input(),
    };
    s.body = Some(lit(&format!("{{\"id\": {id}}}")));
    s.expect = Expect::Grpc(tonic::Code::Ok);
    s.load.connections = 2;
    s
}

fn options() -> Options {
    Options {
        workers: 1,
        cpus: None,
        progress: false,
        label: "test".into(),
        on_window: None,
        abort: None,
        hooks: Default::default(),
    }
}

/// Every scheduled request was sent or counted as dropped, and requests were
/// dropped only after waiting for the in-flight cap: a machine that stalls
/// near the end of the window leaves some unsent, a healthy one none.
fn sent_or_dropped(m: &Measured, scheduled: u64) {
    let t = &m.totals;
    assert_eq!(
        t.requests + t.dropped,
        scheduled,
        "requests {} + dropped {}",
        t.requests,
        t.dropped
    );
    assert!(
        t.dropped == 0 || t.cap_waits > 0,
        "{} dropped without waiting for the cap",
        t.dropped
    );
}

#[test]
fn an_abort_stops_open_and_closed_runs_within_a_fraction_of_a_second() {
    let server = TestServer::start();
    for model in [Model::Open, Model::Closed] {
        let mut s = rest("/ok", Protocol::Http1);
        s.load.model = model;
        s.load.stages[0].duration = Duration::from_secs(30);
        s.load.duration = Duration::from_secs(30);
        let abort = Abort::default();
        let options = Options {
            abort: Some(abort.clone()),
            ..options()
        };
        let trigger = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            abort.trigger("the service died");
            abort.trigger("a later reason is ignored");
        });
        let started = Instant::now();
        let err = run(&s, server.addr, &options).unwrap_err().to_string();
        trigger.join().unwrap();
        // Far short of the 30 s run, with room for a busy machine.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{model:?}: took {:?}",
            started.elapsed()
        );
        assert_eq!(err, "aborted: the service died", "{model:?}");
    }
}

#[test]
fn an_abort_before_the_start_stops_the_run_at_once() {
    let server = TestServer::start();
    let abort = Abort::default();
    abort.trigger("interrupted");
    let options = Options {
        abort: Some(abort),
        ..options()
    };
    let mut s = rest("/ok", Protocol::Http2);
    s.load.stages[0].duration = Duration::from_secs(30);
    s.load.duration = Duration::from_secs(30);
    let started = Instant::now();
    let err = run(&s, server.addr, &options).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.to_string(), "aborted: interrupted");
}

#[test]
fn a_healthy_server_gives_no_errors_and_the_offered_rate() {
    let server = TestServer::start();
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let m = run(&rest("/ok", protocol), server.addr, &options()).unwrap();
        sent_or_dropped(&m, 200);
        assert_eq!(m.totals.ok, m.totals.requests, "{protocol:?}");
        assert!(m.totals.errors.is_empty(), "{:?}", m.totals.errors);
        assert_eq!(m.offered_rps, Some(200.0));
        assert_eq!(m.timeline.len(), 1);
        assert_eq!(m.timeline[0].requests, m.totals.requests);
    }
}

/// A mark runs once, at its time on the run's clock, and every request is
/// seen as it ends.
#[test]
fn hooks_see_every_request_and_marks_run_once_on_time() {
    let server = TestServer::start();
    let fired: Arc<Mutex<Vec<u64>>> = Arc::default();
    let seen: Arc<Mutex<Vec<(u64, bool, bool)>>> = Arc::default();
    let (f, s) = (fired.clone(), seen.clone());
    let options = Options {
        hooks: Hooks {
            marks: vec![Mark {
                at: Duration::from_millis(300),
                action: Arc::new(move |now| f.lock().unwrap().push(now)),
            }],
            on_request: Some(Arc::new(move |e: &Ended| {
                let ok = matches!(e.outcome, Outcome::Ok);
                s.lock().unwrap().push((e.sent_ns, ok, e.reused));
            })),
        },
        ..options()
    };
    let m = run(&rest("/ok", Protocol::Http1), server.addr, &options).unwrap();
    let fired = fired.lock().unwrap().clone();
    assert_eq!(fired.len(), 1, "{fired:?}");
    // On time, give or take a busy machine's scheduling.
    assert!((300_000_000..800_000_000).contains(&fired[0]), "{fired:?}");
    let seen = seen.lock().unwrap().clone();
    // The hook also sees the warm-up's requests, which the totals leave out.
    assert!(
        seen.len() as u64 >= m.totals.requests,
        "{} seen",
        seen.len()
    );
    assert!(seen.iter().all(|&(_, ok, _)| ok));
    assert!(seen.iter().any(|&(sent, ..)| sent < fired[0]));
    assert!(seen.iter().any(|&(sent, ..)| sent > fired[0]));
    // Every request went out on a connection opened before it (the
    // worker's, opened before the clock started, and kept alive).
    assert!(seen.iter().all(|&(.., reused)| reused));
}

#[test]
fn open_loop_workers_ask_for_real_time_priority_and_say_what_they_got() {
    let server = TestServer::start();
    let m = run(&rest("/ok", Protocol::Http1), server.addr, &options()).unwrap();
    let realtime = &m.scheduling.realtime;
    // Root gets it; elsewhere the run goes on at normal priority.
    assert!(
        realtime == "SCHED_FIFO 1" || realtime.starts_with("unavailable: E"),
        "{realtime}"
    );
    assert_eq!(m.scheduling.run_delay_us.len(), 1);
    assert_eq!(m.scheduling.timer_slack_ns, vec![Some(1)]);
    let mut closed = rest("/ok", Protocol::Http1);
    closed.load.model = Model::Closed;
    closed.load.duration = Duration::from_millis(200);
    let c = run(&closed, server.addr, &options()).unwrap();
    assert_eq!(c.scheduling.realtime, "not used: closed loop");
}

#[test]
fn a_late_generator_says_how_long_its_workers_waited_for_their_cpu() {
    let mut totals = Totals::default();
    for _ in 0..100 {
        totals.lag.record(5_000).unwrap();
    }
    let m = Measured {
        totals,
        timeline: Vec::new(),
        offered_rps: Some(100.0),
        scheduled: Some(100),
        duration: Duration::from_secs(1),
        workers: 2,
        concurrency: 64,
        connections: 64,
        loadgen_cpu_seconds: 0.1,
        loadgen_max_rss_kib: 0,
        scheduling: Scheduling {
            realtime: "unavailable: EPERM".into(),
            run_delay_us: vec![Some(1_200_000), Some(300_000)],
            steal_ms: Some(30),
            timer_slack_ns: vec![Some(1), Some(1)],
        },
    };
    let why = m.saturation().unwrap();
    assert!(why.starts_with("scheduler lag p99 500"), "{why}");
    assert!(
        why.ends_with(
            "(the workers waited 1500 ms for their CPU; the hypervisor took 30 ms of their CPU)"
        ),
        "{why}"
    );
}

/// A closed-loop run whose workers lost `run_delay_ms` waiting for their CPU
/// and `steal_ms` to the hypervisor, over 6 s.
fn closed_run(run_delay_ms: u64, steal_ms: u64) -> Measured {
    Measured {
        totals: Totals::default(),
        timeline: Vec::new(),
        offered_rps: None,
        scheduled: None,
        duration: Duration::from_secs(6),
        workers: 1,
        concurrency: 32,
        connections: 32,
        loadgen_cpu_seconds: 5.8,
        loadgen_max_rss_kib: 0,
        scheduling: Scheduling {
            realtime: "not used: closed loop".into(),
            run_delay_us: vec![Some(run_delay_ms * 1_000)],
            steal_ms: Some(steal_ms),
            timer_slack_ns: vec![Some(1)],
        },
    }
}

#[test]
fn a_starved_closed_loop_generator_spoils_its_run() {
    // What quiet runs lost here: up to 95 ms waiting and 160 ms stolen.
    assert_eq!(closed_run(95, 160).saturation(), None);
    assert_eq!(closed_run(0, 0).saturation(), None);
    // Just under and just over 10% of 6 s.
    assert_eq!(closed_run(500, 90).saturation(), None);
    let why = closed_run(500, 110).saturation().unwrap();
    assert_eq!(
        why,
        "the workers lost 610 ms of the 6.0 s window (> 10%): they waited 500 ms for their \
         CPU and the hypervisor took 110 ms of it"
    );
    // The spoiled run seen: 1.7 s waiting.
    assert!(closed_run(1_734, 50).saturation().is_some());
}

#[test]
fn unexpected_statuses_are_counted_by_code() {
    let server = TestServer::start();
    let m = run(&rest("/fail", Protocol::Http1), server.addr, &options()).unwrap();
    sent_or_dropped(&m, 200);
    assert_eq!(m.totals.ok, 0);
    assert_eq!(
        m.totals.errors.get("http_500"),
        Some(&m.totals.requests),
        "{:?}",
        m.totals.errors
    );
    let m = run(&rest("/nope", Protocol::Http2), server.addr, &options()).unwrap();
    sent_or_dropped(&m, 200);
    assert_eq!(
        m.totals.errors.get("http_404"),
        Some(&m.totals.requests),
        "{:?}",
        m.totals.errors
    );
    // Errors never enter the latency histograms.
    assert_eq!(m.totals.corrected.len(), 0);
}

#[test]
fn slow_answers_are_timeouts() {
    let server = TestServer::start();
    let mut s = rest("/slow", Protocol::Http1);
    s.load.stages[0].rate = 20;
    // `/slow` answers after 500 ms: always too late, however busy the machine.
    s.load.timeout = Duration::from_millis(200);
    let m = run(&s, server.addr, &options()).unwrap();
    assert_eq!(
        m.totals.errors.get("timeout"),
        Some(&20),
        "{:?}",
        m.totals.errors
    );
    assert_eq!(m.totals.ok, 0);
}

#[test]
fn resets_and_refused_connections_are_told_apart() {
    let (addr, _rt) = resetting_server(8);
    let mut s = rest("/ok", Protocol::Http1);
    s.load.stages[0].rate = 50;
    let m = run(&s, addr, &options()).unwrap();
    let reset = m.totals.errors.get("reset").copied().unwrap_or(0);
    let connect = m.totals.errors.get("connect").copied().unwrap_or(0);
    // A pre-opened connection is reset on its first request; after that the
    // listener is gone and every reconnection is refused.
    assert!((1..=8).contains(&reset), "{:?}", m.totals.errors);
    assert!(connect >= 42, "{:?}", m.totals.errors);
    assert_eq!(reset + connect, 50, "{:?}", m.totals.errors);
    assert_eq!(m.totals.requests, 50);
}

#[test]
fn grpc_status_codes_are_classified_by_name() {
    let (addr, _rt) = grpc_server();
    let m = run(&get_user_grpc(3), addr, &options()).unwrap();
    sent_or_dropped(&m, 200);
    assert_eq!(m.totals.ok, m.totals.requests, "{:?}", m.totals.errors);
    let m = run(&get_user_grpc(9), addr, &options()).unwrap();
    sent_or_dropped(&m, 200);
    assert_eq!(
        m.totals.errors.get("grpc_NOT_FOUND"),
        Some(&m.totals.requests),
        "{:?}",
        m.totals.errors
    );
    let mut s = get_user_grpc(9);
    s.expect = Expect::Grpc(tonic::Code::NotFound);
    let m = run(&s, addr, &options()).unwrap();
    sent_or_dropped(&m, 200);
    assert_eq!(m.totals.ok, m.totals.requests, "{:?}", m.totals.errors);
}

#[test]
fn a_server_that_is_not_there_fails_before_the_run() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = run(&rest("/ok", Protocol::Http1), addr, &options()).unwrap_err();
    assert!(format!("{err:#}").contains("connecting to"), "{err:#}");
}

/// Requests that took 500 ms or more.
fn slow(latency_us: &hdrhistogram::Histogram<u64>) -> u64 {
    latency_us.len() - latency_us.count_between(0, 499_999)
}

/// The coordinated-omission test: the server stops answering for 1 s in the
/// middle of the run.
#[test]
fn open_loop_latency_shows_a_server_pause_that_closed_loop_hides() {
    let server = TestServer::start();
    let pause = |start: Instant| {
        *server.pause.lock().unwrap() = Some((
            start + Duration::from_millis(1_500),
            start + Duration::from_millis(2_500),
        ));
    };

    // Open loop, 2000 requests/s for 4 s.
    let mut open = rest("/ok", Protocol::Http1);
    open.load.stages = vec![Stage {
        rate: 2_000,
        duration: Duration::from_secs(4),
        ramp: false,
    }];
    open.load.duration = Duration::from_secs(4);
    open.load.concurrency = 64;
    open.load.timeout = Duration::from_secs(3);
    pause(Instant::now());
    let o = run(&open, server.addr, &options()).unwrap();
    let sent_or_dropped = o.totals.requests + o.totals.dropped;
    assert!(
        (7_920..=8_080).contains(&sent_or_dropped),
        "requests {} + dropped {} should be 8000 within 1%",
        o.totals.requests,
        o.totals.dropped
    );
    assert!(o.totals.errors.is_empty(), "{:?}", o.totals.errors);
    let corrected = Summary::of(&o.totals.corrected);
    // About 2000 requests were due during the pause; the first waited ~1 s.
    assert!(
        corrected.max >= 900_000,
        "corrected max {} µs",
        corrected.max
    );
    assert!(
        corrected.p999 >= 800_000,
        "corrected p99.9 {} µs",
        corrected.p999
    );
    assert!(
        corrected.p90 >= 100_000,
        "corrected p90 {} µs",
        corrected.p90
    );
    // Measured from the actual send, the backlog looks fast: only the 64
    // requests caught in flight saw the pause, against the ~1000 due in its
    // first half. (A busy machine slows the service, so no fixed bound on
    // the fast ones: it would fail there.)
    let open_slow = slow(&o.totals.corrected);
    let uncorrected_slow = slow(&o.totals.uncorrected);
    assert!(
        open_slow >= 900 && uncorrected_slow * 4 <= open_slow,
        "{uncorrected_slow} requests took 500 ms or more from their send, \
         {open_slow} from their intended start"
    );
    // The generator waited for its in-flight cap, so the run is flagged.
    assert!(o.totals.cap_waits > 0, "cap waits {}", o.totals.cap_waits);
    assert!(o.saturation().is_some());
    // The timeline shows the stall: a second whose p99 is the pause, well
    // above the first second's. (Not completions per second: beside another
    // CPU-heavy job the generator and the server get the CPU in turns, and
    // every second completed 800-1,300 whether paused or not.)
    let first_p99 = o.timeline.first().and_then(|p| p.p99_us).unwrap_or(0);
    let worst_p99 = o
        .timeline
        .iter()
        .filter_map(|p| p.p99_us)
        .max()
        .unwrap_or(0);
    assert!(
        worst_p99 >= 900_000 && worst_p99 >= first_p99 + 300_000,
        "{:?}",
        o.timeline
    );

    // Closed loop, 4 connections, same pause: 4 requests see it, and the
    // thousands of fast requests around it hide it. A busy machine may stall
    // a few more.
    let mut closed = rest("/ok", Protocol::Http1);
    closed.load.model = Model::Closed;
    closed.load.concurrency = 4;
    closed.load.connections = 4;
    closed.load.duration = Duration::from_secs(4);
    closed.load.timeout = Duration::from_secs(3);
    pause(Instant::now());
    let c = run(&closed, server.addr, &options()).unwrap();
    let closed_latency = Summary::of(&c.totals.corrected);
    assert!(
        closed_latency.max >= 900_000,
        "closed max {} µs",
        closed_latency.max
    );
    let closed_slow = slow(&c.totals.corrected);
    assert!(
        closed_slow <= 3 * 4,
        "{closed_slow} closed-loop requests took 500 ms or more"
    );
    // The fast requests around the pause far outnumber those that saw it.
    assert!(
        c.totals.requests >= 25 * closed_slow.max(4),
        "closed requests {}",
        c.totals.requests
    );
    assert_eq!(c.offered_rps, None);
    // Closed loop has no schedule to fall behind: the only spoiled run is a
    // starved generator, which a busy machine can cause.
    assert!(
        c.saturation()
            .is_none_or(|why| why.starts_with("the workers lost")),
        "{:?}",
        c.saturation()
    );
}

#[test]
fn poisson_and_stages_run_their_schedule() {
    let server = TestServer::start();
    let mut s = rest("/ok", Protocol::Http2);
    s.load.arrival = Arrival::Poisson;
    s.load.stages = vec![
        Stage {
            rate: 100,
            duration: Duration::from_secs(1),
            ramp: false,
        },
        Stage {
            rate: 300,
            duration: Duration::from_secs(1),
            ramp: true,
        },
    ];
    s.load.duration = Duration::from_secs(2);
    let m = run(&s, server.addr, &options()).unwrap();
    // 100 + 200 expected; Poisson allows a few standard deviations (~17).
    let scheduled = m.totals.requests + m.totals.dropped;
    assert!((230..=370).contains(&scheduled), "{scheduled}");
    sent_or_dropped(&m, scheduled);
    assert_eq!(m.totals.ok, m.totals.requests);
    assert_eq!(m.timeline.len(), 2);
    assert!(
        m.timeline[1].requests > m.timeline[0].requests,
        "{:?}",
        m.timeline
    );
}

#[test]
fn streams_record_every_message() {
    // Against a server that does not implement the stream: every call fails
    // with UNIMPLEMENTED, counted by code.
    let (addr, _rt) = grpc_server();
    let pool = prost_reflect::DescriptorPool::decode(lab_proto::FILE_DESCRIPTOR_SET).unwrap();
    let method = pool
        .get_service_by_name("lab.v1.EchoService")
        .unwrap()
        .methods()
        .find(|m| m.name() == "EchoStream")
        .unwrap();
    let mut s = get_user_grpc(1);
    s.call = Call::Grpc {
        path: "/lab.v1.EchoService/EchoStream".into(),
        kind: GrpcKind::Bidi,
        input: method.input(),
    };
    s.body = Some(lit(r#"{"payload": "aGk="}"#));
    s.stream = Some(Stream {
        kind: GrpcKind::Bidi,
        messages: 3,
    });
    s.load.stages[0].rate = 20;
    let m = run(&s, addr, &options()).unwrap();
    sent_or_dropped(&m, 20);
    assert_eq!(
        m.totals.errors.get("grpc_UNIMPLEMENTED"),
        Some(&m.totals.requests),
        "{:?}",
        m.totals.errors
    );
}
