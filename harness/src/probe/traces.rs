//! An OTLP/gRPC trace sink: what a service under test exports, counted.
//!
//! [`TraceSink::start`] serves `opentelemetry.proto.collector.trace.v1.
//! TraceService/Export` on its own thread (one current-thread runtime), so
//! that its CPU time is its own and not the load generator's. It counts
//! batches, spans and bytes, and keeps the spans of the trace ids it is asked
//! to watch, so that a check can see what a traced request produced.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tokio::sync::oneshot;

/// What the sink has received so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Export calls.
    pub batches: u64,
    pub spans: u64,
    /// Encoded request bytes (protobuf, before gRPC framing).
    pub bytes: u64,
}

/// A span of a watched trace, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSeen {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// None for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    /// OTLP's span kind number (2: server).
    pub kind: i32,
    /// The span's attributes, values as text, sorted by key.
    pub attributes: Vec<(String, String)>,
    /// OTLP's status code number (0 unset, 1 ok, 2 error).
    pub status: i32,
    /// The W3C trace flags the span was exported with (1: sampled).
    pub flags: u32,
}

#[derive(Default)]
struct Seen {
    batches: AtomicU64,
    spans: AtomicU64,
    bytes: AtomicU64,
    watched: Mutex<HashMap<[u8; 16], Vec<SpanSeen>>>,
}

/// A running sink; stopped when dropped.
pub struct TraceSink {
    addr: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TraceSink {
    /// Binds `addr` (port 0 picks one) and serves on a thread of its own.
    pub fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding the trace sink on {addr}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Seen::default());
        let (stop, stopped) = oneshot::channel();
        let service = TraceServiceServer::new(Receiver(seen.clone()));
        let thread = std::thread::Builder::new()
            .name("trace-sink".to_owned())
            .spawn(move || serve(listener, service, stopped))
            .context("starting the trace sink's thread")?;
        Ok(TraceSink {
            addr,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where to send traces: `http://ADDR`, for `--otlp-endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn counts(&self) -> Counts {
        Counts {
            batches: self.seen.batches.load(Ordering::Relaxed),
            spans: self.seen.spans.load(Ordering::Relaxed),
            bytes: self.seen.bytes.load(Ordering::Relaxed),
        }
    }

    /// Keeps the spans of `trace_id` from now on.
    pub fn watch(&self, trace_id: [u8; 16]) {
        let mut watched = self.seen.watched.lock().expect("no sink thread panicked");
        watched.entry(trace_id).or_default();
    }

    /// The spans of a watched trace received so far.
    pub fn spans_of(&self, trace_id: [u8; 16]) -> Vec<SpanSeen> {
        let watched = self.seen.watched.lock().expect("no sink thread panicked");
        watched.get(&trace_id).cloned().unwrap_or_default()
    }

    /// CPU time (user + system) the sink's thread has used.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        use std::os::unix::thread::JoinHandleExt as _;
        let thread = self.thread.as_ref().context("the sink has stopped")?;
        let mut clock: nix::libc::clockid_t = 0;
        // SAFETY: the thread is alive until `self` is dropped (it is joined
        // there), and `clock` is a valid place for the id.
        let rc = unsafe { nix::libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) };
        if rc != 0 {
            anyhow::bail!(
                "the trace sink's CPU clock: {}",
                std::io::Error::from_raw_os_error(rc)
            );
        }
        let now = nix::time::clock_gettime(nix::time::ClockId::from_raw(clock))
            .context("reading the trace sink's CPU clock")?;
        Ok(now.tv_sec() as f64 + now.tv_nsec() as f64 / 1e9)
    }
}

impl Drop for TraceSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: std::net::TcpListener,
    service: TraceServiceServer<Receiver>,
    stopped: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the trace sink's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .context("serving traces")
    })
}

struct Receiver(Arc<Seen>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let seen = &self.0;
        seen.batches.fetch_add(1, Ordering::Relaxed);
        seen.bytes
            .fetch_add(request.encoded_len() as u64, Ordering::Relaxed);
        let mut watched = seen.watched.lock().expect("no sink thread panicked");
        let spans = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans);
        for span in spans {
            seen.spans.fetch_add(1, Ordering::Relaxed);
            let Ok(trace_id) = <[u8; 16]>::try_from(span.trace_id.as_slice()) else {
                continue;
            };
            if let Some(kept) = watched.get_mut(&trace_id) {
                kept.push(span_seen(trace_id, span));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn span_seen(trace_id: [u8; 16], span: &opentelemetry_proto::tonic::trace::v1::Span) -> SpanSeen {
    let mut attributes: Vec<(String, String)> = span
        .attributes
        .iter()
        .map(|kv| {
            let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
            (kv.key.clone(), value.map_or_else(String::new, value_text))
        })
        .collect();
    attributes.sort();
    SpanSeen {
        trace_id,
        span_id: <[u8; 8]>::try_from(span.span_id.as_slice()).unwrap_or_default(),
        parent_span_id: <[u8; 8]>::try_from(span.parent_span_id.as_slice()).ok(),
        name: span.name.clone(),
        kind: span.kind,
        attributes,
        status: span.status.as_ref().map_or(0, |s| s.code),
        flags: span.flags & 0xff,
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    use super::*;

    fn span(trace: u8, id: u8, parent: Option<u8>, name: &str) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map_or_else(Vec::new, |p| vec![p; 8]),
            name: name.to_owned(),
            kind: 2,
            flags: 0x101,
            attributes: vec![
                KeyValue {
                    key: "http.route".to_owned(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("/v1/users/{id}".to_owned())),
                    }),
                    ..Default::default()
                },
                KeyValue {
                    key: "http.response.status_code".to_owned(),
                    value: Some(AnyValue {
                        value: Some(Value::IntValue(200)),
                    }),
                    ..Default::default()
                },
            ],
            status: Some(Status {
                message: String::new(),
                code: 2,
            }),
            ..Default::default()
        }
    }

    fn batch(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn counts_every_span_and_keeps_the_watched_traces() {
        let sink = TraceSink::start("127.0.0.1:0".parse().unwrap()).unwrap();
        sink.watch([7; 16]);
        let first = batch(vec![
            span(7, 1, None, "GET /v1/users/{id}"),
            span(9, 2, None, "x"),
        ]);
        let second = batch(vec![span(7, 3, Some(1), "child")]);
        let bytes = (first.encoded_len() + second.encoded_len()) as u64;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut client = TraceServiceClient::connect(sink.endpoint()).await.unwrap();
            client.export(first).await.unwrap();
            client.export(second).await.unwrap();
        });
        assert_eq!(
            sink.counts(),
            Counts {
                batches: 2,
                spans: 3,
                bytes
            }
        );
        let kept = sink.spans_of([7; 16]);
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert_eq!(kept[0].name, "GET /v1/users/{id}");
        assert_eq!(kept[0].parent_span_id, None);
        assert_eq!(kept[1].parent_span_id, Some([1; 8]));
        assert_eq!((kept[0].kind, kept[0].status, kept[0].flags), (2, 2, 1));
        assert_eq!(
            kept[0].attributes,
            [
                ("http.response.status_code".to_owned(), "200".to_owned()),
                ("http.route".to_owned(), "/v1/users/{id}".to_owned()),
            ]
        );
        assert!(sink.spans_of([9; 16]).is_empty(), "not watched");
        let cpu = sink.cpu_seconds().unwrap();
        assert!(cpu > 0.0 && cpu < 60.0, "{cpu}");
    }

    #[test]
    fn a_taken_port_is_an_error_that_names_it() {
        let first = TraceSink::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let err = TraceSink::start(first.addr()).err().unwrap();
        assert!(
            format!("{err:#}").contains(&format!("binding the trace sink on {}", first.addr())),
            "{err:#}"
        );
    }
}
