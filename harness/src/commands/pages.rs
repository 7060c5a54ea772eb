//! `harness pages`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;

/// Write SITE/index.html: every run under SITE/runs/*/ (newest first) and
/// trend charts of the headline metrics across runs (CI's GitHub Pages).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "SITE")]
    site: PathBuf,
}

pub fn main(args: Args, _cx: &Context) -> anyhow::Result<ExitCode> {
    let index = crate::pages::build(&args.site)?;
    println!("pages: {}", index.display());
    Ok(ExitCode::SUCCESS)
}
