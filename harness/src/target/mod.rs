//! Targets: the implementations under test (`registry`, from `targets.toml`),
//! how to build them, start them on free loopback ports, wait until they are
//! ready, and stop them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::interrupt::Abort;
use crate::interrupt::Interrupted;

pub mod registry;

pub use registry::{Registry, Spec, Target};

/// Where the repository and the built binaries are.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    registry: Registry,
    overrides: HashMap<Target, PathBuf>,
}

impl Layout {
    pub fn new(root: PathBuf, registry: Registry) -> Self {
        Self {
            root,
            registry,
            overrides: HashMap::new(),
        }
    }

    /// The layout of `root` with its own registry (`targets.toml`), or the
    /// registry at `targets` when given.
    pub fn open(root: PathBuf, targets: Option<&Path>) -> anyhow::Result<Self> {
        let registry = match targets {
            Some(path) => Registry::load(path)?,
            None => Registry::of_root(&root)?,
        };
        Ok(Self::new(root, registry))
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Walks up from `start` to the directory holding `Cargo.toml` and the
    /// target registry.
    pub fn find_root(start: &Path) -> anyhow::Result<PathBuf> {
        for dir in start.ancestors() {
            if dir.join("Cargo.toml").is_file() && dir.join(registry::FILE).is_file() {
                return Ok(dir.to_path_buf());
            }
        }
        bail!(
            "no lab repository (Cargo.toml with {}) in {} or above; run from the repository or pass --root",
            registry::FILE,
            start.display()
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn set_binary(&mut self, target: Target, path: PathBuf) {
        self.overrides.insert(target, path);
    }

    /// What a registry build's placeholders stand for here.
    fn expand(&self) -> registry::Expand<'_> {
        registry::Expand {
            root: &self.root,
            host_triple: &host_triple,
        }
    }

    /// The release binary `build` produces for `target`, unless overridden.
    pub fn binary(&self, target: Target) -> anyhow::Result<PathBuf> {
        if let Some(path) = self.overrides.get(&target) {
            return Ok(path.clone());
        }
        target.spec().build.binary(&self.expand()).with_context(|| {
            format!(
                "{target}: the binary's path in {}",
                self.registry.path().display()
            )
        })
    }

    /// Builds `target` in release mode, as the registry says.
    pub fn build(&self, target: Target) -> anyhow::Result<()> {
        let cmd = target.spec().build.command(&self.expand())?;
        run_build(target, "build", cmd)
    }

    /// Where the static build of `target` lands; None when it has none.
    pub fn static_binary(&self, target: Target) -> anyhow::Result<Option<PathBuf>> {
        match &target.spec().static_build {
            Some(build) => Ok(Some(build.binary(&self.expand())?)),
            None => Ok(None),
        }
    }

    /// Builds the static binary of `target` and returns its path.
    pub fn build_static(&self, target: Target) -> anyhow::Result<PathBuf> {
        let build = target
            .spec()
            .static_build
            .as_ref()
            .with_context(|| format!("{target}: the registry gives no static build"))?;
        let path = build.binary(&self.expand())?;
        run_build(target, "static build", build.command(&self.expand())?)?;
        if !path.is_file() {
            bail!(
                "{target}: the static build left no binary at {}",
                path.display()
            );
        }
        Ok(path)
    }

    /// Starts `target` on free loopback ports and waits until both listeners answer.
    pub async fn start(&self, target: Target, ready_timeout: Duration) -> anyhow::Result<Service> {
        self.start_on(target, ready_timeout, None).await
    }

    /// Like `start`, but confined to `cpus` with `--workers` set to their count.
    pub async fn start_on(
        &self,
        target: Target,
        ready_timeout: Duration,
        cpus: Option<&[usize]>,
    ) -> anyhow::Result<Service> {
        self.start_with(target, ready_timeout, cpus, &[]).await
    }

    /// Like `start_on`, with `args` added to the service's flags. A service
    /// that refuses them fails with [`ExitedEarly`] (exit 2 for a bad flag).
    pub async fn start_with(
        &self,
        target: Target,
        ready_timeout: Duration,
        cpus: Option<&[usize]>,
        args: &[&str],
    ) -> anyhow::Result<Service> {
        let binary = self.binary(target)?;
        if !binary.is_file() {
            bail!(
                "{target}: {} does not exist; build it first with `just build` (or `harness build --target {target}`)",
                binary.display()
            );
        }
        Service::start(target, &binary, ready_timeout, cpus, args).await
    }
}

/// Runs a registry build of `target`, its command shown first.
fn run_build(target: Target, what: &str, mut cmd: std::process::Command) -> anyhow::Result<()> {
    eprintln!("{what} {target}: {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("running the {what} of {target} ({cmd:?})"))?;
    if !status.success() {
        bail!("the {what} of {target} failed ({status})");
    }
    Ok(())
}

/// rustc's host triple (`rustc -vV`), where a static Rust build lands. Read
/// once per process: a static build's binary, command and environment each
/// name it.
pub fn host_triple() -> anyhow::Result<String> {
    static TRIPLE: OnceLock<String> = OnceLock::new();
    if let Some(triple) = TRIPLE.get() {
        return Ok(triple.clone());
    }
    let triple = read_host_triple()?;
    Ok(TRIPLE.get_or_init(|| triple).clone())
}

fn read_host_triple() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = std::process::Command::new(&rustc)
        .arg("-vV")
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {rustc:?} -vV for the host triple"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_host_triple(&text)
        .map(str::to_owned)
        .with_context(|| format!("no `host:` line in `{rustc:?} -vV`"))
}

fn parse_host_triple(rustc_vv: &str) -> Option<&str> {
    rustc_vv
        .lines()
        .find_map(|line| line.strip_prefix("host:"))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The service exited before printing its `listening` line.
#[derive(Debug, thiserror::Error)]
#[error("{target}: exited ({status}) before printing its `listening` line")]
pub struct ExitedEarly {
    pub target: Target,
    pub status: ExitStatus,
}

/// A running service process. Dropping it kills the process, so no exit path
/// of the harness leaves a service behind.
pub struct Service {
    pub target: Target,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub started: Instant,
    child: Child,
}

impl Service {
    async fn start(
        target: Target,
        binary: &Path,
        ready_timeout: Duration,
        cpus: Option<&[usize]>,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let mut cmd = Command::new(binary);
        cmd.args([
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "127.0.0.1:0",
            "--log-level",
            "warn",
        ])
        .args(&target.spec().flags)
        .args(args);
        if let Some(cpus) = cpus {
            cmd.arg("--workers").arg(cpus.len().to_string());
            crate::placement::pin_command(&mut cmd, cpus)?;
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let (started, child) = spawn(cmd).await;
        let mut child =
            child.with_context(|| format!("{target}: starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("child stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(ready_timeout, lines.next_line()).await {
            Err(_) => bail!("{target}: no `listening` line on stdout within {ready_timeout:?}"),
            Ok(Err(err)) => return Err(err).context(format!("{target}: reading stdout")),
            Ok(Ok(None)) => {
                let status = child.wait().await?;
                return Err(ExitedEarly { target, status }.into());
            }
            Ok(Ok(Some(line))) => line,
        };
        let (http, grpc) = parse_listening(&line)
            .with_context(|| format!("{target}: unexpected first line {line:?}"))?;
        // Keep draining stdout so that the service never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let service = Self {
            target,
            http,
            grpc,
            started,
            child,
        };
        service.wait_ready(ready_timeout).await?;
        Ok(service)
    }

    /// Polls HTTP `/health` (200) and gRPC health (SERVING) until both answer.
    async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let http = crate::wire::client::RestClient::new(self.http);
        loop {
            let grpc = !self.target.serves(crate::scenario::Protocol::Grpc)
                || crate::wire::client::grpc_serving(self.grpc).await;
            if grpc && http.health_ok().await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: not ready (HTTP /health 200 and gRPC SERVING) within {timeout:?}",
                    self.target
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends SIGTERM without waiting.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let pid = self.pid().context("service already reaped")?;
        let pid = i32::try_from(pid).context("pid out of range")?;
        kill(Pid::from_raw(pid), Signal::SIGTERM).context("sending SIGTERM")?;
        Ok(())
    }

    /// The address that serves `protocol`: REST for HTTP/1.1 and HTTP/2, else gRPC.
    pub fn addr(&self, protocol: crate::scenario::Protocol) -> SocketAddr {
        match protocol {
            crate::scenario::Protocol::Http1 | crate::scenario::Protocol::Http2 => self.http,
            crate::scenario::Protocol::Grpc => self.grpc,
        }
    }

    /// SIGTERM, then the exit, which must be 0.
    pub async fn stop(mut self, timeout: Duration) -> anyhow::Result<()> {
        self.terminate()?;
        let status = self.wait(timeout).await?;
        if !status.success() {
            bail!("{}: exited with {status} after SIGTERM", self.target);
        }
        Ok(())
    }

    /// Resolves when the process exits, whoever ended it. Cancel-safe, so it
    /// can race the work done with the service.
    pub async fn exited(&mut self) -> ExitStatus {
        match self.child.wait().await {
            Ok(status) => status,
            // Only when the process cannot be waited for any more: treat it as gone.
            Err(_) => ExitStatus::from_raw(0),
        }
    }

    /// Stops the service however it goes: SIGTERM, then SIGKILL after `grace`.
    /// For the paths where its exit status no longer matters (an interrupt).
    pub async fn shut_down(mut self, grace: Duration) {
        if self.terminate().is_ok() && tokio::time::timeout(grace, self.child.wait()).await.is_ok()
        {
            return;
        }
        let _ = self.child.kill().await;
    }

    /// Runs `work` with this service, watching it: if the service exits first,
    /// `abort` is triggered (the work must stop when it is), and the error is a
    /// `ServiceDied` that says when, in which `phase` and how it ended. A
    /// SIGINT or SIGTERM to the harness does the same, with `Interrupted`.
    pub async fn supervise<T>(
        &mut self,
        watch: &RunWatch,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        supervise(Some(self), watch, work).await
    }

    /// Waits for the process to exit, killing it after `timeout`.
    pub async fn wait(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await.ok();
                bail!(
                    "{}: did not exit within {timeout:?} of SIGTERM; killed",
                    self.target
                )
            }
        }
    }
}

/// What is watched while a run uses a service: when the run began, what it is
/// doing, and the abort that stops its load.
pub struct RunWatch {
    began: Instant,
    phase: Mutex<&'static str>,
    abort: Abort,
}

impl Default for RunWatch {
    fn default() -> Self {
        Self {
            began: Instant::now(),
            phase: Mutex::new("start"),
            abort: Abort::default(),
        }
    }
}

impl RunWatch {
    /// Names what the run does from now on: `idle`, `load`, `after`, ...
    pub fn phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    fn current_phase(&self) -> &'static str {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn abort(&self) -> &Abort {
        &self.abort
    }

    /// Seconds since the run began.
    pub fn elapsed_s(&self) -> f64 {
        self.began.elapsed().as_secs_f64()
    }

    /// Runs `work` (a wait, a sleep) unless the run is aborted first.
    pub async fn until<T>(&self, work: impl Future<Output = T>) -> anyhow::Result<T> {
        self.abort.until(work).await
    }

    /// Like `Service::supervise` for a service the harness did not start
    /// (`--url`): only an interrupt stops the work.
    pub async fn supervise<T>(
        &self,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        supervise(None, self, work).await
    }
}

async fn supervise<T>(
    mut service: Option<&mut Service>,
    watch: &RunWatch,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let mut work = std::pin::pin!(work);
    let result = tokio::select! {
        biased;
        (target, status) = exited(&mut service) => {
            let died = ServiceDied::new(target, status, watch);
            watch.abort.trigger(format!("the service exited ({status})"));
            // The work stops within about 100 ms of the abort; wait for it,
            // so that no load thread outlives the run.
            let _ = work.await;
            return Err(died.into());
        }
        signal = crate::interrupt::requested_wait() => {
            watch.abort.trigger(format!("interrupted by {signal}"));
            let _ = work.await;
            return Err(Interrupted(signal).into());
        }
        result = &mut work => result,
    };
    // The work may notice a dead service (a failed /proc read) just before
    // its exit is reaped: then the death is the error to report.
    if result.is_err()
        && let Ok((target, status)) =
            tokio::time::timeout(Duration::from_millis(200), exited(&mut service)).await
    {
        return Err(ServiceDied::new(target, status, watch).into());
    }
    result
}

/// The exit of the watched service; never, without one.
async fn exited(service: &mut Option<&mut Service>) -> (Target, ExitStatus) {
    match service {
        Some(service) => (service.target, service.exited().await),
        None => std::future::pending().await,
    }
}

/// A service that exited while a run was using it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{target}: the service died {at_s:.2} s into the run (during {phase}, at {at}): {}",
    describe(*status)
)]
pub struct ServiceDied {
    pub target: Target,
    pub status: ExitStatus,
    /// The signal that killed it (`SIGKILL`), if one did.
    pub signal: Option<&'static str>,
    /// Its exit code, if it exited by itself.
    pub exit_code: Option<i32>,
    /// UTC wall time, RFC 3339 with milliseconds.
    pub at: String,
    /// Seconds since the run began (before its service was started).
    pub at_s: f64,
    /// What the run was doing: `idle`, `load`, `after`, `capacity`.
    pub phase: &'static str,
}

impl ServiceDied {
    fn new(target: Target, status: ExitStatus, watch: &RunWatch) -> Self {
        Self {
            target,
            status,
            signal: status
                .signal()
                .and_then(|n| Signal::try_from(n).ok())
                .map(Signal::as_str),
            exit_code: status.code(),
            at: crate::environment::now_rfc3339_millis(),
            at_s: watch.elapsed_s(),
            phase: watch.current_phase(),
        }
    }
}

/// `killed by SIGKILL`, `exited with code 3`.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(n)) => match Signal::try_from(n) {
            Ok(signal) => format!("killed by {signal}"),
            Err(_) => format!("killed by signal {n}"),
        },
        (None, None) => status.to_string(),
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on the thread that starts every service. `PR_SET_PDEATHSIG`
/// fires when the *thread* that forked a child exits, not the process, and
/// tokio's worker and blocking threads come and go: this one lives as long
/// as the harness, so a service dies with the harness and not before.
fn on_spawner_thread(job: Job) {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("service-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("starting the service-spawner thread");
        Mutex::new(tx)
    });
    sender
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .expect("the service-spawner thread never exits");
}

/// Makes `cmd`'s process die with the harness, whatever ends it (even
/// SIGKILL), and keeps it out of the terminal's process group, so that a
/// Ctrl-C reaches only the harness, which then stops the service itself.
pub fn bind_to_harness(cmd: &mut Command) {
    let harness = Pid::this();
    cmd.process_group(0);
    // SAFETY: runs between fork and exec; prctl and getppid are
    // async-signal-safe system calls, and nothing here allocates.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // The harness may have exited before prctl: then nothing would
            // ever send the signal.
            if nix::unistd::getppid() != harness {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// Spawns `cmd` (bound to the harness, see `bind_to_harness`) from the
/// spawner thread, in the calling runtime; returns the instant just before
/// the spawn and the child.
pub async fn spawn(mut cmd: Command) -> (Instant, std::io::Result<Child>) {
    bind_to_harness(&mut cmd);
    let handle = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    on_spawner_thread(Box::new(move || {
        // The child's exit is watched by the caller's runtime.
        let _entered = handle.enter();
        let started = Instant::now();
        let _ = tx.send((started, cmd.spawn()));
    }));
    rx.await
        .expect("the service-spawner thread answers every job")
}

/// `spawn` for a std child, from code that runs outside any runtime.
pub fn spawn_std(cmd: Command) -> (Instant, std::io::Result<std::process::Child>) {
    let mut cmd = cmd;
    bind_to_harness(&mut cmd);
    let mut cmd = cmd.into_std();
    let (tx, rx) = mpsc::channel();
    on_spawner_thread(Box::new(move || {
        let started = Instant::now();
        let _ = tx.send((started, cmd.spawn()));
    }));
    rx.recv()
        .expect("the service-spawner thread answers every job")
}

/// Parses `listening http=ADDR grpc=ADDR`.
fn parse_listening(line: &str) -> anyhow::Result<(SocketAddr, SocketAddr)> {
    let rest = line
        .strip_prefix("listening ")
        .context("expected `listening http=ADDR grpc=ADDR`")?;
    let mut http = None;
    let mut grpc = None;
    for field in rest.split_whitespace() {
        match field.split_once('=') {
            Some(("http", addr)) => {
                http = Some(
                    addr.parse()
                        .with_context(|| format!("bad http address {addr:?}"))?,
                )
            }
            Some(("grpc", addr)) => {
                grpc = Some(
                    addr.parse()
                        .with_context(|| format!("bad grpc address {addr:?}"))?,
                )
            }
            _ => {}
        }
    }
    Ok((http.context("no http=ADDR")?, grpc.context("no grpc=ADDR")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        let (http, grpc) =
            parse_listening("listening http=127.0.0.1:4000 grpc=127.0.0.1:4001").unwrap();
        assert_eq!(http, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(grpc, "127.0.0.1:4001".parse().unwrap());
    }

    #[test]
    fn rejects_other_lines() {
        assert!(parse_listening("hello").is_err());
        assert!(parse_listening("listening http=127.0.0.1:1").is_err());
        assert!(parse_listening("listening http=nope grpc=127.0.0.1:1").is_err());
    }

    #[test]
    fn reads_the_host_triple() {
        let vv = "rustc 1.95.0\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(parse_host_triple(vv), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(parse_host_triple("rustc 1.95.0\n"), None);
    }

    #[test]
    fn finds_the_root_from_a_subdirectory() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = Layout::find_root(&here.join("src")).unwrap();
        assert!(root.join("go-svc").is_dir());
        assert!(Layout::find_root(Path::new("/")).is_err());
    }
}
