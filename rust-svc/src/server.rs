//! Listeners, the REST accept loop, the gRPC server, the ready line and the
//! graceful drain (contract/README.md, "Running a service").

use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::StreamExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::{Config, LogLevel};
use crate::grpcapi::{self, MAX_CONCURRENT_STREAMS, MAX_MESSAGE_BYTES};
use crate::metrics::MetricsError;
use crate::services::Services;
use crate::{AppState, routes};

mod linger;

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

/// Starts the service: binds both listeners, prints the ready line, serves
/// until `shutdown` completes, then drains.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    init_logging(config.log_level);
    let server = Server::bind(&config).await?;
    announce(server.http_addr(), server.grpc_addr());
    server.serve(shutdown).await
}

/// Completes on the first SIGTERM or SIGINT. Call it inside the runtime: the
/// handlers are installed at once, not when the future is first polled.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
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

    /// Serves REST and gRPC until `shutdown` completes. Then the health service
    /// reports NOT_SERVING, both listeners stop accepting, and in-flight
    /// requests and streams get the drain timeout to finish: `Ok` if they do,
    /// [`ServeError::DrainTimeout`] (after cutting the REST connections) if not.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Self {
            http,
            grpc,
            state,
            drain_timeout,
            header_read_timeout,
        } = self;

        let (health, grpc_routes) = grpc_routes(&state).await?;
        let (stop_grpc, grpc_stop) = oneshot::channel::<()>();
        let incoming = TcpListenerStream::new(grpc).map(|conn| {
            conn.inspect(|stream| {
                // Go's default; tonic skips its own setting for a custom incoming stream.
                let _ = stream.set_nodelay(true);
            })
        });
        let grpc_server = grpcapi::server_builder(Arc::clone(&state.metrics))
            .add_routes(grpc_routes)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = grpc_stop.await;
            });
        let mut grpc_task = tokio::spawn(grpc_server);

        let router = routes::router(state);
        let builder = rest_connection_builder(header_read_timeout);
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        tokio::select! {
            () = shutdown => {}
            never = accept_loop(&http, &builder, &router, &graceful, &mut connections) => match never {},
            stopped = &mut grpc_task => {
                stopped??;
                return Err(ServeError::GrpcStopped);
            }
        }

        tracing::info!("shutting down: draining in-flight requests");
        for name in std::iter::once("").chain(grpcapi::SERVICE_NAMES) {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        drop(http);
        let _ = stop_grpc.send(());
        let drained = tokio::time::timeout(drain_timeout, async {
            let rest = async {
                graceful.shutdown().await;
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

/// HTTP/1.1 and HTTP/2 prior knowledge (h2c) on the same port. A zero
/// `header_read_timeout` means none, as for Go's `ReadHeaderTimeout`.
fn rest_connection_builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout((!header_read_timeout.is_zero()).then_some(header_read_timeout));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    builder
}

/// Accepts REST connections until it is dropped; each connection runs in
/// `connections`, watched by `graceful`.
async fn accept_loop(
    listener: &TcpListener,
    builder: &auto::Builder<TokioExecutor>,
    router: &Router,
    graceful: &GracefulShutdown,
    connections: &mut JoinSet<()>,
) -> std::convert::Infallible {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(router.clone());
                    let connection = builder
                        .serve_connection(TokioIo::new(LingeringStream::new(stream)), service)
                        .into_owned();
                    let connection = graceful.watch(connection);
                    connections.spawn(async move {
                        if let Err(err) = connection.await {
                            tracing::debug!(error = %err, "REST connection ended with an error");
                        }
                    });
                }
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
