//! Rendering a stored results.json (fixtures/base.json: a real smoke run, with
//! image sizes added, one go run given errors and one failed run), and
//! comparing it with fixtures/head.json (go's p99 tripled and rust's CPU per
//! request halved on get-user-grpc-closed).

use std::path::{Path, PathBuf};

use super::analysis::{self, Analysis};
use super::export::Exporter as _;
use super::*;
use crate::stats::{Change, Verdict};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/report/fixtures")
        .join(name)
}

/// The fixture's one comparison: go-gin / rust-axum (it was written when
/// targets were `rust` and `go`).
fn analysed(name: &str) -> Analysis {
    let mut all = analysis::analyse_all(&analysis::read(&fixture(name)).unwrap());
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[test]
fn the_decision_table_matches_its_snapshot() {
    let a = analysed("base.json");
    let table = export::markdown::render_table(&sections::decision_table(&a.pair, &a.headlines));
    let path = fixture("decision-table.md");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &table).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        table, expected,
        "decision table changed; rerun with UPDATE_SNAPSHOTS=1 if that is intended"
    );
}

#[test]
fn headline_rows_in_order_with_real_verdicts() {
    let a = analysed("base.json");
    let metrics: Vec<&str> = a.headlines.iter().map(|c| c.metric.as_str()).collect();
    assert_eq!(
        metrics,
        [
            "p99 latency",
            "throughput (closed loop)",
            "capacity at SLO",
            "CPU per request",
            "idle memory (RSS)",
            "peak memory (RSS)",
            "startup (spawn to ready)",
            "image size"
        ]
    );
    let row = |m: &str| a.headlines.iter().find(|c| c.metric == m).unwrap();
    // Go's idle RSS is about twice Rust's in every run of the fixture.
    let idle = row("idle memory (RSS)");
    assert_eq!(idle.verdict, Some(Verdict::BaselineBetter));
    assert!(idle.ratio.unwrap().low > 1.5, "{idle:?}");
    // Images are measured once: the interval is the ratio itself.
    let image = row("image size");
    let r = image.ratio.unwrap();
    assert_eq!((r.low, r.high), (r.estimate, r.estimate));
    assert!((r.estimate - 37_128_068.0 / 8_801_679.0).abs() < 1e-9);
    // One sweep per target: a ratio, but no interval width and no verdict.
    let capacity = row("capacity at SLO");
    assert_eq!(capacity.verdict, None);
    assert_eq!(capacity.ratio, Some(crate::stats::Interval::point(1.0)));
    assert!(
        capacity
            .note
            .as_deref()
            .unwrap()
            .contains("fewer than 2 kept repetitions (rust-axum 1, go-gin 1)"),
        "{capacity:?}"
    );
}

#[test]
fn flagged_runs_are_left_out_and_listed() {
    let a = analysed("base.json");
    let s = a
        .scenarios
        .iter()
        .find(|s| s.name == "get-user-http1")
        .unwrap();
    assert_eq!(s.flagged, 1);
    assert_eq!(
        s.kept["go-gin"].len(),
        1,
        "the run with errors is not averaged in"
    );
    assert_eq!(s.kept["rust-axum"].len(), 2);
    let p99 = s
        .metrics
        .iter()
        .find(|m| m.metric == "p99 latency")
        .unwrap();
    assert_eq!((p99.base_n, p99.other_n), (2, 1));
    assert_eq!(
        p99.verdict, None,
        "one kept go run has no spread: no verdict"
    );
    // Nor does that scenario enter the p99 headline.
    let headline = &a.headlines[0];
    assert_eq!(headline.base_n, 1, "{headline:?}");
    assert!(
        headline
            .note
            .as_deref()
            .unwrap()
            .contains("1 left out: fewer than 2 kept repetitions"),
        "{headline:?}"
    );
    assert!(
        a.flags
            .iter()
            .any(|f| f.target == "go-gin" && f.why.contains("3 errors (timeout 3)"))
    );
    assert!(
        a.flags
            .iter()
            .any(|f| f.why.starts_with("run failed: rust"))
    );
}

#[test]
fn writes_every_report_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let index = write(&fixture("base.json"), dir.path()).unwrap();
    let html = std::fs::read_to_string(&index).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();

    // The decision table opens both.
    let decision = md.find("## Decision table").unwrap();
    assert!(decision < md.find("## Scenarios").unwrap());
    assert!(md.find("## Environment").unwrap() > md.find("## Startup and stop").unwrap());
    let html_decision = html.find("id=\"decision\"").unwrap();
    assert!(html_decision < html.find("id=\"scenarios\"").unwrap());
    assert!(html.find("<svg").unwrap() > html_decision);

    // Left-out runs in red in both.
    assert!(md.contains("| 🔴 go-gin | get-user-http1 | 2 | 3 errors (timeout 3) |"));
    assert!(
        html.contains("<tr class=\"red\"><td class=\"flag\">go-gin</td><td>get-user-http1</td>")
    );
    // Both name the targets, and the ratio as other / baseline.
    assert!(md.contains(
        "| metric | rust-axum | go-gin | go-gin / rust-axum [95% CI] | verdict | note |"
    ));
    assert!(html.contains("<th>go-gin / rust-axum [95% CI]</th>"));

    // The environment, with the exact command.
    for needle in [
        "axum 0.8.9 (rust-svc)",
        "gin v1.12.0 (go-svc)",
        "grpc-go v1.85.0 (go-svc)",
        "rustc 1.95.0",
        "go version go1.26.8",
        "command: `harness bench scenarios/suites/smoke.toml --out reports/fixture`",
        "commit: c5ff78d1159f3c8e6d3c637ad779723e9b0d0b34",
        "AMD EPYC (2 CPUs online",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }

    // Self-contained: no scripts, no external references, every plot inline.
    for banned in ["<script", "http://", "https://", "<link", "@import", "src="] {
        let outside_svg_namespaces = html
            .replace("http://www.w3.org/2000/svg", "")
            .replace("http://www.w3.org/1999/xlink", "");
        assert!(
            !outside_svg_namespaces.contains(banned),
            "index.html contains {banned:?}"
        );
    }
    let plots: Vec<_> = std::fs::read_dir(dir.path().join("plots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // 3 scenarios x 3 charts, 2 ratio charts, capacity, startup, sizes.
    assert_eq!(plots.len(), 14, "{plots:?}");
    assert_eq!(html.matches("<svg").count(), plots.len());
    for plot in &plots {
        let svg = std::fs::read_to_string(plot).unwrap();
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", plot.display()));
    }

    let summary: crate::results::summary::Summary =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.suite, "smoke");
    assert_eq!(summary.headlines.len(), 8);
    assert!(!summary.dirty);
}

#[test]
fn compare_finds_the_planted_changes() {
    let base = analysed("base.json");
    let head = analysed("head.json");
    let c = compare::compare(&base, &head, 0.05);
    let find = |target: &str, metric: &str| {
        c.rows
            .iter()
            .find(|r| r.scope == "get-user-grpc-closed" && r.target == target && r.metric == metric)
            .unwrap()
    };
    let p99 = find("go-gin", "p99 latency");
    assert_eq!(p99.change, Some(Change::Regression));
    assert!((p99.ratio.unwrap().estimate - 3.0).abs() < 0.01, "{p99:?}");
    assert_eq!(
        find("rust-axum", "CPU per request").change,
        Some(Change::Improvement)
    );
    assert_eq!(
        find("rust-axum", "p99 latency").change,
        Some(Change::NoChange)
    );
    assert_eq!(c.regressions(), 1, "{}", c.text());
    assert!(c.markdown().contains("🔴 **REGRESSION**"));
    // The failed run of base is not a metric: it changes nothing. Go's one
    // kept run of get-user-http1, and the one capacity sweep a target, have no
    // spread: a ratio, but no change verdict.
    let same = compare::compare(&base, &base, 0.05);
    assert_eq!(same.regressions(), 0);
    for r in &same.rows {
        let single = (r.scope == "get-user-http1" && r.target == "go-gin")
            || r.scope.starts_with("capacity: ");
        let want = if single { None } else { Some(Change::NoChange) };
        assert_eq!(r.change, want, "{r:?}");
        assert_eq!(r.ratio.unwrap().estimate, 1.0, "{r:?}");
    }
    assert!(same.text().contains("n/a (fewer than 2 values on a side)"));
}

#[test]
fn drain_runs_get_their_own_section_with_failures_in_red() {
    let mut results = analysis::read(&fixture("base.json")).unwrap();
    let run = |target: &str, scenario: &str, failed: u64| {
        serde_json::from_value::<crate::results::DrainRecord>(serde_json::json!({
            "target": target, "scenario": scenario, "protocol": "http1",
            "call": "GET /v1/users/{id}", "repetition": 1, "rate": 1000,
            "duration_s": 3.0, "signal_after_s": 0.5, "drain_delay_s": 1.0,
            "drain_timeout_s": 5.0, "before": 500, "before_errors": {},
            "sent": 2500, "completed": 1000 - failed, "completed_while_listening": 1000 - failed,
            "not_accepted": {"connection refused": 1500},
            "failed": if failed > 0 { serde_json::json!({"reset": failed}) } else { serde_json::json!({}) },
            "readiness_off_ms": 0.4, "stopped_listening_ms": 1003.0, "exit_ms": 1004.0,
            "exit": "exited 0", "passed": failed == 0,
            "problems": if failed > 0 { vec![format!("{failed} accepted requests failed (reset {failed})")] } else { vec![] },
        }))
        .unwrap()
    };
    results.drains = vec![
        run("rust-axum", "drain", 0),
        run("go-gin", "drain", 0),
        run("rust-axum", "drain-grpc", 2),
        run("go-gin", "drain", 0),
    ];
    let a = analysis::analyse_all(&results).remove(0);
    let document = sections::document(&a, &[], &[]);
    let md = export::markdown::Markdown.render(&document);
    let section = &md[md.find("## Drain under load").expect("drain section")..];
    // One table per scenario, in the order each first appears, with all its runs.
    let drain = section.find("### drain (").unwrap();
    let grpc = section.find("### drain-grpc (").unwrap();
    assert!(drain < grpc, "{section}");
    assert_eq!(
        section[drain..grpc]
            .matches("| exited 0 after 1004 ms | pass |")
            .count(),
        3
    );
    assert!(
        section.contains("| 2 (reset 2) | 1500 (connection refused 1500) |"),
        "{section}"
    );
    assert!(
        section.contains("🔴 FAIL: 2 accepted requests failed (reset 2)"),
        "{section}"
    );
    let html = export::html::Html.render(&document);
    assert!(html.contains("<h2 id=\"drain\">Drain under load</h2>"));
    assert_eq!(
        html.matches("<tr class=\"red\"><td>rust-axum</td>").count(),
        1,
        "one failed drain row"
    );
}

#[test]
fn a_third_target_is_compared_with_the_baseline_in_a_report_of_its_own() {
    // The fixture, with a copy of go-gin's runs under another name.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("base.json")).unwrap()).unwrap();
    let copies: Vec<serde_json::Value> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["target"] == "go")
        .map(|r| {
            let mut r = r.clone();
            r["target"] = "go-nethttp".into();
            r
        })
        .collect();
    json["runs"].as_array_mut().unwrap().extend(copies);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();

    let results = analysis::read(&path).unwrap();
    assert_eq!(
        results.target_names(),
        ["rust-axum", "go-gin", "go-nethttp"]
    );
    let all = analysis::analyse_all(&results);
    let pairs: Vec<String> = all.iter().map(|a| a.pair.ratio_label()).collect();
    assert_eq!(pairs, ["go-gin / rust-axum", "go-nethttp / rust-axum"]);
    // The copy has go-gin's figures: the same ratios as go-gin's.
    let p99 = |a: &Analysis| a.headlines[0].ratio.unwrap().estimate;
    assert!((p99(&all[0]) - p99(&all[1])).abs() < 1e-9);

    write(&path, dir.path()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("[go-nethttp / rust-axum](vs-go-nethttp/report.md)"),
        "{md}"
    );
    let other = std::fs::read_to_string(dir.path().join("vs-go-nethttp/report.md")).unwrap();
    assert!(
        other.contains("| metric | rust-axum | go-nethttp | go-nethttp / rust-axum [95% CI] |")
    );
    assert!(dir.path().join("vs-go-nethttp/index.html").is_file());
    let summary: crate::results::summary::Summary =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.headlines.len(), 16);
    assert_eq!(summary.headlines[8].other, "go-nethttp");
}
