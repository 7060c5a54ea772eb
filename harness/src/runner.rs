//! `harness run`: runs scenarios against targets the harness starts, or
//! against a URL, and writes what it measured.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::Signal;

use crate::drain;
use crate::interrupt::{self, Interrupted};
use crate::load::{self, Abort, Measured, WindowHook, client};
use crate::placement::Placement;
use crate::probe::Watch;
use crate::report::terminal;
use crate::results::DrainRecord;
use crate::results::{FailureRecord, ResultsFile, RunRecord, StreamLimit};
use crate::scenario::{Protocol, Scenario};
use crate::target::{Layout, RunWatch, Service, ServiceDied, Target};

/// How long an interrupted run's service gets to exit after SIGTERM before
/// SIGKILL.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// Where the load goes.
pub enum Endpoint {
    /// Start these services, one after the other.
    Targets(Layout, Vec<Target>),
    /// A service that is already running: the address for the scenario's protocol.
    Url(SocketAddr),
}

pub struct RunOptions {
    pub load: load::Options,
    pub out: Option<PathBuf>,
    pub spectrum: bool,
    pub build: bool,
    /// CPU sets; the harness has already pinned itself to `loadgen_cpus`.
    pub placement: Placement,
    /// How long a fresh service idles before its idle memory is read.
    pub idle_wait: Duration,
    /// How long after the load the memory is read again.
    pub after_wait: Duration,
}

/// A `--url` whose host is not this machine, given without `--allow-remote`.
#[derive(Debug, thiserror::Error)]
#[error(
    "--url {url}: {host} {what} not a loopback address; a load generator pointed at someone \
     else's server by a typo is an attack; pass --allow-remote if you mean it"
)]
pub struct NotLoopback {
    url: String,
    host: String,
    what: String,
}

/// Loopback: 127.0.0.0/8 and ::1 (also as an IPv4-mapped IPv6 address).
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Parses `http://host:port` (the only form: no TLS, no path) and resolves
/// it. Unless `allow_remote`, every address the host resolves to must be
/// loopback, else the error is `NotLoopback`; nothing is sent either way.
pub fn parse_url(url: &str, allow_remote: bool) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url:?}: expected http://HOST:PORT (no TLS)"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') {
        bail!("{url:?}: expected http://HOST:PORT without a path (the scenario gives the path)");
    }
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .with_context(|| format!("{url:?}: cannot resolve {authority}"))?
        .collect();
    let first = *addrs
        .first()
        .with_context(|| format!("{url:?}: {authority} resolves to no address"))?;
    let remote: Vec<String> = addrs
        .iter()
        .filter(|a| !is_loopback(a.ip()))
        .map(|a| a.ip().to_string())
        .collect();
    if !allow_remote && !remote.is_empty() {
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let what = if remote.len() == 1 && remote[0] == host {
            "is".to_owned()
        } else {
            format!("resolves to {}, which is", remote.join(", "))
        };
        return Err(NotLoopback {
            url: url.to_owned(),
            host: host.to_owned(),
            what,
        }
        .into());
    }
    Ok(first)
}

/// What `run` did.
#[derive(Default)]
pub struct Outcome {
    pub records: Vec<RunRecord>,
    /// Drain runs, for `[drain]` scenarios.
    pub drains: Vec<DrainRecord>,
    /// Runs whose service died; the others went on.
    pub failures: Vec<FailureRecord>,
    /// The signal that stopped the command before the end, if one did.
    pub interrupted: Option<Signal>,
}

/// Runs every scenario against every endpoint. A run whose service dies is
/// recorded as a failure and the next one starts; a SIGINT or SIGTERM stops
/// the command and leaves results.json with `"complete": false`.
pub async fn run(
    scenarios: &[Scenario],
    endpoint: Endpoint,
    options: &RunOptions,
) -> anyhow::Result<Outcome> {
    let mut file = match &options.out {
        Some(dir) => Some(ResultsFile::open(dir)?),
        None => None,
    };
    let mut outcome = Outcome::default();
    match run_all(scenarios, endpoint, options, &mut file, &mut outcome).await {
        Ok(()) => {
            if let Some(file) = &mut file {
                file.complete()?;
                eprintln!("results: {}", file.path().display());
            }
        }
        Err(err) => match err.downcast_ref::<Interrupted>() {
            Some(Interrupted(signal)) => {
                outcome.interrupted = Some(*signal);
                if let Some(file) = &file {
                    eprintln!(
                        "results so far (\"complete\": false): {}",
                        file.path().display()
                    );
                }
            }
            None => return Err(err),
        },
    }
    Ok(outcome)
}

async fn run_all(
    scenarios: &[Scenario],
    endpoint: Endpoint,
    options: &RunOptions,
    file: &mut Option<ResultsFile>,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    match endpoint {
        Endpoint::Url(addr) => {
            if let Some(scenario) = scenarios.iter().find(|s| s.drain.is_some()) {
                bail!(
                    "{}: a drain scenario signals the service, so it needs a service the harness starts (--target, not --url)",
                    scenario.name
                );
            }
            for scenario in scenarios {
                interrupt::check()?;
                let run_watch = RunWatch::default();
                let (mut record, measured) = run_watch
                    .supervise(run_one(
                        scenario,
                        "url",
                        addr,
                        options,
                        None,
                        Some(run_watch.abort()),
                    ))
                    .await?;
                record.server_note = Some(
                    "unavailable: --url loads a service the harness did not start, so it has no process to read"
                        .to_owned(),
                );
                finish(record, &measured, options, file, &mut outcome.records)?;
            }
        }
        Endpoint::Targets(layout, targets) => {
            if let Some(file) = file {
                file.add_targets(layout.root(), &targets)?;
            }
            for target in targets {
                if options.build {
                    interrupt::check()?;
                    layout.build(target)?;
                }
                for scenario in scenarios {
                    interrupt::check()?;
                    if scenario.drain.is_some() {
                        let record =
                            drain::run(&layout, target, scenario, &options.placement).await?;
                        println!("{}", record.line());
                        if let Some(file) = file {
                            file.push_drain(&record)?;
                        }
                        outcome.drains.push(record);
                        continue;
                    }
                    let began = std::time::Instant::now();
                    match run_on_fresh_service(&layout, target, scenario, options).await {
                        Ok((record, measured)) => {
                            finish(record, &measured, options, file, &mut outcome.records)?
                        }
                        Err(err) if err.is::<ServiceDied>() => {
                            eprintln!("FAILED: {err:#}");
                            let failure = FailureRecord::new(
                                "run",
                                target.name(),
                                &scenario.name,
                                None,
                                &err,
                                began.elapsed().as_secs_f64(),
                            );
                            if let Some(file) = file {
                                file.push_failure(&failure)?;
                            }
                            outcome.failures.push(failure);
                        }
                        Err(err) => return Err(err),
                    }
                }
            }
        }
    }
    Ok(())
}

/// Prints a finished run and writes it out.
fn finish(
    mut record: RunRecord,
    measured: &Measured,
    options: &RunOptions,
    file: &mut Option<ResultsFile>,
    records: &mut Vec<RunRecord>,
) -> anyhow::Result<()> {
    record.placement_warnings = options.placement.warnings.clone();
    print!("{}", terminal::run_block(&record));
    if options.spectrum {
        println!("{}", terminal::spectrum(&measured.totals.corrected));
    }
    if let Some(file) = file {
        file.push_run(&record)?;
    }
    records.push(record);
    Ok(())
}

/// The probes could not read the service's CPU or memory: the run says
/// nothing about the service, so `bench` runs it again.
#[derive(Debug, thiserror::Error)]
#[error("probe failed: {0:#}")]
pub struct ProbeFailed(anyhow::Error);

impl From<anyhow::Error> for ProbeFailed {
    fn from(err: anyhow::Error) -> Self {
        Self(err)
    }
}

/// Starts `target` on its CPUs, lets it idle, runs `scenario` while watching
/// its memory and CPU, waits after the load, then stops it. Every run gets a
/// fresh process, so one scenario's leftovers never count against the next.
///
/// If the service exits before the end, the load is aborted at once and the
/// error is a `ServiceDied`; a SIGINT or SIGTERM to the harness aborts it too,
/// stops the service (SIGTERM, SIGKILL after `INTERRUPT_GRACE`), and the
/// error is `Interrupted`.
/// How long a fresh service may take to become ready.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Starts a fresh `target` on `options`' service CPUs and waits until it is
/// ready, or until a SIGINT or SIGTERM to the harness; returns it with its pid.
pub(crate) async fn start_fresh(
    layout: &Layout,
    target: Target,
    options: &RunOptions,
) -> anyhow::Result<(Service, u32)> {
    let cpus = &options.placement.server_cpus;
    let service =
        interrupt::or_interrupt(layout.start_on(target, READY_TIMEOUT, Some(cpus))).await?;
    let pid = service.pid().context("the service exited as it started")?;
    Ok((service, pid))
}

pub(crate) async fn run_on_fresh_service(
    layout: &Layout,
    target: Target,
    scenario: &Scenario,
    options: &RunOptions,
) -> anyhow::Result<(RunRecord, Measured)> {
    let run_watch = RunWatch::default();
    let cpus = &options.placement.server_cpus;
    let (mut service, pid) = start_fresh(layout, target, options).await?;
    let addr = service.addr(scenario.protocol);
    let work = async {
        let mut watch = Watch::start(pid, cpus.len()).map_err(ProbeFailed::from)?;
        run_watch.phase("idle");
        run_watch
            .until(watch.idle(options.idle_wait))
            .await?
            .map_err(ProbeFailed::from)?;
        run_watch.phase("load");
        watch.load_starting().map_err(ProbeFailed::from)?;
        let (mut record, measured) = run_one(
            scenario,
            target.name(),
            addr,
            options,
            Some(watch.hook()),
            Some(run_watch.abort()),
        )
        .await?;
        watch.load_finished().map_err(ProbeFailed::from)?;
        run_watch.phase("after");
        if options.load.progress && !options.after_wait.is_zero() {
            eprintln!(
                "{target} {}: reading memory {} after the load",
                scenario.name,
                humantime::format_duration(options.after_wait)
            );
        }
        let server = run_watch
            .until(watch.after(options.after_wait, record.requests))
            .await?
            .map_err(ProbeFailed::from)?;
        record.server = Some(server);
        Ok((record, measured))
    };
    match service.supervise(&run_watch, work).await {
        Ok(done) => {
            service.stop(Duration::from_secs(15)).await?;
            Ok(done)
        }
        Err(err) => {
            if err.is::<Interrupted>() {
                service.shut_down(INTERRUPT_GRACE).await;
            }
            // Otherwise the service is gone, or dropping it kills it.
            Err(err)
        }
    }
}

pub(crate) async fn run_one(
    scenario: &Scenario,
    target: &str,
    addr: SocketAddr,
    options: &RunOptions,
    on_window: Option<WindowHook>,
    abort: Option<&Abort>,
) -> anyhow::Result<(RunRecord, Measured)> {
    let streams = match scenario.protocol {
        Protocol::Http1 => StreamLimit::NotApplicable,
        Protocol::Http2 | Protocol::Grpc => {
            match tokio::time::timeout(Duration::from_secs(5), client::max_concurrent_streams(addr))
                .await
            {
                Ok(Ok(Some(n))) => StreamLimit::Limit(n),
                Ok(Ok(None)) => StreamLimit::Unlimited,
                Ok(Err(err)) => {
                    StreamLimit::Unavailable(format!("reading SETTINGS failed: {err:#}"))
                }
                Err(_) => StreamLimit::Unavailable("no SETTINGS frame within 5 s".to_owned()),
            }
        }
    };
    let mut load_options = options.load.clone();
    load_options.label = target.to_owned();
    load_options.on_window = on_window;
    load_options.abort = abort.cloned();
    let scenario_owned = scenario.clone();
    let measured =
        tokio::task::spawn_blocking(move || load::run(&scenario_owned, addr, &load_options))
            .await
            .context("the load run panicked")?
            .with_context(|| format!("{target} {}: load run against {addr}", scenario.name))?;
    let record = RunRecord::new(scenario, target, &measured, &streams)?;
    Ok((record, measured))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_pass_without_allow_remote() {
        for url in [
            "http://127.0.0.1:9",
            "http://127.1.2.3:9/",
            "http://[::1]:9",
            "http://localhost:9",
            "http://[::ffff:127.0.0.1]:9",
        ] {
            let addr = parse_url(url, false).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(is_loopback(addr.ip()), "{url}");
        }
        for url in [
            "http://192.0.2.1:9",
            "http://[2001:db8::1]:9",
            "http://0.0.0.0:9",
        ] {
            let err = parse_url(url, false).unwrap_err();
            assert!(err.is::<NotLoopback>(), "{url}: {err}");
            assert!(
                err.to_string().contains("is not a loopback address"),
                "{err}"
            );
            assert!(parse_url(url, true).is_ok(), "{url}");
        }
        assert_eq!(
            parse_url("http://192.0.2.1:9", false)
                .unwrap_err()
                .to_string(),
            "--url http://192.0.2.1:9: 192.0.2.1 is not a loopback address; a load generator \
             pointed at someone else's server by a typo is an attack; pass --allow-remote if \
             you mean it"
        );
        assert!(
            !parse_url("https://127.0.0.1:9", false)
                .unwrap_err()
                .is::<NotLoopback>()
        );
    }
}
