//! What every probe test needs: the fixture binary and a layout that runs it
//! in place of a service.

use std::path::PathBuf;

use harness::target::{Layout, Target};

/// The `lab-fixture` binary cargo built for this test run.
pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lab-fixture"))
}

/// A layout whose `target` is the fixture.
pub fn fixture_layout(target: Target) -> Layout {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut layout = Layout::new(root);
    layout.set_binary(target, fixture());
    layout
}

/// Probe tests measure time and CPU, and some burn CPU on purpose: each holds
/// this lock so that they do not disturb one another.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
