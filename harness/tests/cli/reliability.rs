//! Part of the `cli` test binary (tests/cli.rs): the harness when things go
//! wrong. A service killed mid-run, SIGINT, SIGTERM and SIGKILL to the
//! harness, results files that are not what they should be, and a --url that
//! is not this machine. `lab-fixture` stands in for both services.
//!
//! Each test marks the processes it starts with its own `LAB_TEST_TAG` in the
//! environment (the services inherit it from the harness), so that it finds
//! its services, and checks that none is left, without seeing other tests'.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{harness, read_results, root, text};

/// A tag unique to one test in one test process.
fn tag(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Live processes whose environment holds `LAB_TEST_TAG=tag`. A zombie's
/// environment reads as empty, so a dead but unreaped process is not counted.
fn tagged(tag: &str) -> BTreeSet<i32> {
    let needle = format!("LAB_TEST_TAG={tag}");
    let mut found = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(environ) = std::fs::read(entry.path().join("environ"))
            && environ
                .split(|&b| b == 0)
                .any(|var| var == needle.as_bytes())
        {
            found.insert(pid);
        }
    }
    found
}

/// The harness under test, with its output collected on threads.
struct Running {
    child: Child,
    tag: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    /// Every service seen so far, with when it was first seen.
    seen: Vec<(i32, Instant)>,
}

impl Running {
    fn start(cmd: &mut Command, tag: String) -> Self {
        let mut child = cmd
            .env("LAB_TEST_TAG", &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = Some(drain(Box::new(child.stdout.take().unwrap())));
        let stderr = Some(drain(Box::new(child.stderr.take().unwrap())));
        Self {
            child,
            tag,
            stdout,
            stderr,
            seen: Vec::new(),
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Notes services (processes of this test running the fixture) that
    /// appeared since the last look.
    fn look(&mut self) {
        for pid in tagged(&self.tag) {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
            if exe.is_ok_and(|exe| Some(exe) == std::fs::canonicalize(fixture()).ok())
                && !self.seen.iter().any(|(p, _)| *p == pid)
            {
                self.seen.push((pid, Instant::now()));
            }
        }
    }

    /// Waits until `n` services have been seen; returns the `n`-th.
    fn nth_service(&mut self, n: usize, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        while self.seen.len() < n {
            assert!(
                Instant::now() < deadline,
                "service {n} did not start within {within:?}; seen {:?}",
                self.seen
            );
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the harness exited ({status}) before service {n} started");
            }
            self.look();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.seen[n - 1].0
    }

    /// Waits for the harness to exit (failing after `within`), watching for
    /// services meanwhile; returns its status, stdout and stderr.
    fn finish(&mut self, within: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the harness did not exit within {within:?}:\n{}",
                    self.output().1
                );
            }
            self.look();
            std::thread::sleep(Duration::from_millis(10));
        };
        let (stdout, stderr) = self.output();
        (status, stdout, stderr)
    }

    /// The harness's output. A service left running holds the stderr it
    /// inherited open: then the output is not waited for, and the check for
    /// services left (which follows) fails rather than hangs.
    fn output(&mut self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(3);
        let join = |h: Option<JoinHandle<String>>| match h {
            None => String::new(),
            Some(h) => {
                while !h.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if h.is_finished() {
                    h.join().unwrap()
                } else {
                    "<still open: a process left running holds the pipe>".to_owned()
                }
            }
        };
        (join(self.stdout.take()), join(self.stderr.take()))
    }

    /// No process of this test is left, within a moment for signals to land.
    fn assert_no_service_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let left = tagged(&self.tag);
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processes left running: {left:?} (services seen: {:?})",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    /// Whatever the test found, it leaves none of its processes behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in tagged(&self.tag) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

fn fixture() -> &'static str {
    env!("CARGO_BIN_EXE_lab-fixture")
}

/// `harness run` of `scenarios` against the fixture as `targets`: a light
/// open-loop load of `seconds` each, short idle and after waits.
fn run_command(scenarios: &[&str], targets: &str, seconds: u32, out: &Path) -> Command {
    let mut cmd = harness();
    cmd.arg("run")
        .args(scenarios)
        .args(["--target", targets, "--no-build"])
        .args(["--rust-bin", fixture(), "--go-bin", fixture()])
        .args(["--rate", "50", "--concurrency", "4", "--warmup", "0s"])
        .arg("--duration")
        .arg(format!("{seconds}s"))
        .args(["--idle-wait", "100ms", "--after-wait", "100ms"])
        .args(["--quiet", "--no-spectrum"])
        .arg("--out")
        .arg(out);
    cmd
}

fn assert_no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

/// A service killed with SIGKILL mid-run: its death is seen at once (the
/// next target starts well before the killed run's 3 s would have ended), it
/// is recorded with its time and signal, the next target still runs, the
/// exit code is 1, and nothing is left running.
#[test]
fn a_service_killed_mid_run_is_a_failure_and_the_next_target_runs() {
    let out = tempfile::tempdir().unwrap();
    let mut h = Running::start(
        &mut run_command(&["scenarios/health.toml"], "all", 3, out.path()),
        tag("kill9"),
    );
    let rust = h.nth_service(1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    kill(Pid::from_raw(rust), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    let go = h.nth_service(2, Duration::from_secs(10));
    let (_, next_seen) = h.seen[1];
    assert_ne!(rust, go);
    assert!(
        next_seen - killed < Duration::from_millis(1500),
        "the next target started {:?} after the kill",
        next_seen - killed
    );
    let (status, stdout, stderr) = h.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert_no_panic(&stderr);
    assert!(
        stderr.contains("rust-axum: the service died") && stderr.contains("killed by SIGKILL"),
        "{stderr}"
    );
    let results = read_results(out.path());
    assert_eq!(results["complete"], true, "{results}");
    let failures = results["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{results}");
    let f = &failures[0];
    assert_eq!(f["kind"], "run");
    assert_eq!(f["target"], "rust-axum");
    assert_eq!(f["scenario"], "health");
    assert_eq!(f["signal"], "SIGKILL", "{f}");
    assert!(f["exit_code"].is_null(), "{f}");
    assert_eq!(f["phase"], "load", "{f}");
    let at_s = f["at_s"].as_f64().unwrap();
    assert!((0.9..3.0).contains(&at_s), "{f}");
    let at = f["at"].as_str().unwrap();
    assert!(at.len() == 24 && at.ends_with('Z'), "{f}");
    let runs = results["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{results}");
    assert_eq!(runs[0]["target"], "go-gin");
    assert_eq!(runs[0]["errors"], serde_json::json!({}), "{}", runs[0]);
    h.assert_no_service_left();

    // The report lists the failure, with its time and signal.
    let report = tempfile::tempdir().unwrap();
    let output = harness()
        .arg("report")
        .arg(out.path().join("results.json"))
        .arg("--out")
        .arg(report.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let md = std::fs::read_to_string(report.path().join("report.md")).unwrap();
    let row = md
        .lines()
        .find(|l| l.starts_with("| 🔴 rust-axum | health |"))
        .unwrap_or_else(|| panic!("no failure row:\n{md}"));
    assert!(
        row.contains(&format!(
            "run failed ({at_s:.2} s into the run, {at}, service killed by SIGKILL)"
        )),
        "{row}"
    );
    let html = std::fs::read_to_string(report.path().join("index.html")).unwrap();
    assert!(html.contains("service killed by SIGKILL"));
}

/// SIGINT or SIGTERM during the second run of `harness run`: the first run
/// is kept, the file says it is incomplete, the exit code is 128 + the
/// signal, and the service is stopped.
fn interrupt_run(signal: Signal, code: i32) {
    let out = tempfile::tempdir().unwrap();
    let health = "scenarios/health.toml";
    let mut h = Running::start(
        &mut run_command(&[health, health], "rust", 1, out.path()),
        tag(signal.as_str()),
    );
    h.nth_service(2, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    kill(h.pid(), signal).unwrap();
    let sent = Instant::now();
    let (status, stdout, stderr) = h.finish(Duration::from_secs(10));
    assert!(sent.elapsed() < Duration::from_secs(4), "{stderr}");
    assert_eq!(status.code(), Some(code), "{stdout}{stderr}");
    assert_no_panic(&stderr);
    assert!(
        stderr.contains(&format!(
            "interrupted by {signal}: 1 runs finished before it"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("results so far"), "{stderr}");
    let results = read_results(out.path());
    assert_eq!(results["complete"], false, "{results}");
    assert_eq!(results["runs"].as_array().unwrap().len(), 1, "{results}");
    assert_eq!(results["failures"], serde_json::json!([]), "{results}");
    h.assert_no_service_left();
}

#[test]
fn sigint_to_run_keeps_the_finished_runs_and_exits_130() {
    interrupt_run(Signal::SIGINT, 130);
}

#[test]
fn sigterm_to_run_keeps_the_finished_runs_and_exits_143() {
    interrupt_run(Signal::SIGTERM, 143);
}

/// A service that ignores SIGTERM for longer than the grace is killed, and
/// a second SIGINT exits at once; either way no service is left.
#[test]
fn a_slow_service_is_killed_after_the_grace_and_a_second_sigint_exits_at_once() {
    for second in [false, true] {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = run_command(&["scenarios/health.toml"], "rust", 30, out.path());
        // The fixture waits this long after SIGTERM before it exits.
        cmd.env("LAB_FIXTURE_EXIT_DELAY_MS", "10000");
        let mut h = Running::start(&mut cmd, tag(&format!("grace-{second}")));
        let service = h.nth_service(1, Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(500));
        kill(h.pid(), Signal::SIGINT).unwrap();
        if second {
            std::thread::sleep(Duration::from_millis(300));
            kill(h.pid(), Signal::SIGINT).unwrap();
        }
        let sent = Instant::now();
        let (status, stdout, stderr) = h.finish(Duration::from_secs(10));
        let took = sent.elapsed();
        assert_eq!(status.code(), Some(130), "{stdout}{stderr}");
        assert_no_panic(&stderr);
        if second {
            assert!(stderr.contains("SIGINT again: exiting now"), "{stderr}");
            assert!(took < Duration::from_millis(1500), "{took:?}");
        } else {
            // SIGTERM, 2 s of grace, SIGKILL.
            assert!(
                (Duration::from_millis(1800)..Duration::from_secs(5)).contains(&took),
                "{took:?}: {stderr}"
            );
        }
        assert!(
            h.seen.iter().all(|(pid, _)| *pid == service),
            "{:?}",
            h.seen
        );
        h.assert_no_service_left();
    }
}

/// SIGTERM during the second run of `harness bench`: results.json keeps the
/// first run with `"complete": false`, the report is rendered from it and
/// says so, and the exit code is 143.
#[test]
fn sigterm_to_bench_renders_the_report_of_what_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("tiny.toml");
    std::fs::write(
        &suite,
        format!(
            "name = \"tiny\"\ntargets = [\"rust\", \"go\"]\nrepetitions = 2\n\
             idle_wait = \"100ms\"\nafter_wait = \"100ms\"\n\
             [defaults]\nduration = \"1s\"\nwarmup = \"0s\"\nrate = 50\nconcurrency = 4\n\
             [[scenario]]\nfile = {:?}\n",
            root().join("scenarios/health.toml")
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let mut cmd = harness();
    cmd.arg("bench")
        .arg(&suite)
        .args(["--no-verify", "--no-build"])
        .args(["--rust-bin", fixture(), "--go-bin", fixture()])
        .arg("--out")
        .arg(&out);
    let mut h = Running::start(&mut cmd, tag("bench"));
    h.nth_service(2, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    kill(h.pid(), Signal::SIGTERM).unwrap();
    let (status, stdout, stderr) = h.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(143), "{stdout}{stderr}");
    assert_no_panic(&stderr);
    let results = read_results(&out);
    assert_eq!(results["complete"], false, "{results}");
    let runs = results["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{results}");
    assert_eq!(runs[0]["target"], "rust-axum");
    assert!(stderr.contains("bench: interrupted"), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "report (incomplete run): {}",
            out.join("index.html").display()
        )),
        "{stdout}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**Incomplete run**"), "{md}");
    assert!(out.join("index.html").is_file());
    h.assert_no_service_left();
}

/// SIGKILL to the harness leaves it no chance to clean up: the kernel's
/// parent-death signal takes the service down with it.
#[test]
fn a_service_dies_with_a_harness_killed_by_sigkill() {
    let out = tempfile::tempdir().unwrap();
    let mut h = Running::start(
        &mut run_command(&["scenarios/health.toml"], "rust", 30, out.path()),
        tag("sigkill"),
    );
    let service = h.nth_service(1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    assert!(tagged(&h.tag).contains(&service));
    kill(h.pid(), Signal::SIGKILL).unwrap();
    let (status, _, _) = h.finish(Duration::from_secs(5));
    assert_eq!(status.code(), None);
    h.assert_no_service_left();
}

/// `report` and `compare` refuse a truncated file, a file that is not JSON
/// and a newer schema, each with one line that names the file, and exit 1.
#[test]
fn report_and_compare_refuse_broken_results_files_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = root().join("harness/src/report/fixtures/base.json");
    let json = std::fs::read_to_string(&good).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &json[..json.len() / 2]).unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "results: none\n").unwrap();
    let newer = dir.path().join("newer.json");
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["schema_version"] = serde_json::json!(2);
    std::fs::write(&newer, value.to_string()).unwrap();

    let cases = [
        (
            &truncated,
            ": truncated (the JSON ends early): EOF while parsing",
        ),
        (&garbage, ":1:1: not valid JSON: expected value"),
        (
            &newer,
            ": schema 2 is newer than this harness (1); upgrade the harness",
        ),
    ];
    for (file, expected) in cases {
        let mut report = harness();
        report
            .arg("report")
            .arg(file)
            .arg("--out")
            .arg(dir.path().join("report"));
        let mut compare_head = harness();
        compare_head
            .arg("compare")
            .args([&good, file])
            .arg("--markdown")
            .arg(dir.path().join("compare.md"));
        let mut compare_base = harness();
        compare_base.arg("compare").args([file, &good]);
        for cmd in [&mut report, &mut compare_head, &mut compare_base] {
            let output = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{cmd:?}: {stderr}");
            assert_no_panic(&stderr);
            assert_eq!(stderr.lines().count(), 1, "{cmd:?}: {stderr}");
            let line = stderr.trim_end();
            assert!(
                line.starts_with(&format!("error: {}", file.display())),
                "{cmd:?}: {line}"
            );
            assert!(line.contains(expected), "{cmd:?}: {line}");
        }
    }
    // Syntax errors give the line and column.
    let output = harness().arg("report").arg(&truncated).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = json[..json.len() / 2].lines().count();
    assert!(
        stderr.contains(&format!("{}:{lines}:", truncated.display())),
        "{stderr}"
    );
    assert!(!dir.path().join("compare.md").exists());
    assert!(!dir.path().join("report").exists());
}

/// A --url that is not this machine is refused before anything is sent or
/// written, with exit code 2 and why.
#[test]
fn run_refuses_a_remote_url_without_allow_remote() {
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = harness()
        .args([
            "run",
            "scenarios/health.toml",
            "--url",
            "http://192.0.2.1:9",
        ])
        .args(["--duration", "1s", "--warmup", "0s"])
        .arg("--out")
        .arg(out.path().join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: --url http://192.0.2.1:9: 192.0.2.1 is not a loopback address; a load \
         generator pointed at someone else's server by a typo is an attack; pass \
         --allow-remote if you mean it\n"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!out.path().join("run").exists(), "nothing is written");
}
