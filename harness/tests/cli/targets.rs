//! Part of the `cli` test binary (tests/cli.rs): a target is data. A third
//! implementation, go-svc built under another name, is added through a
//! registry file alone, and `build`, `verify` and `run` take it like any other.

use super::{built_rust_svc, harness, read_results, root, run_ok, text};

#[test]
fn a_third_target_registered_in_a_file_is_built_verified_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("go-copy/go-svc");
    let registry = dir.path().join("targets.toml");
    let repository = std::fs::read_to_string(root().join("targets.toml")).unwrap();
    std::fs::write(
        &registry,
        format!(
            "{repository}\n\
             [[target]]\n\
             name = \"go-gin-copy\"\n\
             language = \"go\"\n\
             framework = \"Gin + grpc-go, a second build\"\n\
             protocols = [\"http1\", \"http2\", \"grpc\"]\n\
             version = {{ file = \"go-svc/go.mod\", package = \"github.com/gin-gonic/gin\" }}\n\
             [target.build]\n\
             command = [\"go\", \"build\", \"-trimpath\", \"-o\", \"{{binary}}\", \"./cmd/go-svc\"]\n\
             dir = \"go-svc\"\n\
             binary = {:?}\n",
            binary.display().to_string()
        ),
    )
    .unwrap();
    let with_registry = || {
        let mut cmd = harness();
        cmd.arg("--targets").arg(&registry);
        cmd
    };
    run_ok(with_registry().args(["build", "--target", "go-gin-copy"]));
    assert!(binary.is_file(), "the registry's build left no binary");
    let rust_bin = built_rust_svc();

    // The referee: golden, differential (against the Rust baseline), hostile,
    // drain and lifecycle.
    let output = with_registry()
        .args(["verify", "--target", "go-gin-copy", "--target", "rust"])
        .args(["--requests", "100", "--bin"])
        .arg(format!("rust={}", rust_bin.display()))
        .output()
        .unwrap();
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("go-gin-copy: golden cases: "), "{out}");
    assert!(
        out.contains("to each of rust-axum and go-gin-copy: 0 differences"),
        "{out}"
    );
    assert!(
        out.contains("verify rust-axum, go-gin-copy: PASSED"),
        "{out}"
    );

    let results = dir.path().join("run");
    let output = with_registry()
        .args(["run", "scenarios/health.toml", "--target", "go-gin-copy"])
        .args([
            "--no-build",
            "--rate",
            "100",
            "--duration",
            "1s",
            "--warmup",
            "0s",
        ])
        .args([
            "--idle-wait",
            "100ms",
            "--after-wait",
            "100ms",
            "--quiet",
            "--check",
        ])
        .arg("--out")
        .arg(&results)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let json = read_results(&results);
    assert_eq!(json["runs"][0]["target"], "go-gin-copy");
    assert_eq!(json["runs"][0]["errors"], serde_json::json!({}));
    let target = &json["targets"][0];
    assert_eq!(target["name"], "go-gin-copy");
    assert_eq!(target["language"], "go");
    assert_eq!(target["framework"], "Gin + grpc-go, a second build");
    assert!(
        target["version"].as_str().unwrap().starts_with('v'),
        "{target}"
    );
}
