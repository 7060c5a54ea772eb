use std::collections::BTreeMap;

use hdrhistogram::serialization::Deserializer;

use super::*;
use crate::environment::Library;
use crate::load::recorder::Summary;
use crate::load::{Point, Scheduling};
use crate::probe::ServerUsage;
use crate::probe::usage::{Memory, Phases, TimelinePoint};

#[test]
fn a_failed_atomic_write_leaves_the_old_file_and_no_temporary_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.json");
    write_atomically(&path, b"old").unwrap();
    write_atomically(&path, b"new").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    // A directory where the file should go: the rename fails.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    let err = write_atomically(&blocked, b"x").unwrap_err();
    assert!(format!("{err:#}").contains("renaming"), "{err:#}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!left.iter().any(|n| n.contains(".tmp-")), "{left:?}");
}

#[test]
fn histograms_round_trip_through_v2_deflate_base64() {
    let mut h = crate::load::recorder::new_histogram();
    for v in [1u64, 10, 100, 1_000, 10_000, 1_000_000] {
        h.record_n(v, v).unwrap();
    }
    let text = encode_histogram(&h).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    // V2 + deflate cookie.
    assert_eq!(&bytes[..4], &[0x1c, 0x84, 0x93, 0x14]);
    let back: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
    assert_eq!(back, h);
}

#[test]
fn the_results_file_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = ResultsFile::open(dir.path()).unwrap();
    let read = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap()
    };
    assert_eq!(read()["complete"], false);
    assert_eq!(read()["schema_version"], 1);
    file.push_startup(&startup("rust")).unwrap();
    file.complete().unwrap();
    assert_eq!(read()["complete"], true);
    // A second command adds to the file and keeps what was there.
    let mut again = ResultsFile::open(dir.path()).unwrap();
    assert_eq!(read()["complete"], false);
    again.push_artifact(&artifact("go")).unwrap();
    again.complete().unwrap();
    let json = read();
    assert_eq!(json["startup"][0]["target"], "rust");
    assert_eq!(json["artifacts"][0]["target"], "go");
    assert_eq!(json["runs"], serde_json::json!([]));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "results.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn refuses_to_add_to_a_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, "not json").unwrap();
    assert!(ResultsFile::open(dir.path()).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
    std::fs::write(&path, r#"{"schema_version": 1, "runs": ["#).unwrap();
    let err = ResultsFile::open(dir.path()).err().unwrap().to_string();
    assert_eq!(
        err,
        format!(
            "{}:1:31: truncated (the JSON ends early): EOF while parsing a list; \
             move it away or pick another --out",
            path.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"schema_version": 1, "runs": ["#
    );
    std::fs::write(&path, r#"{"schema_version": 99}"#).unwrap();
    let err = ResultsFile::open(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("schema 99 is newer than this harness (1); upgrade the harness"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"schema_version": 99}"#
    );
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left beside it");
}

#[test]
fn parse_errors_name_the_file_and_where() {
    let path = Path::new("dir/results.json");
    let err = |text: &str| parse(path, text.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        err("hello"),
        "dir/results.json:1:1: not valid JSON: expected value"
    );
    assert_eq!(
        err("{\n  \"schema_version\": 1,\n  \"runs\": [1,"),
        "dir/results.json:3:13: truncated (the JSON ends early): EOF while parsing a value"
    );
    assert_eq!(
        err("[]"),
        "dir/results.json: not a results file (no schema_version)"
    );
    assert_eq!(
        err(r#"{"schema_version": 2}"#),
        "dir/results.json: schema 2 is newer than this harness (1); upgrade the harness"
    );
    assert_eq!(
        err(r#"{"schema_version": 0}"#),
        "dir/results.json: schema 0 is older than this harness (1) reads"
    );
    assert!(parse(path, br#"{"schema_version": 1}"#).is_ok());
}

fn summary(p50: u64) -> Summary {
    Summary {
        min: 1,
        mean: p50 as f64 * 1.25,
        p50,
        p90: p50 * 2,
        p99: p50 * 3,
        p999: p50 * 4,
        max: p50 * 5,
    }
}

fn run(target: &str, streams: Option<serde_json::Value>) -> RunRecord {
    let mut h = crate::load::recorder::new_histogram();
    h.record_n(150, 10).unwrap();
    RunRecord {
        scenario: "get-user-http2".to_owned(),
        repetition: Some(2),
        attempt: Some(1),
        retried: Some("generator saturated".to_owned()),
        settle_s: Some(1.5),
        description: "one user".to_owned(),
        target: target.to_owned(),
        protocol: "http2".to_owned(),
        model: "open".to_owned(),
        call: "GET /v1/users/{id}".to_owned(),
        stream: Some("bidi".to_owned()),
        expect: "200".to_owned(),
        offered_rps: Some(500.0),
        scheduled: Some(500),
        achieved_rps: 499.5,
        requests: 500,
        ok: 498,
        dropped: 0,
        errors: BTreeMap::from([("timeout".to_owned(), 2)]),
        duration_s: 1.0,
        warmup_s: 0.5,
        generator_saturated: true,
        saturation: Some("lag".to_owned()),
        latency_us: Some(summary(150)),
        uncorrected_latency_us: Some(summary(140)),
        scheduler_lag_us: None,
        message_latency_us: Some(summary(90)),
        messages: Some(4000),
        histogram: encode_histogram(&h).unwrap(),
        timeline: vec![Point {
            t_s: 0.0,
            requests: 500,
            errors: 2,
            p50_us: Some(150),
            p99_us: None,
        }],
        loadgen: Loadgen {
            cpu_seconds: 0.25,
            cpu_us_per_request: Some(500.0),
            max_rss_kib: 20_000,
            workers: 1,
            cpus: vec![1],
            cpus_kept_awake: vec![0, 1],
            scheduling: Scheduling {
                realtime: "SCHED_FIFO 1".to_owned(),
                run_delay_us: vec![Some(12), None],
                steal_ms: Some(10),
                timer_slack_ns: vec![Some(1)],
            },
        },
        concurrency: 64,
        connections: 8,
        cap_waits: 3,
        http2_max_concurrent_streams_note: streams
            .as_ref()
            .filter(|v| v.is_null())
            .map(|_| "no SETTINGS frame".to_owned()),
        http2_max_concurrent_streams: streams,
        seed: 7,
        slo: Slo {
            p99_us: Some(10_000),
            met: Some(true),
        },
        server: Some(ServerUsage {
            pid: 42,
            pid_cpus: vec![0],
            workers: 1,
            cpu_seconds: 0.1,
            cpu_us_per_request: Some(200.0),
            requests_per_cpu_second: Some(5000.0),
            cpu_pct: 10.0,
            rss_kib: Memory {
                idle: 10_000,
                peak: 12_000,
                after: 11_000,
            },
            anon_rss_kib: Memory {
                idle: 4_000,
                peak: 5_000,
                after: 4_500,
            },
            phases_s: Phases {
                load_start: 0.1,
                measure_start: 0.6,
                measure_end: 1.6,
                load_end: 1.6,
                after: 1.7,
            },
            timeline: vec![TimelinePoint {
                t_s: 0.1,
                rss_kib: 10_000,
                anon_rss_kib: 4_000,
                cpu_pct: None,
            }],
        }),
        server_note: Some("pinned".to_owned()),
        placement_warnings: vec!["CPU 3 is offline".to_owned()],
    }
}

fn startup(target: &str) -> StartupRecord {
    let stats = StartupStats::of(&[std::time::Duration::from_micros(12_345)]).unwrap();
    StartupRecord {
        target: target.to_owned(),
        runs: 1,
        server_cpus: vec![0],
        loadgen_cpus: vec![1],
        workers: 1,
        cache: "run 1 cold".to_owned(),
        poll_interval_us: 100,
        ready_ms: stats.clone(),
        http_ready_ms: stats.clone(),
        grpc_ready_ms: Some(stats.clone()),
        exit_ms: stats,
        placement_warnings: Vec::new(),
    }
}

fn artifact(target: &str) -> ArtifactRecord {
    ArtifactRecord {
        target: target.to_owned(),
        binary_bytes: 7_000_000,
        binary_stripped_bytes: None,
        binary_note: Some("strip is not on PATH".to_owned()),
        static_binary_bytes: Some(8_000_000),
        image: Some("localhost/benchlab/rust-svc:abc".to_owned()),
        image_builder: Some("podman 4.3.1".to_owned()),
        image_bytes: Some(8_800_000),
        image_compressed_bytes: Some(3_100_000),
        image_layers: Some(1),
        image_note: None,
    }
}

/// A file with every kind of record, and the optional fields both set and not.
fn every_kind() -> Results {
    let mut results = Results::empty();
    results.complete = true;
    results.suite = Some(suite());
    results.environment = Some(environment());
    results.targets = targets();
    results.runs = runs();
    results.capacity = capacity();
    results.failures = failures();
    results.drains = drains();
    results.startup = vec![startup("rust-axum"), startup("go-gin")];
    results.artifacts = vec![artifact("rust-axum")];
    results
}

fn suite() -> SuiteRecord {
    SuiteRecord {
        name: "smoke".to_owned(),
        description: "a test".to_owned(),
        path: "scenarios/suites/smoke.toml".to_owned(),
        targets: vec!["rust-axum".to_owned(), "go-gin".to_owned()],
        baseline: Some("rust-axum".to_owned()),
        repetitions: 2,
        scenario_repetitions: BTreeMap::from([("get-user-http2".to_owned(), 3)]),
        retries: 1,
        idle_wait_s: 0.1,
        after_wait_s: 0.2,
        scenarios: vec!["get-user-http2".to_owned()],
        startup_runs: 3,
        images: true,
        capacity_scenarios: vec!["get-user-http2".to_owned()],
        capacity_repetitions: 1,
        verified: true,
        server_cpus: vec![0],
        loadgen_cpus: vec![1],
        cpus_kept_awake: Some(vec![0, 1]),
    }
}

fn environment() -> Environment {
    Environment {
        rustc: Some("rustc 1.95.0".to_owned()),
        go: None,
        libraries: vec![Library {
            name: "axum".to_owned(),
            version: Some("0.8.9".to_owned()),
            used_by: "rust-axum".to_owned(),
        }],
        commit: Some("c5ff78d".to_owned()),
        dirty: Some(false),
        harness_version: Some("0.1.0".to_owned()),
        command: "harness bench".to_owned(),
        started: "2026-11-30T04:40:46Z".to_owned(),
        notes: vec!["go: not found".to_owned()],
    }
}

fn targets() -> Vec<TargetRecord> {
    vec![
        TargetRecord {
            name: "rust-axum".to_owned(),
            language: "rust".to_owned(),
            framework: "axum".to_owned(),
            version: Some("0.8.9".to_owned()),
            version_note: None,
        },
        TargetRecord {
            name: "go-gin".to_owned(),
            language: "go".to_owned(),
            framework: "gin".to_owned(),
            version: None,
            version_note: Some("no go.sum".to_owned()),
        },
    ]
}

fn runs() -> Vec<RunRecord> {
    // Every optional field of a run left out.
    let plain = RunRecord {
        repetition: None,
        attempt: None,
        retried: None,
        settle_s: None,
        stream: None,
        message_latency_us: None,
        messages: None,
        server: None,
        server_note: Some("--url".to_owned()),
        placement_warnings: Vec::new(),
        ..run("go-gin", None)
    };
    vec![
        run("rust-axum", Some(serde_json::json!(100))),
        run("rust-axum", Some(serde_json::json!("unlimited"))),
        run("go-gin", Some(serde_json::Value::Null)),
        plain,
    ]
}

fn capacity() -> Vec<CapacityRecord> {
    vec![CapacityRecord {
        scenario: "get-user-http2".to_owned(),
        target: "rust-axum".to_owned(),
        repetition: 1,
        protocol: "http2".to_owned(),
        call: "GET /v1/users/{id}".to_owned(),
        slo_p99_us: 10_000,
        stage_s: 1.0,
        warmup_s: 0.5,
        concurrency: 64,
        connections: 8,
        capacity_rps: Some(8000.0),
        limited_by: "slo".to_owned(),
        note: None,
        stages: vec![CapacityStage {
            offered_rps: 8000.0,
            achieved_rps: 7990.0,
            requests: 7990,
            ok: 7990,
            errors: 0,
            dropped: 10,
            cap_waits: 1,
            p50_us: Some(150),
            p99_us: Some(9000),
            p999_us: None,
            generator_saturated: false,
            loadgen_cpu_pct: 40.0,
            server_cpu_us_per_request: Some(60.0),
            server_cpu_pct: None,
            held: false,
            limit: Some("slo".to_owned()),
            broke: Some("p99 over the SLO".to_owned()),
        }],
    }]
}

fn failures() -> Vec<FailureRecord> {
    vec![
        FailureRecord::new(
            "run",
            "go-gin",
            "get-user-http2",
            Some(2),
            &anyhow::anyhow!("exited"),
            1.25,
        ),
        FailureRecord {
            attempt: Some(1),
            retried: true,
            settle_s: Some(2.0),
            phase: Some("load".to_owned()),
            signal: Some("SIGKILL".to_owned()),
            exit_code: Some(137),
            ..FailureRecord::new(
                "capacity",
                "rust-axum",
                "x",
                None,
                &anyhow::anyhow!("killed"),
                0.5,
            )
        },
    ]
}

fn drains() -> Vec<DrainRecord> {
    vec![DrainRecord {
        target: "rust-axum".to_owned(),
        scenario: "drain-http1".to_owned(),
        protocol: "http1".to_owned(),
        call: "GET /v1/users/{id}".to_owned(),
        repetition: Some(1),
        rate: 200,
        duration_s: 3.0,
        signal_after_s: 1.0,
        drain_delay_s: 0.5,
        drain_timeout_s: 5.0,
        before: 200,
        before_errors: BTreeMap::new(),
        sent: 400,
        completed: 390,
        completed_while_listening: 100,
        not_accepted: BTreeMap::from([("refused".to_owned(), 10)]),
        failed: BTreeMap::new(),
        failed_sent_ms: vec![1003.5],
        readiness_off_ms: Some(1.0),
        stopped_listening_ms: None,
        exit_ms: Some(520.0),
        exit: "exited 0".to_owned(),
        passed: true,
        problems: Vec::new(),
    }]
}

fn json(results: &Results) -> serde_json::Value {
    serde_json::to_value(results).unwrap()
}

#[test]
fn every_record_kind_round_trips_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let written = every_kind();
    std::fs::write(&path, serde_json::to_vec_pretty(&written).unwrap()).unwrap();
    let read = parse(&path, &std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json(&read), json(&written));
    // What the writer writes: a null stream limit stays null, an absent one absent.
    let runs = &json(&read)["runs"];
    assert_eq!(
        runs[2]["http2_max_concurrent_streams"],
        serde_json::Value::Null
    );
    assert!(runs[3].get("http2_max_concurrent_streams").is_none());
    assert_eq!(runs[0]["timeline"][0]["t_s"], serde_json::json!(0));
    assert_eq!(runs[0]["loadgen"]["steal_ms"], serde_json::json!(10));
    assert_eq!(
        read.runs[1].http2_max_concurrent_streams,
        Some("unlimited".into())
    );
    assert_eq!(read.failures[1].signal.as_deref(), Some("SIGKILL"));

    // A second command adds to the file through the same types and keeps
    // every record as it was.
    let mut again = ResultsFile::open(dir.path()).unwrap();
    again.push_artifact(&artifact("go-gin")).unwrap();
    let mut expected = written;
    expected.complete = false;
    expected.artifacts.push(artifact("go-gin"));
    let reread = parse(&path, &std::fs::read(&path).unwrap()).unwrap();
    let (mut got, mut want) = (json(&reread), json(&expected));
    for v in [&mut got, &mut want] {
        // This command's, not the file's.
        v["machine"] = serde_json::Value::Null;
        v["harness_version"] = serde_json::Value::Null;
    }
    assert_eq!(got, want);
}

/// `old` with every value of `new` it has: numbers compare as numbers (an
/// old `1` read into an `f64` is written back `1.0`).
fn kept(old: &serde_json::Value, new: &serde_json::Value, at: &str) -> Vec<String> {
    use serde_json::Value;
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => o
            .iter()
            .flat_map(|(k, v)| match n.get(k) {
                Some(w) => kept(v, w, &format!("{at}.{k}")),
                None => vec![format!("{at}.{k}: lost")],
            })
            .collect(),
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => o
            .iter()
            .zip(n)
            .enumerate()
            .flat_map(|(i, (v, w))| kept(v, w, &format!("{at}[{i}]")))
            .collect(),
        (Value::Number(o), Value::Number(n)) if o.as_f64() == n.as_f64() => Vec::new(),
        _ if old == new => Vec::new(),
        _ => vec![format!("{at}: {old} became {new}")],
    }
}

#[test]
fn files_of_older_harnesses_read_and_lose_nothing() {
    for name in ["base.json", "head.json"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/report/fixtures")
            .join(name);
        let bytes = std::fs::read(&path).unwrap();
        let results = parse(&path, &bytes).unwrap();
        let old: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            kept(&old, &json(&results), ""),
            Vec::<String>::new(),
            "{name}"
        );
        // What these files lack reads as absent.
        assert!(results.targets.is_empty() && results.drains.is_empty());
        let suite = results.suite.as_ref().unwrap();
        assert_eq!(
            (suite.baseline.as_deref(), suite.cpus_kept_awake.as_deref()),
            (None, None)
        );
        let run = &results.runs[0];
        assert!(run.loadgen.cpus_kept_awake.is_empty());
        assert_eq!(run.loadgen.scheduling, Scheduling::default());
        assert_eq!(run.loadgen.workers, 1);
        assert_eq!(results.capacity[0].stages[0].limit, None);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/fixtures/base.json");
    let results = parse(&path, &std::fs::read(&path).unwrap()).unwrap();
    let failure = &results.failures[0];
    assert_eq!(
        (failure.at.as_deref(), failure.at_s, failure.retried),
        (None, None, false)
    );
}

#[test]
fn a_field_of_the_wrong_shape_is_named_with_its_place() {
    let path = Path::new("dir/results.json");
    let text = "{\n  \"schema_version\": 1,\n  \"runs\": [{\"scenario\": 3}]\n}";
    let err = parse(path, text.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        err,
        "dir/results.json:3:25: not a results file of this harness: invalid type: \
         integer `3`, expected a string"
    );
}
