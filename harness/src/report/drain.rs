//! The drain section of the reports: its explanation, its groups and table
//! rows, shared by Markdown and HTML.

use crate::results::drain::{DrainRecord, classes};

/// The drain section's explanation, shared by both report formats.
pub const EXPLANATION: &str = "Each service took open-loop load, got SIGTERM part way, and the load \
went on. Of the requests sent after the signal, *not accepted* ones never reached the service \
(a refused connection, a request the client never wrote because its connection had closed, an \
HTTP/2 stream refused by GOAWAY), which a client retries safely; *accepted* ones are the rest \
(completed or failed). A request whose connection closed after it was written counts as \
failed: the client cannot tell whether it was processed. A clean drain fails none, turns \
`/health` to 503 at once, keeps serving for --drain-delay, then stops listening and exits 0.";

/// The drain runs of one scenario, in file order, with its settings in words.
pub struct Group<'a> {
    pub scenario: &'a str,
    /// `GET /v1/users/{id}, http1 1000/s for 3 s, SIGTERM at 0.5 s, --drain-delay 1 s, --drain-timeout 5 s`
    pub settings: String,
    pub runs: Vec<&'a DrainRecord>,
}

/// Groups drain runs by scenario, in the order each first appears.
pub fn groups(drains: &[DrainRecord]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for d in drains {
        match groups.iter_mut().find(|g| g.scenario == d.scenario) {
            Some(group) => group.runs.push(d),
            None => groups.push(Group {
                scenario: &d.scenario,
                settings: format!(
                    "{}, {} {}/s for {} s, SIGTERM at {} s, --drain-delay {} s, --drain-timeout {} s",
                    d.call,
                    d.protocol,
                    d.rate,
                    d.duration_s,
                    d.signal_after_s,
                    d.drain_delay_s,
                    d.drain_timeout_s
                ),
                runs: vec![d],
            }),
        }
    }
    groups
}

/// The cells of one row of the drain table: target, repetition, sent,
/// accepted, completed, failed, not accepted, /health 503, stopped
/// listening, exit, result.
pub fn row(d: &DrainRecord) -> [String; 11] {
    let ms = |v: Option<f64>| v.map_or_else(|| "never".to_owned(), |v| format!("{v:.0} ms"));
    [
        d.target.clone(),
        d.repetition.map_or_else(String::new, |r| r.to_string()),
        d.sent.to_string(),
        d.accepted().to_string(),
        d.completed.to_string(),
        format!("{}{}", d.failed_total(), classes(&d.failed)),
        format!("{}{}", d.not_accepted_total(), classes(&d.not_accepted)),
        ms(d.readiness_off_ms),
        ms(d.stopped_listening_ms),
        format!("{} after {}", d.exit, ms(d.exit_ms)),
        if d.passed {
            "pass".to_owned()
        } else {
            format!("FAIL: {}", d.problems.join("; "))
        },
    ]
}

pub const HEADER: [&str; 11] = [
    "target",
    "repetition",
    "sent after SIGTERM",
    "accepted",
    "completed",
    "failed",
    "not accepted",
    "/health 503 after",
    "stopped listening after",
    "exit",
    "result",
];
