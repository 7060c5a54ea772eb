//! `harness run`: runs scenarios against targets the harness starts, or
//! against a URL, and writes what it measured.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::load::{self, client};
use crate::report::terminal;
use crate::results::{ResultsFile, RunRecord, StreamLimit};
use crate::scenario::{Protocol, Scenario};
use crate::target::{Layout, Target};

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
}

/// Parses `http://host:port` (the only form: no TLS, no path).
pub fn parse_url(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url:?}: expected http://HOST:PORT (no TLS)"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') {
        bail!("{url:?}: expected http://HOST:PORT without a path (the scenario gives the path)");
    }
    authority
        .to_socket_addrs()
        .with_context(|| format!("{url:?}: cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{url:?}: {authority} resolves to no address"))
}

/// Runs every scenario against every endpoint; returns the records.
pub async fn run(
    scenarios: &[Scenario],
    endpoint: Endpoint,
    options: &RunOptions,
) -> anyhow::Result<Vec<RunRecord>> {
    let mut file = match &options.out {
        Some(dir) => Some(ResultsFile::open(dir)?),
        None => None,
    };
    let mut records = Vec::new();
    match endpoint {
        Endpoint::Url(addr) => {
            for scenario in scenarios {
                let record = run_one(scenario, "url", addr, options).await?;
                if let Some(file) = &mut file {
                    file.push_run(&record)?;
                }
                records.push(record);
            }
        }
        Endpoint::Targets(layout, targets) => {
            for target in targets {
                if options.build {
                    layout.build(target)?;
                }
                let mut service = layout.start(target, Duration::from_secs(20)).await?;
                for scenario in scenarios {
                    let addr = match scenario.protocol {
                        Protocol::Http1 | Protocol::Http2 => service.http,
                        Protocol::Grpc => service.grpc,
                    };
                    let record = run_one(scenario, target.name(), addr, options).await?;
                    if let Some(file) = &mut file {
                        file.push_run(&record)?;
                    }
                    records.push(record);
                }
                service.terminate()?;
                let status = service.wait(Duration::from_secs(15)).await?;
                if !status.success() {
                    bail!("{target}: exited with {status} after SIGTERM");
                }
            }
        }
    }
    if let Some(file) = &mut file {
        file.complete()?;
        eprintln!("results: {}", file.path().display());
    }
    Ok(records)
}

async fn run_one(
    scenario: &Scenario,
    target: &str,
    addr: SocketAddr,
    options: &RunOptions,
) -> anyhow::Result<RunRecord> {
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
    let scenario_owned = scenario.clone();
    let measured =
        tokio::task::spawn_blocking(move || load::run(&scenario_owned, addr, &load_options))
            .await
            .context("the load run panicked")?
            .with_context(|| format!("{target} {}: load run against {addr}", scenario.name))?;
    let record = RunRecord::new(scenario, target, &measured, &streams)?;
    print!("{}", terminal::run_block(&record));
    if options.spectrum {
        println!("{}", terminal::spectrum(&measured.totals.corrected));
    }
    Ok(record)
}
