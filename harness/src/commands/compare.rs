//! `harness compare`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;

/// Compare two results.json files (e.g. main against a change): the change
/// of each metric per target and scenario, head/base with a 95% bootstrap
/// interval, and which changes are regressions.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "BASE")]
    base: PathBuf,
    #[arg(value_name = "HEAD")]
    head: PathBuf,
    /// A change smaller than this (a fraction: 0.05 = 5%) is never a
    /// regression, even when its interval excludes no change.
    #[arg(long, default_value_t = 0.05)]
    threshold: f64,
    /// Exit 1 when any metric regressed.
    #[arg(long)]
    fail_on_regression: bool,
    /// Also write the comparison as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

pub fn main(args: Args, _cx: &Context) -> anyhow::Result<ExitCode> {
    let comparison = crate::report::compare::compare_files(&args.base, &args.head, args.threshold)?;
    print!("{}", comparison.text());
    if let Some(path) = args.markdown {
        crate::results::write_atomically(&path, comparison.markdown().as_bytes())?;
    }
    Ok(super::exit_code(
        !(args.fail_on_regression && comparison.regressions() > 0),
    ))
}
