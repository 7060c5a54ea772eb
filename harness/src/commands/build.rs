//! `harness build`.

use std::process::ExitCode;

use super::{Context, TargetArg};

/// Build the targets in release mode, as targets.toml says (cargo build
/// --release, go build -trimpath).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArg,
    /// Also build the static binaries that `images` puts into FROM scratch images.
    #[arg(long = "static")]
    with_static: bool,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let layout = cx.layout()?;
    for t in args.target.targets(&layout)? {
        layout.build(t)?;
        if args.with_static {
            layout.build_static(t)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
