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
