//! What a worker records: HdrHistograms of latency, error counts by class,
//! and one interval histogram per second for the timeline. Nothing is kept
//! per request, so memory stays flat however long the run.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;

use hdrhistogram::Histogram;

/// 1 µs to 60 s at 3 significant figures. Longer values are clamped to 60 s.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn record_us(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns / 1_000);
}

/// Everything one worker measured; merged across workers at the end.
#[derive(Debug, Clone)]
pub struct Totals {
    /// Completion − intended start (open loop); completion − send (closed loop).
    pub corrected: Histogram<u64>,
    /// Completion − actual send.
    pub uncorrected: Histogram<u64>,
    /// Actual send − intended start.
    pub lag: Histogram<u64>,
    /// Streams: per-message latency.
    pub message: Histogram<u64>,
    /// Requests sent in the measured window (completed, failed or timed out).
    pub requests: u64,
    pub ok: u64,
    /// Scheduled in the measured window but never sent.
    pub dropped: u64,
    pub errors: BTreeMap<String, u64>,
    /// Stream messages received.
    pub messages: u64,
    /// Requests that waited for the in-flight cap (open loop).
    pub cap_waits: u64,
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            corrected: new_histogram(),
            uncorrected: new_histogram(),
            lag: new_histogram(),
            message: new_histogram(),
            requests: 0,
            ok: 0,
            dropped: 0,
            errors: BTreeMap::new(),
            messages: 0,
            cap_waits: 0,
        }
    }
}

impl Totals {
    pub fn merge(&mut self, other: &Totals) {
        self.corrected.add(&other.corrected).expect("same bounds");
        self.uncorrected
            .add(&other.uncorrected)
            .expect("same bounds");
        self.lag.add(&other.lag).expect("same bounds");
        self.message.add(&other.message).expect("same bounds");
        self.requests += other.requests;
        self.ok += other.ok;
        self.dropped += other.dropped;
        self.messages += other.messages;
        self.cap_waits += other.cap_waits;
        for (class, n) in &other.errors {
            *self.errors.entry(class.clone()).or_default() += n;
        }
    }
}

/// One second of one worker, sent to the aggregator when the worker moves on.
#[derive(Debug)]
pub struct Interval {
    pub worker: usize,
    /// Seconds since the measured window started (by completion time).
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

/// A worker's recorder. Single-threaded: each worker owns one.
pub struct Recorder {
    worker: usize,
    measure_start_ns: u64,
    /// The last second of the measured window; later completions count in it.
    last_second: u64,
    pub totals: Totals,
    second: u64,
    interval: Histogram<u64>,
    interval_requests: u64,
    interval_errors: u64,
    tx: Sender<Interval>,
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error(String),
}

impl Recorder {
    pub fn new(worker: usize, measure_start_ns: u64, end_ns: u64, tx: Sender<Interval>) -> Self {
        Self {
            worker,
            measure_start_ns,
            last_second: end_ns.saturating_sub(measure_start_ns).saturating_sub(1) / 1_000_000_000,
            totals: Totals::default(),
            second: 0,
            interval: new_histogram(),
            interval_requests: 0,
            interval_errors: 0,
            tx,
        }
    }

    /// True when a request intended at `intended` belongs to the measured window.
    pub fn measured(&self, intended: u64) -> bool {
        intended >= self.measure_start_ns
    }

    /// Records one finished request. Times are clock nanoseconds.
    pub fn record(&mut self, intended: u64, sent: u64, done: u64, outcome: &Outcome) {
        if !self.measured(intended) {
            return;
        }
        self.advance(done);
        let t = &mut self.totals;
        t.requests += 1;
        record_us(&mut t.lag, sent.saturating_sub(intended));
        self.interval_requests += 1;
        match outcome {
            Outcome::Ok => {
                t.ok += 1;
                let corrected = done.saturating_sub(intended);
                record_us(&mut t.corrected, corrected);
                record_us(&mut t.uncorrected, done.saturating_sub(sent));
                record_us(&mut self.interval, corrected);
            }
            Outcome::Error(class) => {
                self.interval_errors += 1;
                match t.errors.get_mut(class.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        t.errors.insert(class.clone(), 1);
                    }
                }
            }
        }
    }

    /// Records a stream message's latency (measured requests only).
    pub fn record_message(&mut self, intended: u64, latency_ns: u64) {
        if self.measured(intended) {
            self.totals.messages += 1;
            record_us(&mut self.totals.message, latency_ns);
        }
    }

    pub fn record_dropped(&mut self, intended: u64) {
        if self.measured(intended) {
            self.totals.dropped += 1;
        }
    }

    pub fn record_cap_wait(&mut self, intended: u64) {
        if self.measured(intended) {
            self.totals.cap_waits += 1;
        }
    }

    /// Completion times on one worker thread only grow, so a completion in a
    /// later second closes the current one.
    fn advance(&mut self, done: u64) {
        let second =
            (done.saturating_sub(self.measure_start_ns) / 1_000_000_000).min(self.last_second);
        if second > self.second {
            self.flush();
            self.second = second;
        }
    }

    fn flush(&mut self) {
        if self.interval_requests == 0 {
            return;
        }
        let latency = std::mem::replace(&mut self.interval, new_histogram());
        let _ = self.tx.send(Interval {
            worker: self.worker,
            second: self.second,
            requests: std::mem::take(&mut self.interval_requests),
            errors: std::mem::take(&mut self.interval_errors),
            latency,
        });
    }

    /// Sends the last interval and returns the totals.
    pub fn finish(mut self) -> Totals {
        self.flush();
        self.totals
    }
}

/// Latency summary in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub min: u64,
    #[serde(default)]
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_worker_totals_adds_counts_and_histograms() {
        let (tx, _rx) = std::sync::mpsc::channel();
        let mut a = Recorder::new(0, 1_000, 10_000_000_000, tx.clone());
        let mut b = Recorder::new(1, 1_000, 10_000_000_000, tx);
        for i in 0..100u64 {
            a.record(1_000 + i, 1_000 + i, 1_000 + i + 1_000_000, &Outcome::Ok); // 1 ms
            b.record(1_000 + i, 1_000 + i, 1_000 + i + 3_000_000, &Outcome::Ok); // 3 ms
        }
        b.record(2_000, 2_000, 3_000, &Outcome::Error("http_500".into()));
        b.record(500, 500, 900, &Outcome::Ok); // warm-up: not recorded
        let mut total = a.finish();
        total.merge(&b.finish());
        assert_eq!(total.requests, 201);
        assert_eq!(total.ok, 200);
        assert_eq!(total.errors.get("http_500"), Some(&1));
        assert_eq!(total.corrected.len(), 200);
        let s = Summary::of(&total.corrected);
        assert!((999..=1001).contains(&s.p50), "{s:?}");
        assert!((2997..=3003).contains(&s.max), "{s:?}");
        assert!((1999.0..2001.0).contains(&s.mean), "{s:?}");
    }

    #[test]
    fn corrected_latency_counts_from_the_intended_start() {
        let (tx, _rx) = std::sync::mpsc::channel();
        let mut r = Recorder::new(0, 0, 10_000_000_000, tx);
        // Intended at 0, sent 5 ms late, answered 1 ms later.
        r.record(0, 5_000_000, 6_000_000, &Outcome::Ok);
        let t = r.finish();
        // Three significant figures: values are exact to within 0.1%.
        let near = |h: &Histogram<u64>, us: u64| h.equivalent(h.max(), us);
        assert!(near(&t.corrected, 6_000), "{}", t.corrected.max());
        assert!(near(&t.uncorrected, 1_000), "{}", t.uncorrected.max());
        assert!(near(&t.lag, 5_000), "{}", t.lag.max());
    }

    #[test]
    fn intervals_close_when_a_later_second_completes() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut r = Recorder::new(3, 0, 10_000_000_000, tx);
        r.record(0, 0, 100_000_000, &Outcome::Ok);
        r.record(0, 0, 900_000_000, &Outcome::Error("timeout".into()));
        r.record(0, 0, 2_500_000_000, &Outcome::Ok);
        let first = rx.try_recv().unwrap();
        assert_eq!(
            (first.worker, first.second, first.requests, first.errors),
            (3, 0, 2, 1)
        );
        assert!(rx.try_recv().is_err());
        r.finish();
        let last = rx.try_recv().unwrap();
        assert_eq!((last.second, last.requests), (2, 1));
    }

    #[test]
    fn completions_after_the_window_count_in_its_last_second() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut r = Recorder::new(0, 1_000_000_000, 3_000_000_000, tx);
        r.record(2_900_000_000, 2_900_000_000, 3_400_000_000, &Outcome::Ok);
        r.finish();
        assert_eq!(rx.try_recv().unwrap().second, 1);
    }
}
