//! Targets: the two services under test, how to build them, start them on
//! free loopback ports, wait until they are ready, and stop them.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A service under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Rust,
    Go,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Rust => "rust",
            Target::Go => "go",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the repository and the built binaries are.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    overrides: HashMap<Target, PathBuf>,
}

impl Layout {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            overrides: HashMap::new(),
        }
    }

    /// Walks up from `start` to the directory holding `Cargo.toml` and `go-svc/go.mod`.
    pub fn find_root(start: &Path) -> anyhow::Result<PathBuf> {
        for dir in start.ancestors() {
            if dir.join("Cargo.toml").is_file() && dir.join("go-svc/go.mod").is_file() {
                return Ok(dir.to_path_buf());
            }
        }
        bail!(
            "no lab repository (Cargo.toml with go-svc/go.mod) in {} or above; run from the repository or pass --root",
            start.display()
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn set_binary(&mut self, target: Target, path: PathBuf) {
        self.overrides.insert(target, path);
    }

    /// The release binary `build` produces for `target`, unless overridden.
    pub fn binary(&self, target: Target) -> PathBuf {
        if let Some(path) = self.overrides.get(&target) {
            return path.clone();
        }
        match target {
            Target::Rust => self.root.join("target/release/rust-svc"),
            Target::Go => self.root.join("target/go-svc/go-svc"),
        }
    }

    /// Builds `target` in release mode.
    pub fn build(&self, target: Target) -> anyhow::Result<()> {
        let mut cmd = match target {
            Target::Rust => {
                let mut cmd = std::process::Command::new(
                    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
                );
                cmd.args(["build", "--release", "-p", "rust-svc"])
                    .current_dir(&self.root);
                cmd
            }
            Target::Go => {
                let mut cmd = std::process::Command::new("go");
                cmd.arg("build")
                    .arg("-trimpath")
                    .arg("-o")
                    .arg(self.binary(Target::Go))
                    .arg("./cmd/go-svc")
                    .current_dir(self.root.join("go-svc"));
                cmd
            }
        };
        eprintln!("build {target}: {cmd:?}");
        let status = cmd
            .status()
            .with_context(|| format!("running the {target} build ({cmd:?})"))?;
        if !status.success() {
            bail!("building {target} failed ({status})");
        }
        Ok(())
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
        let binary = self.binary(target);
        if !binary.is_file() {
            bail!(
                "{target}: {} does not exist; build it first with `just build` (or `harness build --target {target}`)",
                binary.display()
            );
        }
        Service::start(target, &binary, ready_timeout, cpus, args).await
    }
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
        .args(args);
        if let Some(cpus) = cpus {
            cmd.arg("--workers").arg(cpus.len().to_string());
            crate::placement::pin_command(&mut cmd, cpus)?;
        }
        let started = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("{target}: starting {}", binary.display()))?;
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
        let http = crate::conformance::client::RestClient::new(self.http);
        loop {
            if http.health_ok().await && crate::conformance::client::grpc_serving(self.grpc).await {
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
    fn finds_the_root_from_a_subdirectory() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = Layout::find_root(&here.join("src")).unwrap();
        assert!(root.join("go-svc").is_dir());
        assert!(Layout::find_root(Path::new("/")).is_err());
    }
}
