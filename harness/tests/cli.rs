//! The harness binary end to end: real processes on loopback, no fixed ports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn harness() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.current_dir(root());
    cmd
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn verify_refuses_a_missing_binary_with_a_clear_error() {
    let output = harness()
        .args([
            "verify",
            "--target",
            "rust",
            "--rust-bin",
            "/nonexistent/rust-svc",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let text = text(&output);
    assert!(
        text.contains("/nonexistent/rust-svc does not exist"),
        "{text}"
    );
    assert!(text.contains("just build"), "{text}");
}

#[test]
fn verify_rejects_an_unknown_target() {
    let output = harness()
        .args(["verify", "--target", "java"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("possible values: rust, go, all"),
        "{}",
        text(&output)
    );
}

/// Copies `from` into `to` recursively, skipping build outputs.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "bin" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn run_ok(cmd: &mut Command) {
    let output = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}",
        text(&output)
    );
}

/// The conformance suite is the referee: a Go service whose validation errors
/// answer 200 instead of 422 must fail verify, with diffs that name the call.
#[test]
fn verify_fails_with_a_diff_when_a_go_handler_is_broken() {
    let rust_bin = root().join("target/release/rust-svc");
    if !rust_bin.is_file() {
        run_ok(
            Command::new(env!("CARGO"))
                .args(["build", "--release", "-p", "rust-svc"])
                .current_dir(root()),
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("go-svc");
    copy_tree(&root().join("go-svc"), &src);
    let file = src.join("internal/apperror/apperror.go");
    let code = std::fs::read_to_string(&file).unwrap();
    let good = r#"{http.StatusUnprocessableEntity, "validation_failed"}"#;
    assert!(
        code.contains(good),
        "the patch no longer applies: {} changed",
        file.display()
    );
    std::fs::write(
        &file,
        code.replace(good, r#"{http.StatusOK, "validation_failed"}"#),
    )
    .unwrap();
    let broken = tmp.path().join("go-svc-broken");
    run_ok(
        Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&broken)
            .arg("./cmd/go-svc")
            .current_dir(&src),
    );

    let output = harness()
        .args([
            "verify",
            "--target",
            "all",
            "--requests",
            "200",
            "--rust-bin",
        ])
        .arg(&rust_bin)
        .arg("--go-bin")
        .arg(&broken)
        .output()
        .unwrap();
    let text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("rust: golden cases: "), "{text}");
    assert!(
        !text.contains("rust: FAIL"),
        "the Rust service must still pass:\n{text}"
    );
    assert!(text.contains("go: FAIL golden"), "{text}");
    assert!(
        text.contains("POST /v1/orders (HTTP/1.1)"),
        "the diff must name the call:\n{text}"
    );
    assert!(text.contains("$.status: 422 != 200"), "{text}");
    assert!(text.contains("DIFF differential #"), "{text}");
    assert!(text.contains("verify rust, go: FAILED"), "{text}");
    assert!(
        text.contains("conformance: ") && !text.contains(", 0 failed"),
        "{text}"
    );
}
