use super::spectrum::*;
use super::*;

/// Checks that `svg` is one well-formed SVG document without non-finite
/// numbers and with every string of `expected` in it.
fn check(svg: &str, expected: &[&str]) {
    assert!(
        svg.starts_with("<svg"),
        "starts with {:?}",
        &svg[..svg.len().min(40)]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    let doc = roxmltree::Document::parse(svg).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(!svg.contains("NaN"), "NaN in the SVG");
    assert!(!svg.contains("inf"), "inf in the SVG");
    // Self-contained: no external references, images or fonts.
    for bad in ["href", "<image", "@font-face", "url("] {
        assert!(!svg.contains(bad), "{bad} in the SVG");
    }
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for want in expected {
        assert!(
            texts.iter().any(|t| t.contains(want)),
            "no text {want:?} in {texts:?}"
        );
    }
}

/// The fill colours of the circles that are drawn with a radius of 6: the
/// ratio chart's estimates, top row first (its key's dots are smaller).
fn estimate_fills(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("6"))
        .filter_map(|n| n.attribute("fill").map(str::to_lowercase))
        .collect()
}

fn hist_1_to_1000_us() -> hdrhistogram::Histogram<u64> {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for v in 1..=1000 {
        h.record(v).unwrap();
    }
    h
}

fn spectrum_input() -> Vec<SpectrumSeries> {
    let h = hist_1_to_1000_us();
    let rust = spectrum_points(&h, 1000.0);
    let go: Vec<(f64, f64)> = rust.iter().map(|&(p, v)| (p, v * 1.6 + 0.2)).collect();
    vec![
        SpectrumSeries {
            label: "Rust".into(),
            points: rust,
        },
        SpectrumSeries {
            label: "Go".into(),
            points: go,
        },
    ]
}

fn timeline_input() -> Vec<TimelineSeries> {
    let series = |label: &str, scale: f64| TimelineSeries {
        label: label.into(),
        points: (0..60)
            .map(|i| {
                let t = f64::from(i);
                let gap = (20..23).contains(&i);
                TimelinePoint {
                    t_s: t,
                    p50_ms: (!gap).then_some(scale * (1.0 + (t / 7.0).sin() * 0.2)),
                    p99_ms: (!gap).then_some(scale * (3.0 + (t / 5.0).cos())),
                    rps: if gap { 0.0 } else { 5000.0 / scale },
                }
            })
            .collect(),
    };
    vec![series("Rust", 1.0), series("Go", 1.4)]
}

fn usage_input() -> Vec<UsageSeries> {
    let series = |label: &str, base: f64, shift: f64| UsageSeries {
        label: label.into(),
        points: (0..40)
            .map(|i| {
                let t = f64::from(i) * 0.5 + shift;
                let loaded = (5.0 + shift..15.0 + shift).contains(&t);
                let cpu = (i > 0).then_some(if loaded { 80.0 + base } else { 1.0 });
                (t, base + if loaded { 12.0 } else { 0.0 }, cpu)
            })
            .collect(),
        load_window: Some((5.0 + shift, 15.0 + shift)),
    };
    vec![series("Rust", 8.0, 0.0), series("Go", 14.0, 1.0)]
}

fn startup_input() -> Vec<StartupSeries> {
    vec![
        StartupSeries {
            label: "Rust".into(),
            samples_ms: vec![3.1, 2.8, 3.4, 2.9, 3.0, 4.2, 3.3],
        },
        StartupSeries {
            label: "Go".into(),
            samples_ms: vec![5.5, 6.1, 5.9, 7.4, 5.8, 6.0, 6.3],
        },
    ]
}

fn sizes_input() -> (Vec<String>, Vec<BarSeries>) {
    let cats = ["binary", "stripped", "image", "image (gzip)"]
        .map(String::from)
        .to_vec();
    let series = vec![
        BarSeries {
            label: "Rust".into(),
            values: vec![Some(9.8), Some(4.1), Some(12.5), Some(5.2)],
        },
        BarSeries {
            label: "Go".into(),
            values: vec![Some(15.2), Some(10.6), None, Some(7.9)],
        },
    ];
    (cats, series)
}

fn capacity_input() -> Vec<CapacitySeries> {
    let stages = |limit: f64, lat: f64| -> Vec<CapacityStage> {
        (1..=8)
            .map(|k| {
                let offered = f64::from(k) * 2500.0;
                let held = offered <= limit;
                CapacityStage {
                    offered_rps: offered,
                    achieved_rps: offered.min(limit * 1.05),
                    p99_ms: Some(if held {
                        lat * (1.0 + offered / 20000.0)
                    } else {
                        lat * 40.0
                    }),
                    held,
                }
            })
            .collect()
    };
    vec![
        CapacitySeries {
            label: "Rust".into(),
            stages: stages(15000.0, 1.0),
            capacity_rps: Some(15000.0),
        },
        CapacitySeries {
            label: "Go".into(),
            stages: stages(10000.0, 1.5),
            capacity_rps: Some(10000.0),
        },
    ]
}

fn ratio_input() -> Vec<RatioRow> {
    let row = |label: &str, e: f64, lo: f64, hi: f64, verdict: &str| RatioRow {
        label: label.into(),
        estimate: e,
        low: lo,
        high: hi,
        verdict: verdict.into(),
    };
    vec![
        row("p99 latency (ms)", 1.9, 1.7, 2.1, "Rust better"),
        row("throughput (req/s)", 0.8, 0.7, 0.9, "Go better"),
        row("startup (ms)", 1.02, 0.95, 1.1, "no significant difference"),
    ]
}

fn trend_input() -> (Vec<String>, Vec<TrendSeries>) {
    let labels = ["a1b2c3d", "c5ff78d", "20261130T050000Z", "e9f0a1b"]
        .map(String::from)
        .to_vec();
    let series = vec![
        TrendSeries {
            label: "Rust".into(),
            values: vec![Some(1.2), Some(1.25), None, Some(1.1)],
        },
        TrendSeries {
            label: "Go".into(),
            values: vec![Some(2.3), Some(2.2), Some(2.4), Some(2.35)],
        },
    ];
    (labels, series)
}

#[test]
fn spectrum_draws_percentile_axis_and_legend() {
    let svg = spectrum("Latency by percentile", &spectrum_input()).unwrap();
    check(
        &svg,
        &[
            "Latency by percentile",
            "Rust",
            "Go",
            "0%",
            "90%",
            "99%",
            "99.9%",
            "99.99%",
            "99.999%",
        ],
    );
}

#[test]
fn spectrum_points_end_at_100_and_are_monotonic() {
    let pts = spectrum_points(&hist_1_to_1000_us(), 1000.0);
    assert!(pts.len() > 20, "{} points", pts.len());
    assert_eq!(pts.last().unwrap().0, 100.0);
    let max = pts.last().unwrap().1;
    assert!((max - 1.0).abs() < 0.002, "max {max} ms");
    assert!(pts[0].1 > 0.0 && pts[0].1 <= 0.002);
    for w in pts.windows(2) {
        assert!(w[1].0 >= w[0].0, "percentiles go back at {w:?}");
        assert!(w[1].1 >= w[0].1, "values go back at {w:?}");
    }
    assert!(pts.iter().all(|(p, v)| p.is_finite() && v.is_finite()));
    let empty = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    assert!(spectrum_points(&empty, 1000.0).is_empty());
}

#[test]
fn percentile_labels() {
    let labels: Vec<String> = (0..=6).map(|k| percentile_label(f64::from(k))).collect();
    assert_eq!(
        labels,
        ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
    );
}

#[test]
fn timeline_has_both_panels() {
    let svg = timeline("Latency and throughput over time", &timeline_input()).unwrap();
    check(
        &svg,
        &[
            "Latency and throughput over time",
            "Rust p50",
            "Rust p99",
            "Go p50",
            "Go p99",
            "latency (ms)",
            "throughput (requests/s)",
        ],
    );
}

#[test]
fn server_usage_has_both_panels_and_load_window() {
    let svg = server_usage("Server memory and CPU", &usage_input()).unwrap();
    check(
        &svg,
        &[
            "Server memory and CPU",
            "Rust",
            "Go",
            "memory (RSS, MiB)",
            "CPU (% of one core)",
            "load window",
        ],
    );
    // The load windows are shaded in the series' colours.
    assert!(svg.contains("#CE422B") && svg.contains("#00ADD8"));
}

#[test]
fn startup_draws_each_sample() {
    let input = startup_input();
    let svg = startup("Startup time", &input).unwrap();
    check(&svg, &["Startup time", "Rust", "Go", "startup time (ms)"]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let dots = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("3"))
        .count();
    assert_eq!(
        dots,
        input.iter().map(|s| s.samples_ms.len()).sum::<usize>()
    );
}

#[test]
fn sizes_writes_values_and_na() {
    let (cats, series) = sizes_input();
    let svg = sizes("Binary and image sizes", &cats, &series).unwrap();
    check(
        &svg,
        &[
            "Binary and image sizes",
            "Rust",
            "Go",
            "binary",
            "stripped",
            "image (gzip)",
            "9.8",
            "15.2",
            "n/a",
        ],
    );
}

#[test]
fn capacity_draws_slo_and_markers() {
    let svg = capacity("Capacity search", Some(5.0), &capacity_input()).unwrap();
    check(
        &svg,
        &[
            "Capacity search",
            "Rust",
            "Go",
            "SLO",
            "y = x",
            "15000 rps",
            "10000 rps",
            "p99 latency (ms)",
        ],
    );
    // Without an SLO and with one target.
    let one = &capacity_input()[..1];
    check(
        &capacity("Capacity", None, one).unwrap(),
        &["Capacity", "Rust"],
    );
}

#[test]
fn ratios_colour_points_by_verdict() {
    let rows = ratio_input();
    let svg = ratios("Go / Rust", "Rust", "Go", &rows).unwrap();
    check(
        &svg,
        &[
            "Go / Rust",
            "p99 latency (ms)",
            "throughput (req/s)",
            "startup (ms)",
            "Go / Rust (95% CI)",
            "1×",
            "Rust better",
            "Go better",
            "no significant difference",
        ],
    );
    assert_eq!(estimate_fills(&svg), [RUST_HEX, GO_HEX, NEUTRAL_HEX]);
    // The height grows with the rows.
    let one = ratios("one", "Rust", "Go", &rows[..1]).unwrap();
    let height = |svg: &str| {
        roxmltree::Document::parse(svg)
            .unwrap()
            .root_element()
            .attribute("height")
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(height(&svg) - height(&one), 2 * 28);
}

#[test]
fn ratios_survive_bad_numbers() {
    let mut rows = ratio_input();
    rows[1].low = f64::NAN;
    rows[2].estimate = 0.0;
    let svg = ratios("bad", "Rust", "Go", &rows).unwrap();
    check(&svg, &["bad", "n/a"]);
    assert_eq!(estimate_fills(&svg), [RUST_HEX]);
}

#[test]
fn verdict_colours() {
    assert_eq!(verdict_hex("Rust better"), RUST_HEX);
    assert_eq!(verdict_hex("Go better"), GO_HEX);
    assert_eq!(verdict_hex("rust-axum better"), RUST_HEX);
    assert_eq!(verdict_hex("go-gin better"), GO_HEX);
    assert_eq!(verdict_hex("java-spring better"), OTHER_WINNER_HEX);
    assert_eq!(verdict_hex("no significant difference"), NEUTRAL_HEX);
    assert_eq!(verdict_hex(""), NEUTRAL_HEX);
}

#[test]
fn trend_labels_runs_and_shortens() {
    let (labels, series) = trend_input();
    let svg = trend("p99 latency across runs", &labels, &series, "p99 (ms)").unwrap();
    check(
        &svg,
        &[
            "p99 latency across runs",
            "Rust",
            "Go",
            "a1b2c3d",
            "c5ff78d",
            "20261130T05…",
            "p99 (ms)",
        ],
    );
}

#[test]
fn empty_inputs_say_no_data() {
    let none_timeline = vec![TimelineSeries {
        label: "Rust".into(),
        points: vec![TimelinePoint {
            t_s: 0.0,
            p50_ms: None,
            p99_ms: None,
            rps: f64::NAN,
        }],
    }];
    let none_sizes = vec![BarSeries {
        label: "Rust".into(),
        values: vec![None, None],
    }];
    let none_trend = vec![TrendSeries {
        label: "Go".into(),
        values: vec![None, Some(f64::INFINITY)],
    }];
    let cases = [
        ("spectrum", spectrum("t", &[]).unwrap()),
        (
            "spectrum (NaN)",
            spectrum(
                "t",
                &[SpectrumSeries {
                    label: "Rust".into(),
                    points: vec![(f64::NAN, 1.0), (50.0, f64::INFINITY)],
                }],
            )
            .unwrap(),
        ),
        ("timeline", timeline("t", &[]).unwrap()),
        ("timeline (None)", timeline("t", &none_timeline).unwrap()),
        ("server_usage", server_usage("t", &[]).unwrap()),
        (
            "startup",
            startup(
                "t",
                &[StartupSeries {
                    label: "Go".into(),
                    samples_ms: vec![],
                }],
            )
            .unwrap(),
        ),
        ("sizes", sizes("t", &[], &[]).unwrap()),
        (
            "sizes (None)",
            sizes("t", &["a".into(), "b".into()], &none_sizes).unwrap(),
        ),
        ("capacity", capacity("t", Some(5.0), &[]).unwrap()),
        ("ratios", ratios("t", "Rust", "Go", &[]).unwrap()),
        ("trend", trend("t", &[], &[], "y").unwrap()),
        (
            "trend (None)",
            trend("t", &["a".into(), "b".into()], &none_trend, "y").unwrap(),
        ),
    ];
    for (name, svg) in cases {
        println!("{name}");
        check(&svg, &["no data"]);
    }
}

#[test]
fn single_points_and_flat_values_do_not_break_axes() {
    let flat = vec![StartupSeries {
        label: "Rust".into(),
        samples_ms: vec![5.0],
    }];
    check(&startup("flat", &flat).unwrap(), &["flat", "Rust"]);
    let one = vec![TrendSeries {
        label: "Rust".into(),
        values: vec![Some(0.0)],
    }];
    check(
        &trend("one", &["x".into()], &one, "y").unwrap(),
        &["one", "Rust"],
    );
    let tl = vec![TimelineSeries {
        label: "Go".into(),
        points: vec![TimelinePoint {
            t_s: 3.0,
            p50_ms: Some(0.0),
            p99_ms: Some(0.0),
            rps: 0.0,
        }],
    }];
    check(&timeline("tl", &tl).unwrap(), &["tl", "Go p50"]);
    let cap = vec![CapacitySeries {
        label: "Go".into(),
        stages: vec![CapacityStage {
            offered_rps: 100.0,
            achieved_rps: 100.0,
            p99_ms: None,
            held: false,
        }],
        capacity_rps: None,
    }];
    check(
        &capacity("cap", Some(1.0), &cap).unwrap(),
        &["cap", "Go", "SLO"],
    );
}

#[test]
fn extra_series_take_a_third_colour() {
    let c = colours(["Rust (axum)", "Go (net/http)", "nginx", "golang"].into_iter());
    assert_eq!(c, [RUST, GO, EXTRA[0], GO]);
}

#[test]
fn escapes_text() {
    let svg = trend(
        "a < b & c",
        &["x".into()],
        &[TrendSeries {
            label: "<Rust>".into(),
            values: vec![Some(1.0)],
        }],
        "y",
    )
    .unwrap();
    check(&svg, &["a < b & c", "<Rust>"]);
}

/// Writes one sample of each chart to /tmp/plots-sample for a look:
/// `cargo test -p harness --lib plots::tests::write_samples -- --ignored`.
#[test]
#[ignore = "writes files to /tmp/plots-sample"]
fn write_samples() {
    let dir = std::path::Path::new("/tmp/plots-sample");
    std::fs::create_dir_all(dir).unwrap();
    let (cats, bars) = sizes_input();
    let (labels, trends) = trend_input();
    let many: Vec<String> = (0..30)
        .map(|i| format!("2026113{}T0500{:02}Z", i % 10, i))
        .collect();
    let many_series = vec![
        TrendSeries {
            label: "Rust".into(),
            values: (0..30)
                .map(|i| (i % 7 != 3).then_some(1.0 + f64::from(i) * 0.01))
                .collect(),
        },
        TrendSeries {
            label: "Go".into(),
            values: (0..30)
                .map(|i| Some(2.0 + f64::from(i % 5) * 0.1))
                .collect(),
        },
    ];
    let samples = [
        (
            "spectrum",
            spectrum("Latency by percentile (sample)", &spectrum_input()).unwrap(),
        ),
        (
            "timeline",
            timeline(
                "Latency and throughput over time (sample)",
                &timeline_input(),
            )
            .unwrap(),
        ),
        (
            "server_usage",
            server_usage("Server memory and CPU (sample)", &usage_input()).unwrap(),
        ),
        (
            "startup",
            startup("Startup time (sample)", &startup_input()).unwrap(),
        ),
        (
            "sizes",
            sizes("Binary and image sizes (sample)", &cats, &bars).unwrap(),
        ),
        (
            "capacity",
            capacity("Capacity search (sample)", Some(5.0), &capacity_input()).unwrap(),
        ),
        (
            "ratios",
            ratios("Go / Rust ratios (sample)", "Rust", "Go", &ratio_input()).unwrap(),
        ),
        (
            "trend",
            trend(
                "p99 latency across runs (sample)",
                &labels,
                &trends,
                "p99 latency (ms)",
            )
            .unwrap(),
        ),
        (
            "trend_many",
            trend("30 runs (sample)", &many, &many_series, "p99 latency (ms)").unwrap(),
        ),
        (
            "no_data",
            timeline("Nothing recorded (sample)", &[]).unwrap(),
        ),
    ];
    for (name, svg) in samples {
        std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
    }
}
