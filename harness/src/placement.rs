//! CPU placement: which CPUs a service or a load generator may run on.

use anyhow::{Context, bail};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;
use serde::Serialize;

/// Disjoint CPU sets for the service under test and the load generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The service's CPUs; its `--workers` is their count.
    pub server_cpus: Vec<usize>,
    /// The harness's CPUs (its load workers and everything else it runs).
    pub loadgen_cpus: Vec<usize>,
    /// Overlapping sets, or CPUs asked for that this machine does not offer.
    pub warnings: Vec<String>,
}

impl Placement {
    /// Resolves the sets from `--server-cpus` / `--loadgen-cpus` against the
    /// CPUs this process may use. Defaults: the first half of them for the
    /// service, the rest for the generator (on 2 CPUs: service 0, harness 1).
    pub fn resolve(
        server: Option<Vec<usize>>,
        loadgen: Option<Vec<usize>>,
    ) -> anyhow::Result<Self> {
        Self::resolve_within(&available_cpus()?, server, loadgen)
    }

    fn resolve_within(
        available: &[usize],
        server: Option<Vec<usize>>,
        loadgen: Option<Vec<usize>>,
    ) -> anyhow::Result<Self> {
        let mut warnings = Vec::new();
        let half = (available.len() / 2).max(1);
        let default_server = available[..half].to_vec();
        let default_loadgen = if available.len() > 1 {
            available[half..].to_vec()
        } else {
            available.to_vec()
        };
        let mut keep = |asked: Option<Vec<usize>>, default: Vec<usize>, flag: &str| {
            let Some(asked) = asked else {
                return Ok(default);
            };
            let (ok, missing): (Vec<usize>, Vec<usize>) =
                asked.iter().partition(|cpu| available.contains(cpu));
            if !missing.is_empty() {
                warnings.push(format!(
                    "{flag} asks for CPUs {} but this machine lets the harness use only {}; using {}",
                    format_cpus(&asked),
                    format_cpus(available),
                    if ok.is_empty() { "none".to_owned() } else { format_cpus(&ok) }
                ));
            }
            if ok.is_empty() {
                bail!(
                    "{flag} {}: none of these CPUs is available (available: {})",
                    format_cpus(&asked),
                    format_cpus(available)
                );
            }
            Ok(ok)
        };
        let server_cpus = keep(server, default_server, "--server-cpus")?;
        let loadgen_cpus = keep(loadgen, default_loadgen, "--loadgen-cpus")?;
        let shared: Vec<usize> = server_cpus
            .iter()
            .copied()
            .filter(|cpu| loadgen_cpus.contains(cpu))
            .collect();
        if !shared.is_empty() {
            warnings.push(format!(
                "the service and the load generator share CPU {}: they compete for it, so latency and CPU figures mix both",
                format_cpus(&shared)
            ));
        }
        Ok(Self {
            server_cpus,
            loadgen_cpus,
            warnings,
        })
    }

    /// Prints the warnings on stderr.
    pub fn warn(&self) {
        for warning in &self.warnings {
            eprintln!("warning: {warning}");
        }
    }

    /// The service's CPUs and the generator's, in order, each once.
    pub fn all_cpus(&self) -> Vec<usize> {
        let mut cpus: Vec<usize> = self
            .server_cpus
            .iter()
            .chain(&self.loadgen_cpus)
            .copied()
            .collect();
        cpus.sort_unstable();
        cpus.dedup();
        cpus
    }

    /// Confines the calling thread, and every thread it starts from now on,
    /// to the generator's CPUs. Call it before starting any runtime.
    pub fn pin_self(&self) -> anyhow::Result<()> {
        initial_cpus()?;
        let set = cpu_set(&self.loadgen_cpus).context("CPU number out of range")?;
        sched_setaffinity(Pid::from_raw(0), &set).with_context(|| {
            format!(
                "pinning the harness to CPUs {}",
                format_cpus(&self.loadgen_cpus)
            )
        })
    }
}

/// The CPUs the harness could use before it pinned itself (what the machine
/// offers it); read on first use, which `pin_self` makes sure happens first.
pub fn initial_cpus() -> anyhow::Result<Vec<usize>> {
    static INITIAL: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    if let Some(cpus) = INITIAL.get() {
        return Ok(cpus.clone());
    }
    let cpus = available_cpus()?;
    Ok(INITIAL.get_or_init(|| cpus).clone())
}

/// The CPUs the calling thread may run on now.
pub fn available_cpus() -> anyhow::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).context("reading the CPU affinity")?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// `0-2,5`: the kernel's list format, the one `--server-cpus` takes.
pub fn format_cpus(cpus: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

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

/// Keeps CPUs from halting while it lives: one spinning process per CPU,
/// pinned to it at SCHED_IDLE, which runs only when nothing else on that CPU
/// wants to, and gives way at once when something does.
///
/// Why: on a VM a halted CPU is handed back to the host, and when an interrupt
/// (a packet, a timer) wakes it, it waits for the host to schedule it again.
/// The kernel counts that wait as steal. On this lab's 2-CPU VM it reached
/// 0.3-1.5 s per 3.5 s run, put 1-10 ms into the generator's sends and the
/// service's replies alike, and spoiled up to two runs in three. The same runs
/// with both CPUs kept awake saw 0-10 ms of steal and a scheduler lag p99 of
/// 41-84 µs. It is the userspace form of booting with `idle=poll`, applied
/// to the service's CPUs and the generator's alike; the spinners are separate
/// processes, so neither the service's CPU figures nor the harness's own
/// include them.
#[derive(Debug)]
pub struct Awake {
    children: Vec<std::process::Child>,
}

static KEPT_AWAKE: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// The CPUs an [`Awake`] keeps from halting now (empty: none).
pub fn kept_awake() -> Vec<usize> {
    KEPT_AWAKE.lock().map(|c| c.clone()).unwrap_or_default()
}

impl Awake {
    /// Starts one spinner on each of `cpus`. Call it from the thread that
    /// outlives the measurements (the main thread): a spinner dies with the
    /// thread that started it, so none outlives a harness that crashed.
    pub fn keep(cpus: &[usize]) -> anyhow::Result<Self> {
        let mut awake = Self {
            children: Vec::new(),
        };
        for &cpu in cpus {
            let set = cpu_set(&[cpu]).context("CPU number out of range")?;
            let mut cmd = std::process::Command::new("sh");
            cmd.args(["-c", "while :; do :; done"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            // SAFETY: the closure runs between fork and exec and makes only
            // async-signal-safe system calls (sched_setaffinity,
            // sched_setscheduler, prctl); it allocates nothing.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                    sched_setaffinity(Pid::from_raw(0), &set).map_err(std::io::Error::from)?;
                    let param = nix::libc::sched_param { sched_priority: 0 };
                    if nix::libc::sched_setscheduler(0, nix::libc::SCHED_IDLE, &param) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL, 0, 0, 0)
                        != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = cmd
                .spawn()
                .with_context(|| format!("starting the spinner that keeps CPU {cpu} awake"))?;
            awake.children.push(child);
            if let Ok(mut kept) = KEPT_AWAKE.lock() {
                kept.push(cpu);
            }
        }
        Ok(awake)
    }
}

impl Drop for Awake {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(mut kept) = KEPT_AWAKE.lock() {
            kept.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awake_spins_at_idle_priority_on_each_cpu_until_dropped() {
        let cpu = available_cpus().unwrap()[0];
        let awake = Awake::keep(&[cpu]).unwrap();
        assert_eq!(kept_awake(), vec![cpu]);
        let pid = awake.children[0].id() as i32;
        // SAFETY: reads the policy of a process of ours.
        let policy = unsafe { nix::libc::sched_getscheduler(pid) };
        assert_eq!(policy, nix::libc::SCHED_IDLE);
        let set = sched_getaffinity(Pid::from_raw(pid)).unwrap();
        let cpus: Vec<usize> = (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect();
        assert_eq!(cpus, vec![cpu]);
        // Running or runnable, never asleep: it spins.
        let stat = || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(stat().contains(") R "), "{}", stat());
        drop(awake);
        assert!(kept_awake().is_empty());
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpus("0").unwrap(), vec![0]);
        assert_eq!(parse_cpus("3,1").unwrap(), vec![1, 3]);
        assert_eq!(parse_cpus("0-2,6").unwrap(), vec![0, 1, 2, 6]);
        assert!(parse_cpus("").is_err());
        assert!(parse_cpus("2-1").is_err());
        assert!(parse_cpus("a").is_err());
    }

    #[test]
    fn formats_cpu_lists_as_the_kernel_does() {
        for text in ["0", "0-3", "0,2", "0-2,5,7-9"] {
            assert_eq!(format_cpus(&parse_cpus(text).unwrap()), text);
        }
    }

    #[test]
    fn defaults_split_the_machine_in_two() {
        let p = Placement::resolve_within(&[0, 1], None, None).unwrap();
        assert_eq!((p.server_cpus, p.loadgen_cpus), (vec![0], vec![1]));
        assert!(p.warnings.is_empty());
        let p = Placement::resolve_within(&[0, 1, 2, 3, 4], None, None).unwrap();
        assert_eq!((p.server_cpus, p.loadgen_cpus), (vec![0, 1], vec![2, 3, 4]));
        let p = Placement::resolve_within(&[3], None, None).unwrap();
        assert_eq!((&p.server_cpus, &p.loadgen_cpus), (&vec![3], &vec![3]));
        assert!(p.warnings[0].contains("share CPU 3"), "{:?}", p.warnings);
    }

    #[test]
    fn warns_about_overlap_and_missing_cpus() {
        let p = Placement::resolve_within(&[0, 1], Some(vec![0, 1]), Some(vec![1])).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("share CPU 1"), "{:?}", p.warnings);
        let p = Placement::resolve_within(&[0, 1], Some(vec![0, 5]), None).unwrap();
        assert_eq!(p.server_cpus, vec![0]);
        assert!(
            p.warnings[0].contains("0,5") && p.warnings[0].contains("using 0"),
            "{:?}",
            p.warnings
        );
        assert!(Placement::resolve_within(&[0, 1], None, Some(vec![7])).is_err());
    }
}
