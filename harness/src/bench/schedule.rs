//! The bench's scheduler: which run goes where in the interleaving, and when a
//! place is tried again. It decides; an [`Executor`] measures and records.
//! Keeping the two apart lets the plan and the retry rules be tested with a
//! fake executor, without a service (as hyperfine tests its statistics with a
//! mock executor).

use crate::scenario::Scenario;
use crate::suite::{CapacityScenario, Suite};
use crate::target::Target;

/// One place in the interleaving: a target's run of a scenario in a repetition.
#[derive(Debug, Clone, Copy)]
pub struct Place<'s> {
    /// 1-based.
    pub repetition: u32,
    /// The repetitions this scenario runs (it sits out the ones beyond).
    pub repetitions: u32,
    pub target: Target,
    pub scenario: &'s Scenario,
}

/// One capacity sweep in the interleaving.
#[derive(Debug, Clone, Copy)]
pub struct Sweep<'s> {
    /// 1-based.
    pub repetition: u32,
    pub target: Target,
    pub scenario: &'s CapacityScenario,
}

/// What became of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tried {
    /// Measured, and it counts.
    Kept,
    /// The instrument spoiled it (the generator fell behind, or a probe
    /// failed): the place is tried again while retries last.
    Spoiled(String),
    /// It failed, and trying again would not help: the bench fails.
    Failed,
    /// SIGINT or SIGTERM: the bench stops.
    Interrupted,
}

/// What measures and records the runs the scheduler places.
pub trait Executor {
    /// The interleaving is about to run this place (first try).
    fn starting(&mut self, place: &Place);
    /// One try of a scenario run; `attempt` is 1-based, `settle_s` how long
    /// the try before it waited for the machine to settle. `retry` says
    /// whether a spoiled try would be run again (the executor records it so).
    fn run(&mut self, place: &Place, attempt: u32, retry: bool, settle_s: Option<f64>) -> Tried;
    /// A drain scenario's run: measured once (its failure is the service's).
    fn drain(&mut self, place: &Place) -> Tried;
    /// A spoiled try is about to be run again.
    fn retrying(&mut self, attempt: u32, why: &str);
    /// Waits for the machine to settle before a retry; returns the seconds.
    fn settle(&mut self) -> f64;
    /// One capacity sweep.
    fn sweep(&mut self, sweep: &Sweep) -> Tried;
    /// Whether a stop was asked for between runs.
    fn interrupted(&self) -> bool;
}

/// How the schedule ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// No run failed.
    pub ok: bool,
    pub interrupted: bool,
}

/// The scenario runs of `suite`, in order: repetition by repetition, each
/// scenario that runs in it, each target in the repetition's order (A B, then
/// B A).
pub fn places(suite: &Suite) -> Vec<Place<'_>> {
    let mut out = Vec::new();
    for repetition in 1..=suite.max_repetitions() {
        let this_rep = suite.scenarios.iter().zip(&suite.scenario_repetitions);
        for (scenario, &repetitions) in this_rep.filter(|&(_, &reps)| repetition <= reps) {
            for target in suite.order(repetition) {
                out.push(Place {
                    repetition,
                    repetitions,
                    target,
                    scenario,
                });
            }
        }
    }
    out
}

/// The capacity sweeps of `suite`, interleaved like the scenario runs.
pub fn sweeps(suite: &Suite) -> Vec<Sweep<'_>> {
    let Some(capacity) = &suite.capacity else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for repetition in 1..=capacity.repetitions {
        for scenario in &capacity.scenarios {
            for target in suite.order(repetition) {
                out.push(Sweep {
                    repetition,
                    target,
                    scenario,
                });
            }
        }
    }
    out
}

/// Runs every place, then every sweep. A spoiled try is run again in its
/// place, after the machine settles, up to `retries` more times; its last try
/// counts whatever it is. A failure fails the bench and the next place runs;
/// an interruption stops everything.
pub fn run(suite: &Suite, retries: u32, exec: &mut impl Executor) -> Ended {
    let places = places(suite).into_iter().map(Job::Place);
    let jobs = places.chain(sweeps(suite).into_iter().map(Job::Sweep));
    let mut ok = true;
    for job in jobs {
        if exec.interrupted() {
            return Ended {
                ok,
                interrupted: true,
            };
        }
        let tried = match job {
            Job::Place(place) => {
                exec.starting(&place);
                if place.scenario.drain.is_some() {
                    exec.drain(&place)
                } else {
                    tries(&place, retries, exec)
                }
            }
            Job::Sweep(sweep) => exec.sweep(&sweep),
        };
        match tried {
            Tried::Interrupted => {
                return Ended {
                    ok,
                    interrupted: true,
                };
            }
            Tried::Failed => ok = false,
            Tried::Kept | Tried::Spoiled(_) => {}
        }
    }
    Ended {
        ok,
        interrupted: false,
    }
}

/// One step of the schedule.
enum Job<'s> {
    Place(Place<'s>),
    Sweep(Sweep<'s>),
}

/// The tries of one place: the first, and one more per spoiled try while
/// retries last. Returns the last try's outcome.
fn tries(place: &Place, retries: u32, exec: &mut impl Executor) -> Tried {
    let mut settle_s = None;
    let mut attempt = 1;
    loop {
        let retry = attempt <= retries;
        match exec.run(place, attempt, retry, settle_s) {
            Tried::Spoiled(why) if retry => {
                exec.retrying(attempt, &why);
                settle_s = Some(exec.settle());
                attempt += 1;
            }
            last => return last,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::path::Path;

    use super::*;
    use crate::target::Registry;

    /// A suite of the shipped health and drain scenarios over the two
    /// default targets, with `extra` appended to its file.
    fn suite(extra: &str) -> (tempfile::TempDir, Suite) {
        let dir = tempfile::tempdir().unwrap();
        let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            format!(
                "name = \"s\"\nrepetitions = 2\n\
                 [[scenario]]\nfile = {:?}\n\
                 [[scenario]]\nfile = {:?}\nname = \"health-3\"\nrepetitions = 3\n{extra}",
                scenarios.join("health.toml"),
                scenarios.join("health.toml"),
            ),
        )
        .unwrap();
        let suite = crate::suite::load(&path, Registry::builtin()).unwrap();
        (dir, suite)
    }

    /// Plays back scripted outcomes and writes down every call.
    #[derive(Default)]
    struct Fake {
        /// Outcomes of `run`, in call order; `Kept` when it runs out.
        runs: VecDeque<Tried>,
        sweeps: VecDeque<Tried>,
        /// Asked to stop after this many calls to `run`.
        stop_after: Option<usize>,
        calls: Vec<String>,
        ran: usize,
    }

    impl Executor for Fake {
        fn starting(&mut self, p: &Place) {
            self.calls.push(format!(
                "start {} {}/{} {}",
                p.scenario.name, p.repetition, p.repetitions, p.target
            ));
        }
        fn run(&mut self, p: &Place, attempt: u32, retry: bool, settle_s: Option<f64>) -> Tried {
            self.ran += 1;
            self.calls.push(format!(
                "run {} {} try {attempt}{}{}",
                p.scenario.name,
                p.target,
                if retry { "" } else { " last" },
                settle_s.map_or(String::new(), |s| format!(" settled {s}"))
            ));
            self.runs.pop_front().unwrap_or(Tried::Kept)
        }
        fn drain(&mut self, p: &Place) -> Tried {
            self.calls
                .push(format!("drain {} {}", p.scenario.name, p.target));
            Tried::Kept
        }
        fn retrying(&mut self, attempt: u32, why: &str) {
            self.calls.push(format!("retrying after {attempt}: {why}"));
        }
        fn settle(&mut self) -> f64 {
            self.calls.push("settle".to_owned());
            1.5
        }
        fn sweep(&mut self, s: &Sweep) -> Tried {
            self.calls.push(format!(
                "sweep {} {} {}",
                s.scenario.scenario.name, s.repetition, s.target
            ));
            self.sweeps.pop_front().unwrap_or(Tried::Kept)
        }
        fn interrupted(&self) -> bool {
            self.stop_after.is_some_and(|n| self.ran >= n)
        }
    }

    fn starts(calls: &[String]) -> Vec<&str> {
        calls
            .iter()
            .filter(|c| c.starts_with("start"))
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn places_interleave_targets_and_repetitions() {
        let (_dir, suite) = suite("");
        let mut fake = Fake::default();
        let ended = run(&suite, 2, &mut fake);
        assert_eq!(
            ended,
            Ended {
                ok: true,
                interrupted: false
            }
        );
        assert_eq!(
            starts(&fake.calls),
            [
                "start health 1/2 rust-axum",
                "start health 1/2 go-gin",
                "start health-3 1/3 rust-axum",
                "start health-3 1/3 go-gin",
                "start health 2/2 go-gin",
                "start health 2/2 rust-axum",
                "start health-3 2/3 go-gin",
                "start health-3 2/3 rust-axum",
                // Only the scenario that asks for a third repetition runs one.
                "start health-3 3/3 rust-axum",
                "start health-3 3/3 go-gin",
            ]
        );
        assert_eq!(fake.ran, 10, "one try each: nothing was spoiled");
    }

    #[test]
    fn a_spoiled_try_is_run_again_in_place_after_settling_until_retries_run_out() {
        let (_dir, suite) = suite("");
        let spoiled = || Tried::Spoiled("generator saturated".to_owned());
        let mut fake = Fake {
            // The first place: spoiled twice, then kept. The second: spoiled
            // three times, the last of which counts (2 retries).
            runs: [
                spoiled(),
                spoiled(),
                Tried::Kept,
                spoiled(),
                spoiled(),
                spoiled(),
            ]
            .into(),
            ..Fake::default()
        };
        let ended = run(&suite, 2, &mut fake);
        assert!(ended.ok, "a spoiled last try is kept, not a failure");
        assert_eq!(
            fake.calls[..14],
            [
                "start health 1/2 rust-axum",
                "run health rust-axum try 1",
                "retrying after 1: generator saturated",
                "settle",
                "run health rust-axum try 2 settled 1.5",
                "retrying after 2: generator saturated",
                "settle",
                "run health rust-axum try 3 last settled 1.5",
                "start health 1/2 go-gin",
                "run health go-gin try 1",
                "retrying after 1: generator saturated",
                "settle",
                "run health go-gin try 2 settled 1.5",
                "retrying after 2: generator saturated",
            ]
        );
        assert_eq!(fake.calls[15], "run health go-gin try 3 last settled 1.5");
        assert_eq!(fake.calls[16], "start health-3 1/3 rust-axum");
        assert_eq!(fake.ran, 10 + 4);
    }

    #[test]
    fn a_failure_fails_the_bench_and_the_next_place_runs() {
        let (_dir, suite) = suite("");
        let mut fake = Fake {
            runs: [Tried::Failed].into(),
            ..Fake::default()
        };
        let ended = run(&suite, 2, &mut fake);
        assert!(!ended.ok);
        assert!(!ended.interrupted);
        assert_eq!(fake.ran, 10, "a failure is not retried");
        assert!(!fake.calls.iter().any(|c| c == "settle"));
    }

    #[test]
    fn an_interruption_stops_the_schedule() {
        let (_dir, suite) = suite("");
        let mut fake = Fake {
            runs: [Tried::Kept, Tried::Interrupted].into(),
            ..Fake::default()
        };
        assert_eq!(
            run(&suite, 2, &mut fake),
            Ended {
                ok: true,
                interrupted: true
            }
        );
        assert_eq!(fake.ran, 2);
        // A stop asked between runs is seen before the next one starts.
        let mut fake = Fake {
            stop_after: Some(3),
            ..Fake::default()
        };
        assert!(run(&suite, 2, &mut fake).interrupted);
        assert_eq!(starts(&fake.calls).len(), 3);
    }

    #[test]
    fn drains_run_once_and_sweeps_come_last_interleaved() {
        let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let (_dir, suite) = suite(&format!(
            "[[scenario]]\nfile = {:?}\nrepetitions = 1\n\
             [capacity]\nrepetitions = 2\n\
             [[capacity.scenario]]\nfile = {:?}\nstart = 100\nmax = 200\n",
            scenarios.join("drain.toml"),
            scenarios.join("get-user-http1.toml"),
        ));
        let mut fake = Fake {
            sweeps: [Tried::Kept, Tried::Failed].into(),
            ..Fake::default()
        };
        let ended = run(&suite, 2, &mut fake);
        assert!(!ended.ok, "a failed sweep fails the bench");
        let drains: Vec<&String> = fake
            .calls
            .iter()
            .filter(|c| c.starts_with("drain"))
            .collect();
        assert_eq!(drains, ["drain drain rust-axum", "drain drain go-gin"]);
        let sweeps: Vec<&String> = fake
            .calls
            .iter()
            .filter(|c| c.starts_with("sweep"))
            .collect();
        assert_eq!(
            sweeps,
            [
                "sweep get-user-http1 1 rust-axum",
                "sweep get-user-http1 1 go-gin",
                "sweep get-user-http1 2 go-gin",
                "sweep get-user-http1 2 rust-axum",
            ]
        );
        let first_sweep = fake
            .calls
            .iter()
            .position(|c| c.starts_with("sweep"))
            .unwrap();
        assert!(
            fake.calls[..first_sweep]
                .iter()
                .any(|c| c.starts_with("start health-3 3/3"))
        );
    }
}
