//! Time for the load engine: a monotonic clock in integer nanoseconds and a
//! pacer that wakes at a given nanosecond.
//!
//! tokio's timer has 1 ms granularity, far too coarse to send 20,000 requests
//! a second on schedule. The pacer uses a timerfd on CLOCK_MONOTONIC, which the
//! kernel fires with microsecond precision, registered with the runtime so the
//! worker keeps serving I/O while it waits.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use anyhow::Context;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::{ClockId as TimeClockId, clock_gettime};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// CLOCK_MONOTONIC, counted from a base taken when the run starts.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_ns: u64,
}

fn monotonic_ns() -> u64 {
    let ts =
        clock_gettime(TimeClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is always available");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

impl Clock {
    /// A clock whose zero is `offset_ns` from now (positive: in the future).
    pub fn starting_in(offset_ns: u64) -> Self {
        Self {
            base_ns: monotonic_ns() + offset_ns,
        }
    }

    /// Nanoseconds since the base; 0 before it.
    pub fn now(&self) -> u64 {
        monotonic_ns().saturating_sub(self.base_ns)
    }

    fn absolute(&self, t: u64) -> TimeSpec {
        let abs = self.base_ns + t;
        TimeSpec::new((abs / 1_000_000_000) as i64, (abs % 1_000_000_000) as i64)
    }
}

/// Sleeps until a given time of a `Clock`, with microsecond precision.
pub struct Pacer {
    clock: Clock,
    fd: AsyncFd<Timer>,
}

/// tokio's `AsyncFd` wants `AsRawFd`; nix's `TimerFd` offers `AsFd`.
struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Pacer {
    /// Must be called inside a tokio runtime with I/O enabled.
    pub fn new(clock: Clock) -> anyhow::Result<Self> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .context("creating a timerfd")?;
        // SAFETY: `Timer` owns the timerfd, which stays open, and always returns
        // the same descriptor, for as long as the `AsyncFd` holds it.
        let fd = unsafe { AsyncFd::register_with_interest(Timer(timer), Interest::READABLE) }
            .map_err(|err| err.into_parts().1)
            .context("registering the timerfd")?;
        Ok(Self { clock, fd })
    }

    /// Returns at or after time `t` of the clock.
    pub async fn sleep_until(&mut self, t: u64) -> anyhow::Result<()> {
        if self.clock.now() >= t {
            return Ok(());
        }
        self.fd
            .get_ref()
            .0
            .set(
                Expiration::OneShot(self.clock.absolute(t)),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            )
            .context("arming the timerfd")?;
        loop {
            let mut guard = self.fd.readable().await.context("waiting on the timerfd")?;
            let mut expirations = [0u8; 8];
            match nix::unistd::read(guard.get_inner().0.as_fd(), &mut expirations) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(err) => return Err(err).context("reading the timerfd"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_wakes_at_the_requested_time_not_a_millisecond_later() {
        // As an open-loop worker does: real-time priority where allowed, so
        // that a busy machine (a build beside the tests) cannot hold the
        // thread off its CPU. The test thread ends with the test.
        let realtime = crate::load::sched::become_realtime().is_ok();
        let _ = crate::load::sched::set_timer_slack(crate::load::sched::TIMER_SLACK_NS);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let clock = Clock::starting_in(0);
            let mut pacer = Pacer::new(clock).unwrap();
            let mut lates = Vec::new();
            let mut t = clock.now();
            for _ in 0..200 {
                t += 250_000; // every 250 µs
                pacer.sleep_until(t).await.unwrap();
                let now = clock.now();
                assert!(now >= t, "woke early: {now} < {t}");
                lates.push(now - t);
            }
            lates.sort_unstable();
            // tokio's own timer would be up to 1 ms late. Allow a loaded machine
            // its scheduling noise, but not the timer wheel's granularity;
            // without real-time priority, a busy machine may hold the thread
            // off its CPU for longer than that.
            let median = lates[lates.len() / 2];
            let limit = if realtime { 500_000 } else { 2_000_000 };
            assert!(
                median < limit,
                "median lateness {median} ns (real-time priority: {realtime})"
            );
        });
    }

    #[test]
    fn a_time_in_the_past_returns_at_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut pacer = Pacer::new(Clock::starting_in(0)).unwrap();
            pacer.sleep_until(0).await.unwrap();
        });
    }
}
