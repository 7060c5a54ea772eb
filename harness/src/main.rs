//! `harness`: the lab's command line. Parsing lives in `cli`, work in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = harness::cli::Cli::parse();
    match harness::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            // A bad argument is a usage error, as clap's own are: exit 2.
            let usage = err.is::<harness::commands::UsageError>();
            // After SIGINT or SIGTERM, 128 + its number, whatever failed.
            ExitCode::from(harness::interrupt::exit_code().unwrap_or(if usage { 2 } else { 1 }))
        }
    }
}
