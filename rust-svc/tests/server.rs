//! The whole service in-process on 127.0.0.1:0 (REST over HTTP/1.1 and h2c,
//! gRPC health and reflection, graceful drain), and the binary's ready line
//! and exit codes.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser as _;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use lab_proto::v1 as pb;
use rust_svc::{Config, ServeError, Server};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, UnboundedReceiverStream};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const WAIT: Duration = Duration::from_secs(10);

struct Running {
    http: SocketAddr,
    grpc: SocketAddr,
    /// Each `()` sent is a SIGTERM.
    trigger: mpsc::UnboundedSender<()>,
    serve: JoinHandle<Result<(), ServeError>>,
}

/// The service on 127.0.0.1:0 with `flags` added.
async fn start(flags: &[&str]) -> Running {
    let args = ["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"];
    let config = Config::try_parse_from(
        std::iter::once("rust-svc")
            .chain(args)
            .chain(flags.iter().copied()),
    )
    .unwrap();
    let server = Server::bind(&config).await.unwrap();
    let (http, grpc) = (server.http_addr(), server.grpc_addr());
    assert_ne!(http.port(), 0);
    assert_ne!(grpc.port(), 0);
    let (trigger, signals) = mpsc::unbounded_channel::<()>();
    let serve = tokio::spawn(server.serve(UnboundedReceiverStream::new(signals)));
    Running {
        http,
        grpc,
        trigger,
        serve,
    }
}

async fn grpc_channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn health_status(channel: Channel, service: &str) -> ServingStatus {
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    ServingStatus::try_from(reply.status).unwrap()
}

async fn get_http1(addr: SocketAddr, path: &str) -> (StatusCode, String, Bytes) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let request = Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_11);
    split(response).await
}

async fn get_h2c(addr: SocketAddr, path: &str) -> (StatusCode, String, Bytes) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(format!("http://{addr}{path}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    split(response).await
}

async fn split(response: http::Response<hyper::body::Incoming>) -> (StatusCode, String, Bytes) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, body)
}

/// A raw HTTP/1.1 `POST /v1/echo` whose handler is certainly running: the
/// server sends `100 Continue` only once the handler polls the body.
async fn echo_in_flight(addr: SocketAddr, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/echo HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 25];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_rest_and_grpc_then_drains_in_flight_work() {
    let running = start(&[]).await;

    // REST over HTTP/1.1 and h2c on the same port.
    for (status, content_type, body) in [
        get_http1(running.http, "/health").await,
        get_h2c(running.http, "/health").await,
    ] {
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        assert_eq!(body, r#"{"status":"ok"}"#);
    }
    let (status, _, body) = get_h2c(running.http, "/v1/users/2").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        std::str::from_utf8(&body)
            .unwrap()
            .contains(r#""name":"User 2""#)
    );

    // gRPC health and reflection.
    let channel = grpc_channel(running.grpc).await;
    for service in [
        "",
        "lab.v1.UserService",
        "lab.v1.CatalogService",
        "lab.v1.OrderService",
        "lab.v1.EchoService",
    ] {
        assert_eq!(
            health_status(channel.clone(), service).await,
            ServingStatus::Serving,
            "{service:?}"
        );
    }
    let services = list_services_by_reflection(channel.clone()).await;
    for service in [
        "lab.v1.UserService",
        "lab.v1.EchoService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.iter().any(|s| s == service),
            "{service} not in {services:?}"
        );
    }

    // In flight when the shutdown starts: a health watch, a ping-pong stream
    // and a REST request whose body is not sent yet.
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    let (pings, rx) = mpsc::channel::<pb::EchoRequest>(1);
    let mut pongs = pb::echo_service_client::EchoServiceClient::new(channel.clone())
        .echo_stream(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    pings
        .send(pb::EchoRequest {
            payload: b"1".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(pongs.message().await.unwrap().unwrap().payload, b"1");
    let mut rest = echo_in_flight(running.http, r#"{"in":"flight"}"#).await;

    running.trigger.send(()).unwrap();

    // The health service says NOT_SERVING, and the listeners stop accepting.
    assert_eq!(
        watch.message().await.unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    drop(watch);
    tokio::time::timeout(WAIT, async {
        while TcpStream::connect(running.http).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the REST listener closes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !running.serve.is_finished(),
        "serve returned with work in flight"
    );

    // In-flight work completes.
    pings
        .send(pb::EchoRequest {
            payload: b"2".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(pongs.message().await.unwrap().unwrap().payload, b"2");
    drop(pings);
    assert_eq!(pongs.message().await.unwrap(), None);

    rest.write_all(br#"{"in":"flight"}"#).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, rest.read_to_string(&mut response))
        .await
        .expect("the in-flight response arrives and the connection closes")
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/json\r\n"),
        "{response}"
    );
    assert!(response.ends_with(r#"{"in":"flight"}"#), "{response}");

    drop(channel);
    let result = tokio::time::timeout(WAIT, running.serve)
        .await
        .expect("serve returns once drained")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(TcpStream::connect(running.grpc).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_do_not_hold_the_drain() {
    let running = start(&[]).await;
    let io = TokioIo::new(TcpStream::connect(running.http).await.unwrap());
    let (mut h2, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .unwrap();
    let h2_connection = tokio::spawn(connection);
    let response = h2
        .send_request(Request::get("/health").body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let channel = grpc_channel(running.grpc).await;
    assert_eq!(
        health_status(channel.clone(), "").await,
        ServingStatus::Serving
    );
    let (_, _, _) = get_http1(running.http, "/health").await;

    running.trigger.send(()).unwrap();
    let result = tokio::time::timeout(WAIT, running.serve)
        .await
        .expect("idle keep-alive connections are closed")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    tokio::time::timeout(WAIT, h2_connection)
        .await
        .expect("the idle h2c connection was closed")
        .unwrap()
        .unwrap();
    drop(channel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_timeout_cuts_what_is_left() {
    let running = start(&["--drain-timeout", "300ms"]).await;
    let mut stuck = echo_in_flight(running.http, "{}").await;
    running.trigger.send(()).unwrap();
    let result = tokio::time::timeout(WAIT, running.serve)
        .await
        .expect("serve gives up after the drain timeout")
        .unwrap();
    assert!(
        matches!(result, Err(ServeError::DrainTimeout(t)) if t == Duration::from_millis(300)),
        "{result:?}"
    );
    // The stuck connection was cut, without a response.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, stuck.read_to_end(&mut rest))
        .await
        .expect("cut");
    assert!(
        read.is_err() || rest.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
}

/// A 900 KB echo body, distinct for each `n`.
fn large_echo_body(n: usize) -> String {
    format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(900_000))
}

/// hyper's graceful shutdown closed an HTTP/1.1 connection whose request head
/// it had not read yet as if it were idle, so a request already on its way
/// got no response. Every connection accepted before SIGTERM must be
/// answered, whatever part of its request had arrived: none of it, part of
/// the head, or the head and part of the body; over h2c too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_connections_accepted_before_sigterm_are_answered() {
    let running = start(&[]).await;
    let mut http1 = Vec::new();
    for i in 0..12 {
        let body = large_echo_body(i);
        let request = format!(
            "POST /v1/echo HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        let before = match i % 3 {
            0 => 0,
            1 => 20,
            _ => 100_000,
        };
        let mut stream = TcpStream::connect(running.http).await.unwrap();
        stream.write_all(&request[..before]).await.unwrap();
        http1.push((stream, request, before, body));
    }
    let h2c = TcpStream::connect(running.http).await.unwrap();
    // Long enough for the service to accept every connection.
    tokio::time::sleep(Duration::from_millis(200)).await;

    running.trigger.send(()).unwrap();
    wait_for_refusal(running.http).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut answers = Vec::new();
    for (mut stream, request, before, body) in http1 {
        answers.push(tokio::spawn(async move {
            stream.write_all(&request[before..]).await.unwrap();
            let mut response = Vec::new();
            let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
                .await
                .expect("the response, then the close");
            (before, read.map(|_| response), body)
        }));
    }
    let h2_body = large_echo_body(99);
    let request = Request::post(format!("http://{}/v1/echo", running.http))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(Bytes::from(h2_body.clone())))
        .unwrap();
    let h2_answer = tokio::spawn(async move {
        let (mut h2, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(h2c)).await?;
        tokio::spawn(connection);
        let response = tokio::time::timeout(WAIT, h2.send_request(request))
            .await
            .expect("an h2c answer")?;
        Ok::<_, hyper::Error>(split(response).await)
    });

    for answer in answers {
        let (before, response, body) = answer.await.unwrap();
        let response =
            response.unwrap_or_else(|err| panic!("{before} bytes sent before SIGTERM: {err}"));
        let text = String::from_utf8_lossy(&response);
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\n") && text.ends_with(&body),
            "{before} bytes sent before SIGTERM: got {} bytes: {:?}",
            response.len(),
            text.chars().take(200).collect::<String>()
        );
    }
    let (status, _, echoed) = h2_answer.await.unwrap().expect("the h2c stream is served");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed, h2_body);
    let result = tokio::time::timeout(WAIT, running.serve)
        .await
        .expect("serve returns once drained")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_bodies_do_not_break_the_next_request() {
    let running = start(&[]).await;
    // A refused body is not read. The server says `Connection: close` so the
    // client does not reuse the connection, and closes it lingering, so that
    // the kernel does not answer the unread bytes with RST (losing the reply).
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    for _ in 0..20 {
        // A warm keep-alive connection from the pool, as load generators use.
        let health = client
            .request(
                Request::get(format!("http://{}/health", running.http))
                    .body(Default::default())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(split(health).await.0, StatusCode::OK);
        let mut too_big = vec![b'a'; (1 << 20) + 1];
        too_big[0] = b'"';
        *too_big.last_mut().unwrap() = b'"';
        let request = Request::post(format!("http://{}/v1/orders", running.http))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(Bytes::from(too_big)))
            .unwrap();
        let (status, content_type, body) = split(client.request(request).await.unwrap()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(content_type, "application/json");
        assert_eq!(
            body,
            r#"{"error":{"code":"payload_too_large","message":"request body exceeds 1048576 bytes"}}"#
        );
        // The same for a body refused by its content type, and a small one
        // refused by routing (discarded, so the connection is reused).
        for (path, content_type, size, want) in [
            (
                "/v1/echo",
                "text/plain",
                (1 << 20) + 1,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            ("/nope", "application/json", 100, StatusCode::NOT_FOUND),
        ] {
            let request = Request::post(format!("http://{}{path}", running.http))
                .header(http::header::CONTENT_TYPE, content_type)
                .body(http_body_util::Full::new(Bytes::from(vec![b' '; size])))
                .unwrap();
            let (status, content_type, _) = split(client.request(request).await.unwrap()).await;
            assert_eq!((status, content_type.as_str()), (want, "application/json"));
        }
    }
    running.trigger.send(()).unwrap();
    assert!(running.serve.await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_is_cut_after_the_header_read_timeout() {
    let running = start(&["--header-read-timeout", "500ms"]).await;
    let mut slow = TcpStream::connect(running.http).await.unwrap();
    let started = std::time::Instant::now();
    let head = b"GET /health HTTP/1.1\r\nHost: lab\r\nX-Slow: ";
    let dripping = async {
        // One byte every 100 ms, never finishing the head.
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            // Others are served meanwhile.
            let (status, _, _) = get_http1(running.http, "/health").await;
            assert_eq!(status, StatusCode::OK);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), dripping)
        .await
        .expect("the server closes the slow connection");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, slow.read_to_end(&mut rest))
        .await
        .expect("the slow connection is closed");
    assert!(
        read.is_err() || rest.is_empty(),
        "no response: {:?}",
        String::from_utf8_lossy(&rest)
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    running.trigger.send(()).unwrap();
    assert!(running.serve.await.unwrap().is_ok());
}

/// Polls `GET /health` on new connections until it says 503.
async fn wait_for_draining(addr: SocketAddr) -> (String, Bytes) {
    tokio::time::timeout(WAIT, async {
        loop {
            let (status, content_type, body) = get_http1(addr, "/health").await;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                return (content_type, body);
            }
            assert_eq!(status, StatusCode::OK);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("/health turns 503")
}

/// Waits until a new connection to `addr` is refused.
async fn wait_for_refusal(addr: SocketAddr) {
    tokio::time::timeout(WAIT, async {
        loop {
            match TcpStream::connect(addr).await {
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                // Caught in the listener's backlog as it closed.
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(err) => {
                    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
                    return;
                }
            }
        }
    })
    .await
    .expect("the listener closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_off_at_once_and_the_drain_delay_keeps_serving() {
    let running = start(&["--drain-delay", "60s"]).await;
    let channel = grpc_channel(running.grpc).await;
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );

    running.trigger.send(()).unwrap();

    assert_eq!(
        watch.message().await.unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    drop(watch);
    // New connections are accepted; /health says draining, the rest is served.
    let (content_type, body) = wait_for_draining(running.http).await;
    assert_eq!(content_type, "application/json");
    assert_eq!(body, r#"{"status":"draining"}"#);
    let (status, content_type, body) = get_h2c(running.http, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, r#"{"status":"draining"}"#);
    assert_eq!(
        get_http1(running.http, "/v1/users/1").await.0,
        StatusCode::OK
    );
    assert_eq!(
        get_h2c(running.http, "/v1/products?limit=1").await.0,
        StatusCode::OK
    );
    let fresh = grpc_channel(running.grpc).await;
    for service in [
        "",
        "lab.v1.UserService",
        "lab.v1.CatalogService",
        "lab.v1.OrderService",
        "lab.v1.EchoService",
    ] {
        assert_eq!(
            health_status(fresh.clone(), service).await,
            ServingStatus::NotServing,
            "{service:?}"
        );
    }
    let user = pb::user_service_client::UserServiceClient::new(fresh.clone())
        .get_user(pb::GetUserRequest { id: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.id, 1);
    assert!(!running.serve.is_finished());

    // A second signal ends the delay early: the listeners close, serve returns.
    running.trigger.send(()).unwrap();
    wait_for_refusal(running.http).await;
    let result = tokio::time::timeout(WAIT, running.serve)
        .await
        .expect("serve returns long before the 60 s delay")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    wait_for_refusal(running.grpc).await;
    drop((channel, fresh));
}

/// During the drain delay a keep-alive connection is closed after its next
/// response, with `Connection: close`, rather than while idle when the
/// listeners close, which would race the client's next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_close_after_their_next_response_once_draining() {
    let running = start(&["--drain-delay", "60s"]).await;
    let io = TokioIo::new(TcpStream::connect(running.http).await.unwrap());
    let (mut http1, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
    let http1_connection = tokio::spawn(connection);
    let get = |path: &str| {
        Request::get(path)
            .header(http::header::HOST, "lab")
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let before = http1.send_request(get("/v1/users/1")).await.unwrap();
    assert_eq!(before.headers().get(http::header::CONNECTION), None);
    split(before).await;

    running.trigger.send(()).unwrap();
    wait_for_draining(running.http).await;
    let after = http1.send_request(get("/v1/users/1")).await.unwrap();
    assert_eq!(after.status(), StatusCode::OK);
    assert_eq!(after.headers()[http::header::CONNECTION], "close");
    split(after).await;
    tokio::time::timeout(WAIT, http1_connection)
        .await
        .expect("the server closes the connection after that response")
        .unwrap()
        .unwrap();
    // HTTP/2 has no Connection header; its connections get GOAWAY later.
    let io = TokioIo::new(TcpStream::connect(running.http).await.unwrap());
    let (mut h2, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = h2
        .send_request(
            Request::get(format!("http://{}/v1/users/1", running.http))
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get(http::header::CONNECTION), None);

    running.trigger.send(()).unwrap();
    let result = tokio::time::timeout(WAIT, running.serve)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listeners_close_when_the_drain_delay_is_over() {
    let delay = Duration::from_millis(1500);
    let running = start(&["--drain-delay", "1500ms"]).await;
    let signalled = std::time::Instant::now();
    running.trigger.send(()).unwrap();
    wait_for_draining(running.http).await;
    assert_eq!(get_h2c(running.http, "/v1/users/3").await.0, StatusCode::OK);
    wait_for_refusal(running.http).await;
    let closed = signalled.elapsed();
    assert!(closed >= delay, "closed after {closed:?}");
    let result = tokio::time::timeout(WAIT, running.serve)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
}

/// Sends `head` on a new connection and returns the response's status code.
async fn raw_status(addr: SocketAddr, head: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before reading everything.
    let _ = stream.write_all(head).await;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        assert_ne!(n, 0, "closed without a response");
        response.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&response);
    line.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"))
}

/// `GET /health` with `fields` header fields, `Host` included.
fn head_with_fields(fields: usize) -> Vec<u8> {
    let mut head = String::from("GET /health HTTP/1.1\r\nHost: lab\r\n");
    for i in 1..fields {
        head.push_str(&format!("X-Field-{i}: {i}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A request head of exactly `size` bytes, padded in one header or in the target.
fn head_of_size(size: usize, in_target: bool) -> Vec<u8> {
    let (start, end) = if in_target {
        ("GET /health?pad=", " HTTP/1.1\r\nHost: lab\r\n\r\n")
    } else {
        ("GET /health HTTP/1.1\r\nHost: lab\r\nX-Pad: ", "\r\n\r\n")
    };
    let pad = "a".repeat(size - start.len() - end.len());
    let head = format!("{start}{pad}{end}").into_bytes();
    assert_eq!(head.len(), size);
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_heads_over_the_limits_are_431() {
    let running = start(&[]).await;
    let addr = running.http;
    assert_eq!(raw_status(addr, &head_with_fields(100)).await, 200);
    assert_eq!(raw_status(addr, &head_with_fields(101)).await, 431);
    assert_eq!(raw_status(addr, &head_with_fields(500)).await, 431);
    for in_target in [false, true] {
        for (size, want) in [
            (15 << 10, 200),
            (16 << 10, 200),
            ((16 << 10) + 1, 431),
            (17 << 10, 431),
            (1 << 20, 431),
        ] {
            assert_eq!(
                raw_status(addr, &head_of_size(size, in_target)).await,
                want,
                "{size} bytes, padded in the target: {in_target}"
            );
        }
    }

    // Bodies are not held to the head's limit.
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    let document = Bytes::from(format!("\"{}\"", "x".repeat((1 << 20) - 2)));
    for chunked in [false, true] {
        let mut request = Request::post(format!("http://{addr}/v1/echo"))
            .header(http::header::CONTENT_TYPE, "application/json");
        if chunked {
            request = request.header(http::header::TRANSFER_ENCODING, "chunked");
        }
        let request = request
            .body(http_body_util::Full::new(document.clone()))
            .unwrap();
        let (status, _, body) = split(client.request(request).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "chunked: {chunked}");
        assert_eq!(body, document);
    }
    running.trigger.send(()).unwrap();
    assert!(running.serve.await.unwrap().is_ok());
}

async fn list_services_by_reflection(channel: Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    match reply.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection reply {other:?}"),
    }
}

// ---- the binary ------------------------------------------------------------

fn binary() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rust-svc"));
    for var in [
        "LAB_HTTP_ADDR",
        "LAB_GRPC_ADDR",
        "LAB_WORKERS",
        "LAB_LOG_LEVEL",
        "LAB_DRAIN_TIMEOUT",
        "LAB_DRAIN_DELAY",
        "LAB_HEADER_READ_TIMEOUT",
    ] {
        command.env_remove(var);
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts the binary on port 0 with `flags` added, and reads its ready line.
async fn spawn_binary(flags: &[&str]) -> (tokio::process::Child, SocketAddr, SocketAddr) {
    let mut child = binary()
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
        .args(flags)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(WAIT, stdout.read_line(&mut line))
        .await
        .expect("the ready line")
        .unwrap();
    let rest = line
        .strip_prefix("listening http=")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("bad ready line {line:?}"));
    let (http, grpc) = rest.split_once(" grpc=").unwrap();
    (child, http.parse().unwrap(), grpc.parse().unwrap())
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
}

#[tokio::test]
async fn the_binary_announces_its_ports_and_exits_0_on_sigterm() {
    let (mut child, http, grpc) = spawn_binary(&["--workers", "2"]).await;
    let (status, _, body) = get_http1(http, "/health").await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::OK, &br#"{"status":"ok"}"#[..])
    );
    let (_, _, metrics) = get_h2c(http, "/metrics").await;
    assert!(
        std::str::from_utf8(&metrics)
            .unwrap()
            .contains("tokio_workers 2")
    );
    assert_eq!(
        health_status(grpc_channel(grpc).await, "").await,
        ServingStatus::Serving
    );

    sigterm(&child);
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exit")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn the_binary_drains_and_a_second_sigterm_ends_the_delay() {
    let (mut child, http, _) = spawn_binary(&["--drain-delay", "60s"]).await;
    sigterm(&child);
    wait_for_draining(http).await;
    assert_eq!(get_http1(http, "/v1/users/1").await.0, StatusCode::OK);
    sigterm(&child);
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exit long before the 60 s delay")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn the_binary_exits_2_on_a_bad_flag_and_1_when_it_cannot_bind() {
    for args in [
        &["--workers", "0"][..],
        &["--nope"],
        &["--drain-timeout", "soon"],
    ] {
        let output = binary().args(args).output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    for (var, value) in [
        ("LAB_DRAIN_DELAY", "1"),
        ("LAB_HEADER_READ_TIMEOUT", "soon"),
    ] {
        let output = binary().env(var, value).output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{var}={value}");
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let output = binary()
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", &taken])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "no ready line when a listener cannot be bound"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("binding the gRPC listener"), "{stderr}");
}
