//! `harness targets`.

use std::process::ExitCode;

use super::Context;

/// List the registered targets (targets.toml, or --targets): name, language,
/// framework, protocols, whether each is its language's default, and its
/// release binary (and whether it is built).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn main(_args: Args, cx: &Context) -> anyhow::Result<ExitCode> {
    let layout = cx.layout()?;
    let registry = layout.registry();
    println!("{}:", registry.path().display());
    for t in registry.all() {
        let spec = t.spec();
        let binary = match layout.binary(*t) {
            Ok(path) if path.is_file() => path.display().to_string(),
            Ok(path) => format!("{} (not built)", path.display()),
            Err(err) => format!("unknown binary: {err:#}"),
        };
        let protocols: Vec<&str> = spec.protocols.iter().map(|p| p.name()).collect();
        println!(
            "  {:<14} {:<5} {:<22} {:<17} {binary}",
            t.name(),
            spec.language,
            spec.framework,
            protocols.join(","),
        );
        if spec.default {
            println!("  {:<14} the default `--target {}`", "", spec.language);
        }
    }
    Ok(ExitCode::SUCCESS)
}
