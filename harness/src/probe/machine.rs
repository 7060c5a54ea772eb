//! The machine a command ran on, recorded once per results file.

use serde::{Deserialize, Serialize};

/// `machine` in results.json. `detect` fills every field; they are optional
/// for reading files that lack them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo; null with `cpu_model_note` when absent
    /// (some architectures do not report one).
    pub cpu_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_model_note: Option<String>,
    /// CPUs the kernel has online.
    pub cpus_online: Option<usize>,
    /// CPUs the harness was allowed to use when it started (its affinity).
    #[serde(default)]
    pub cpus_available: Vec<usize>,
    /// `uname -r`.
    pub kernel: Option<String>,
    pub arch: Option<String>,
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpu_model(&cpuinfo);
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|text| crate::placement::parse_cpus(text.trim()).ok())
            .map_or_else(
                || {
                    cpuinfo
                        .lines()
                        .filter(|l| l.starts_with("processor"))
                        .count()
                },
                |cpus| cpus.len(),
            );
        Self {
            cpu_model_note: cpu_model
                .is_none()
                .then(|| "/proc/cpuinfo has no `model name` line".to_owned()),
            cpu_model,
            cpus_online: Some(online),
            cpus_available: crate::placement::initial_cpus().unwrap_or_default(),
            kernel: Some(
                nix::sys::utsname::uname()
                    .map(|u| u.release().to_string_lossy().into_owned())
                    .unwrap_or_else(|_| "unknown".to_owned()),
            ),
            arch: Some(std::env::consts::ARCH.to_owned()),
        }
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_model_name() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(text).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn detects_this_machine() {
        let m = Machine::detect();
        assert!(m.cpus_online.is_some_and(|n| n >= 1));
        assert!(!m.cpus_available.is_empty());
        assert!(m.kernel.is_some_and(|k| !k.is_empty()));
    }
}
