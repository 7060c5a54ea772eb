//! `harness images`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, TargetArg};

/// Measure binary and container-image sizes: each release binary as built
/// and stripped, and a FROM-scratch image (rust-svc/Containerfile,
/// go-svc/Containerfile) holding a static build of it.
///
/// Builds the services (as `harness build`) and static binaries
/// (crt-static Rust, CGO_ENABLED=0 Go), builds each image as
/// localhost/benchlab/<svc>:<git revision>, and reads its size, layer count
/// and gzipped layer size. A figure that cannot be measured is null with a
/// note. Without a usable podman or docker (on PATH, and `info` answers:
/// a docker CLI whose daemon is down is not usable) the image fields are
/// null with the reason, and the exit code is 0; a builder that works but
/// whose build fails exits 1.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArg,
    /// Container builder: auto is podman if it is on PATH and `podman info`
    /// answers, else docker likewise.
    #[arg(long, value_enum, default_value_t = crate::images::BuilderChoice::Auto)]
    builder: crate::images::BuilderChoice,
    /// Add the measurements to DIR/results.json (`artifacts`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Use the binaries as they are: no `harness build`, and a static
    /// binary is built only if there is none yet.
    #[arg(long)]
    no_build: bool,
}

pub fn main(args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let layout = cx.layout()?;
    let passed = crate::images::run(
        &layout,
        &args.target.targets(&layout)?,
        args.builder,
        !args.no_build,
        args.out.as_deref(),
    )?;
    Ok(super::exit_code(passed))
}
