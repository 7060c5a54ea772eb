//! Clients for the conformance suite: one request model for REST (HTTP/1.1 and
//! h2c) and gRPC, and one outcome model that the suite compares.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request as HttpRequest};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lab_proto::v1;
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

pub type ReqBody = BoxBody<Bytes, Infallible>;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP version used for a REST request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    H1,
    /// HTTP/2 with prior knowledge over cleartext.
    H2c,
}

/// How a REST request body is sent.
#[derive(Debug, Clone)]
pub enum RestBody {
    None,
    /// With a `Content-Length`.
    Full(Bytes),
    /// Without a length, in these chunks (chunked transfer coding on HTTP/1.1).
    Chunked(Vec<Bytes>),
}

#[derive(Debug, Clone)]
pub struct RestRequest {
    pub method: Method,
    /// Path and query exactly as sent.
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: RestBody,
    pub version: HttpVersion,
}

impl RestRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            headers: Vec::new(),
            body: RestBody::None,
            version: HttpVersion::H1,
        }
    }

    /// A request with a JSON body and `Content-Type: application/json`.
    pub fn json(method: Method, path: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self::get(path)
            .method(method)
            .content_type("application/json")
            .body(RestBody::Full(body.into()))
    }

    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    pub fn content_type(self, value: &'static str) -> Self {
        self.header(http::header::CONTENT_TYPE, HeaderValue::from_static(value))
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name, value));
        self
    }

    pub fn body(mut self, body: RestBody) -> Self {
        self.body = body;
        self
    }

    pub fn h2c(mut self) -> Self {
        self.version = HttpVersion::H2c;
        self
    }
}

/// One gRPC call of the contract.
#[derive(Debug, Clone)]
pub enum GrpcRequest {
    GetUser(v1::GetUserRequest),
    ListProducts(v1::ListProductsRequest),
    StreamProducts(v1::ListProductsRequest),
    CreateOrder(v1::CreateOrderRequest),
    GetOrder(v1::GetOrderRequest),
    Echo(v1::EchoRequest),
    /// Ping-pong: each request is sent after the previous response arrived.
    EchoStream(Vec<v1::EchoRequest>),
    /// `grpc.health.v1.Health/Check` for a service name.
    Health(String),
    /// A method the contract does not have (full path), called with an empty message.
    Unknown(&'static str),
    /// Server reflection (v1) `list_services`, sorted.
    ListServices,
}

#[derive(Debug, Clone)]
pub enum Request {
    Rest(RestRequest),
    Grpc(GrpcRequest),
}

impl Request {
    /// The call as a reader names it: `POST /v1/orders (h2c)` or `lab.v1.OrderService/CreateOrder`.
    pub fn call(&self) -> String {
        match self {
            Request::Rest(r) => {
                let version = match r.version {
                    HttpVersion::H1 => "HTTP/1.1",
                    HttpVersion::H2c => "h2c",
                };
                format!("{} {} ({version})", r.method, shorten(&r.path))
            }
            Request::Grpc(g) => g.method().trim_start_matches('/').to_string(),
        }
    }

    /// Whether responses to this request carry an order whose `id` may differ.
    pub fn returns_order(&self) -> bool {
        match self {
            Request::Rest(r) => r.path.starts_with("/v1/orders"),
            Request::Grpc(g) => matches!(g, GrpcRequest::CreateOrder(_) | GrpcRequest::GetOrder(_)),
        }
    }
}

/// A path as printed in a failure: a 20 KB query would bury the diff under it.
fn shorten(path: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 120;
    if path.len() <= SHOWN {
        return path.into();
    }
    let mut cut = SHOWN;
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &path[..cut], path.len()).into()
}

impl GrpcRequest {
    pub fn method(&self) -> &'static str {
        match self {
            GrpcRequest::GetUser(_) => "/lab.v1.UserService/GetUser",
            GrpcRequest::ListProducts(_) => "/lab.v1.CatalogService/ListProducts",
            GrpcRequest::StreamProducts(_) => "/lab.v1.CatalogService/StreamProducts",
            GrpcRequest::CreateOrder(_) => "/lab.v1.OrderService/CreateOrder",
            GrpcRequest::GetOrder(_) => "/lab.v1.OrderService/GetOrder",
            GrpcRequest::Echo(_) => "/lab.v1.EchoService/Echo",
            GrpcRequest::EchoStream(_) => "/lab.v1.EchoService/EchoStream",
            GrpcRequest::Health(_) => "/grpc.health.v1.Health/Check",
            GrpcRequest::Unknown(path) => path,
            GrpcRequest::ListServices => {
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
            }
        }
    }
}

/// What came back, in a form that can be compared and printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Http {
        status: u16,
        content_type: Option<String>,
        body: Bytes,
    },
    Grpc {
        code: tonic::Code,
        message: String,
        messages: Vec<Value>,
    },
    /// The request could not complete (connect error, reset, timeout).
    Failed(String),
}

impl Outcome {
    /// The outcome as JSON: JSON bodies parsed, protobuf messages converted,
    /// and everything else kept as text. Order ids are dropped when asked.
    pub fn normalized(&self, drop_order_id: bool) -> Value {
        match self {
            Outcome::Http {
                status,
                content_type,
                body,
            } => {
                let is_json = content_type
                    .as_deref()
                    .is_some_and(|c| c.starts_with("application/json"));
                let mut parsed = match serde_json::from_slice::<Value>(body) {
                    Ok(v) if is_json => v,
                    Ok(_) | Err(_) if body.is_empty() => Value::Null,
                    _ => json!({ "unparsed body": String::from_utf8_lossy(body) }),
                };
                if drop_order_id && (*status == 200 || *status == 201) {
                    if let Some(obj) = parsed.as_object_mut() {
                        obj.remove("id");
                    }
                }
                json!({ "status": status, "content_type": content_type, "body": parsed })
            }
            Outcome::Grpc {
                code,
                message,
                messages,
            } => {
                let messages: Vec<Value> = messages
                    .iter()
                    .map(|m| {
                        let mut m = m.clone();
                        if drop_order_id && let Some(obj) = m.as_object_mut() {
                            obj.remove("id");
                        }
                        m
                    })
                    .collect();
                // Transport-level statuses carry library-specific texts (contract/README.md).
                let message = match code {
                    tonic::Code::ResourceExhausted | tonic::Code::Unimplemented => Value::Null,
                    _ => Value::String(message.clone()),
                };
                json!({ "code": lab_proto::code_name(*code), "message": message, "messages": messages })
            }
            Outcome::Failed(err) => json!({ "failed": err }),
        }
    }
}

impl Outcome {
    /// A short class for tallies: `HTTP 404`, `gRPC NOT_FOUND`, `failed`.
    pub fn class(&self) -> String {
        match self {
            Outcome::Http { status, .. } => format!("HTTP {status}"),
            Outcome::Grpc { code, .. } => format!("gRPC {}", lab_proto::code_name(*code)),
            Outcome::Failed(_) => "failed".to_string(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(&self.normalized(false)).map_err(|_| fmt::Error)?;
        f.write_str(&truncate(&text, 400))
    }
}

pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// REST client for one service, over HTTP/1.1 or h2c.
#[derive(Clone)]
pub struct RestClient {
    addr: SocketAddr,
    h1: Client<HttpConnector, ReqBody>,
    h2: Client<HttpConnector, ReqBody>,
}

impl RestClient {
    pub fn new(addr: SocketAddr) -> Self {
        let h1 = Client::builder(TokioExecutor::new()).build_http();
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        Self { addr, h1, h2 }
    }

    pub async fn health_ok(&self) -> bool {
        matches!(
            self.send(&RestRequest::get("/health")).await,
            Outcome::Http { status: 200, .. }
        )
    }

    pub async fn send(&self, req: &RestRequest) -> Outcome {
        let body: ReqBody = match &req.body {
            RestBody::None => Full::new(Bytes::new()).boxed(),
            RestBody::Full(bytes) => Full::new(bytes.clone()).boxed(),
            RestBody::Chunked(chunks) => {
                let frames: Vec<Result<Frame<Bytes>, Infallible>> =
                    chunks.iter().cloned().map(|c| Ok(Frame::data(c))).collect();
                StreamBody::new(tokio_stream::iter(frames)).boxed()
            }
        };
        self.send_body(req, body).await
    }

    /// Sends `req` with `body` in place of `req.body` (used for bodies that are
    /// still being written, as in the drain check).
    pub async fn send_body(&self, req: &RestRequest, body: ReqBody) -> Outcome {
        let uri = format!("http://{}{}", self.addr, req.path);
        let mut builder = HttpRequest::builder().method(req.method.clone()).uri(&uri);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let request = match builder.body(body) {
            Ok(r) => r,
            Err(err) => return Outcome::Failed(format!("building request {uri}: {err}")),
        };
        let client = match req.version {
            HttpVersion::H1 => &self.h1,
            HttpVersion::H2c => &self.h2,
        };
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading body: {e}"))?
                .to_bytes();
            Ok::<_, String>(Outcome::Http {
                status,
                content_type,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(err)) => Outcome::Failed(err),
            Err(_) => Outcome::Failed(format!("no response within {REQUEST_TIMEOUT:?}")),
        }
    }
}

/// gRPC client for one service.
#[derive(Clone)]
pub struct GrpcClient {
    channel: Channel,
}

impl GrpcClient {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .connect()
            .await?;
        Ok(Self { channel })
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub async fn send(&self, req: &GrpcRequest) -> Outcome {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(req)).await {
            Ok(Ok(messages)) => Outcome::Grpc {
                code: tonic::Code::Ok,
                message: String::new(),
                messages,
            },
            Ok(Err(status)) => Outcome::Grpc {
                code: status.code(),
                message: status.message().to_string(),
                messages: vec![],
            },
            Err(_) => Outcome::Failed(format!("no response within {REQUEST_TIMEOUT:?}")),
        }
    }

    async fn exchange(&self, req: &GrpcRequest) -> Result<Vec<Value>, tonic::Status> {
        use lab_proto::v1::catalog_service_client::CatalogServiceClient;
        use lab_proto::v1::echo_service_client::EchoServiceClient;
        use lab_proto::v1::order_service_client::OrderServiceClient;
        use lab_proto::v1::user_service_client::UserServiceClient;
        let ch = self.channel.clone();
        let limit = 8 << 20;
        Ok(match req {
            GrpcRequest::GetUser(r) => vec![user_json(
                &UserServiceClient::new(ch).get_user(*r).await?.into_inner(),
            )],
            GrpcRequest::ListProducts(r) => {
                let page = CatalogServiceClient::new(ch)
                    .list_products(*r)
                    .await?
                    .into_inner();
                vec![
                    json!({ "items": page.items.iter().map(product_json).collect::<Vec<_>>(), "total": page.total }),
                ]
            }
            GrpcRequest::StreamProducts(r) => {
                let mut stream = CatalogServiceClient::new(ch)
                    .stream_products(*r)
                    .await?
                    .into_inner();
                let mut out = Vec::new();
                while let Some(p) = stream.message().await? {
                    out.push(product_json(&p));
                }
                out
            }
            GrpcRequest::CreateOrder(r) => vec![order_json(
                &OrderServiceClient::new(ch)
                    .create_order(r.clone())
                    .await?
                    .into_inner(),
            )],
            GrpcRequest::GetOrder(r) => vec![order_json(
                &OrderServiceClient::new(ch)
                    .get_order(*r)
                    .await?
                    .into_inner(),
            )],
            GrpcRequest::Echo(r) => {
                let mut client = EchoServiceClient::new(ch).max_decoding_message_size(limit);
                vec![payload_json(
                    &client.echo(r.clone()).await?.into_inner().payload,
                )]
            }
            GrpcRequest::EchoStream(requests) => {
                // The first ping goes out before the call is awaited: servers
                // may send response headers only with their first pong.
                let (tx, rx) = tokio::sync::mpsc::channel::<v1::EchoRequest>(1);
                let mut pings = requests.iter().cloned();
                let mut tx = Some(tx);
                match pings.next() {
                    Some(first) => {
                        let _ = tx
                            .as_ref()
                            .expect("sender is kept until the end")
                            .send(first)
                            .await;
                    }
                    None => tx = None,
                }
                let mut client = EchoServiceClient::new(ch).max_decoding_message_size(limit);
                let mut responses = client
                    .echo_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await?
                    .into_inner();
                let mut out = Vec::new();
                while let Some(sender) = &tx {
                    match responses.message().await? {
                        Some(m) => out.push(payload_json(&m.payload)),
                        None => break,
                    }
                    let sent = match pings.next() {
                        Some(next) => sender.send(next).await.is_ok(),
                        None => false,
                    };
                    if !sent {
                        tx = None;
                    }
                }
                drop(tx);
                while let Some(m) = responses.message().await? {
                    out.push(payload_json(&m.payload));
                }
                out
            }
            GrpcRequest::Health(service) => {
                let mut client = tonic_health::pb::health_client::HealthClient::new(ch);
                let resp = client
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: service.clone(),
                    })
                    .await?
                    .into_inner();
                let status =
                    tonic_health::pb::health_check_response::ServingStatus::try_from(resp.status)
                        .map(|s| s.as_str_name().to_string())
                        .unwrap_or_else(|_| resp.status.to_string());
                vec![json!({ "status": status })]
            }
            GrpcRequest::Unknown(path) => {
                let mut grpc = tonic::client::Grpc::new(ch);
                grpc.ready()
                    .await
                    .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                let codec = tonic_prost::ProstCodec::<v1::EchoRequest, v1::EchoResponse>::default();
                let path = http::uri::PathAndQuery::from_static(path);
                grpc.unary(tonic::Request::new(v1::EchoRequest::default()), path, codec)
                    .await?;
                vec![]
            }
            GrpcRequest::ListServices => list_services(ch).await?,
        })
    }
}

async fn list_services(ch: Channel) -> Result<Vec<Value>, tonic::Status> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(ch)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let mut names = Vec::new();
    while let Some(resp) = responses.message().await? {
        match resp.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                names.extend(list.service.into_iter().map(|s| s.name))
            }
            Some(MessageResponse::ErrorResponse(e)) => {
                return Err(tonic::Status::new(e.error_code.into(), e.error_message));
            }
            _ => {}
        }
    }
    names.sort();
    Ok(names.into_iter().map(Value::String).collect())
}

/// True when `grpc.health.v1.Health/Check("")` answers SERVING.
pub async fn grpc_serving(addr: SocketAddr) -> bool {
    let Ok(client) = GrpcClient::connect(addr).await else {
        return false;
    };
    matches!(
        client.send(&GrpcRequest::Health(String::new())).await,
        Outcome::Grpc { code: tonic::Code::Ok, messages, .. } if messages == [json!({"status": "SERVING"})]
    )
}

pub fn user_json(u: &v1::User) -> Value {
    json!({ "id": u.id, "name": u.name, "email": u.email, "age": u.age, "tags": u.tags })
}

pub fn product_json(p: &v1::Product) -> Value {
    json!({ "id": p.id, "sku": p.sku, "name": p.name, "price_cents": p.price_cents, "category": p.category })
}

pub fn order_json(o: &v1::Order) -> Value {
    let items: Vec<Value> = o
        .items
        .iter()
        .map(|l| {
            json!({ "sku": l.sku, "quantity": l.quantity, "unit_price_cents": l.unit_price_cents, "line_total_cents": l.line_total_cents })
        })
        .collect();
    json!({ "id": o.id, "user_id": o.user_id, "items": items, "total_cents": o.total_cents, "status": o.status })
}

/// Payloads as hex when short; as length and FNV-1a hash when long, so that
/// diffs stay readable.
pub fn payload_json(payload: &[u8]) -> Value {
    if payload.len() <= 64 {
        return json!({ "payload_hex": payload.iter().map(|b| format!("{b:02x}")).collect::<String>() });
    }
    let hash = payload.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    json!({ "payload_len": payload.len(), "payload_fnv1a": format!("{hash:016x}") })
}

/// Turns an already collected stream into a response body stream; used by the drain check.
pub fn channel_body(rx: tokio::sync::mpsc::Receiver<Bytes>) -> ReqBody {
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|chunk| Ok::<_, Infallible>(Frame::data(chunk)));
    StreamBody::new(stream).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_are_shortened_in_failures() {
        assert_eq!(shorten("/v1/users/1"), "/v1/users/1");
        let long = format!("/v1/products?{}", "&".repeat(10_000));
        let shown = shorten(&long);
        assert!(shown.ends_with("… (10013 bytes)"), "{shown}");
        assert!(shown.len() < 200);
        // Never cut inside a character.
        let wide = "é".repeat(100);
        assert!(shorten(&wide).starts_with(&"é".repeat(60)));
    }

    #[test]
    fn normalized_http_parses_json_and_drops_order_ids() {
        let outcome = Outcome::Http {
            status: 201,
            content_type: Some("application/json".into()),
            body: Bytes::from_static(br#"{"id":7,"user_id":1}"#),
        };
        assert_eq!(outcome.normalized(true)["body"], json!({"user_id": 1}));
        assert_eq!(
            outcome.normalized(false)["body"],
            json!({"id": 7, "user_id": 1})
        );
    }

    #[test]
    fn normalized_http_keeps_non_json_as_text() {
        let outcome = Outcome::Http {
            status: 200,
            content_type: Some("text/plain".into()),
            body: Bytes::from_static(b"hi"),
        };
        assert_eq!(
            outcome.normalized(false)["body"],
            json!({"unparsed body": "hi"})
        );
    }

    #[test]
    fn transport_statuses_drop_their_library_text() {
        let outcome = Outcome::Grpc {
            code: tonic::Code::ResourceExhausted,
            message: "grpc: too big".into(),
            messages: vec![],
        };
        assert_eq!(outcome.normalized(false)["message"], Value::Null);
        let outcome = Outcome::Grpc {
            code: tonic::Code::NotFound,
            message: "user 0 not found".into(),
            messages: vec![],
        };
        assert_eq!(
            outcome.normalized(false)["message"],
            json!("user 0 not found")
        );
    }

    #[test]
    fn long_payloads_are_summarised() {
        assert_eq!(payload_json(b"ab"), json!({"payload_hex": "6162"}));
        let long = payload_json(&[0u8; 100]);
        assert_eq!(long["payload_len"], json!(100));
    }

    #[test]
    fn calls_are_named_for_readers() {
        let req = Request::Rest(RestRequest::get("/v1/users/1").h2c());
        assert_eq!(req.call(), "GET /v1/users/1 (h2c)");
        let req = Request::Grpc(GrpcRequest::GetUser(v1::GetUserRequest { id: 1 }));
        assert_eq!(req.call(), "lab.v1.UserService/GetUser");
    }
}
