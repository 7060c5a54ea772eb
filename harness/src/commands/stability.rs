//! `harness stability`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;

/// Do repeated benches of the same code agree? For each headline row of
/// the decision table, print every run's estimate, interval and verdict,
/// whether all verdicts agree and whether every two runs' intervals
/// overlap, and how many runs each left out after retries.
///
/// Exit 1 when a row's verdicts differ, two runs' intervals do not
/// overlap, or more than 1 run in 50 was left out: then the verdicts of
/// one run on this machine cannot be trusted. `just bench-stability` runs
/// the quick suite 3 times and this on the results.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Two or more results.json files, or run directories holding one.
    #[arg(value_name = "RESULTS", num_args = 2.., required = true)]
    results: Vec<PathBuf>,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

pub fn main(args: Args, _cx: &Context) -> anyhow::Result<ExitCode> {
    let runs = crate::stability::read(&args.results)?;
    let analyses: Vec<_> = runs.iter().map(|r| &r.analysis).collect();
    let stability = crate::stability::check(&analyses);
    let text = crate::stability::render(&runs, &stability);
    print!("{text}");
    if let Some(path) = args.markdown {
        crate::results::write_atomically(&path, text.as_bytes())?;
    }
    Ok(super::exit_code(stability.problems().is_empty()))
}
