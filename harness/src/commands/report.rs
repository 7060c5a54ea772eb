//! `harness report`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Context;

/// Render the reports of a results.json again (report.md, index.html,
/// plots/*.svg, summary.json), into the file's directory or --out.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "RESULTS")]
    results: PathBuf,
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn main(args: Args, _cx: &Context) -> anyhow::Result<ExitCode> {
    let out = match args.out {
        Some(out) => out,
        None => args
            .results
            .parent()
            .map_or(PathBuf::from("."), Path::to_path_buf),
    };
    let written = crate::report::write(&args.results, &out)?;
    println!("report: {}", written.display());
    Ok(ExitCode::SUCCESS)
}
