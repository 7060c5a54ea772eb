//! A thread that reads a process's memory and CPU at a fixed period.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::procfs::{Process, Reading};

/// One reading, `at` after the sampler's origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: Duration,
    pub reading: Reading,
}

/// Samples a process on a fixed grid (`origin + k × period`, so a slow read
/// does not shift later samples) until stopped or until the process is gone.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

/// Makes the calling thread the least of the normal threads (nice 19). The
/// sampler shares the generator's CPUs: the open-loop workers (SCHED_FIFO)
/// preempt it at once, and a closed-loop worker gets 98.5% of the CPU when
/// both want it, so its reads (a fraction of a millisecond each) do not delay
/// the load. Not SCHED_IDLE: the spinners that keep the CPUs awake
/// (`placement::Awake`) are SCHED_IDLE, and idle-policy threads do not preempt
/// one another when they wake, so an idle-priority sampler waited out a
/// spinner's time slices (5 samples instead of 15 in 1.5 s on a busy
/// machine). A normal thread preempts them as soon as it wakes.
fn lowest_normal_priority() {
    // SAFETY: gettid has no preconditions; setpriority on this thread's id
    // changes only this thread's nice value.
    unsafe {
        let tid = nix::libc::gettid();
        nix::libc::setpriority(nix::libc::PRIO_PROCESS, tid as nix::libc::id_t, 19);
    }
}

impl Sampler {
    pub fn start(process: Process, origin: Instant, period: Duration) -> std::io::Result<Self> {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = mpsc::channel();
        let shared = samples.clone();
        let thread = std::thread::Builder::new()
            .name("probe-sampler".to_owned())
            .spawn(move || {
                lowest_normal_priority();
                let mut k = 0u32;
                loop {
                    let Ok(reading) = process.read() else {
                        return; // the process has exited
                    };
                    let at = origin.elapsed();
                    shared
                        .lock()
                        .expect("sampler lock")
                        .push(Sample { at, reading });
                    k += 1;
                    let mut next = origin + period * k;
                    let now = Instant::now();
                    while next <= now {
                        // Fell behind (a stalled machine): skip missed slots.
                        k += 1;
                        next = origin + period * k;
                    }
                    match stopped.recv_timeout(next - now) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })?;
        Ok(Self {
            samples,
            stop,
            thread: Some(thread),
        })
    }

    /// The highest anonymous RSS sampled at or after `since`.
    pub fn max_anon_since(&self, since: Duration) -> Option<u64> {
        let samples = self.samples.lock().expect("sampler lock");
        samples
            .iter()
            .filter(|s| s.at >= since)
            .map(|s| s.reading.anon_rss_kib)
            .max()
    }

    /// Stops sampling and returns every sample.
    pub fn stop(mut self) -> Vec<Sample> {
        self.halt();
        std::mem::take(&mut *self.samples.lock().expect("sampler lock"))
    }

    fn halt(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How often a thread at the sampler's priority reads this process and
    /// sleeps 100 ms within `span`: what the machine lets the sampler do
    /// right now.
    fn low_priority_reads(span: Duration) -> JoinHandle<usize> {
        std::thread::spawn(move || {
            lowest_normal_priority();
            let start = Instant::now();
            let process = Process::new(std::process::id());
            let mut reads = 0;
            while start.elapsed() < span {
                process.read().unwrap();
                reads += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            reads
        })
    }

    #[test]
    fn samples_this_process_ten_times_a_second_when_the_machine_lets_it() {
        let span = Duration::from_millis(1050);
        let baseline = low_priority_reads(span);
        let origin = Instant::now();
        let sampler = Sampler::start(
            Process::new(std::process::id()),
            origin,
            Duration::from_millis(100),
        )
        .unwrap();
        std::thread::sleep(span);
        let samples = sampler.stop();
        let baseline = baseline.join().unwrap();
        // Never more than one sample in a slot of the grid (0, 100, … 1000 ms).
        let slots: Vec<u128> = samples.iter().map(|s| s.at.as_millis() / 100).collect();
        assert!(
            slots.windows(2).all(|pair| pair[0] < pair[1]) && slots.len() <= 11,
            "{slots:?}"
        );
        // Nice 19 gives way to other work: on a busy machine both threads
        // fall behind, the sampler no further than the plain loop.
        assert!(
            samples.len() + 2 >= baseline,
            "{} samples, while a nice-19 thread read {baseline} times",
            samples.len()
        );
        for pair in samples.windows(2) {
            assert!(pair[1].reading.cpu_seconds >= pair[0].reading.cpu_seconds);
        }
        assert!(samples.iter().all(|s| s.reading.rss_kib > 0));
    }

    #[test]
    fn stops_by_itself_when_the_process_is_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let sampler = Sampler::start(
            Process::new(child.id()),
            Instant::now(),
            Duration::from_millis(20),
        )
        .unwrap();
        // Generous deadlines: on a busy machine a nice-19 thread waits.
        let deadline = Instant::now() + Duration::from_secs(30);
        while sampler.max_anon_since(Duration::ZERO).is_none() {
            assert!(Instant::now() < deadline, "no sample of the live process");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        while !sampler.thread.as_ref().unwrap().is_finished() {
            if Instant::now() > deadline {
                // Dropping it would wait for the thread forever.
                std::mem::forget(sampler);
                panic!("still sampling a process gone");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!sampler.stop().is_empty());
    }
}
