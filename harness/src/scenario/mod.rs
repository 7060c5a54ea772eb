//! Scenarios: one TOML file describes one call and the load to put on it
//! (`scenarios/README.md` documents every key). Parsing and validation live in
//! `parse`; this module holds the validated form the load engine consumes.

use std::path::PathBuf;
use std::time::Duration;

use crate::rng::Rng;

mod contract;
mod overrides;
mod params;
mod parse;
mod template;

pub use overrides::Overrides;
pub(crate) use parse::File;
pub use parse::{MAX_DURATION, ScenarioError, load, validate_dir};

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it was read from.
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub protocol: Protocol,
    pub call: Call,
    /// The request body template (file content, with `{var}` placeholders).
    pub body: Option<Template>,
    pub expect: Expect,
    /// Named parameters in file order; `Template::Var(i)` indexes this list.
    pub params: Vec<(String, Param)>,
    pub load: Load,
    pub slo: Slo,
    /// gRPC streaming: `stream` and `messages`.
    pub stream: Option<Stream>,
    /// `[drain]`: the service gets SIGTERM under this load.
    pub drain: Option<Drain>,
}

/// The drain scenario: SIGTERM `signal_after` into the measured window, to a
/// service started with `--drain-delay delay --drain-timeout timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    pub signal_after: Duration,
    pub delay: Duration,
    pub timeout: Duration,
}

impl Drain {
    pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
    Grpc,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::Http2 => "http2",
            Protocol::Grpc => "grpc",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Call {
    /// `METHOD /path?query`, the path (and query) as a template.
    Rest {
        method: http::Method,
        path: Template,
    },
    /// `package.Service/Method`, checked against the contract's descriptors.
    Grpc {
        /// `/lab.v1.UserService/GetUser`, the HTTP/2 path of the call.
        path: String,
        kind: GrpcKind,
        input: prost_reflect::MessageDescriptor,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcKind {
    Unary,
    ServerStream,
    Bidi,
}

/// The outcome a request must have to count as `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Http(u16),
    Grpc(tonic::Code),
}

#[derive(Debug, Clone)]
pub struct Stream {
    pub kind: GrpcKind,
    /// Bidi: messages sent (and answered) per call. Server: messages each call must yield.
    pub messages: u32,
}

/// Text with `{var}` placeholders, split once at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    /// Index into `Scenario::params`.
    Var(usize),
}

impl Template {
    /// True when the template has no placeholders, so it can be rendered once.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Appends the template to `out`, with `values[i]` for `Var(i)`.
    pub fn render(&self, values: &[String], out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Lit(text) => out.push_str(text),
                Part::Var(i) => out.push_str(&values[*i]),
            }
        }
    }
}

/// How a `{var}` gets its value for each request.
#[derive(Debug, Clone)]
pub enum Param {
    /// The same text every time (a TOML string, integer, float or boolean, as written).
    Literal(String),
    /// An integer drawn uniformly from `lo..=hi`.
    Uniform { lo: i64, hi: i64 },
    /// One of these texts, uniformly.
    Choice(Vec<String>),
    /// A rank in `1..=n` with P(k) proportional to 1/k^s.
    Zipf(params::Zipf),
}

impl Param {
    /// Draws one value and appends its text to `out`.
    pub fn sample(&self, rng: &mut Rng, out: &mut String) {
        use std::fmt::Write;
        match self {
            Param::Literal(text) => out.push_str(text),
            Param::Uniform { lo, hi } => {
                let _ = write!(out, "{}", rng.range(*lo, *hi));
            }
            Param::Choice(items) => {
                let item: &String = rng.pick(items);
                out.push_str(item)
            }
            Param::Zipf(zipf) => {
                let _ = write!(out, "{}", zipf.sample(rng));
            }
        }
    }
}

/// Draws a value for every parameter into `values` (one string each, reused
/// across requests so that steady state allocates nothing).
pub fn draw(params: &[(String, Param)], rng: &mut Rng, values: &mut Vec<String>) {
    values.resize_with(params.len(), String::new);
    for ((_, param), value) in params.iter().zip(values.iter_mut()) {
        value.clear();
        param.sample(rng, value);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Arrivals fixed in advance; latency measured from the intended start.
    Open,
    /// `concurrency` requests in flight, each sent when the previous completes.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Uniform,
    Poisson,
}

/// One open-loop step: `rate` for `duration`; with `ramp`, rising linearly to
/// `rate` from the previous stage's rate (0 for the first stage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub rate: u64,
    pub duration: Duration,
    pub ramp: bool,
}

#[derive(Debug, Clone)]
pub struct Load {
    pub model: Model,
    /// Open loop: the measured window's stages. A plain `rate` is one stage of
    /// `duration`; `stages` replaces it.
    pub stages: Vec<Stage>,
    pub arrival: Arrival,
    /// Closed: requests in flight. Open: the cap on requests in flight.
    pub concurrency: usize,
    /// HTTP/2 and gRPC: connections the concurrency is multiplexed over.
    /// HTTP/1.1: always equal to `concurrency` (one connection per request in flight).
    pub connections: usize,
    /// The measured window (the sum of the stages in open loop).
    pub duration: Duration,
    /// Load before the measured window, discarded. Open loop runs it at the
    /// first stage's starting rate (its `rate`, or for a ramp, the ramp's target).
    pub warmup: Duration,
    pub timeout: Duration,
    pub seed: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Slo {
    pub p99: Option<Duration>,
}
