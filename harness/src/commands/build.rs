//! `harness build`.

use std::process::ExitCode;

use super::{Context, TargetArg};

/// Build the services in release mode (cargo build --release, go build -trimpath).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = TargetArg::All)]
    target: TargetArg,
    /// Also build the static binaries that `images` puts into FROM scratch images.
    #[arg(long = "static")]
    with_static: bool,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let layout = cx.layout()?;
    for t in args.target.targets() {
        layout.build(t)?;
        if args.with_static {
            crate::images::build_static(&layout, t)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
