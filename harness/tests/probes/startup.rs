//! `harness startup` against the fixture, whose start and stop delays are
//! known: `LAB_FIXTURE_LISTEN_DELAY_MS` delays its listeners,
//! `LAB_FIXTURE_EXIT_DELAY_MS` its exit after SIGTERM.

use std::time::Duration;

use harness::placement::Placement;
use harness::results::{StartupRecord, StartupStats};
use harness::startup::{self, Options};

use super::common::fixture_layout;

/// Slack above a known delay: CI machines are noisy, and run 1 is cold.
const SLACK_MS: f64 = 250.0;

fn options(runs: usize, env: &[(&str, &str)]) -> Options {
    Options {
        runs,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::new(Placement::resolve(None, None).unwrap())
    }
}

fn measure(runs: usize, env: &[(&str, &str)]) -> StartupRecord {
    let (layout, target) = fixture_layout();
    startup::measure(&layout, target, &options(runs, env)).unwrap()
}

fn check_shape(stats: &StartupStats, runs: usize) {
    assert_eq!(stats.samples.len(), runs, "{stats:?}");
    assert!(
        stats.min <= stats.p50 && stats.p50 <= stats.p90 && stats.p90 <= stats.max,
        "{stats:?}"
    );
    let (lo, hi) = stats
        .samples
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
    assert_eq!((lo, hi), (stats.min, stats.max), "{stats:?}");
}

#[test]
fn ready_time_runs_from_spawn_and_includes_a_slow_start() {
    let _serial = super::common::SERIAL.blocking_lock();
    let record = measure(3, &[("LAB_FIXTURE_LISTEN_DELAY_MS", "300")]);
    let grpc = record
        .grpc_ready_ms
        .as_ref()
        .expect("the fixture serves gRPC");
    for stats in [&record.ready_ms, &record.http_ready_ms, grpc] {
        check_shape(stats, 3);
        for &ms in &stats.samples {
            assert!((300.0..300.0 + SLACK_MS).contains(&ms), "{stats:?}");
        }
    }
    // Ready means both: the later of the two, run by run.
    for i in 0..3 {
        let later = record.http_ready_ms.samples[i].max(grpc.samples[i]);
        assert_eq!(record.ready_ms.samples[i], later, "{record:?}");
    }
    assert_eq!(record.target, "lab-fixture");
    assert_eq!(record.runs, 3);
    assert_eq!(record.workers, record.server_cpus.len());
    assert_eq!(record.poll_interval_us, 100);
    assert!(
        record.cache.starts_with("run 1 cold: binary evicted")
            && record.cache.ends_with("runs 2-3 warm"),
        "{}",
        record.cache
    );
}

/// A target registered without gRPC is ready when HTTP is: its gRPC
/// readiness is not polled, and the record says so with a null.
#[test]
fn a_target_without_grpc_is_ready_on_http_alone() {
    let _serial = super::common::SERIAL.blocking_lock();
    let (layout, target) = super::common::fixture_layout_serving(r#"["http1"]"#);
    let record = startup::measure(&layout, target, &options(2, &[])).unwrap();
    assert!(record.grpc_ready_ms.is_none(), "{record:?}");
    check_shape(&record.http_ready_ms, 2);
    assert_eq!(record.ready_ms, record.http_ready_ms);
    assert!(startup::table(&record).contains("grpc       not served"));
}

#[test]
fn exit_time_runs_from_sigterm_and_includes_a_slow_drain() {
    let _serial = super::common::SERIAL.blocking_lock();
    let record = measure(3, &[("LAB_FIXTURE_EXIT_DELAY_MS", "200")]);
    check_shape(&record.exit_ms, 3);
    for &ms in &record.exit_ms.samples {
        assert!(
            (200.0..200.0 + SLACK_MS).contains(&ms),
            "{:?}",
            record.exit_ms
        );
    }
    // The exit delay does not leak into the start.
    assert!(record.ready_ms.max < 200.0, "{:?}", record.ready_ms);
}

#[test]
fn a_prompt_fixture_is_ready_and_gone_in_far_less_than_the_delays() {
    let _serial = super::common::SERIAL.blocking_lock();
    let record = measure(3, &[]);
    for stats in [&record.ready_ms, &record.exit_ms] {
        check_shape(stats, 3);
        assert!(stats.max < 200.0, "{stats:?}");
        assert!(stats.p50 < 100.0, "{stats:?}");
        // Microsecond precision, not whole milliseconds.
        assert!(stats.samples.iter().any(|s| s.fract() != 0.0), "{stats:?}");
    }
}

#[test]
fn a_service_that_dies_while_starting_is_an_error_with_its_stderr() {
    let _serial = super::common::SERIAL.blocking_lock();
    let (layout, target) = fixture_layout();
    let err = startup::measure(
        &layout,
        target,
        &options(2, &[("LAB_FIXTURE_LISTEN_DELAY_MS", "soon")]),
    )
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("startup run 1 of 2"), "{text}");
    assert!(
        text.contains("exited (exit status: 1) before it was ready"),
        "{text}"
    );
    assert!(
        text.contains("LAB_FIXTURE_LISTEN_DELAY_MS=\"soon\""),
        "{text}"
    );
}

#[test]
fn the_fixture_answers_grpc_health_and_exits_0_promptly() {
    let _serial = super::common::SERIAL.blocking_lock();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (layout, target) = fixture_layout();
        let mut service = layout.start(target, Duration::from_secs(20)).await.unwrap();
        assert!(harness::wire::client::grpc_serving(service.grpc).await);
        service.terminate().unwrap();
        let status = service.wait(Duration::from_secs(2)).await.unwrap();
        assert!(status.success(), "{status}");
    });
}
