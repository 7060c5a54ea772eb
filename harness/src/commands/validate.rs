//! `harness validate`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;

/// Check scenario files (or every *.toml in directories) without running them.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "SCENARIO")]
    paths: Vec<PathBuf>,
}

pub fn main(args: Args, _cx: &Context) -> anyhow::Result<ExitCode> {
    let scenarios = super::load_scenarios(&args.paths)?;
    for s in &scenarios {
        println!("ok  {} ({})", s.path.display(), s.name);
    }
    println!("{} scenario files valid", scenarios.len());
    Ok(ExitCode::SUCCESS)
}
