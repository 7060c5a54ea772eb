//! CPU placement: which CPUs a service or a load generator may run on.

use anyhow::{Context, bail};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;

/// Parses a CPU list such as `0`, `1,3` or `0-3,6`.
pub fn parse_cpus(text: &str) -> anyhow::Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (part, part),
        };
        let lo: usize = lo
            .parse()
            .with_context(|| format!("{text:?}: {part:?} is not a CPU number or range"))?;
        let hi: usize = hi
            .parse()
            .with_context(|| format!("{text:?}: {part:?} is not a CPU number or range"))?;
        if hi < lo {
            bail!("{text:?}: range {part:?} runs backwards");
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    if cpus.is_empty() {
        bail!("{text:?}: no CPUs");
    }
    Ok(cpus)
}

fn cpu_set(cpus: &[usize]) -> nix::Result<CpuSet> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu)?;
    }
    Ok(set)
}

/// Makes `cmd`'s process (and every thread it starts) run only on `cpus`.
pub fn pin_command(cmd: &mut tokio::process::Command, cpus: &[usize]) -> anyhow::Result<()> {
    let set = cpu_set(cpus).context("CPU number out of range")?;
    // SAFETY: the closure runs between fork and exec and only makes one
    // async-signal-safe system call (sched_setaffinity); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            sched_setaffinity(Pid::from_raw(0), &set).map_err(std::io::Error::from)
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpus("0").unwrap(), vec![0]);
        assert_eq!(parse_cpus("3,1").unwrap(), vec![1, 3]);
        assert_eq!(parse_cpus("0-2,6").unwrap(), vec![0, 1, 2, 6]);
        assert!(parse_cpus("").is_err());
        assert!(parse_cpus("2-1").is_err());
        assert!(parse_cpus("a").is_err());
    }
}
