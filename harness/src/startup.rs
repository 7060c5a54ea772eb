//! `harness startup`: how long a service takes from spawn to ready (HTTP
//! `/health` 200 and gRPC health SERVING) and from SIGTERM to exit, over
//! fresh processes. Run 1 of each target is cold: the binary is evicted from
//! the page cache first.
//!
//! The service runs on the server CPUs; two polling threads (HTTP and gRPC)
//! run on the generator's CPUs, so polling tightly does not slow the service.

use std::fs::File;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::placement::{Placement, format_cpus};
use crate::results::{ResultsFile, StartupRecord, StartupStats};
use crate::target::{Layout, Target};

/// How long one readiness attempt (connect, request, answer) may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// How to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fresh processes per target (at least 1); run 1 is cold.
    pub runs: usize,
    /// The service runs on `server_cpus` with `--workers` set to their count;
    /// `loadgen_cpus` and `warnings` are recorded.
    pub placement: Placement,
    /// Pause between failed readiness attempts.
    pub poll_interval: Duration,
    /// Give up on a start, or on a stop, after this long.
    pub timeout: Duration,
    /// Extra environment variables for the service.
    pub env: Vec<(String, String)>,
    /// Show `startup TARGET: i/n` on stderr.
    pub progress: bool,
}

impl Options {
    /// 20 runs, polled every 100 µs, 20 s timeout, no extra environment.
    pub fn new(placement: Placement) -> Self {
        Self {
            runs: 20,
            placement,
            poll_interval: Duration::from_micros(100),
            timeout: Duration::from_secs(20),
            env: Vec::new(),
            progress: false,
        }
    }
}

/// `harness startup`: builds the targets unless `build` is false, pins the
/// calling thread to the generator's CPUs, measures each target, prints its
/// table and adds its record to `out/results.json`.
pub fn run(
    layout: &Layout,
    targets: &[Target],
    options: &Options,
    build: bool,
    out: Option<&Path>,
) -> anyhow::Result<Vec<StartupRecord>> {
    if build {
        for &target in targets {
            layout.build(target)?;
        }
    }
    // Opened first: `machine.cpus_available` is the affinity the harness started with.
    let mut results = out.map(ResultsFile::open).transpose()?;
    if let Some(file) = &mut results {
        file.add_targets(layout.root(), targets)?;
    }
    // Before the polling threads exist, so that they inherit it.
    options.placement.pin_self()?;
    let records = measure_all(layout, targets, options)?;
    for record in &records {
        if let Some(file) = &mut results {
            file.push_startup(record)?;
        }
        print!("\n{}", table(record));
    }
    if let Some(file) = &mut results {
        file.complete()?;
        eprintln!("wrote {}", file.path().display());
    }
    Ok(records)
}

/// Starts `target` `options.runs` times, each a fresh process, and times its
/// start and its stop. Run 1 starts with the binary evicted from the page cache.
pub fn measure(
    layout: &Layout,
    target: Target,
    options: &Options,
) -> anyhow::Result<StartupRecord> {
    let mut records = measure_all(layout, &[target], options)?;
    Ok(records.remove(0))
}

/// `measure` for several targets, interleaved: run i of every target, then
/// run i + 1 in the reverse order (A B, then B A), so that whatever the
/// machine does meanwhile falls on every target alike, as in `bench`.
fn measure_all(
    layout: &Layout,
    targets: &[Target],
    options: &Options,
) -> anyhow::Result<Vec<StartupRecord>> {
    ensure!(options.runs >= 1, "startup needs at least one run");
    let mut series = targets
        .iter()
        .map(|&target| Series::new(layout, target, options))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let n = options.runs;
    let terminal = std::io::stderr().is_terminal();
    let names: Vec<&str> = targets.iter().map(|t| t.name()).collect();
    let names = names.join(", ");
    for run in 1..=n {
        if options.progress && terminal {
            eprint!("\rstartup {names}: {}/{n}", run - 1);
        }
        let mut order: Vec<usize> = (0..series.len()).collect();
        if run % 2 == 0 {
            order.reverse();
        }
        for i in order {
            // A signal stops `harness bench` between two starts.
            crate::interrupt::check()?;
            series[i].sample(options, run)?;
        }
    }
    if options.progress {
        eprintln!(
            "{}startup {names}: {n}/{n}",
            if terminal { "\r" } else { "" }
        );
    }
    series.into_iter().map(|s| s.record(options)).collect()
}

/// One target's samples as they are taken.
struct Series {
    target: Target,
    binary: std::path::PathBuf,
    cache: String,
    http: Vec<Duration>,
    /// Empty for a target that serves no gRPC.
    grpc: Vec<Duration>,
    ready: Vec<Duration>,
    exit: Vec<Duration>,
}

impl Series {
    /// Checks the binary and evicts it from the page cache for the cold run 1.
    fn new(layout: &Layout, target: Target, options: &Options) -> anyhow::Result<Self> {
        let binary = layout.binary(target)?;
        if !binary.is_file() {
            bail!(
                "{target}: {} does not exist; build it first with `harness build --target {target}`",
                binary.display()
            );
        }
        Ok(Self {
            target,
            cache: cache_note(&binary, options.runs),
            binary,
            http: Vec::new(),
            grpc: Vec::new(),
            ready: Vec::new(),
            exit: Vec::new(),
        })
    }

    fn sample(&mut self, options: &Options, run: usize) -> anyhow::Result<()> {
        let target = self.target;
        let sample = start_and_stop(target, &self.binary, options)
            .with_context(|| format!("{target}: startup run {run} of {}", options.runs))?;
        self.http.push(sample.http);
        self.grpc.extend(sample.grpc);
        self.ready.push(
            sample
                .grpc
                .map_or(sample.http, |grpc| sample.http.max(grpc)),
        );
        self.exit.push(sample.exit);
        Ok(())
    }

    fn record(self, options: &Options) -> anyhow::Result<StartupRecord> {
        let stats = |samples: &[Duration]| StartupStats::of(samples).context("no samples");
        Ok(StartupRecord {
            target: self.target.name().to_owned(),
            runs: options.runs,
            server_cpus: options.placement.server_cpus.clone(),
            loadgen_cpus: options.placement.loadgen_cpus.clone(),
            workers: options.placement.server_cpus.len(),
            cache: self.cache,
            poll_interval_us: options.poll_interval.as_micros() as u64,
            ready_ms: stats(&self.ready)?,
            http_ready_ms: stats(&self.http)?,
            grpc_ready_ms: match target_serves_grpc(self.target) {
                true => Some(stats(&self.grpc)?),
                false => None,
            },
            exit_ms: stats(&self.exit)?,
            placement_warnings: options.placement.warnings.clone(),
        })
    }
}

/// One run's times, each from spawn or from SIGTERM.
struct Sample {
    http: Duration,
    /// None for a target that serves no gRPC: only HTTP readiness is polled.
    grpc: Option<Duration>,
    exit: Duration,
}

fn target_serves_grpc(target: Target) -> bool {
    target.serves(crate::scenario::Protocol::Grpc)
}

fn start_and_stop(target: Target, binary: &Path, options: &Options) -> anyhow::Result<Sample> {
    let (http_addr, grpc_addr) = free_ports()?;
    let mut cmd = tokio::process::Command::new(binary);
    cmd.arg("--http-addr")
        .arg(http_addr.to_string())
        .arg("--grpc-addr")
        .arg(grpc_addr.to_string())
        .args(["--log-level", "warn", "--workers"])
        .arg(options.placement.server_cpus.len().to_string())
        .args(&target.spec().flags)
        .envs(options.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    crate::placement::pin_command(&mut cmd, &options.placement.server_cpus)?;
    // A std child: its blocking wait returns the moment the process is reaped.
    // The clock starts on the spawner thread, just before the spawn.
    let (started, child) = crate::target::spawn_std(cmd);
    let mut child = child.with_context(|| format!("{target}: starting {}", binary.display()))?;
    let mut stderr = child.stderr.take().context("child stderr is piped")?;
    let stderr = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let with_stderr = |err: anyhow::Error, stderr: thread::JoinHandle<String>| {
        let text = stderr.join().unwrap_or_default();
        if text.trim().is_empty() {
            err
        } else {
            anyhow::anyhow!("{err:#}; its stderr:\n{}", text.trim_end())
        }
    };
    let grpc_addr = target_serves_grpc(target).then_some(grpc_addr);
    let (http, grpc) = match wait_ready(&mut child, started, http_addr, grpc_addr, options) {
        Ok(times) => times,
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(with_stderr(err, stderr));
        }
    };
    let (exit, status) = match stop(&mut child, options.timeout) {
        Ok(stopped) => stopped,
        Err(err) => return Err(with_stderr(err, stderr)),
    };
    // The pipe closed with the process.
    let text = stderr.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "{target}: exited with {status} after SIGTERM; its stderr:\n{}",
            text.trim_end()
        );
    }
    Ok(Sample { http, grpc, exit })
}

/// Two free loopback addresses (bound to port 0, read, released).
fn free_ports() -> anyhow::Result<(SocketAddr, SocketAddr)> {
    let a = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    let b = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok((a.local_addr()?, b.local_addr()?))
}

/// Polls HTTP and gRPC health (when `grpc` is given) in two threads until
/// both are ready; returns the time from `started` to each. Fails if the
/// child exits first or the timeout passes. On return no connection of ours
/// is left open.
fn wait_ready(
    child: &mut Child,
    started: Instant,
    http: SocketAddr,
    grpc: Option<SocketAddr>,
    options: &Options,
) -> anyhow::Result<(Duration, Option<Duration>)> {
    let deadline = started + options.timeout;
    let stop = AtomicBool::new(false);
    let poll = |what: &str, attempt: &mut dyn FnMut() -> anyhow::Result<Instant>| {
        loop {
            let err = match attempt() {
                Ok(at) => return Ok(at - started),
                Err(err) => err,
            };
            if stop.load(Ordering::Relaxed) {
                bail!("stopped polling {what}");
            }
            if Instant::now() >= deadline {
                return Err(err.context(format!(
                    "{what} not ready within {:?} of spawn",
                    options.timeout
                )));
            }
            thread::sleep(options.poll_interval);
        }
    };
    thread::scope(|scope| {
        let http_poller = scope.spawn(|| poll("HTTP /health", &mut || http_health(http)));
        let grpc_poller = scope.spawn(|| {
            let Some(grpc) = grpc else {
                return Ok(None);
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the gRPC poller's runtime")?;
            // The runtime, and any connection task in it, is gone when this returns.
            poll("gRPC health", &mut || runtime.block_on(grpc_health(grpc))).map(Some)
        });
        let died = loop {
            if http_poller.is_finished() && grpc_poller.is_finished() {
                break None;
            }
            match child.try_wait() {
                Ok(None) => thread::sleep(Duration::from_millis(1)),
                Ok(Some(status)) => break Some(Ok(status)),
                Err(err) => break Some(Err(err)),
            }
        };
        if died.is_some() {
            stop.store(true, Ordering::Relaxed);
        }
        let http = http_poller.join().expect("the HTTP poller panicked");
        let grpc = grpc_poller.join().expect("the gRPC poller panicked");
        match died {
            Some(Ok(status)) => bail!("exited ({status}) before it was ready"),
            Some(Err(err)) => Err(err).context("checking on the child"),
            None => Ok((http?, grpc?)),
        }
    })
}

/// One `GET /health` on a fresh connection, closed after the answer: the
/// instant the status line said 200.
fn http_health(addr: SocketAddr) -> anyhow::Result<Instant> {
    let mut stream = TcpStream::connect_timeout(&addr, ATTEMPT_TIMEOUT)?;
    // Connecting to a port nobody listens on can, rarely, connect the socket to itself.
    ensure!(
        stream.local_addr()? != stream.peer_addr()?,
        "connected to itself"
    );
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(ATTEMPT_TIMEOUT))?;
    stream.set_write_timeout(Some(ATTEMPT_TIMEOUT))?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let at = Instant::now();
    std::io::copy(&mut reader, &mut std::io::sink())?;
    ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "GET /health answered {:?}",
        status.trim_end()
    );
    Ok(at)
}

/// One `grpc.health.v1.Health/Check` (service "") on a fresh connection,
/// dropped after the answer: the instant it said SERVING.
async fn grpc_health(addr: SocketAddr) -> anyhow::Result<Instant> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(ATTEMPT_TIMEOUT)
        .timeout(ATTEMPT_TIMEOUT)
        .connect()
        .await?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner()
        .status;
    let at = Instant::now();
    ensure!(
        status == ServingStatus::Serving as i32,
        "gRPC health answered {}",
        ServingStatus::try_from(status).map_or("an unknown status", |s| s.as_str_name())
    );
    Ok(at)
}

/// Sends SIGTERM and waits until the child is reaped: the time that took, and
/// how it exited. Kills it after `timeout`.
fn stop(child: &mut Child, timeout: Duration) -> anyhow::Result<(Duration, ExitStatus)> {
    let pid = Pid::from_raw(i32::try_from(child.id()).context("pid out of range")?);
    let (done, watched) = mpsc::channel::<()>();
    thread::scope(|scope| {
        let watchdog = scope.spawn(move || {
            let late = watched.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout);
            if late {
                let _ = kill(pid, Signal::SIGKILL);
            }
            late
        });
        let started = Instant::now();
        let sent = kill(pid, Signal::SIGTERM);
        let status = match sent {
            Ok(()) => child.wait(),
            Err(_) => {
                let _ = child.kill();
                child.wait()
            }
        };
        let took = started.elapsed();
        drop(done);
        let killed = watchdog.join().expect("the watchdog panicked");
        sent.context("sending SIGTERM")?;
        let status = status.context("waiting for the child")?;
        if killed {
            bail!("did not exit within {timeout:?} of SIGTERM; killed");
        }
        Ok((took, status))
    })
}

/// Evicts `binary` from the page cache and says so, for the `cache` field.
fn cache_note(binary: &Path, runs: usize) -> String {
    let warm = match runs {
        1 => String::new(),
        2 => "; run 2 warm".to_owned(),
        n => format!("; runs 2-{n} warm"),
    };
    match evict(binary) {
        Ok((before, after, pages)) => format!(
            "run 1 cold: binary evicted from the page cache (posix_fadvise DONTNEED; \
             {before} of {pages} pages resident before, {after} after){warm}"
        ),
        Err(err) => {
            format!("run 1 not known to be cold: evicting the binary failed: {err:#}{warm}")
        }
    }
}

/// Drops the file's pages from the page cache (no root needed; pages another
/// process has mapped stay). Returns the resident pages before and after, and
/// the file's pages.
fn evict(path: &Path) -> anyhow::Result<(usize, usize, usize)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (before, pages) = resident_pages(&file)?;
    posix_fadvise(&file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED)
        .context("posix_fadvise DONTNEED")?;
    let (after, _) = resident_pages(&file)?;
    Ok((before, after, pages))
}

/// Counts the file's pages in the page cache with mincore(2): (resident, total).
fn resident_pages(file: &File) -> anyhow::Result<(usize, usize)> {
    use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
    let len = usize::try_from(file.metadata()?.len())?;
    let Some(len) = NonZeroUsize::new(len) else {
        return Ok((0, 0));
    };
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(4096);
    let mut resident = vec![0u8; len.get().div_ceil(page)];
    // SAFETY: a fresh read-only mapping of the whole file; mincore writes one
    // byte per page into `resident`, which has exactly that many; the mapping
    // is never read and is unmapped before returning.
    unsafe {
        let addr = mmap(
            None,
            len,
            ProtFlags::PROT_READ,
            MapFlags::MAP_SHARED,
            file,
            0,
        )
        .context("mmap for mincore")?;
        let counted = nix::errno::Errno::result(nix::libc::mincore(
            addr.as_ptr(),
            len.get(),
            resident.as_mut_ptr(),
        ));
        munmap(addr, len.get()).context("munmap")?;
        counted.context("mincore")?;
    }
    let count = resident.iter().filter(|&&b| b & 1 == 1).count();
    Ok((count, resident.len()))
}

/// The terminal table of one target: cold sample and min/p50/p90/max, in ms.
pub fn table(record: &StartupRecord) -> String {
    let mut out = format!(
        "startup {}: {} runs, server CPUs {} ({} workers), polled from CPUs {} every {}µs\n",
        record.target,
        record.runs,
        format_cpus(&record.server_cpus),
        record.workers,
        format_cpus(&record.loadgen_cpus),
        record.poll_interval_us,
    );
    out.push_str(&format!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "ms", "cold", "min", "p50", "p90", "max"
    ));
    let rows = [
        ("ready", Some(&record.ready_ms)),
        ("http", Some(&record.http_ready_ms)),
        ("grpc", record.grpc_ready_ms.as_ref()),
        ("exit", Some(&record.exit_ms)),
    ];
    for (name, stats) in rows {
        let Some(stats) = stats else {
            out.push_str(&format!("{name:<10} not served\n"));
            continue;
        };
        out.push_str(&format!(
            "{name:<10} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}\n",
            stats.samples.first().copied().unwrap_or(f64::NAN),
            stats.min,
            stats.p50,
            stats.p90,
            stats.max
        ));
    }
    out.push_str(&format!("cache: {}\n", record.cache));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn the_table_shows_the_cold_run_and_every_percentile() {
        let stats = |first: u64| StartupStats::of(&ms(&[first, 2, 3, 4])).unwrap();
        let record = StartupRecord {
            target: "rust".into(),
            runs: 4,
            server_cpus: vec![0],
            loadgen_cpus: vec![1],
            workers: 1,
            cache: "run 1 cold".into(),
            poll_interval_us: 100,
            ready_ms: stats(50),
            http_ready_ms: stats(40),
            grpc_ready_ms: Some(stats(30)),
            exit_ms: stats(20),
            placement_warnings: vec![],
        };
        let text = table(&record);
        assert!(text.contains("4 runs, server CPUs 0 (1 workers), polled from CPUs 1 every 100µs"));
        // Sorted 2, 3, 4, 50: p50 is the 2nd, p90 the ⌈3.6⌉ = 4th.
        let ready = text.lines().find(|l| l.starts_with("ready")).unwrap();
        let cells: Vec<&str> = ready.split_whitespace().collect();
        assert_eq!(
            cells,
            ["ready", "50.000", "2.000", "3.000", "50.000", "50.000"]
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("exit ") && l.contains("20.000"))
        );
        assert!(text.ends_with("cache: run 1 cold\n"));
    }

    #[test]
    fn the_cache_note_names_the_warm_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("binary");
        std::fs::write(&path, vec![1u8; 3 * 4096]).unwrap();
        let note = cache_note(&path, 20);
        assert!(note.starts_with("run 1 cold: binary evicted"), "{note}");
        assert!(note.contains("of 3 pages resident before"), "{note}");
        assert!(note.ends_with("; runs 2-20 warm"), "{note}");
        assert!(!cache_note(&path, 1).contains("warm"));
        let missing = cache_note(&dir.path().join("nope"), 2);
        assert!(
            missing.starts_with("run 1 not known to be cold"),
            "{missing}"
        );
        assert!(missing.ends_with("; run 2 warm"), "{missing}");
    }

    #[test]
    fn free_ports_differ() {
        let (a, b) = free_ports().unwrap();
        assert_ne!(a.port(), b.port());
        assert!(a.ip().is_loopback());
    }
}
