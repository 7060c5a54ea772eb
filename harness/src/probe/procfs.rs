//! Readings of one process from procfs: CPU time, RSS, anonymous RSS, peak
//! RSS and CPU affinity.
//!
//! Anonymous RSS comes from `/proc/PID/smaps_rollup`, which the kernel sums
//! exactly when it is read; `RssAnon` in `/proc/PID/status` comes from per-CPU
//! counters that may lag by up to 64 pages per CPU.

use std::io;
use std::path::PathBuf;

/// A process to observe.
#[derive(Debug, Clone)]
pub struct Process {
    pid: u32,
    ticks_per_second: f64,
}

/// Memory and CPU of a process at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Resident set: anonymous, file-backed and shared pages (`VmRSS`).
    pub rss_kib: u64,
    /// Peak RSS since start or since the last `reset_peak` (`VmHWM`).
    pub hwm_kib: u64,
    /// Anonymous resident pages only: heap, stacks, private mappings.
    pub anon_rss_kib: u64,
    /// User + system CPU time of every thread so far.
    pub cpu_seconds: f64,
}

impl Process {
    pub fn new(pid: u32) -> Self {
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|&t| t > 0)
            .unwrap_or(100);
        Self {
            pid,
            ticks_per_second: ticks as f64,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn path(&self, file: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{file}", self.pid))
    }

    fn read_file(&self, file: &str) -> io::Result<String> {
        std::fs::read_to_string(self.path(file))
    }

    /// utime + stime from `/proc/PID/stat`, in seconds (the kernel counts in
    /// clock ticks, usually 10 ms).
    pub fn cpu_seconds(&self) -> io::Result<f64> {
        let ticks = parse_stat_cpu_ticks(&self.read_file("stat")?).ok_or_else(|| bad("stat"))?;
        Ok(ticks as f64 / self.ticks_per_second)
    }

    /// `VmRSS` and `VmHWM` from `/proc/PID/status`, in KiB.
    pub fn rss_and_peak_kib(&self) -> io::Result<(u64, u64)> {
        let status = self.read_file("status")?;
        let rss = status_field_kib(&status, "VmRSS").ok_or_else(|| bad("status VmRSS"))?;
        let hwm = status_field_kib(&status, "VmHWM").ok_or_else(|| bad("status VmHWM"))?;
        Ok((rss, hwm))
    }

    /// `Anonymous` from `/proc/PID/smaps_rollup`, in KiB.
    pub fn anon_rss_kib(&self) -> io::Result<u64> {
        let rollup = self.read_file("smaps_rollup")?;
        status_field_kib(&rollup, "Anonymous").ok_or_else(|| bad("smaps_rollup Anonymous"))
    }

    pub fn read(&self) -> io::Result<Reading> {
        let cpu_seconds = self.cpu_seconds()?;
        let (rss_kib, hwm_kib) = self.rss_and_peak_kib()?;
        Ok(Reading {
            rss_kib,
            hwm_kib,
            anon_rss_kib: self.anon_rss_kib()?,
            cpu_seconds,
        })
    }

    /// Resets `VmHWM` to the current RSS (`echo 5 > /proc/PID/clear_refs`).
    pub fn reset_peak(&self) -> io::Result<()> {
        std::fs::write(self.path("clear_refs"), "5")
    }

    /// The CPUs the process's main thread may run on (`Cpus_allowed_list`).
    pub fn cpus(&self) -> io::Result<Vec<usize>> {
        cpus_allowed(&self.read_file("status")?)
    }

    /// Every thread's allowed CPUs, by thread id.
    pub fn thread_cpus(&self) -> io::Result<Vec<(u32, Vec<usize>)>> {
        let mut threads = Vec::new();
        for entry in std::fs::read_dir(self.path("task"))? {
            let entry = entry?;
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            match std::fs::read_to_string(entry.path().join("status")) {
                Ok(status) => threads.push((tid, cpus_allowed(&status)?)),
                // The thread ended between listing and reading.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        threads.sort_unstable_by_key(|(tid, _)| *tid);
        Ok(threads)
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected /proc {what}"),
    )
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted from
/// the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Name:   1234 kB` line of /proc/PID/status or smaps_rollup.
fn status_field_kib(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if key != name {
            return None;
        }
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

fn cpus_allowed(status: &str) -> io::Result<Vec<usize>> {
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .ok_or_else(|| bad("status Cpus_allowed_list"))?;
    crate::placement::parse_cpus(list.trim())
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_even_with_a_tricky_command_name() {
        let stat = "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194304 500 0 0 0 \
                    1234 567 0 0 20 0 3 0 100 1000000 250 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(1234 + 567));
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn parses_status_and_rollup_fields() {
        let status = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nRssAnon:\t 4096 kB\n\
                      Cpus_allowed_list:\t0-1,3\n";
        assert_eq!(status_field_kib(status, "VmRSS"), Some(10240));
        assert_eq!(status_field_kib(status, "VmHWM"), Some(20480));
        assert_eq!(status_field_kib(status, "Vm"), None);
        assert_eq!(cpus_allowed(status).unwrap(), vec![0, 1, 3]);
        let rollup =
            "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:  8000 kB\nAnonymous:  3000 kB\n";
        assert_eq!(status_field_kib(rollup, "Anonymous"), Some(3000));
    }

    #[test]
    fn reads_this_process() {
        let me = Process::new(std::process::id());
        let before = me.read().unwrap();
        assert!(before.rss_kib > 0 && before.anon_rss_kib > 0);
        assert!(before.hwm_kib >= before.rss_kib);
        assert!(!me.cpus().unwrap().is_empty());
        assert!(!me.thread_cpus().unwrap().is_empty());
        assert!(Process::new(u32::MAX).read().is_err());
    }
}
