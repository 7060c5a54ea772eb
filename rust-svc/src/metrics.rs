//! Prometheus metrics (contract/README.md, "Metrics"): HTTP and gRPC request
//! counters and histograms, the process collector, and tokio runtime gauges.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Histogram buckets in seconds, the same for HTTP and gRPC.
pub const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("registering metrics: {0}")]
    Register(#[from] prometheus::Error),
}

/// The service's registry and the metrics it records.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    grpc_requests: IntCounterVec,
    grpc_duration: HistogramVec,
    tokio_workers: IntGauge,
    tokio_alive_tasks: IntGauge,
    tokio_global_queue_depth: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status.",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request duration by method, route and status.",
            )
            .buckets(BUCKETS.to_vec()),
            &["method", "route", "status"],
        )?;
        let grpc_requests = IntCounterVec::new(
            Opts::new(
                "grpc_requests_total",
                "gRPC requests by full method and code.",
            ),
            &["method", "code"],
        )?;
        let grpc_duration = HistogramVec::new(
            HistogramOpts::new(
                "grpc_request_duration_seconds",
                "gRPC request duration (to the end of the response stream) by full method and code.",
            )
            .buckets(BUCKETS.to_vec()),
            &["method", "code"],
        )?;
        let tokio_workers = IntGauge::new("tokio_workers", "Worker threads of the tokio runtime.")?;
        let tokio_alive_tasks =
            IntGauge::new("tokio_alive_tasks", "Tasks alive in the tokio runtime.")?;
        let tokio_global_queue_depth = IntGauge::new(
            "tokio_global_queue_depth",
            "Tasks waiting in the tokio runtime's global queue.",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(grpc_requests.clone()))?;
        registry.register(Box::new(grpc_duration.clone()))?;
        registry.register(Box::new(tokio_workers.clone()))?;
        registry.register(Box::new(tokio_alive_tasks.clone()))?;
        registry.register(Box::new(tokio_global_queue_depth.clone()))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            grpc_requests,
            grpc_duration,
            tokio_workers,
            tokio_alive_tasks,
            tokio_global_queue_depth,
        })
    }

    pub fn observe_http(&self, method: &str, route: &str, status: &str, elapsed: Duration) {
        let labels = [method, route, status];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_grpc(&self, method: &str, code: &str, elapsed: Duration) {
        let labels = [method, code];
        self.grpc_requests.with_label_values(&labels).inc();
        self.grpc_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition and its content type. Reads the tokio
    /// gauges from the current runtime first.
    pub fn render(&self) -> Result<(String, Vec<u8>), prometheus::Error> {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let runtime = handle.metrics();
            self.tokio_workers
                .set(saturating_i64(runtime.num_workers()));
            self.tokio_alive_tasks
                .set(saturating_i64(runtime.num_alive_tasks()));
            self.tokio_global_queue_depth
                .set(saturating_i64(runtime.global_queue_depth()));
        }
        let encoder = TextEncoder::new();
        let mut buf = Vec::with_capacity(16 * 1024);
        encoder.encode(&self.registry.gather(), &mut buf)?;
        Ok((encoder.format_type().to_owned(), buf))
    }
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The gRPC methods that get metrics: those of the registered services. An
/// unknown method is answered `UNIMPLEMENTED` and not recorded, like grpc-go,
/// whose interceptors never see unknown methods (and it bounds the label set).
const GRPC_METHODS: [&str; 11] = [
    "/lab.v1.UserService/GetUser",
    "/lab.v1.CatalogService/ListProducts",
    "/lab.v1.CatalogService/StreamProducts",
    "/lab.v1.OrderService/CreateOrder",
    "/lab.v1.OrderService/GetOrder",
    "/lab.v1.EchoService/Echo",
    "/lab.v1.EchoService/EchoStream",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

fn known_grpc_method(path: &str) -> Option<&'static str> {
    GRPC_METHODS.iter().copied().find(|m| *m == path)
}

fn grpc_status_of(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .map(|value| tonic::Code::from_bytes(value.as_bytes()))
}

/// A tower layer for the tonic server that records `grpc_requests_total` and
/// `grpc_request_duration_seconds` when a call ends: at once for a
/// trailers-only response, otherwise when the response body's trailers go out.
#[derive(Debug, Clone)]
pub struct GrpcMetricsLayer {
    metrics: Arc<Metrics>,
}

impl GrpcMetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for GrpcMetricsService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body<Data = Bytes, Error = tonic::Status> + Unpin + Send + 'static,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // The instance polled ready is called here, synchronously; the future
        // owns what it needs, so no clone-and-swap is required.
        let inner = &mut self.inner;
        let Some(method) = known_grpc_method(request.uri().path()) else {
            let future = inner.call(request);
            return Box::pin(async move {
                let response = future.await?;
                Ok(response.map(|body| MeteredBody {
                    inner: body,
                    call: PendingCall(None),
                }))
            });
        };
        let metrics = Arc::clone(&self.metrics);
        let start = Instant::now();
        let future = inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let call = Call {
                metrics,
                method,
                start,
            };
            let call = match grpc_status_of(response.headers()) {
                // Trailers-only: the status is in the headers and the body is empty.
                Some(code) => {
                    call.finish(code);
                    None
                }
                None => Some(call),
            };
            Ok(response.map(|body| MeteredBody {
                inner: body,
                call: PendingCall(call),
            }))
        })
    }
}

#[derive(Debug)]
struct Call {
    metrics: Arc<Metrics>,
    method: &'static str,
    start: Instant,
}

impl Call {
    fn finish(self, code: tonic::Code) {
        self.metrics.observe_grpc(
            self.method,
            lab_proto::code_name(code),
            self.start.elapsed(),
        );
    }
}

/// A call whose status is not known yet; dropped unfinished, it counts as
/// `CANCELLED` (the client went away before the end of the response).
#[derive(Debug)]
struct PendingCall(Option<Call>);

impl PendingCall {
    fn finish(&mut self, code: tonic::Code) {
        if let Some(call) = self.0.take() {
            call.finish(code);
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

/// A response body that records its call when the trailers (or the end) go by.
#[derive(Debug)]
pub struct MeteredBody<B> {
    inner: B,
    call: PendingCall,
}

impl<B> Body for MeteredBody<B>
where
    B: Body<Data = Bytes, Error = tonic::Status> + Unpin,
{
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = grpc_status_of(trailers).unwrap_or(tonic::Code::Unknown);
                    this.call.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => this.call.finish(status.code()),
            // A clean end without trailers: nothing went wrong.
            Poll::Ready(None) => this.call.finish(tonic::Code::Ok),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_http("GET", "/health", "200", Duration::from_millis(1));
        metrics.observe_grpc(
            "/lab.v1.UserService/GetUser",
            "OK",
            Duration::from_millis(1),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .build()
            .unwrap();
        let (content_type, body) = runtime.block_on(async { metrics.render().unwrap() });
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
        let text = String::from_utf8(body).unwrap();
        for needle in [
            r#"http_requests_total{method="GET",route="/health",status="200"} 1"#,
            r#"http_request_duration_seconds_bucket{method="GET",route="/health",status="200",le="0.0001"} 0"#,
            r#"http_request_duration_seconds_bucket{method="GET",route="/health",status="200",le="2.5"} 1"#,
            r#"grpc_requests_total{code="OK",method="/lab.v1.UserService/GetUser"} 1"#,
            r#"grpc_request_duration_seconds_bucket{code="OK",method="/lab.v1.UserService/GetUser",le="0.00025"} 0"#,
            "tokio_workers 3",
            "tokio_alive_tasks ",
            "tokio_global_queue_depth ",
            "process_resident_memory_bytes ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn known_methods() {
        assert_eq!(
            known_grpc_method("/lab.v1.EchoService/EchoStream"),
            Some("/lab.v1.EchoService/EchoStream")
        );
        assert_eq!(known_grpc_method("/lab.v1.EchoService/Nope"), None);
    }
}
