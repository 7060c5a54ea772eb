//! The protocol side of a request: building it from the scenario, sending it
//! over HTTP/1.1, HTTP/2 or gRPC, and classifying how it ended.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use prost_reflect::DynamicMessage;
use tokio::net::TcpStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};

use super::recorder::Outcome;
use crate::rng::Rng;
use crate::scenario::{self, Call, Expect, GrpcKind, Protocol, Scenario, Template};
use crate::wire::codec::RawCodec;
use lab_proto::code_name;

/// Builds the requests of one worker: draws the parameters from the worker's
/// seeded RNG and renders the call and body templates. Constant parts are
/// rendered once.
pub struct Maker {
    scenario: Scenario,
    rng: Rng,
    values: Vec<String>,
    scratch: String,
    /// `http://host:port`, prefixed to HTTP/2 request URIs.
    base: String,
    host: HeaderValue,
    const_uri: Option<Uri>,
    const_body: Option<Bytes>,
    const_message: Option<Bytes>,
}

impl Maker {
    pub fn new(scenario: &Scenario, addr: SocketAddr, seed: u64) -> anyhow::Result<Self> {
        let host = HeaderValue::from_str(&addr.to_string())?;
        let mut maker = Self {
            scenario: scenario.clone(),
            rng: Rng::new(seed),
            values: Vec::new(),
            scratch: String::new(),
            base: format!("http://{addr}"),
            host,
            const_uri: None,
            const_body: None,
            const_message: None,
        };
        if let Call::Rest { path, .. } = &scenario.call
            && path.is_constant()
        {
            maker.const_uri = Some(render_uri(
                scenario.protocol,
                &maker.base,
                path,
                &[],
                &mut maker.scratch,
            )?);
        }
        match (&scenario.call, &scenario.body) {
            (Call::Rest { .. }, Some(body)) if body.is_constant() => {
                maker.const_body = Some(render(body, &[]).into());
            }
            (Call::Grpc { .. }, body) if body.as_ref().is_none_or(Template::is_constant) => {
                maker.const_message = Some(maker.encode_message()?);
            }
            _ => {}
        }
        Ok(maker)
    }

    fn draw(&mut self) {
        if !self.scenario.params.is_empty() {
            scenario::draw(&self.scenario.params, &mut self.rng, &mut self.values);
        }
    }

    /// The next REST request.
    pub fn rest(&mut self) -> anyhow::Result<Request<Full<Bytes>>> {
        self.draw();
        let Call::Rest { method, path } = &self.scenario.call else {
            anyhow::bail!("not a REST call");
        };
        let uri = match &self.const_uri {
            Some(uri) => uri.clone(),
            None => render_uri(
                self.scenario.protocol,
                &self.base,
                path,
                &self.values,
                &mut self.scratch,
            )?,
        };
        let body = match (&self.const_body, &self.scenario.body) {
            (Some(body), _) => Some(body.clone()),
            (None, Some(template)) => Some(Bytes::from(render(template, &self.values))),
            (None, None) => None,
        };
        let mut builder = Request::builder().method(method.clone()).uri(uri);
        if self.scenario.protocol == Protocol::Http1 {
            builder = builder.header(HOST, self.host.clone());
        }
        let request = match body {
            Some(body) => builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(Full::new(body))?,
            None => builder.body(Full::new(Bytes::new()))?,
        };
        Ok(request)
    }

    /// The next gRPC message, protobuf-encoded.
    pub fn message(&mut self) -> anyhow::Result<Bytes> {
        if let Some(message) = &self.const_message {
            return Ok(message.clone());
        }
        self.draw();
        self.encode_message()
    }

    fn encode_message(&self) -> anyhow::Result<Bytes> {
        let Call::Grpc { input, .. } = &self.scenario.call else {
            anyhow::bail!("not a gRPC call");
        };
        let json = match &self.scenario.body {
            Some(body) => render(body, &self.values),
            None => "{}".to_owned(),
        };
        let mut de = serde_json::Deserializer::from_str(&json);
        let message = DynamicMessage::deserialize(input.clone(), &mut de)?;
        de.end()?;
        Ok(message.encode_to_vec().into())
    }
}

fn render(template: &Template, values: &[String]) -> String {
    let mut out = String::new();
    template.render(values, &mut out);
    out
}

/// The request URI: origin form for HTTP/1.1, absolute (`base` + path) for HTTP/2.
fn render_uri(
    protocol: Protocol,
    base: &str,
    path: &Template,
    values: &[String],
    scratch: &mut String,
) -> anyhow::Result<Uri> {
    scratch.clear();
    if protocol == Protocol::Http2 {
        scratch.push_str(base);
    }
    path.render(values, scratch);
    Ok(Uri::try_from(scratch.as_str())?)
}

/// A connection-level failure, before or outside any response.
fn connect_error() -> Outcome {
    Outcome::Error("connect".to_owned())
}

/// The connection closed before the request was handed to it: no byte of
/// the request was written.
fn not_sent() -> Outcome {
    Outcome::Error("not_sent".to_owned())
}

/// Classifies a transport error by walking its source chain.
pub fn classify(err: &(dyn StdError + 'static)) -> &'static str {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    let mut class = "protocol";
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return match io.kind() {
                ConnectionRefused | AddrNotAvailable | HostUnreachable | NetworkUnreachable => {
                    "connect"
                }
                TimedOut => "timeout",
                _ => "reset",
            };
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            // RFC 9113 §8.7: a stream above the last id of a GOAWAY the server
            // sent, or one it reset with REFUSED_STREAM, was never processed; a
            // client may retry it. A GOAWAY of the client's own (a protocol
            // error it found) says nothing of what the server processed.
            if h2.is_remote()
                && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
            {
                return "refused_stream";
            }
            if h2.is_reset() || h2.is_io() {
                class = "reset";
            }
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            // hyper hands a queued request back unsent when its connection
            // closes first ("connection closed"): no byte of it was written.
            if hyper.is_canceled() {
                return "not_sent";
            }
            if hyper.is_incomplete_message() || hyper.is_closed() {
                class = "reset";
            }
        }
        current = e.source();
    }
    class
}

fn status_outcome(status: &Status, expect: Expect) -> Outcome {
    if expect == Expect::Grpc(status.code()) {
        return Outcome::Ok;
    }
    // tonic reports transport failures as UNAVAILABLE/UNKNOWN with the cause as source.
    if let Some(source) = status.source() {
        let class = classify(source);
        if class != "protocol" {
            return Outcome::Error(class.to_owned());
        }
    }
    Outcome::Error(format!("grpc_{}", code_name(status.code())))
}

fn http_error(err: &hyper::Error) -> Outcome {
    Outcome::Error(classify(err).to_owned())
}

async fn tcp(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

pub type H1Sender = http1::SendRequest<Full<Bytes>>;
pub type H2Sender = http2::SendRequest<Full<Bytes>>;

pub async fn connect_h1(addr: SocketAddr) -> anyhow::Result<H1Sender> {
    let io = TokioIo::new(tcp(addr).await?);
    let (sender, conn) = http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

pub async fn connect_h2(addr: SocketAddr) -> anyhow::Result<H2Sender> {
    let io = TokioIo::new(tcp(addr).await?);
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .handshake(io)
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A gRPC channel: one HTTP/2 connection, established before the run.
pub async fn connect_grpc(addr: SocketAddr) -> anyhow::Result<tonic::client::Grpc<Channel>> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(tonic::client::Grpc::new(channel).max_decoding_message_size(usize::MAX))
}

/// One shared HTTP/2 connection, re-established by the first request that
/// finds it closed.
pub struct H2Conn {
    addr: SocketAddr,
    sender: RefCell<Option<H2Sender>>,
}

impl H2Conn {
    pub fn new(addr: SocketAddr, sender: H2Sender) -> Self {
        Self {
            addr,
            sender: RefCell::new(Some(sender)),
        }
    }

    async fn sender(&self) -> Option<H2Sender> {
        let current = self.sender.borrow().clone();
        match current {
            Some(sender) if !sender.is_closed() => Some(sender),
            _ => {
                let fresh = connect_h2(self.addr).await.ok()?;
                *self.sender.borrow_mut() = Some(fresh.clone());
                Some(fresh)
            }
        }
    }
}

/// What a request is sent over.
pub enum Handle {
    /// An HTTP/1.1 connection owned by this request; None once broken.
    H1(Option<H1Sender>, SocketAddr),
    H2(Rc<H2Conn>),
    Grpc(tonic::client::Grpc<Channel>),
}

/// Records the stream messages of a call.
pub trait MessageSink {
    fn message(&self, latency_ns: u64);
}

/// What a call needs besides its connection.
pub struct CallSpec {
    pub expect: Expect,
    pub grpc_path: Option<PathAndQuery>,
    pub kind: GrpcKind,
    pub messages: u32,
}

impl CallSpec {
    pub fn new(scenario: &Scenario) -> anyhow::Result<Self> {
        let (grpc_path, kind) = match &scenario.call {
            Call::Grpc { path, kind, .. } => (Some(PathAndQuery::try_from(path.as_str())?), *kind),
            Call::Rest { .. } => (None, GrpcKind::Unary),
        };
        Ok(Self {
            expect: scenario.expect,
            grpc_path,
            kind,
            messages: scenario.stream.as_ref().map_or(1, |s| s.messages),
        })
    }
}

impl Handle {
    /// Sends one request (one call, for streams) and waits for its end.
    /// `now` reads the run's clock, for per-message latency.
    pub async fn exchange(
        &mut self,
        spec: &CallSpec,
        maker: &RefCell<Maker>,
        sink: &dyn MessageSink,
        now: &dyn Fn() -> u64,
    ) -> Outcome {
        match self {
            Handle::H1(slot, addr) => {
                let sender = match slot {
                    Some(sender) if !sender.is_closed() => sender,
                    _ => match connect_h1(*addr).await {
                        Ok(sender) => slot.insert(sender),
                        Err(_) => {
                            *slot = None;
                            return connect_error();
                        }
                    },
                };
                // A statement of its own: the borrow must end before any await.
                let request = maker.borrow_mut().rest();
                let outcome = match (request, sender.ready().await) {
                    (Err(_), _) => return build_error(),
                    (_, Err(_)) => not_sent(),
                    (Ok(request), Ok(())) => {
                        rest_outcome(sender.send_request(request).await, spec.expect).await
                    }
                };
                if matches!(&outcome, Outcome::Error(c) if !c.starts_with("http_")) {
                    *slot = None;
                }
                outcome
            }
            Handle::H2(conn) => {
                let Some(mut sender) = conn.sender().await else {
                    return connect_error();
                };
                let request = maker.borrow_mut().rest();
                match (request, sender.ready().await) {
                    (Err(_), _) => build_error(),
                    (_, Err(_)) => not_sent(),
                    (Ok(request), Ok(())) => {
                        rest_outcome(sender.send_request(request).await, spec.expect).await
                    }
                }
            }
            Handle::Grpc(grpc) => grpc_exchange(grpc, spec, maker, sink, now).await,
        }
    }
}

fn build_error() -> Outcome {
    Outcome::Error("request_build".to_owned())
}

async fn rest_outcome(
    response: Result<http::Response<Incoming>, hyper::Error>,
    expect: Expect,
) -> Outcome {
    let response = match response {
        Ok(response) => response,
        Err(err) => return http_error(&err),
    };
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        if let Err(err) = frame {
            return http_error(&err);
        }
    }
    if expect == Expect::Http(status) {
        Outcome::Ok
    } else {
        Outcome::Error(format!("http_{status}"))
    }
}

async fn grpc_exchange(
    grpc: &mut tonic::client::Grpc<Channel>,
    spec: &CallSpec,
    maker: &RefCell<Maker>,
    sink: &dyn MessageSink,
    now: &dyn Fn() -> u64,
) -> Outcome {
    let Some(path) = spec.grpc_path.clone() else {
        return build_error();
    };
    let first = match maker.borrow_mut().message() {
        Ok(message) => message,
        Err(_) => return build_error(),
    };
    if let Err(err) = grpc.ready().await {
        // The call was not made: nothing of it was sent.
        return match classify(&err) {
            "connect" => connect_error(),
            _ => not_sent(),
        };
    }
    match spec.kind {
        GrpcKind::Unary => match grpc.unary(tonic::Request::new(first), path, RawCodec).await {
            Ok(_) => ok_unless(spec.expect),
            Err(status) => status_outcome(&status, spec.expect),
        },
        GrpcKind::ServerStream => {
            let start = now();
            let response = grpc
                .server_streaming(tonic::Request::new(first), path, RawCodec)
                .await;
            let mut stream = match response {
                Ok(response) => response.into_inner(),
                Err(status) => return status_outcome(&status, spec.expect),
            };
            let mut last = start;
            let mut count = 0u32;
            loop {
                match stream.message().await {
                    Ok(Some(_)) => {
                        let t = now();
                        sink.message(t.saturating_sub(last));
                        last = t;
                        count += 1;
                    }
                    Ok(None) => break,
                    Err(status) => return status_outcome(&status, spec.expect),
                }
            }
            if count != spec.messages {
                return Outcome::Error("stream_messages".to_owned());
            }
            ok_unless(spec.expect)
        }
        GrpcKind::Bidi => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
            // grpc-go sends response headers with the first reply, so the first
            // message must be on its way before the call is awaited.
            let mut sent_at = now();
            if tx.send(first).await.is_err() {
                return build_error();
            }
            let response = grpc
                .streaming(tonic::Request::new(ReceiverStream::new(rx)), path, RawCodec)
                .await;
            let mut inbound = match response {
                Ok(response) => response.into_inner(),
                Err(status) => return status_outcome(&status, spec.expect),
            };
            for i in 0..spec.messages {
                if i > 0 {
                    let message = match maker.borrow_mut().message() {
                        Ok(message) => message,
                        Err(_) => return build_error(),
                    };
                    sent_at = now();
                    if tx.send(message).await.is_err() {
                        return Outcome::Error("reset".to_owned());
                    }
                }
                match inbound.message().await {
                    Ok(Some(_)) => sink.message(now().saturating_sub(sent_at)),
                    Ok(None) => return Outcome::Error("stream_messages".to_owned()),
                    Err(status) => return status_outcome(&status, spec.expect),
                }
            }
            drop(tx);
            match inbound.message().await {
                Ok(None) => ok_unless(spec.expect),
                Ok(Some(_)) => Outcome::Error("stream_messages".to_owned()),
                Err(status) => status_outcome(&status, spec.expect),
            }
        }
    }
}

fn ok_unless(expect: Expect) -> Outcome {
    if expect == Expect::Grpc(tonic::Code::Ok) {
        Outcome::Ok
    } else {
        Outcome::Error("grpc_OK".to_owned())
    }
}

/// Reads the server's HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS with a bare
/// prior-knowledge handshake. None when the server sets no limit.
pub async fn max_concurrent_streams(addr: SocketAddr) -> anyhow::Result<Option<u32>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await?;
    // Connection preface, then an empty SETTINGS frame.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await?;
    loop {
        let mut header = [0u8; 9];
        stream.read_exact(&mut header).await?;
        let len =
            (usize::from(header[0]) << 16) | (usize::from(header[1]) << 8) | usize::from(header[2]);
        let (kind, flags) = (header[3], header[4]);
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await?;
        if kind == 4 && flags & 1 == 0 {
            let value = payload.chunks_exact(6).find_map(|p| {
                (u16::from_be_bytes([p[0], p[1]]) == 3)
                    .then(|| u32::from_be_bytes([p[2], p[3], p[4], p[5]]))
            });
            return Ok(value);
        }
    }
}
