//! `lab-fixture`: a stand-in for a lab service whose startup delay, memory and
//! CPU use are known, so that probe tests can check measurements against them.
//! It takes the services' flags, prints their ready line, answers HTTP
//! `/health` and gRPC health, and exits 0 on SIGTERM.

use std::ffi::c_void;
use std::io::Write as _;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use nix::time::{ClockId, clock_gettime};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// Sleep this long after starting, before binding the listeners.
const LISTEN_DELAY: &str = "LAB_FIXTURE_LISTEN_DELAY_MS";
/// On SIGTERM or SIGINT, wait this long before shutting down.
const EXIT_DELAY: &str = "LAB_FIXTURE_EXIT_DELAY_MS";

#[derive(Debug, Parser)]
#[command(
    name = "lab-fixture",
    version,
    about = "The lab's test fixture: looks like a lab service to the harness, with known \
             startup delay, memory and CPU use",
    long_about = "The lab's test fixture: looks like a lab service to the harness (same flags, \
                  ready line, HTTP /health and gRPC health), with known startup delay, memory \
                  and CPU use, so that probe tests can check measurements against them.\n\n\
                  HTTP: GET /health; POST /alloc?mib=N maps N MiB and touches every page; \
                  POST /free unmaps it all; POST /burn?ms=M spins until a thread used M ms \
                  of CPU; GET /cpu gives the CPU time the process has used so far, in µs \
                  (CLOCK_PROCESS_CPUTIME_ID: every thread, user and system).\n\
                  Environment: LAB_FIXTURE_LISTEN_DELAY_MS=N sleeps N ms before binding the \
                  listeners; LAB_FIXTURE_EXIT_DELAY_MS=N waits N ms after SIGTERM before \
                  shutting down."
)]
struct Args {
    /// HTTP/1.1 listener; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
    /// gRPC listener (health only); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:50051")]
    grpc_addr: SocketAddr,
    /// Tokio worker threads [default: the CPUs the process may use]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    workers: Option<u32>,
    /// Accepted for compatibility with the services; the fixture logs only errors.
    #[arg(long, default_value = "warn")]
    log_level: String,
    /// How long shutdown waits for open connections, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lab-fixture: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let listen_delay = env_ms(LISTEN_DELAY)?;
    let exit_delay = env_ms(EXIT_DELAY)?;
    let workers = match args.workers {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let result = runtime.block_on(serve(args, listen_delay, exit_delay));
    runtime.shutdown_background();
    result
}

fn env_ms(name: &str) -> anyhow::Result<Duration> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(Duration::ZERO),
        Err(err) => Err(err).with_context(|| format!("reading {name}")),
        Ok(text) => text
            .trim()
            .parse()
            .map(Duration::from_millis)
            .with_context(|| format!("{name}={text:?}: expected whole milliseconds")),
    }
}

async fn serve(args: Args, listen_delay: Duration, exit_delay: Duration) -> anyhow::Result<()> {
    // Installed first, so that no signal after the ready line is missed.
    let mut shutdown = std::pin::pin!(shutdown_signal()?);
    tokio::time::sleep(listen_delay).await;
    let http = TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("binding the HTTP listener on {}", args.http_addr))?;
    let grpc = TcpListener::bind(args.grpc_addr)
        .await
        .with_context(|| format!("binding the gRPC listener on {}", args.grpc_addr))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "listening http={} grpc={}",
        http.local_addr()?,
        grpc.local_addr()?
    )
    .and_then(|()| out.flush())
    .context("writing the ready line")?;
    drop(out);

    let (_health, health_service) = tonic_health::server::health_reporter();
    let (stop_grpc, grpc_stop) = tokio::sync::oneshot::channel::<()>();
    let grpc_task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health_service)
            .serve_with_incoming_shutdown(TcpListenerStream::new(grpc), async {
                let _ = grpc_stop.await;
            }),
    );

    let memory = Arc::new(Memory::default());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = http.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let memory = Arc::clone(&memory);
                let service = service_fn(move |req| handle(req, Arc::clone(&memory)));
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    }

    tokio::time::sleep(exit_delay).await;
    drop(http);
    let _ = stop_grpc.send(());
    tokio::time::timeout(args.drain_timeout, async {
        // Idle keep-alive connections close at once; only requests in flight delay this.
        graceful.shutdown().await;
        grpc_task.await
    })
    .await
    .context("connections still open after the drain timeout")?
    .context("the gRPC server task failed")?
    .context("the gRPC server failed")?;
    Ok(())
}

fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

type Reply = Response<Full<Bytes>>;

async fn handle(req: Request<Incoming>, memory: Arc<Memory>) -> Result<Reply, hyper::Error> {
    let query = |key: &str| -> Option<u64> {
        req.uri()
            .query()?
            .split('&')
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    let reply = match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => reply(StatusCode::OK, r#"{"status":"ok"}"#.to_owned()),
        (&Method::GET, "/cpu") => match clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID) {
            Ok(used) => reply(
                StatusCode::OK,
                format!(
                    "{{\"process_cpu_us\":{}}}",
                    Duration::from(used).as_micros()
                ),
            ),
            Err(err) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
        },
        (&Method::POST, "/alloc") => match query("mib") {
            None => reply(StatusCode::BAD_REQUEST, "want ?mib=N\n".to_owned()),
            Some(mib) => match memory.alloc(mib) {
                Ok(held) => reply(StatusCode::OK, format!("{{\"held_mib\":{held}}}")),
                Err(err) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("mmap {mib} MiB: {err}\n"),
                ),
            },
        },
        (&Method::POST, "/free") => {
            memory.free();
            reply(StatusCode::OK, r#"{"held_mib":0}"#.to_owned())
        }
        (&Method::POST, "/burn") => match query("ms") {
            None => reply(StatusCode::BAD_REQUEST, "want ?ms=M\n".to_owned()),
            Some(ms) => {
                match tokio::task::spawn_blocking(move || burn(Duration::from_millis(ms))).await {
                    Ok(Ok(())) => reply(StatusCode::OK, format!("{{\"burnt_ms\":{ms}}}")),
                    Ok(Err(err)) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
                    Err(err) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
                }
            }
        },
        _ => reply(StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    Ok(reply)
}

fn reply(status: StatusCode, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// Spins until this thread has used `cpu` of CPU time.
fn burn(cpu: Duration) -> nix::Result<()> {
    let now = || clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from);
    let start = now()?;
    while now()? - start < cpu {
        // Reading a thread's CPU clock is a system call: mostly spin in user space.
        for _ in 0..256 {
            std::hint::spin_loop();
        }
    }
    Ok(())
}

/// Anonymous mappings held until `/free`. mmap and munmap rather than a `Vec`:
/// glibc's malloc may keep freed memory, and then `/free` would not lower RSS.
#[derive(Default)]
struct Memory {
    held: Mutex<Vec<Mapping>>,
}

impl Memory {
    /// Maps `mib` MiB, touches every 4 KiB page so it is resident, keeps it,
    /// and returns the MiB now held.
    fn alloc(&self, mib: u64) -> nix::Result<u64> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(len) = usize::try_from(mib << 20).ok().and_then(NonZeroUsize::new) {
            // SAFETY: a fresh private anonymous mapping aliases nothing.
            let ptr = unsafe {
                mmap_anonymous(
                    None,
                    len,
                    ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                    MapFlags::MAP_PRIVATE,
                )?
            };
            let mapping = Mapping { ptr, len };
            for offset in (0..len.get()).step_by(4096) {
                // SAFETY: `offset` is inside the writable mapping just made.
                unsafe { ptr.cast::<u8>().add(offset).write_volatile(1) };
            }
            held.push(mapping);
        }
        Ok(held.iter().map(|m| (m.len.get() >> 20) as u64).sum())
    }

    fn free(&self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// An anonymous mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<c_void>,
    len: NonZeroUsize,
}

// SAFETY: the mapping is owned by this value alone; no references into it escape.
unsafe impl Send for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what mmap returned, unmapped only here.
        if let Err(err) = unsafe { munmap(self.ptr, self.len.get()) } {
            eprintln!("lab-fixture: munmap: {err}");
        }
    }
}
