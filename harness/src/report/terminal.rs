//! The terminal report: a block per run, a summary table, and a wrk2-style
//! percentile spectrum.

use std::fmt::Write;

use hdrhistogram::Histogram;

use crate::load::recorder::Summary;
use crate::results::RunRecord;

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn summary_line(label: &str, s: Option<&Summary>) -> String {
    match s {
        None => format!("  {label:<22} (no successful requests)\n"),
        Some(s) => format!(
            "  {label:<22} p50 {:>9}  p90 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}  (ms)\n",
            ms(s.p50),
            ms(s.p90),
            ms(s.p99),
            ms(s.p999),
            ms(s.max)
        ),
    }
}

/// The block printed when a run ends.
pub fn run_block(run: &RunRecord) -> String {
    let mut out = String::new();
    let offered = run
        .offered_rps
        .map_or("closed loop".to_owned(), |r| format!("offered {r:.1}/s"));
    let _ = writeln!(
        out,
        "{} {} ({}, {}, {} connections, concurrency {}): {offered}, achieved {:.1}/s",
        run.target,
        run.scenario,
        run.protocol,
        run.call,
        run.connections,
        run.concurrency,
        run.achieved_rps
    );
    let errors: Vec<String> = run.errors.iter().map(|(c, n)| format!("{c} {n}")).collect();
    let _ = writeln!(
        out,
        "  requests {}  ok {}  dropped {}  errors {}",
        run.requests,
        run.ok,
        run.dropped,
        if errors.is_empty() {
            "0".to_owned()
        } else {
            errors.join(", ")
        }
    );
    out.push_str(&summary_line(
        "latency (corrected)",
        run.latency_us.as_ref(),
    ));
    out.push_str(&summary_line(
        "uncorrected",
        run.uncorrected_latency_us.as_ref(),
    ));
    out.push_str(&summary_line(
        "scheduler lag",
        run.scheduler_lag_us.as_ref(),
    ));
    if let Some(messages) = run.messages {
        out.push_str(&summary_line(
            &format!("per message ({messages})"),
            run.message_latency_us.as_ref(),
        ));
    }
    match &run.server {
        Some(s) => {
            let _ = writeln!(
                out,
                "  service CPU:    {:.2} CPU-s over the window ({:.0}% of one core), {} µs/request, {} requests/CPU-s; CPUs {}, --workers {}",
                s.cpu_seconds,
                s.cpu_pct,
                s.cpu_us_per_request
                    .map_or("-".to_owned(), |v| format!("{v:.1}")),
                s.requests_per_cpu_second
                    .map_or("-".to_owned(), |v| format!("{v:.0}")),
                crate::placement::format_cpus(&s.pid_cpus),
                s.workers
            );
            let _ = writeln!(
                out,
                "  service memory: RSS idle {} / peak {} / after {} MiB; anonymous idle {} / peak {} / after {} MiB",
                mib(s.rss_kib.idle),
                mib(s.rss_kib.peak),
                mib(s.rss_kib.after),
                mib(s.anon_rss_kib.idle),
                mib(s.anon_rss_kib.peak),
                mib(s.anon_rss_kib.after)
            );
        }
        None => {
            if let Some(note) = &run.server_note {
                let _ = writeln!(out, "  service CPU and memory: {note}");
            }
        }
    }
    let _ = writeln!(
        out,
        "  load generator: {:.2} CPU-s over {:.1} s ({:.0}% of one core), {} µs/request, {} workers on CPUs {}, max RSS {:.1} MiB",
        run.loadgen.cpu_seconds,
        run.duration_s,
        100.0 * run.loadgen.cpu_seconds / run.duration_s.max(f64::MIN_POSITIVE),
        run.loadgen
            .cpu_us_per_request
            .map_or("-".to_owned(), |v| format!("{v:.1}")),
        run.loadgen.workers,
        crate::placement::format_cpus(&run.loadgen.cpus),
        run.loadgen.max_rss_kib as f64 / 1024.0
    );
    for warning in &run.placement_warnings {
        let _ = writeln!(out, "  placement warning: {warning}");
    }
    if let Some(streams) = &run.http2_max_concurrent_streams {
        let _ = writeln!(
            out,
            "  server HTTP/2 max concurrent streams: {}{}",
            streams,
            run.http2_max_concurrent_streams_note
                .as_ref()
                .map_or(String::new(), |n| format!(" ({n})"))
        );
    }
    if let (Some(limit), Some(met)) = (run.slo.p99_us, run.slo.met) {
        let _ = writeln!(
            out,
            "  SLO p99 <= {} ms: {}",
            ms(limit),
            if met { "met" } else { "MISSED" }
        );
    }
    if let Some(why) = &run.saturation {
        let _ = writeln!(out, "  GENERATOR SATURATED: {why}");
    }
    out
}

/// A one-line summary of a finished run (`harness bench` prints one per run).
pub fn run_line(run: &RunRecord) -> String {
    let errors: u64 = run.errors.values().sum();
    let latency = run
        .latency_us
        .as_ref()
        .map_or("no successful request".to_owned(), |l| {
            format!("p50 {} ms, p99 {} ms", ms(l.p50), ms(l.p99))
        });
    let server = run.server.as_ref().map_or(String::new(), |s| {
        format!(
            ", {} µs CPU/request, peak RSS {} MiB",
            s.cpu_us_per_request
                .map_or("-".to_owned(), |v| format!("{v:.1}")),
            mib(s.rss_kib.peak)
        )
    });
    let mut flags = String::new();
    if errors > 0 || run.dropped > 0 {
        flags.push_str(&format!(" [{errors} errors, {} dropped]", run.dropped));
    }
    if run.generator_saturated {
        flags.push_str(" [generator saturated]");
    }
    format!(
        "{:.1} requests/s, {latency}{server}{flags}",
        run.achieved_rps
    )
}

/// One line per run.
pub fn table(runs: &[RunRecord]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6} {:<22} {:<6} {:<6} {:>10} {:>10} {:>9} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  flags",
        "target",
        "scenario",
        "proto",
        "model",
        "offered/s",
        "achieved/s",
        "ok",
        "errors",
        "dropped",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "lag p99",
        "µs/req",
        "peak MiB"
    );
    for run in runs {
        let l = run.latency_us.as_ref();
        let cell = |f: fn(&Summary) -> u64| l.map_or("-".to_owned(), |s| ms(f(s)));
        let mut flags = Vec::new();
        if run.generator_saturated {
            flags.push("saturated");
        }
        if run.slo.met == Some(false) {
            flags.push("slo-missed");
        }
        let _ = writeln!(
            out,
            "{:<6} {:<22} {:<6} {:<6} {:>10} {:>10.1} {:>9} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  {}",
            run.target,
            run.scenario,
            run.protocol,
            run.model,
            run.offered_rps
                .map_or("-".to_owned(), |r| format!("{r:.1}")),
            run.achieved_rps,
            run.ok,
            run.errors.values().sum::<u64>(),
            run.dropped,
            cell(|s| s.p50),
            cell(|s| s.p99),
            cell(|s| s.p999),
            cell(|s| s.max),
            run.scheduler_lag_us
                .as_ref()
                .map_or("-".to_owned(), |s| ms(s.p99)),
            run.server
                .as_ref()
                .and_then(|s| s.cpu_us_per_request)
                .map_or("-".to_owned(), |v| format!("{v:.1}")),
            run.server
                .as_ref()
                .map_or("-".to_owned(), |s| mib(s.rss_kib.peak)),
            flags.join(",")
        );
    }
    out
}

/// wrk2's "Detailed Percentile spectrum", values in milliseconds.
pub fn spectrum(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  Detailed Percentile spectrum (corrected latency):");
    let _ = writeln!(
        out,
        "       Value   Percentile   TotalCount 1/(1-Percentile)\n"
    );
    if h.is_empty() {
        let _ = writeln!(out, "  (no successful requests)");
        return out;
    }
    let mut total = 0u64;
    for v in h.iter_quantiles(1) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let inverse = if q < 1.0 {
            format!("{:12.2}", 1.0 / (1.0 - q))
        } else {
            "         inf".to_owned()
        };
        let _ = writeln!(
            out,
            "{:12.3} {:12.6} {:12} {inverse}",
            v.value_iterated_to() as f64 / 1000.0,
            q,
            total
        );
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / 1000.0,
        h.len()
    );
    out
}
