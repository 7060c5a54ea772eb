//! What every probe test needs: the fixture binary and a layout that runs it
//! in place of a service.

use std::path::PathBuf;

use harness::target::{Layout, Registry, Target};

/// The `lab-fixture` binary cargo built for this test run.
pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lab-fixture"))
}

/// A layout whose registry holds one target, `lab-fixture`: the fixture,
/// registered as any service is.
pub fn fixture_layout() -> (Layout, Target) {
    fixture_layout_serving(r#"["http1", "grpc"]"#)
}

/// The same, registered as serving only `protocols` (a TOML array).
pub fn fixture_layout_serving(protocols: &str) -> (Layout, Target) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let registry = Registry::parse(
        &root.join("fixture-targets.toml"),
        &format!(
            "[[target]]\nname = \"lab-fixture\"\nlanguage = \"rust\"\nframework = \"hyper\"\n\
             protocols = {protocols}\n[target.build]\ncommand = [\"true\"]\n\
             binary = {:?}\n",
            fixture().display().to_string()
        ),
    )
    .unwrap();
    let target = registry.get("lab-fixture").unwrap();
    (Layout::new(root, registry), target)
}

/// Probe tests measure time and CPU, and some burn CPU on purpose: each holds
/// this lock so that they do not disturb one another.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
