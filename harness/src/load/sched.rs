//! How the open-loop workers get their CPU on time, and what the kernel says
//! about it.
//!
//! A worker at normal priority shares its CPU with whatever else is runnable
//! there, and the fair scheduler may let that run for a few milliseconds
//! before the worker's wake-up gets the CPU: its sends go out late, and the
//! lag adds to the corrected latency. As SCHED_FIFO the worker preempts every
//! normal thread at once. A real-time thread that never sleeps starves the
//! rest of the harness, so a worker that keeps its CPU busy drops back to
//! normal priority for the rest of the run (`RealtimeGuard`).

use std::time::Duration;

use nix::libc;

/// The real-time priority of an open-loop worker: the lowest, enough to
/// preempt every normal thread and below the kernel's own real-time threads.
pub const PRIORITY: i32 = 1;

/// How often a real-time worker checks how busy it keeps its CPU.
pub const CHECK_PERIOD: Duration = Duration::from_millis(100);

/// The busiest a real-time worker may keep its CPU over one check period
/// (shared by the workers on that CPU); the rest is left to the harness's
/// other threads (progress, probes, the service's output).
pub const BUSY_LIMIT: f64 = 0.9;

/// Makes the calling thread SCHED_FIFO at `PRIORITY`. Threads it starts
/// later are normal ones (SCHED_RESET_ON_FORK).
pub fn become_realtime() -> Result<(), nix::errno::Errno> {
    set_policy(libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, PRIORITY)
}

/// Puts the calling thread back to normal priority.
pub fn become_normal() -> Result<(), nix::errno::Errno> {
    set_policy(libc::SCHED_OTHER, 0)
}

fn set_policy(policy: i32, priority: i32) -> Result<(), nix::errno::Errno> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: changes the policy of the calling thread (0) with a valid param.
    let rc = unsafe { libc::sched_setscheduler(0, policy, &param) };
    nix::errno::Errno::result(rc).map(drop)
}

/// The timer slack every load worker asks for: the kernel may fire a normal
/// thread's timers up to its slack late (50 µs by default) to batch wake-ups.
/// A real-time thread has none whatever it asks; this covers a worker at
/// normal priority (closed loop, no permission, or given up).
pub const TIMER_SLACK_NS: u64 = 1;

/// Sets the calling thread's timer slack (`PR_SET_TIMERSLACK`) and returns
/// the value the kernel then reports (`PR_GET_TIMERSLACK`).
pub fn set_timer_slack(ns: u64) -> Result<u64, nix::errno::Errno> {
    // SAFETY: prctl with integer arguments only; it changes the calling thread.
    let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0) };
    nix::errno::Errno::result(rc)?;
    // SAFETY: as above; returns the slack.
    let now = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
    nix::errno::Errno::result(now).map(|ns| ns as u64)
}

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// Time the calling thread has been runnable but waiting for a CPU, in
/// nanoseconds (`/proc/thread-self/schedstat`, second field). None when the
/// kernel keeps no schedstats.
pub fn run_delay_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Steal time of `cpus` so far (the hypervisor ran something else on them),
/// from `/proc/stat`, in ms.
pub fn steal_ms(cpus: &[usize]) -> Option<u64> {
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&t| t > 0)? as u64;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut total = 0;
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|n| n.strip_prefix("cpu")) else {
            continue;
        };
        if cpu.parse().is_ok_and(|cpu: usize| cpus.contains(&cpu)) {
            // user nice system idle iowait irq softirq steal
            total += fields.nth(7)?.parse::<u64>().ok()?;
        }
    }
    Some(total * 1_000 / ticks_per_second)
}

/// Decides when a real-time worker must give up its priority: when over one
/// check period it kept its CPU busier than `limit`.
#[derive(Debug)]
pub struct RealtimeGuard {
    limit: f64,
    last: Option<(u64, u64)>,
}

impl RealtimeGuard {
    /// `sharing`: how many workers share this worker's CPU.
    pub fn new(sharing: usize) -> Self {
        Self {
            limit: BUSY_LIMIT / sharing.max(1) as f64,
            last: None,
        }
    }

    /// Takes the wall and thread CPU clocks (ns) at the end of a period;
    /// returns how busy the worker was if that was too busy.
    pub fn check(&mut self, wall_ns: u64, cpu_ns: u64) -> Option<f64> {
        let last = self.last.replace((wall_ns, cpu_ns));
        let (wall0, cpu0) = last?;
        let wall = wall_ns.saturating_sub(wall0);
        if wall == 0 {
            return None;
        }
        let busy = cpu_ns.saturating_sub(cpu0) as f64 / wall as f64;
        (busy > self.limit).then_some(busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn the_guard_lets_a_worker_that_sleeps_keep_its_priority() {
        let mut guard = RealtimeGuard::new(1);
        assert_eq!(guard.check(0, 0), None);
        // 20% busy, then 85%: both leave the other threads their share.
        assert_eq!(guard.check(100 * MS, 20 * MS), None);
        assert_eq!(guard.check(200 * MS, 105 * MS), None);
    }

    #[test]
    fn the_guard_drops_a_worker_that_keeps_its_cpu_busy() {
        let mut guard = RealtimeGuard::new(1);
        guard.check(0, 0);
        let busy = guard.check(100 * MS, 95 * MS).expect("95% is too busy");
        assert!((busy - 0.95).abs() < 1e-9, "{busy}");
    }

    #[test]
    fn workers_sharing_a_cpu_share_the_limit() {
        let mut guard = RealtimeGuard::new(2);
        guard.check(0, 0);
        assert!(guard.check(100 * MS, 50 * MS).is_some());
    }

    #[test]
    fn the_timer_slack_is_what_was_asked() {
        std::thread::spawn(|| {
            assert_eq!(set_timer_slack(TIMER_SLACK_NS), Ok(TIMER_SLACK_NS));
            assert_eq!(set_timer_slack(50_000), Ok(50_000));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn this_thread_has_a_cpu_clock_and_the_machine_a_steal_count() {
        let before = thread_cpu_ns();
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(thread_cpu_ns() > before);
        // Every Linux kernel has a steal column; CPU 0 always exists.
        assert!(steal_ms(&[0]).is_some());
    }
}
