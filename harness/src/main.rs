//! `harness`: the lab's command line. Parsing lives in `cli`, work in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = harness::cli::Cli::parse();
    match harness::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            // After SIGINT or SIGTERM, 128 + its number, whatever failed.
            ExitCode::from(harness::interrupt::exit_code().unwrap_or(1))
        }
    }
}
