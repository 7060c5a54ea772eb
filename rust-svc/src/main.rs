use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use rust_svc::Config;

/// Exit 0 after a clean drain, 1 when a listener cannot be bound or the drain
/// timeout passes, 2 for a bad flag (clap exits before `run`).
fn main() -> ExitCode {
    let config = Config::parse();
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rust-svc: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads())
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    // Installed before the listeners are bound, so no signal after the ready line is missed.
    let signals = {
        let _entered = runtime.enter();
        rust_svc::shutdown_signals().context("installing the SIGTERM/SIGINT handlers")?
    };
    let result = runtime.block_on(rust_svc::run(config, signals));
    // After a drain timeout, whatever still runs is cut here.
    runtime.shutdown_background();
    Ok(result?)
}
