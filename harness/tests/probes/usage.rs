//! Memory, CPU and placement readings against the fixture, whose use is known:
//! it maps and touches N MiB on `POST /alloc?mib=N` and burns M ms of CPU on
//! `POST /burn?ms=M`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use harness::load::Edge;
use harness::probe::{Process, Watch};
use harness::target::{Service, Target};

use super::common::fixture_layout;

const MIB: u64 = 1024;

/// Sends `POST path` and expects 200.
fn post(addr: SocketAddr, path: &str) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: fixture\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
}

async fn start(cpus: &[usize]) -> Service {
    fixture_layout(Target::Rust)
        .start_on(Target::Rust, Duration::from_secs(20), Some(cpus))
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

    let cpu = process.cpu_seconds().unwrap();
    post(service.http, "/burn?ms=500");
    within_10_percent("CPU time", process.cpu_seconds().unwrap() - cpu, 0.5);
}

#[tokio::test]
async fn the_watch_reports_idle_peak_after_cpu_and_a_10_hz_timeline() {
    let _serial = super::common::SERIAL.lock().await;
    let mut service = start(&[last_cpu()]).await;
    let mut watch = Watch::start(service.pid().unwrap(), 1).unwrap();
    watch.idle(Duration::from_millis(300)).await.unwrap();
    watch.load_starting().unwrap();
    let hook = watch.hook();
    (hook.0)(Edge::Start);
    let http = service.http;
    tokio::task::spawn_blocking(move || {
        post(http, "/alloc?mib=48");
        // Long enough for the 10 Hz sampler to see the allocation.
        std::thread::sleep(Duration::from_millis(300));
        post(http, "/burn?ms=400");
        post(http, "/free");
    })
    .await
    .unwrap();
    (hook.0)(Edge::End);
    watch.load_finished().unwrap();
    let usage = watch.after(Duration::from_millis(300), 4).await.unwrap();

    within_10_percent(
        "anonymous peak above idle",
        (usage.anon_rss_kib.peak - usage.anon_rss_kib.idle) as f64,
        (48 * MIB) as f64,
    );
    within_10_percent(
        "RSS peak above idle",
        (usage.rss_kib.peak - usage.rss_kib.idle) as f64,
        (48 * MIB) as f64,
    );
    assert!(
        usage.anon_rss_kib.after < usage.anon_rss_kib.idle + 6 * MIB,
        "memory was given back: {:?}",
        usage.anon_rss_kib
    );
    within_10_percent("window CPU", usage.cpu_seconds, 0.4);
    within_10_percent(
        "CPU per request",
        usage.cpu_us_per_request.unwrap(),
        400_000.0 / 4.0,
    );
    assert_eq!(usage.pid_cpus, vec![last_cpu()]);
    // 10 Hz from ready to the last reading.
    let span = usage.phases_s.after;
    let expected = span * 10.0;
    let n = usage.timeline.len() as f64;
    assert!(
        n >= expected - 3.0 && n <= expected + 2.0,
        "{n} samples over {span} s"
    );
    assert!(
        usage
            .timeline
            .iter()
            .filter_map(|p| p.cpu_pct)
            .any(|pct| pct >= 50.0),
        "the burn shows in the timeline"
    );
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
