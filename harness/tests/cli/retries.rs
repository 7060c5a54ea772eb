//! Part of the `cli` test binary (tests/cli.rs): `harness bench` runs a run
//! the instrument spoiled again, in its place, and keeps every try.

use super::{harness, read_results, root, text};

fn fixture() -> &'static str {
    env!("CARGO_BIN_EXE_lab-fixture")
}

/// A rate no generator keeps with two requests in flight: every run is
/// flagged generator-saturated, so every place is tried 1 + `--retries` times
/// and its last try is left out.
#[test]
fn a_saturated_run_is_retried_in_place_and_every_try_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("saturated.toml");
    std::fs::write(
        &suite,
        format!(
            "name = \"saturated\"\ntargets = [\"rust\", \"go\"]\nrepetitions = 1\n\
             idle_wait = \"100ms\"\nafter_wait = \"100ms\"\n\
             [defaults]\nduration = \"1s\"\nwarmup = \"0s\"\nrate = 200000\nconcurrency = 2\n\
             [[scenario]]\nfile = {:?}\n",
            root().join("scenarios/health.toml")
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let output = harness()
        .arg("bench")
        .arg(&suite)
        .args(["--no-verify", "--no-build", "--retries", "1"])
        .args(["--rust-bin", fixture(), "--go-bin", fixture()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let log = text(&output);
    // Spoiled runs are left out, not failures.
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(
        log.contains("retrying in place, try 2 of at most 2"),
        "{log}"
    );
    let results = read_results(&out);
    assert_eq!(results["suite"]["retries"], 1);
    let runs = results["runs"].as_array().unwrap();
    let places: Vec<(String, u64, bool)> = runs
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap().to_owned(),
                r["attempt"].as_u64().unwrap(),
                r.get("retried").is_some(),
            )
        })
        .collect();
    // Each target's two tries follow each other, in the interleaving's order.
    assert_eq!(
        places,
        [
            ("rust-axum".to_owned(), 1, true),
            ("rust-axum".to_owned(), 2, false),
            ("go-gin".to_owned(), 1, true),
            ("go-gin".to_owned(), 2, false),
        ],
        "{results}"
    );
    assert!(
        runs[0]["retried"]
            .as_str()
            .unwrap()
            .starts_with("generator saturated ("),
        "{}",
        runs[0]["retried"]
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let retried = md.split("## Retried").nth(1).expect("a Retried section");
    assert!(
        retried.contains("| rust-axum | health | 1 | 1 | generator saturated"),
        "{md}"
    );
    // Only the last tries, whose retries are used up, are left out.
    let left_out = md
        .split("## Left out of the statistics")
        .nth(1)
        .expect("a Left out section")
        .split("## Retried")
        .next()
        .unwrap();
    assert_eq!(left_out.matches("| 🔴 ").count(), 2, "{md}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<h2 id=\"retried\">Retried</h2>"));
}
