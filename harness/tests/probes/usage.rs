//! Memory, CPU and placement readings against the fixture, whose use is known:
//! it maps and touches N MiB on `POST /alloc?mib=N`, burns M ms of CPU on
//! `POST /burn?ms=M`, and tells the CPU time it has used on `GET /cpu`.
//!
//! CPU figures are checked against the fixture's own clock read in the same
//! run, never against the burn alone: the page faults of an allocation, or a
//! busy machine, add CPU time that no constant foresees.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use harness::load::Edge;
use harness::probe::sampler::Sampler;
use harness::probe::usage::PERIOD;
use harness::probe::{Process, Watch};
use harness::target::Service;

use super::common::fixture_layout;

const MIB: u64 = 1024;

/// Sends `METHOD path`, expects 200 and returns the body.
fn request(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: fixture\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    body.to_owned()
}

fn post(addr: SocketAddr, path: &str) {
    request(addr, "POST", path);
}

/// The CPU seconds the fixture has used so far, by its own clock
/// (`CLOCK_PROCESS_CPUTIME_ID`, to the nanosecond).
fn fixture_cpu_seconds(addr: SocketAddr) -> f64 {
    let body = request(addr, "GET", "/cpu");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["process_cpu_us"].as_u64().unwrap() as f64 / 1e6
}

/// How far a CPU figure from procfs may be from the fixture's own. The kernel
/// gives user and system time each in whole clock ticks, rounded down, so a
/// difference of two readings is off by less than two ticks; one more covers
/// the fixture answering `GET /cpu` itself.
fn cpu_tolerance() -> f64 {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap();
    3.0 / ticks as f64
}

/// `procfs` is the fixture's own figure `fixture`, give or take the ticks.
fn same_cpu(what: &str, procfs: f64, fixture: f64) {
    assert!(
        (procfs - fixture).abs() <= cpu_tolerance(),
        "{what}: /proc says {procfs} s, the fixture's own clock {fixture} s (± {} s)",
        cpu_tolerance()
    );
}

async fn start(cpus: &[usize]) -> Service {
    let (layout, target) = fixture_layout();
    layout
        .start_on(target, Duration::from_secs(20), Some(cpus))
        .await
        .unwrap()
}

fn last_cpu() -> usize {
    *harness::placement::available_cpus()
        .unwrap()
        .last()
        .unwrap()
}

/// `actual` is within 10% of `expected`.
fn within_10_percent(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 0.1 * expected,
        "{what}: measured {actual}, expected {expected} ± 10%"
    );
}

#[tokio::test]
async fn readings_match_the_memory_and_cpu_the_fixture_uses() {
    let _serial = super::common::SERIAL.lock().await;
    let service = start(&[last_cpu()]).await;
    let process = Process::new(service.pid().unwrap());
    let base = process.read().unwrap();

    post(service.http, "/alloc?mib=64");
    let grown = process.read().unwrap();
    within_10_percent(
        "anonymous RSS growth",
        (grown.anon_rss_kib - base.anon_rss_kib) as f64,
        (64 * MIB) as f64,
    );
    within_10_percent(
        "RSS growth",
        (grown.rss_kib - base.rss_kib) as f64,
        (64 * MIB) as f64,
    );

    // Freed memory leaves RSS but not the high-water mark, until it is reset.
    post(service.http, "/free");
    let freed = process.read().unwrap();
    assert!(
        freed.anon_rss_kib < base.anon_rss_kib + 6 * MIB,
        "{freed:?} vs {base:?}"
    );
    // The kernel's RSS counters are per-CPU and approximate, so allow 1 MiB.
    assert!(
        freed.hwm_kib + MIB >= grown.rss_kib,
        "{freed:?} vs {grown:?}"
    );
    process.reset_peak().unwrap();
    let reset = process.read().unwrap();
    assert!(reset.hwm_kib < base.rss_kib + 6 * MIB, "{reset:?}");
    post(service.http, "/alloc?mib=32");
    let regrown = process.read().unwrap();
    within_10_percent(
        "high-water mark after reset",
        (regrown.hwm_kib - reset.rss_kib) as f64,
        (32 * MIB) as f64,
    );

    let fixture_before = fixture_cpu_seconds(service.http);
    let cpu = process.cpu_seconds().unwrap();
    post(service.http, "/burn?ms=500");
    let burnt = process.cpu_seconds().unwrap() - cpu;
    let used = fixture_cpu_seconds(service.http) - fixture_before;
    assert!(burnt >= 0.5 - cpu_tolerance(), "CPU time {burnt} s");
    same_cpu("CPU time", burnt, used);
}

#[tokio::test]
async fn the_watch_reports_idle_peak_after_cpu_and_a_10_hz_timeline() {
    let _serial = super::common::SERIAL.lock().await;
    let mut service = start(&[last_cpu()]).await;
    let http = service.http;
    let cpu_before_watch = fixture_cpu_seconds(http);
    let mut watch = Watch::start(service.pid().unwrap(), 1).unwrap();
    watch.idle(Duration::from_millis(300)).await.unwrap();
    watch.load_starting().unwrap();
    let hook = watch.hook();
    let cpu_at_start = fixture_cpu_seconds(http);
    (hook.0)(Edge::Start);
    tokio::task::spawn_blocking(move || {
        post(http, "/alloc?mib=48");
        post(http, "/burn?ms=400");
        post(http, "/free");
        post(http, "/alloc?mib=16");
    })
    .await
    .unwrap();
    (hook.0)(Edge::End);
    let window_cpu = fixture_cpu_seconds(http) - cpu_at_start;
    watch.load_finished().unwrap();
    post(http, "/free");
    let usage = watch.after(Duration::from_millis(300), 4).await.unwrap();
    let watched_cpu = fixture_cpu_seconds(http) - cpu_before_watch;

    // The kernel's high-water mark holds the 48 MiB. Anonymous RSS has none:
    // its peak is the highest 10 Hz sample or the 16 MiB still held as the
    // load stopped. The sampler runs at idle priority, so a busy machine may
    // leave it no sample during the burn.
    let anon = usage.anon_rss_kib;
    within_10_percent(
        "RSS peak above idle",
        (usage.rss_kib.peak - usage.rss_kib.idle) as f64,
        (48 * MIB) as f64,
    );
    let sampled = usage
        .timeline
        .iter()
        .filter(|p| p.t_s >= usage.phases_s.load_start)
        .map(|p| p.anon_rss_kib)
        .max()
        .unwrap_or(0);
    assert!(anon.peak >= sampled, "{anon:?}, sampled {sampled}");
    within_10_percent(
        "anonymous peak above idle",
        (anon.peak - anon.idle) as f64,
        sampled.saturating_sub(anon.idle).max(16 * MIB) as f64,
    );
    assert!(
        anon.after < anon.idle + 6 * MIB,
        "memory was given back: {anon:?}"
    );

    // The window holds the burn, the allocations' page faults, the unmapping
    // and the four requests: all of it, once.
    assert!(usage.cpu_seconds >= 0.4 - cpu_tolerance(), "{usage:?}");
    same_cpu("window CPU", usage.cpu_seconds, window_cpu);
    let per_request = usage.cpu_us_per_request.unwrap();
    assert!(
        (per_request - usage.cpu_seconds * 1e6 / 4.0).abs() <= 1e-6 * per_request,
        "CPU per request {per_request} µs for {} s over 4 requests",
        usage.cpu_seconds
    );
    let phases = usage.phases_s;
    let wall = phases.measure_end - phases.measure_start;
    assert!(
        (usage.cpu_pct - 100.0 * usage.cpu_seconds / wall).abs() <= 1e-6 * usage.cpu_pct,
        "{} % for {} s of CPU over {wall} s",
        usage.cpu_pct,
        usage.cpu_seconds
    );
    assert_eq!(usage.pid_cpus, vec![last_cpu()]);

    // 10 Hz at most: each sample in a 100 ms slot of its own. A busy machine
    // may leave slots empty (the sampler runs at idle priority).
    let timeline = &usage.timeline;
    let slots: Vec<u64> = timeline
        .iter()
        .map(|p| (p.t_s * 1e6).round() as u64 / 100_000)
        .collect();
    assert!(
        slots.windows(2).all(|pair| pair[0] < pair[1]),
        "two samples in one 100 ms slot: {slots:?}"
    );
    assert!(timeline.len() >= 2, "{timeline:?}");
    // The timeline's CPU adds up to what the fixture used while watched; if
    // it was sampled before and after the window (a later sample reads
    // after the one marked past the end), it holds the window's CPU too.
    let timeline_cpu: f64 = timeline
        .windows(2)
        .map(|pair| pair[1].cpu_pct.unwrap() / 100.0 * (pair[1].t_s - pair[0].t_s))
        .sum();
    assert!(
        timeline_cpu <= watched_cpu + cpu_tolerance(),
        "timeline CPU {timeline_cpu} s, watched {watched_cpu} s"
    );
    let before_window = timeline[0].t_s <= phases.measure_start;
    let after_window = timeline
        .iter()
        .filter(|p| p.t_s >= phases.measure_end)
        .count()
        >= 2;
    if before_window && after_window {
        assert!(
            timeline_cpu >= window_cpu - cpu_tolerance(),
            "timeline CPU {timeline_cpu} s, window {window_cpu} s: {timeline:?}"
        );
    }
    service.terminate().unwrap();
    assert!(
        service
            .wait(Duration::from_secs(10))
            .await
            .unwrap()
            .success()
    );
}

/// Waits until `sampler` holds a sample taken at or after `since`, and
/// returns the time then: a sample at or after that time was read after
/// `since`. The sampler runs at idle priority, so a busy machine may keep it
/// waiting for a second or more.
fn sample_after(sampler: &Sampler, origin: Instant, since: Duration) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(60);
    while sampler.max_anon_since(since).is_none() {
        assert!(Instant::now() < deadline, "no sample after {since:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    origin.elapsed()
}

#[tokio::test]
async fn the_sampler_keeps_the_peak_of_memory_already_given_back() {
    let _serial = super::common::SERIAL.lock().await;
    let mut service = start(&[last_cpu()]).await;
    let process = Process::new(service.pid().unwrap());
    let origin = Instant::now();
    let sampler = Sampler::start(process.clone(), origin, PERIOD).unwrap();
    let base = process.read().unwrap();
    let http = service.http;
    tokio::task::spawn_blocking(move || {
        post(http, "/alloc?mib=48");
        // Two samples after the allocation: the second was read after it.
        let seen = sample_after(&sampler, origin, origin.elapsed());
        sample_after(&sampler, origin, seen);
        post(http, "/free");
        let freed = sample_after(&sampler, origin, origin.elapsed());
        sample_after(&sampler, origin, freed);
        within_10_percent(
            "sampled peak above the start",
            (sampler.max_anon_since(Duration::ZERO).unwrap() - base.anon_rss_kib) as f64,
            (48 * MIB) as f64,
        );
        let now = sampler.max_anon_since(freed).unwrap();
        assert!(now < base.anon_rss_kib + 6 * MIB, "{now} vs {base:?}");
        let samples = sampler.stop();
        assert!(samples.len() >= 4, "{samples:?}");
    })
    .await
    .unwrap();
    service.terminate().unwrap();
    assert!(
        service
            .wait(Duration::from_secs(10))
            .await
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn the_service_runs_only_on_its_cpus_with_as_many_workers() {
    let _serial = super::common::SERIAL.lock().await;
    let cpus = harness::placement::available_cpus().unwrap();
    for set in [vec![last_cpu()], cpus.clone()] {
        let service = start(&set).await;
        let process = Process::new(service.pid().unwrap());
        let threads = process.thread_cpus().unwrap();
        assert!(threads.len() > 1, "{threads:?}");
        for (tid, allowed) in &threads {
            assert_eq!(allowed, &set, "thread {tid}");
        }
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", process.pid())).unwrap();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let at = args.iter().position(|a| a == "--workers").unwrap();
        assert_eq!(args[at + 1], set.len().to_string(), "{args:?}");
    }
}
