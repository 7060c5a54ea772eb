//! What the service under test used during one run: CPU over the measured
//! window, memory idle, at peak and after the load, and a 10 Hz timeline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::procfs::{Process, Reading};
use super::sampler::{Sample, Sampler};
use crate::load::{Edge, WindowHook};

/// The `server` object of a run in results.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerUsage {
    #[serde(default)]
    pub pid: u32,
    /// The CPUs the kernel lets the service run on, read back from
    /// `/proc/PID/status` (not the set that was asked for).
    #[serde(default)]
    pub pid_cpus: Vec<usize>,
    /// The `--workers` the service was started with.
    pub workers: usize,
    /// User + system CPU seconds over the measured window.
    #[serde(default)]
    pub cpu_seconds: f64,
    /// `cpu_seconds` per request sent in the window, in µs. Null with no requests.
    pub cpu_us_per_request: Option<f64>,
    pub requests_per_cpu_second: Option<f64>,
    /// Mean CPU use over the window, in % of one CPU.
    pub cpu_pct: f64,
    pub rss_kib: Memory,
    pub anon_rss_kib: Memory,
    /// When each phase began, in seconds after the service was ready (the
    /// timeline's clock).
    pub phases_s: Phases,
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
}

/// Memory in KiB at three moments of a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Memory {
    /// `idle_wait` after the service was ready, before any load.
    pub idle: u64,
    /// RSS: the kernel's high-water mark (`VmHWM`), reset as the load began.
    /// Anonymous RSS: the highest 10 Hz sample under load (the kernel keeps
    /// no high-water mark for it).
    pub peak: u64,
    /// `after_wait` after the load stopped.
    pub after: u64,
}

/// Reports read only the measured window; the other phases may be missing
/// from files of older harnesses.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Phases {
    #[serde(default)]
    pub load_start: f64,
    pub measure_start: f64,
    pub measure_end: f64,
    #[serde(default)]
    pub load_end: f64,
    #[serde(default)]
    pub after: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TimelinePoint {
    pub t_s: f64,
    pub rss_kib: u64,
    #[serde(default)]
    pub anon_rss_kib: u64,
    /// CPU use since the previous sample, in % of one CPU (null for the first
    /// sample). The kernel counts CPU in clock ticks (10 ms), so a 100 ms
    /// sample moves in steps of 10%.
    pub cpu_pct: Option<f64>,
}

#[derive(Debug, Default)]
struct Window {
    start: Option<(Duration, f64)>,
    end: Option<(Duration, f64)>,
}

/// Watches one service process through one run. Call its steps in order:
/// `idle`, `load_starting`, (the load, with `hook()`), `load_finished`, `after`,
/// `finish`.
pub struct Watch {
    process: Process,
    origin: Instant,
    workers: usize,
    sampler: Sampler,
    window: Arc<Mutex<Window>>,
    idle: Option<Reading>,
    load_start: Option<Duration>,
    load_end: Option<(Duration, Reading)>,
}

/// The sampling period: 10 Hz.
pub const PERIOD: Duration = Duration::from_millis(100);

impl Watch {
    /// Starts sampling `pid` now; `now` is the timeline's zero.
    pub fn start(pid: u32, workers: usize) -> anyhow::Result<Self> {
        let process = Process::new(pid);
        process
            .read()
            .with_context(|| format!("reading /proc/{pid} (memory and CPU of the service)"))?;
        let origin = Instant::now();
        let sampler = Sampler::start(process.clone(), origin, PERIOD)
            .context("starting the memory sampler thread")?;
        Ok(Self {
            process,
            origin,
            workers,
            sampler,
            window: Arc::default(),
            idle: None,
            load_start: None,
            load_end: None,
        })
    }

    fn read(&self) -> anyhow::Result<Reading> {
        self.process
            .read()
            .with_context(|| format!("reading /proc/{}", self.process.pid()))
    }

    /// Waits `wait` with the service idle, then takes the idle reading.
    pub async fn idle(&mut self, wait: Duration) -> anyhow::Result<()> {
        tokio::time::sleep_until((self.origin + wait).into()).await;
        self.idle = Some(self.read()?);
        Ok(())
    }

    /// Resets the peak (`clear_refs` 5) as the load is about to start.
    pub fn load_starting(&mut self) -> anyhow::Result<()> {
        self.process.reset_peak().with_context(|| {
            format!("resetting VmHWM in /proc/{}/clear_refs", self.process.pid())
        })?;
        self.load_start = Some(self.origin.elapsed());
        Ok(())
    }

    /// Called by the load engine as its measured window starts and ends: reads
    /// the service's CPU time at those moments.
    pub fn hook(&self) -> WindowHook {
        let process = self.process.clone();
        let window = self.window.clone();
        let origin = self.origin;
        WindowHook(Arc::new(move |edge| {
            let Ok(cpu) = process.cpu_seconds() else {
                return;
            };
            let mark = Some((origin.elapsed(), cpu));
            let mut w = window.lock().expect("window lock");
            match edge {
                Edge::Start => w.start = mark,
                Edge::End => w.end = mark,
            }
        }))
    }

    /// Takes the peak as the load has stopped.
    pub fn load_finished(&mut self) -> anyhow::Result<()> {
        self.load_end = Some((self.origin.elapsed(), self.read()?));
        Ok(())
    }

    /// Waits `wait` after the load, then takes the last reading.
    pub async fn after(self, wait: Duration, requests: u64) -> anyhow::Result<ServerUsage> {
        let (load_end, end_reading) = self.load_end.context("load_finished was not called")?;
        tokio::time::sleep_until((self.origin + load_end + wait).into()).await;
        let after = self.read()?;
        let after_at = self.origin.elapsed();
        let pid_cpus = self
            .process
            .cpus()
            .with_context(|| format!("reading /proc/{}/status", self.process.pid()))?;
        let load_start = self.load_start.context("load_starting was not called")?;
        let idle = self.idle.context("idle was not called")?;
        let peak_anon = self
            .sampler
            .max_anon_since(load_start)
            .unwrap_or(0)
            .max(end_reading.anon_rss_kib);
        let samples = self.sampler.stop();
        let window = self.window.lock().expect("window lock");
        let (start_at, start_cpu) = window
            .start
            .context("the load engine did not mark the window start")?;
        let (end_at, end_cpu) = window
            .end
            .context("the load engine did not mark the window end")?;
        let cpu_seconds = (end_cpu - start_cpu).max(0.0);
        let wall = (end_at - start_at).as_secs_f64();
        Ok(ServerUsage {
            pid: self.process.pid(),
            pid_cpus,
            workers: self.workers,
            cpu_seconds,
            cpu_us_per_request: (requests > 0).then(|| cpu_seconds * 1e6 / requests as f64),
            requests_per_cpu_second: (cpu_seconds > 0.0).then(|| requests as f64 / cpu_seconds),
            cpu_pct: if wall > 0.0 {
                100.0 * cpu_seconds / wall
            } else {
                0.0
            },
            rss_kib: Memory {
                idle: idle.rss_kib,
                peak: end_reading.hwm_kib,
                after: after.rss_kib,
            },
            anon_rss_kib: Memory {
                idle: idle.anon_rss_kib,
                peak: peak_anon,
                after: after.anon_rss_kib,
            },
            phases_s: Phases {
                load_start: load_start.as_secs_f64(),
                measure_start: start_at.as_secs_f64(),
                measure_end: end_at.as_secs_f64(),
                load_end: load_end.as_secs_f64(),
                after: after_at.as_secs_f64(),
            },
            timeline: timeline(&samples),
        })
    }
}

fn timeline(samples: &[Sample]) -> Vec<TimelinePoint> {
    let mut points = Vec::with_capacity(samples.len());
    let mut previous: Option<&Sample> = None;
    for s in samples {
        let cpu_pct = previous.and_then(|p| {
            let dt = (s.at - p.at).as_secs_f64();
            (dt > 0.0).then(|| 100.0 * (s.reading.cpu_seconds - p.reading.cpu_seconds) / dt)
        });
        points.push(TimelinePoint {
            t_s: s.at.as_secs_f64(),
            rss_kib: s.reading.rss_kib,
            anon_rss_kib: s.reading.anon_rss_kib,
            cpu_pct,
        });
        previous = Some(s);
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, cpu: f64, rss: u64) -> Sample {
        Sample {
            at: Duration::from_millis(ms),
            reading: Reading {
                rss_kib: rss,
                hwm_kib: rss,
                anon_rss_kib: rss / 2,
                cpu_seconds: cpu,
            },
        }
    }

    #[test]
    fn the_timeline_derives_cpu_percent_between_samples() {
        let points = timeline(&[
            sample(0, 1.0, 100),
            sample(100, 1.05, 200),
            sample(200, 1.05, 300),
        ]);
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].cpu_pct, None);
        assert!((points[1].cpu_pct.unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(points[2].cpu_pct, Some(0.0));
        assert_eq!(
            (points[2].t_s, points[2].rss_kib, points[2].anon_rss_kib),
            (0.2, 300, 150)
        );
    }
}
