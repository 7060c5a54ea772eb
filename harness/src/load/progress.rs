//! Live progress of a run: a bar on a terminal, a line every 5 s otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use indicatif::{ProgressBar, ProgressStyle};

use super::Options;
use super::worker::Live;
use crate::scenario::Scenario;

pub struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    title: String,
    live: Arc<Live>,
    end_ns: u64,
    last_ns: u64,
    last_done: u64,
    last_line_ns: u64,
}

impl Progress {
    pub fn new(options: &Options, scenario: &Scenario, end_ns: u64, live: Arc<Live>) -> Self {
        let title = format!("{} {}", options.label, scenario.name);
        let terminal = std::io::stderr().is_terminal();
        let bar = (options.progress && terminal).then(|| {
            let bar = ProgressBar::new(end_ns / 1_000_000);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} [{bar:30}] {elapsed}/{duration} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(title.clone());
            bar
        });
        Self {
            bar,
            lines: options.progress && !terminal,
            title,
            live,
            end_ns,
            last_ns: 0,
            last_done: 0,
            last_line_ns: 0,
        }
    }

    pub fn tick(&mut self, now: u64, p99_us: Option<u64>) {
        let done = self.live.done.load(Ordering::Relaxed);
        let errors = self.live.errors.load(Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_position(now.min(self.end_ns) / 1_000_000);
        }
        // The rate over a whole second: shorter spans quantize at low rates.
        let span = now.saturating_sub(self.last_ns);
        if span < 1_000_000_000 && now < self.end_ns {
            return;
        }
        let rate = (done - self.last_done) as f64 * 1e9 / span.max(1) as f64;
        self.last_ns = now;
        self.last_done = done;
        let p99 = p99_us.map_or("-".to_owned(), |us| format!("{:.2} ms", us as f64 / 1000.0));
        let message = format!("{rate:.0} req/s, {errors} errors, p99 {p99}");
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        } else if self.lines && now.saturating_sub(self.last_line_ns) >= 5_000_000_000 {
            self.last_line_ns = now;
            eprintln!(
                "{}: {:>5.1}/{:.1} s {message}",
                self.title,
                now as f64 / 1e9,
                self.end_ns as f64 / 1e9
            );
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
