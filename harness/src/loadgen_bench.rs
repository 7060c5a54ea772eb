//! `harness loadgen-bench`: checks the load generator against its targets —
//! throughput against wrk, rate accuracy, and memory — and prints the ratios.
//!
//! The service runs on one CPU set and every generator (wrk or the harness)
//! on another. The harness is measured as users run it: a child
//! `harness run … --out DIR`, whose results.json is read back.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::placement;
use crate::target::{Layout, Target};

pub struct Options {
    pub targets: Vec<Target>,
    pub server_cpus: Vec<usize>,
    pub loadgen_cpus: Vec<usize>,
    pub rounds: usize,
    pub seconds: u64,
    pub rate_seconds: u64,
    pub memory_seconds: u64,
    pub wrk: PathBuf,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Parses wrk's `Requests/sec:` line.
fn wrk_rps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

async fn run_wrk(o: &Options, url: &str) -> anyhow::Result<f64> {
    let mut cmd = tokio::process::Command::new(&o.wrk);
    cmd.args(["-t1", "-c64", &format!("-d{}s", o.seconds), url])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    placement::pin_command(&mut cmd, &o.loadgen_cpus)?;
    let out = cmd.output().await.with_context(|| {
        format!(
            "running {} (install the Debian package wrk)",
            o.wrk.display()
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"));
    if let Some(line) = errors {
        bail!("wrk saw errors: {}", line.trim());
    }
    wrk_rps(&text).with_context(|| format!("no Requests/sec line in wrk's output:\n{text}"))
}

/// Runs `harness run` as a child pinned to the generator CPUs; returns its run record.
async fn run_harness(
    o: &Options,
    scenario: &Path,
    url: &str,
    args: &[String],
) -> anyhow::Result<serde_json::Value> {
    let out_dir = tempfile::tempdir().context("creating a temporary directory")?;
    let exe = std::env::current_exe().context("locating the harness binary")?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("run")
        .arg(scenario)
        .args(["--url", url, "--quiet", "--no-spectrum", "--check"])
        .args(["--workers", &o.loadgen_cpus.len().to_string()])
        .arg("--out")
        .arg(out_dir.path())
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    placement::pin_command(&mut cmd, &o.loadgen_cpus)?;
    let out = cmd.output().await.context("running harness run")?;
    if !out.status.success() {
        bail!(
            "harness run {} {args:?} failed ({}):\n{}{}",
            scenario.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read(out_dir.path().join("results.json"))?;
    let results: serde_json::Value = serde_json::from_slice(&text)?;
    Ok(results["runs"][0].clone())
}

/// `harness run` flags for an open loop at `rate` for `seconds`, after 1 s of warm-up.
fn open_loop(rate: u64, seconds: u64) -> [String; 10] {
    [
        "--model".into(),
        "open".into(),
        "--rate".into(),
        rate.to_string(),
        "--concurrency".into(),
        "64".into(),
        "--warmup".into(),
        "1s".into(),
        "--duration".into(),
        format!("{seconds}s"),
    ]
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The generator's CPU over the measured window, in percent of one core.
fn core_percent(run: &serde_json::Value) -> f64 {
    100.0 * f(&run["loadgen"]["cpu_seconds"]) / f(&run["duration_s"])
}

pub async fn run(layout: &Layout, o: &Options) -> anyhow::Result<bool> {
    let health = layout.root().join("scenarios/health.toml");
    let mut passed = true;
    let secs = format!("{}s", o.seconds);
    println!(
        "loadgen-bench: services on CPUs {:?} (--workers {}), generators on CPUs {:?}; \
         GET /health over HTTP/1.1, closed loop, 64 connections, {} s per measurement, {} rounds, alternating",
        o.server_cpus,
        o.server_cpus.len(),
        o.loadgen_cpus,
        o.seconds,
        o.rounds
    );
    for (i, &target) in o.targets.iter().enumerate() {
        let mut service = layout
            .start_on(target, Duration::from_secs(20), Some(&o.server_cpus))
            .await?;
        let url = format!("http://{}", service.http);
        let health_url = format!("{url}/health");
        let closed = [
            "--model",
            "closed",
            "--concurrency",
            "64",
            "--warmup",
            "0s",
            "--duration",
            &secs,
        ]
        .map(String::from);
        let mut wrk = Vec::new();
        let mut ours = Vec::new();
        for round in 0..o.rounds {
            // A B, then B A: drift on a shared machine cancels out.
            let order = if round % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for wrk_turn in order {
                if wrk_turn {
                    wrk.push(run_wrk(o, &health_url).await?);
                } else {
                    let run = run_harness(o, &health, &url, &closed).await?;
                    ours.push(f(&run["achieved_rps"]));
                }
            }
            println!(
                "  {target} round {}: wrk {:.0}/s, harness {:.0}/s (harness/wrk {:.3})",
                round + 1,
                wrk[round],
                ours[round],
                ours[round] / wrk[round]
            );
        }
        let (w, h) = (median(&mut wrk), median(&mut ours));
        let ratio = h / w;
        let ok = ratio >= 0.95;
        passed &= ok;
        println!(
            "throughput vs wrk, {target}: median wrk {w:.0}/s, harness {h:.0}/s, ratio {ratio:.3} (need >= 0.95): {}",
            if ok { "PASS" } else { "FAIL" }
        );

        if i == 0 && o.rate_seconds > 0 {
            let run = run_harness(o, &health, &url, &open_loop(20000, o.rate_seconds)).await?;
            let (offered, achieved) = (f(&run["offered_rps"]), f(&run["achieved_rps"]));
            let off = (achieved - offered) / offered;
            let lag = f(&run["scheduler_lag_us"]["p99"]);
            let ok = off.abs() <= 0.01 && lag < 200.0;
            passed &= ok;
            println!(
                "rate accuracy, {target}, open loop 20000/s for {} s: achieved {achieved:.1}/s ({:+.3}%), \
                 scheduler lag p99 {lag} µs, p99.9 {} µs (need within 1% and p99 < 200 µs), \
                 generator CPU {:.0}% of a core, workers {} (run delay {} µs, steal {} ms): {}",
                o.rate_seconds,
                off * 100.0,
                run["scheduler_lag_us"]["p999"],
                core_percent(&run),
                run["loadgen"]["realtime"].as_str().unwrap_or("?"),
                run["loadgen"]["run_delay_us"],
                run["loadgen"]["steal_ms"],
                if ok { "PASS" } else { "FAIL" }
            );
        }
        if i == 0 && o.memory_seconds > 0 {
            let run = run_harness(o, &health, &url, &open_loop(30000, o.memory_seconds)).await?;
            let rss = f(&run["loadgen"]["max_rss_kib"]) / 1024.0;
            let ok = rss < 64.0;
            passed &= ok;
            println!(
                "memory, {target}, open loop 30000/s for {} s ({} requests, {} dropped, generator CPU {:.0}% of a core): \
                 harness max RSS {rss:.1} MiB (need < 64 MiB): {}",
                o.memory_seconds,
                run["requests"],
                run["dropped"],
                core_percent(&run),
                if ok { "PASS" } else { "FAIL" }
            );
        }
        service.terminate()?;
        service.wait(Duration::from_secs(15)).await?;
    }
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_rate_line() {
        let out = "Running 5s test @ http://127.0.0.1:1/health\n  1 threads and 64 connections\n\
                   Requests/sec:  90385.16\nTransfer/sec:     11.98MB\n";
        assert_eq!(wrk_rps(out), Some(90385.16));
        assert_eq!(wrk_rps("nothing"), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
