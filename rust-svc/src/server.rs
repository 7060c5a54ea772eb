//! Listeners, the REST accept loop, the gRPC server, the ready line and the
//! graceful drain (contract/README.md, "Running a service").

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use futures::{Stream, StreamExt as _};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::{Config, LogLevel};
use crate::grpcapi;
use crate::limits::{MAX_CONCURRENT_STREAMS, MAX_HEAD_BYTES, MAX_HEADER_FIELDS, MAX_MESSAGE_BYTES};
use crate::metrics::MetricsError;
use crate::services::Services;
use crate::{AppState, routes};

mod backlog;
mod connection;
mod linger;

use connection::{FirstRequest, Marking};
use linger::LingeringStream;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("binding the {which} listener on {addr}")]
    Bind {
        which: &'static str,
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("building the gRPC reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("the gRPC server failed")]
    Grpc(#[from] tonic::transport::Error),
    #[error("the gRPC server task failed")]
    GrpcTask(#[from] tokio::task::JoinError),
    #[error("the gRPC server stopped before shutdown")]
    GrpcStopped,
    #[error("in-flight requests were still running after the drain timeout ({}); cut them", humantime::format_duration(*.0))]
    DrainTimeout(Duration),
}

/// Starts the service: binds both listeners, prints the ready line, serves,
/// and drains on the first of `signals` (see [`Server::serve`]).
pub async fn run(config: Config, signals: impl Stream<Item = ()>) -> Result<(), ServeError> {
    init_logging(config.log_level);
    let server = Server::bind(&config).await?;
    announce(server.http_addr(), server.grpc_addr());
    server.serve(signals).await
}

/// Every SIGTERM and SIGINT, as they come. Call it inside the runtime: the
/// handlers are installed at once, not when the stream is first polled.
pub fn shutdown_signals() -> io::Result<impl Stream<Item = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate())?;
    let interrupt = signal(SignalKind::interrupt())?;
    Ok(futures::stream::unfold(
        (terminate, interrupt),
        |(mut terminate, mut interrupt)| async move {
            tokio::select! {
                Some(()) = terminate.recv() => {}
                Some(()) = interrupt.recv() => {}
                else => return None,
            }
            Some(((), (terminate, interrupt)))
        },
    ))
}

/// Logs to standard error, filtered at `level` (nothing per request at `warn`).
/// A second call (tests start several services) keeps the first subscriber.
pub fn init_logging(level: LogLevel) {
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(level.as_str()))
        .try_init();
}

/// `listening http=ADDR grpc=ADDR` on standard output, flushed: how the
/// harness learns the ports it asked to be picked.
fn announce(http: SocketAddr, grpc: SocketAddr) {
    let mut out = io::stdout().lock();
    if let Err(err) = writeln!(out, "listening http={http} grpc={grpc}").and_then(|()| out.flush())
    {
        tracing::warn!(error = %err, "could not write the ready line");
    }
}

/// Both listeners, bound, and the state they serve.
#[derive(Debug)]
pub struct Server {
    http: TcpListener,
    grpc: TcpListener,
    state: Arc<AppState>,
    drain_timeout: Duration,
    drain_delay: Duration,
    header_read_timeout: Duration,
}

impl Server {
    /// Generates the data and binds both listeners.
    pub async fn bind(config: &Config) -> Result<Self, ServeError> {
        let state = AppState::new(Services::default())?;
        let http = bind("REST", &config.http_addr).await?;
        let grpc = bind("gRPC", &config.grpc_addr).await?;
        Ok(Self {
            http,
            grpc,
            state,
            drain_timeout: config.drain_timeout,
            drain_delay: config.drain_delay,
            header_read_timeout: config.header_read_timeout,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves REST and gRPC until the first item of `signals`, then drains
    /// (contract/README.md, "Running a service"):
    /// 1. readiness turns off: `/health` answers 503, the gRPC health service
    ///    reports NOT_SERVING;
    /// 2. both listeners keep serving for the drain delay, or until the next
    ///    item of `signals`; HTTP/1.1 responses carry `Connection: close`;
    /// 3. both listeners close, and in-flight requests and streams get the drain
    ///    timeout to finish: `Ok` if they do, [`ServeError::DrainTimeout`]
    ///    (after cutting the REST connections) if not. A REST connection that
    ///    has not sent its first request head yet gets until 5 s after its
    ///    accept (or the header-read timeout, if shorter) to send it, and that
    ///    request is answered.
    ///
    /// A stream that ends sends no more signals: before the first item, the
    /// service serves until it is dropped.
    pub async fn serve(self, signals: impl Stream<Item = ()>) -> Result<(), ServeError> {
        let Self {
            http,
            grpc,
            state,
            drain_timeout,
            drain_delay,
            header_read_timeout,
        } = self;
        let mut signals = pin!(signals);

        let (health, grpc_routes) = grpc_routes(&state).await?;
        let (close_grpc, grpc_closing) = oneshot::channel::<()>();
        let incoming = backlog::incoming(grpc, grpc_closing).map(|conn| {
            conn.inspect(|stream| {
                // Go's default; tonic skips its own setting for a custom incoming stream.
                let _ = stream.set_nodelay(true);
            })
        });
        // The incoming stream's end starts tonic's graceful shutdown: this
        // future only makes it graceful.
        let grpc_server = grpcapi::server_builder(Arc::clone(&state.metrics))
            .add_routes(grpc_routes)
            .serve_with_incoming_shutdown(incoming, std::future::pending::<()>());
        let mut grpc_task = tokio::spawn(grpc_server);

        let router = routes::router(Arc::clone(&state));
        let builder = rest_connection_builder(header_read_timeout);
        let rest = Rest {
            builder,
            router,
            closing: Arc::new(AtomicBool::new(false)),
            draining: watch::Sender::new(false),
            first_request_grace: connection::first_request_grace(header_read_timeout),
        };
        let mut connections = JoinSet::new();
        serve_until(
            next_signal(&mut signals),
            accept_loop(&http, &rest, &mut connections),
            &mut grpc_task,
        )
        .await?;

        tracing::info!(delay = %humantime::format_duration(drain_delay), "draining: reporting not serving");
        state.stop_serving();
        rest.closing.store(true, Ordering::Relaxed);
        for name in std::iter::once("").chain(grpcapi::SERVICE_NAMES) {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        if !drain_delay.is_zero() {
            let delay = async {
                tokio::select! {
                    () = tokio::time::sleep(drain_delay) => {}
                    () = next_signal(&mut signals) => {
                        tracing::info!("a second signal ends the drain delay");
                    }
                }
            };
            serve_until(
                delay,
                accept_loop(&http, &rest, &mut connections),
                &mut grpc_task,
            )
            .await?;
        }

        tracing::info!("closing the listeners: draining in-flight requests");
        let _ = close_grpc.send(());
        for stream in backlog::accept_backlog(http, backlog::HANDSHAKE_WAIT).await {
            serve_connection(stream, &rest, &mut connections);
        }
        let drained = tokio::time::timeout(drain_timeout, async {
            let rest = async {
                rest.draining.send_replace(true);
                while connections.join_next().await.is_some() {}
            };
            let ((), grpc) = tokio::join!(rest, &mut grpc_task);
            grpc
        })
        .await;
        match drained {
            Ok(grpc) => Ok(grpc??),
            Err(_elapsed) => {
                // gRPC connections run in tonic's own tasks: they are cut when the
                // runtime shuts down (main exits 1 right after this).
                connections.abort_all();
                grpc_task.abort();
                Err(ServeError::DrainTimeout(drain_timeout))
            }
        }
    }
}

/// Serves one accepted REST connection in `connections`.
fn serve_connection(stream: TcpStream, rest: &Rest, connections: &mut JoinSet<()>) {
    let first_request_by = tokio::time::Instant::now() + rest.first_request_grace;
    let _ = stream.set_nodelay(true);
    let first = Arc::new(FirstRequest::default());
    let service = Marking::new(
        TowerToHyperService::new(rest.router.clone()),
        Arc::clone(&first),
        Arc::clone(&rest.closing),
    );
    let connection = rest
        .builder
        .serve_connection(TokioIo::new(LingeringStream::new(stream)), service)
        .into_owned();
    connections.spawn(connection::serve(
        connection,
        first,
        rest.draining.subscribe(),
        first_request_by,
    ));
}

/// The next signal; none ever comes once the stream has ended.
async fn next_signal(signals: &mut Pin<&mut impl Stream<Item = ()>>) {
    if signals.next().await.is_none() {
        std::future::pending::<()>().await;
    }
}

/// Serves (`accepting` REST connections; gRPC runs in `grpc_task`) until
/// `stop` completes. An error if the gRPC server stops first.
async fn serve_until(
    stop: impl Future<Output = ()>,
    accepting: impl Future<Output = Infallible>,
    grpc_task: &mut JoinHandle<Result<(), tonic::transport::Error>>,
) -> Result<(), ServeError> {
    tokio::select! {
        () = stop => Ok(()),
        never = accepting => match never {},
        stopped = grpc_task => {
            stopped??;
            Err(ServeError::GrpcStopped)
        }
    }
}

/// Binds like Go's `net.Listen("tcp", addr)`: host names resolve, `:PORT`
/// means every interface, `SO_REUSEADDR` is set and the backlog is the
/// kernel's `somaxconn`.
async fn bind(which: &'static str, addr: &str) -> Result<TcpListener, ServeError> {
    let fail = |source| ServeError::Bind {
        which,
        addr: addr.to_owned(),
        source,
    };
    let spec = if addr.starts_with(':') {
        format!("[::]{addr}")
    } else {
        addr.to_owned()
    };
    let resolved = tokio::net::lookup_host(&spec)
        .await
        .map_err(fail)?
        .next()
        .ok_or_else(|| fail(io::Error::new(io::ErrorKind::NotFound, "no address")))?;
    let socket = if resolved.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(resolved).map_err(fail)?;
    socket.listen(listen_backlog()).map_err(fail)
}

fn listen_backlog() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .map_or(4096, |n| n.clamp(128, 65_535))
}

/// The four `lab.v1` services, health (SERVING) and reflection v1 and v1alpha.
async fn grpc_routes(
    state: &Arc<AppState>,
) -> Result<(HealthReporter, tonic::service::Routes), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in std::iter::once("").chain(grpcapi::SERVICE_NAMES) {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    // Both reflection versions list both, as grpc-go's reflection does.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(lab_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
    };
    let routes = grpcapi::routes(state)
        .add_service(health_service.max_decoding_message_size(MAX_MESSAGE_BYTES))
        .add_service(
            reflection()
                .build_v1()?
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            reflection()
                .build_v1alpha()?
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        );
    Ok((health, routes))
}

/// HTTP/1.1 and HTTP/2 prior knowledge (h2c) on the same port.
fn rest_connection_builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADER_FIELDS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        // hyper's default, and go-svc's http2 limit (MaxHeaderBytes + 10 × 32).
        .max_header_list_size(16 << 10);
    builder
}

/// What every REST connection is served with.
struct Rest {
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    /// Turns true when the listeners close: each connection then shuts down
    /// gracefully (see [`connection::serve`]).
    draining: watch::Sender<bool>,
    /// Set when the drain begins: HTTP/1.1 responses carry `Connection: close`
    /// from then on (see [`Marking`]).
    closing: Arc<AtomicBool>,
    first_request_grace: Duration,
}

/// Accepts REST connections until it is dropped; each connection runs in
/// `connections` until it ends or `rest.draining` closes it.
async fn accept_loop(
    listener: &TcpListener,
    rest: &Rest,
    connections: &mut JoinSet<()>,
) -> Infallible {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve_connection(stream, rest, connections),
                Err(err) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tracing::warn!(error = %err, "accepting a REST connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
