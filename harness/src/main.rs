//! `harness`: the lab's command line. Parsing lives in `cli`, work in the modules.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod conformance;
mod load;
mod loadgen_bench;
mod placement;
mod report;
mod results;
mod rng;
mod runner;
mod scenario;
mod target;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
