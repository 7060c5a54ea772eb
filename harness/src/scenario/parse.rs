//! Reading a scenario file: TOML into raw serde types that keep the position of
//! every value, then each rule of `scenarios/README.md`, so that a bad file is
//! rejected before any load with `file:line:col: what was expected`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use toml::Spanned;

use super::params::Zipf;
use super::template::{self, Piece, PieceKind, TemplateError};
use super::{
    Arrival, Call, Drain, Expect, GrpcKind, Load, Model, Param, Protocol, Scenario, Slo, Stage,
    Stream, Template, contract,
};
use crate::rng::Rng;

const DEFAULT_DURATION: Duration = Duration::from_secs(10);
const DEFAULT_WARMUP: Duration = Duration::from_secs(2);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_CONCURRENCY: usize = 64;
const DEFAULT_CONNECTIONS: usize = 16;
const DEFAULT_SEED: u64 = 1;

/// A scenario that cannot be loaded: the file at fault (the scenario, or a
/// body file it names), the place in it when there is one, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    /// 1-based line and column (in characters).
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.path.display(), self.message)
            }
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and validates one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        at: None,
        message: format!("cannot read scenario: {e}"),
    })?;
    let file = File { path, text: &src };
    let raw: RawScenario = toml::from_str(&src).map_err(|e| file.toml_err(&e))?;
    build(&file, raw)
}

/// Validates every `*.toml` directly in `dir` (not in subdirectories), in
/// file-name order; all the errors, or all the scenarios.
pub fn validate_dir(dir: &Path) -> Result<Vec<Scenario>, Vec<ScenarioError>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![ScenarioError {
            path: dir.to_path_buf(),
            at: None,
            message: format!("cannot read directory: {e}"),
        }]
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match load(&path) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

// ---- raw form: what serde reads, with positions --------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    description: Option<String>,
    protocol: Spanned<String>,
    call: Spanned<String>,
    body: Option<Spanned<String>>,
    expect: Option<Spanned<RawExpect>>,
    stream: Option<Spanned<String>>,
    messages: Option<Spanned<Int>>,
    params: Option<RawParams>,
    load: Option<Spanned<RawLoad>>,
    slo: Option<RawSlo>,
    drain: Option<Spanned<RawDrain>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    model: Option<Spanned<String>>,
    rate: Option<Spanned<Int>>,
    stages: Option<Spanned<Vec<RawStage>>>,
    arrival: Option<Spanned<String>>,
    concurrency: Option<Spanned<Int>>,
    connections: Option<Spanned<Int>>,
    duration: Option<Spanned<DurationText>>,
    warmup: Option<Spanned<DurationText>>,
    timeout: Option<Spanned<DurationText>>,
    seed: Option<Spanned<Int>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    rate: Spanned<Int>,
    duration: Spanned<DurationText>,
    #[serde(default)]
    ramp: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    p99: Option<Spanned<DurationText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrain {
    signal_after: Spanned<DurationText>,
    delay: Option<Spanned<DurationText>>,
    timeout: Option<Spanned<DurationText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZipf {
    n: Int,
    s: f64,
}

/// Any TOML integer (checked for range where it is used, with its position).
#[derive(Clone, Copy)]
struct Int(i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_i64(V)
    }
}

/// A duration as written (`"10s"`), parsed with humantime where it is used.
struct DurationText(String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a duration string such as "10s" or "500ms""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

enum RawExpect {
    Status(i64),
    Code(String),
}

impl<'de> Deserialize<'de> for RawExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawExpect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"an HTTP status (200) or a gRPC code name ("OK")"#)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawExpect, E> {
                Ok(RawExpect::Status(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawExpect, E> {
                Ok(RawExpect::Status(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawExpect, E> {
                Ok(RawExpect::Code(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[params]`, in whatever order serde hands it over (sorted by position later).
struct RawParams(Vec<(Spanned<String>, Spanned<RawParam>)>);

impl<'de> Deserialize<'de> for RawParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawParams;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of params")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawParams, A::Error> {
                let mut params = Vec::new();
                while let Some(key) = map.next_key()? {
                    params.push((key, map.next_value()?));
                }
                Ok(RawParams(params))
            }
        }
        d.deserialize_map(V)
    }
}

enum RawParam {
    Literal(String),
    Uniform(Vec<Int>),
    Choice(Vec<Literal>),
    Zipf(RawZipf),
}

const PARAM_KINDS: &str = "a literal (string, integer, float or boolean), { uniform = [lo, hi] }, \
     { choice = [..] } or { zipf = { n = N, s = S } }";

impl<'de> Deserialize<'de> for RawParam {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawParam;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(PARAM_KINDS)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawParam, E> {
                Ok(RawParam::Literal(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawParam, E> {
                Ok(RawParam::Literal(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawParam, E> {
                Ok(RawParam::Literal(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawParam, E> {
                Ok(RawParam::Literal(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawParam, E> {
                Ok(RawParam::Literal(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawParam, A::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!(
                        "empty param table: expected {PARAM_KINDS}"
                    )));
                };
                let param = match kind.as_str() {
                    "uniform" => RawParam::Uniform(map.next_value()?),
                    "choice" => RawParam::Choice(map.next_value()?),
                    "zipf" => RawParam::Zipf(map.next_value()?),
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown param kind `{other}`: expected uniform, choice or zipf"
                        )));
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "unexpected key `{extra}` after `{kind}`: a param table has exactly \
                         one key, uniform, choice or zipf"
                    )));
                }
                Ok(param)
            }
        }
        d.deserialize_any(V)
    }
}

/// A `choice` item: the text it substitutes.
struct Literal(String);

impl<'de> Deserialize<'de> for Literal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Literal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, integer, float or boolean")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Literal, E> {
                Ok(Literal(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Literal, E> {
                Ok(Literal(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Literal, E> {
                Ok(Literal(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Literal, E> {
                Ok(Literal(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Literal, E> {
                Ok(Literal(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- checks ----------------------------------------------------------------------

/// A file being checked, to turn byte offsets into `file:line:col` errors.
pub(crate) struct File<'a> {
    pub(crate) path: &'a Path,
    pub(crate) text: &'a str,
}

impl File<'_> {
    /// A TOML or serde error at its place in the file.
    pub(crate) fn toml_err(&self, e: &toml::de::Error) -> ScenarioError {
        // serde speaks of fields; a TOML file has keys.
        let message = e.message().trim_end();
        let message = match message.split_once(' ') {
            Some(("missing", rest)) => {
                format!("missing required {}", rest.replacen("field", "key", 1))
            }
            Some(("unknown", rest)) if rest.starts_with("field") => {
                format!("unknown {}", rest.replacen("field", "key", 1))
            }
            _ => message.to_string(),
        };
        match e.span() {
            Some(span) => self.err(span, message),
            None => self.no_pos(message),
        }
    }

    pub(crate) fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            path: self.path.to_path_buf(),
            at: Some(line_col(self.text, span.start)),
            message: message.into(),
        }
    }

    pub(crate) fn no_pos(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            path: self.path.to_path_buf(),
            at: None,
            message: message.into(),
        }
    }

    /// An error at byte `inner` of the string value `value` written at `span`:
    /// exact for a one-line string without escapes, else the start of the value.
    fn err_in_str(
        &self,
        span: Range<usize>,
        value: &str,
        inner: usize,
        message: impl Into<String>,
    ) -> ScenarioError {
        let written = &self.text[span.clone()];
        let verbatim = written.len() == value.len() + 2 && &written[1..written.len() - 1] == value;
        let at = if verbatim {
            span.start + 1 + inner
        } else {
            span.start
        };
        self.err(at..at, message)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// A body file, read and split.
struct Body {
    path: PathBuf,
    text: String,
    pieces: Vec<Piece>,
    template: Template,
}

fn build(file: &File, raw: RawScenario) -> Result<Scenario, ScenarioError> {
    let name = check_name(file, &raw.name)?;
    let protocol = match raw.protocol.get_ref().as_str() {
        "http1" => Protocol::Http1,
        "http2" => Protocol::Http2,
        "grpc" => Protocol::Grpc,
        other => {
            return Err(file.err(
                raw.protocol.span(),
                format!("unknown protocol `{other}`: expected http1, http2 or grpc"),
            ));
        }
    };

    let mut raw_params = raw.params.map(|p| p.0).unwrap_or_default();
    raw_params.sort_by_key(|(key, _)| key.span().start);
    let mut names = Vec::with_capacity(raw_params.len());
    let mut params = Vec::with_capacity(raw_params.len());
    for (key, value) in &raw_params {
        if !template::is_name(key.get_ref()) {
            return Err(file.err(
                key.span(),
                format!(
                    "param name `{}` cannot be a placeholder: expected letters, digits and `_`, \
                     not starting with a digit",
                    key.get_ref()
                ),
            ));
        }
        names.push(key.get_ref().clone());
        params.push((key.get_ref().clone(), param(file, value)?));
    }
    let mut used = vec![false; names.len()];

    let call = call(file, &raw.call, protocol, &names, &mut used)?;

    let body = match &raw.body {
        None => None,
        Some(body) => {
            if matches!(&call, Call::Rest { method, .. } if *method == http::Method::GET) {
                return Err(file.err(
                    body.span(),
                    "a GET call sends no body: body applies to POST calls and gRPC calls",
                ));
            }
            Some(read_body(file, body, &names, &mut used)?)
        }
    };

    if let Some(i) = used.iter().position(|u| !u) {
        let (key, _) = &raw_params[i];
        return Err(file.err(
            key.span(),
            format!(
                "param `{0}` is not used: expected a `{{{0}}}` placeholder in call or body",
                key.get_ref()
            ),
        ));
    }

    let expect = expect(file, &call, raw.expect.as_ref())?;
    let stream = stream(
        file,
        &raw.call,
        &call,
        raw.stream.as_ref(),
        raw.messages.as_ref(),
    )?;
    let load = load_section(file, raw.load, protocol)?;
    let slo = Slo {
        p99: match raw.slo.and_then(|s| s.p99) {
            None => None,
            Some(p99) => Some(positive_duration(file, &p99, "p99")?),
        },
    };

    if let Some(body) = &body {
        check_body(file, body, &call, expect, &names, &params, load.seed)?;
    }
    let drain = match raw.drain {
        None => None,
        Some(raw) => Some(drain_section(file, raw, &load)?),
    };

    Ok(Scenario {
        path: file.path.to_path_buf(),
        name,
        description: raw.description.unwrap_or_default(),
        protocol,
        call,
        body: body.map(|b| b.template),
        expect,
        params,
        load,
        slo,
        stream,
        drain,
    })
}

/// `[drain]`: SIGTERM `signal_after` into an open-loop window.
fn drain_section(file: &File, raw: Spanned<RawDrain>, load: &Load) -> Result<Drain, ScenarioError> {
    let span = raw.span();
    let raw = raw.into_inner();
    if load.model != Model::Open {
        return Err(file.err(
            span,
            "[drain] needs the open loop: requests keep arriving on schedule while the service drains",
        ));
    }
    let signal_after = positive_duration(file, &raw.signal_after, "signal_after")?;
    if signal_after >= load.duration {
        return Err(file.err(
            raw.signal_after.span(),
            format!(
                "signal_after must fall inside the measured window ({})",
                humantime::format_duration(load.duration)
            ),
        ));
    }
    let delay = match &raw.delay {
        None => Drain::DEFAULT_DELAY,
        Some(d) => duration(file, d)?,
    };
    let timeout = match &raw.timeout {
        None => Drain::DEFAULT_TIMEOUT,
        Some(t) => positive_duration(file, t, "timeout")?,
    };
    if signal_after + delay >= load.duration {
        return Err(file.err(
            raw.delay
                .as_ref()
                .map_or(raw.signal_after.span(), |d| d.span()),
            format!(
                "signal_after + delay ({}) must end inside the measured window ({}), so that \
                 the load meets the closed listener",
                humantime::format_duration(signal_after + delay),
                humantime::format_duration(load.duration)
            ),
        ));
    }
    Ok(Drain {
        signal_after,
        delay,
        timeout,
    })
}

fn check_name(file: &File, name: &Spanned<String>) -> Result<String, ScenarioError> {
    let text = name.get_ref();
    let kebab = !text.is_empty()
        && text.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !kebab {
        return Err(file.err(
            name.span(),
            format!("name `{text}` is not kebab-case: expected lowercase words joined by `-`"),
        ));
    }
    let stem = file.path.file_stem().map(|s| s.to_string_lossy());
    if stem.as_deref() != Some(text.as_str()) {
        return Err(file.err(
            name.span(),
            format!(
                "name `{text}` must match the file name: expected `{}`",
                stem.unwrap_or_default()
            ),
        ));
    }
    Ok(text.clone())
}

fn param(file: &File, value: &Spanned<RawParam>) -> Result<Param, ScenarioError> {
    let span = value.span();
    Ok(match value.get_ref() {
        RawParam::Literal(text) => Param::Literal(text.clone()),
        RawParam::Uniform(bounds) => match bounds[..] {
            [Int(lo), Int(hi)] if lo <= hi => Param::Uniform { lo, hi },
            [Int(lo), Int(hi)] => {
                return Err(file.err(
                    span,
                    format!("uniform [{lo}, {hi}] is empty: expected lo <= hi"),
                ));
            }
            _ => {
                return Err(file.err(
                    span,
                    format!(
                        "uniform takes two integers [lo, hi], got {} values",
                        bounds.len()
                    ),
                ));
            }
        },
        RawParam::Choice(items) if items.is_empty() => {
            return Err(file.err(span, "choice is empty: expected at least one value"));
        }
        RawParam::Choice(items) => Param::Choice(items.iter().map(|l| l.0.clone()).collect()),
        RawParam::Zipf(RawZipf { n: Int(n), s }) => {
            let zipf = u64::try_from(*n)
                .map_err(|_| {
                    format!(
                        "zipf n must be in 1..={}, got {n}",
                        super::params::ZIPF_MAX_N
                    )
                })
                .and_then(|n| Zipf::new(n, *s))
                .map_err(|e| file.err(span, e))?;
            Param::Zipf(zipf)
        }
    })
}

fn call(
    file: &File,
    raw: &Spanned<String>,
    protocol: Protocol,
    names: &[String],
    used: &mut [bool],
) -> Result<Call, ScenarioError> {
    let text = raw.get_ref().as_str();
    let span = raw.span();
    let rest_form = text.contains(' ') || text.starts_with('/');
    if rest_form {
        if protocol == Protocol::Grpc {
            return Err(file.err(
                span,
                format!(
                    "`{text}` is a REST call but protocol is grpc: REST calls use http1 or http2, \
                     gRPC calls are written `lab.v1.Service/Method`"
                ),
            ));
        }
        return rest_call(file, raw, names, used);
    }
    if text.contains('/') {
        if protocol != Protocol::Grpc {
            return Err(file.err(
                span,
                format!(
                    "`{text}` is a gRPC call but protocol is {}: gRPC calls need protocol = \"grpc\"",
                    protocol.name()
                ),
            ));
        }
        return grpc_call(file, raw);
    }
    Err(file.err(
        span,
        format!("call `{text}`: expected `METHOD /path` (REST) or `lab.v1.Service/Method` (gRPC)"),
    ))
}

fn rest_call(
    file: &File,
    raw: &Spanned<String>,
    names: &[String],
    used: &mut [bool],
) -> Result<Call, ScenarioError> {
    let text = raw.get_ref().as_str();
    let span = raw.span();
    let Some((method, path)) = text.split_once(' ').filter(|(m, p)| {
        !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) && p.starts_with('/')
    }) else {
        return Err(file.err(
            span,
            format!(
                "call `{text}`: expected `METHOD /path` (REST) or `lab.v1.Service/Method` (gRPC)"
            ),
        ));
    };
    let path_at = method.len() + 1;
    if let Some(i) = path.find(char::is_whitespace) {
        return Err(file.err_in_str(
            span,
            text,
            path_at + i,
            "unexpected space in the path: expected `METHOD /path` (escape spaces as %20)",
        ));
    }
    let (route, query) = match path.split_once('?') {
        Some((route, _)) => (route, true),
        None => (path, false),
    };
    let Some(contract_call) = contract::rest_call(method, route) else {
        return Err(file.err(
            span,
            format!(
                "`{method} {route}` is not in the contract: expected one of {}",
                contract::REST_CALLS.join(", ")
            ),
        ));
    };
    if query && method != "GET" {
        return Err(file.err_in_str(
            span,
            text,
            path_at + route.len(),
            format!("a query string is only for GET calls, and {contract_call} reads none"),
        ));
    }
    let template_err =
        |e: TemplateError| file.err_in_str(span.clone(), text, path_at + e.span.start, e.message);
    let pieces = template::split(path).map_err(template_err)?;
    let path = template::resolve(path, &pieces, names, used).map_err(template_err)?;
    let method = http::Method::from_bytes(method.as_bytes()).expect("a contract method");
    Ok(Call::Rest { method, path })
}

fn grpc_call(file: &File, raw: &Spanned<String>) -> Result<Call, ScenarioError> {
    let text = raw.get_ref().as_str();
    let Some(method) = contract::grpc_method(text) else {
        return Err(file.err(
            raw.span(),
            format!(
                "`{text}` is not in the contract: expected one of {}",
                contract::grpc_calls().join(", ")
            ),
        ));
    };
    let kind = match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => GrpcKind::Unary,
        (false, true) => GrpcKind::ServerStream,
        (true, true) => GrpcKind::Bidi,
        (true, false) => {
            return Err(file.err(
                raw.span(),
                format!("`{text}` is client-streaming, which scenarios do not support"),
            ));
        }
    };
    Ok(Call::Grpc {
        path: format!("/{text}"),
        kind,
        input: method.input(),
    })
}

fn read_body(
    file: &File,
    raw: &Spanned<String>,
    names: &[String],
    used: &mut [bool],
) -> Result<Body, ScenarioError> {
    let dir = file.path.parent().unwrap_or(Path::new(""));
    let path = dir.join(raw.get_ref());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        file.err(
            raw.span(),
            format!("cannot read body file {}: {e}", path.display()),
        )
    })?;
    let body_err = |e: TemplateError| ScenarioError {
        path: path.clone(),
        at: Some(line_col(&text, e.span.start)),
        message: format!("{} (body of {})", e.message, file.path.display()),
    };
    let pieces = template::split(&text).map_err(body_err)?;
    let template = template::resolve(&text, &pieces, names, used).map_err(body_err)?;
    Ok(Body {
        path,
        text,
        pieces,
        template,
    })
}

/// A gRPC body must be the input message in proto3 JSON; a REST body that
/// expects success must be JSON (the contract answers anything else with 400).
/// Checked once, rendered with values drawn from the scenario's seed.
fn check_body(
    file: &File,
    body: &Body,
    call: &Call,
    expect: Expect,
    names: &[String],
    params: &[(String, Param)],
    seed: u64,
) -> Result<(), ScenarioError> {
    let mut values = Vec::new();
    super::draw(params, &mut Rng::new(seed), &mut values);
    let rendered = template::render(&body.text, &body.pieces, names, &values);
    let (result, what) = match call {
        Call::Grpc { input, .. } => {
            let mut de = serde_json::Deserializer::from_str(&rendered.text);
            let result = prost_reflect::DynamicMessage::deserialize(input.clone(), &mut de)
                .and_then(|_| de.end());
            (result, format!("{} in proto3 JSON", input.full_name()))
        }
        Call::Rest { .. } if matches!(expect, Expect::Http(200..=299)) => (
            serde_json::from_str::<IgnoredAny>(&rendered.text).map(|_| ()),
            "JSON".to_string(),
        ),
        Call::Rest { .. } => return Ok(()),
    };
    let Err(e) = result else { return Ok(()) };

    // serde_json's column counts bytes from 1, and may be 0 right after a newline.
    let line_start: usize = rendered
        .text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let origin = rendered.origin(line_start + e.column().saturating_sub(1));
    let full = e.to_string();
    let mut message = format!(
        "not a valid {what}: {}",
        full.rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m)
    );
    let value_of = |name: &str| &values[names.iter().position(|n| n == name).expect("resolved")];
    if let Some(var) = &origin.var {
        let name = template::var_name(&body.text, var);
        message += &format!(" (in `{{{name}}}`, sampled as `{}`)", value_of(name));
    } else if !body.template.is_constant() {
        let mut seen: Vec<&str> = Vec::new();
        for piece in body.pieces.iter().filter(|p| p.kind == PieceKind::Var) {
            let name = template::var_name(&body.text, piece);
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        let sampled: Vec<String> = seen
            .iter()
            .map(|name| format!("{{{name}}} = `{}`", value_of(name)))
            .collect();
        message += &format!(" (with sampled values: {})", sampled.join(", "));
    }
    Err(ScenarioError {
        path: body.path.clone(),
        at: Some(line_col(&body.text, origin.offset)),
        message: format!("{message} (body of {})", file.path.display()),
    })
}

fn expect(
    file: &File,
    call: &Call,
    raw: Option<&Spanned<RawExpect>>,
) -> Result<Expect, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(match call {
            Call::Rest { .. } => Expect::Http(200),
            Call::Grpc { .. } => Expect::Grpc(tonic::Code::Ok),
        });
    };
    match (call, raw.get_ref()) {
        (Call::Rest { .. }, RawExpect::Status(s)) => match u16::try_from(*s) {
            Ok(s @ 100..=599) => Ok(Expect::Http(s)),
            _ => Err(file.err(
                raw.span(),
                format!("expect = {s} is not an HTTP status: expected an integer in 100..=599"),
            )),
        },
        (Call::Rest { .. }, RawExpect::Code(code)) => Err(file.err(
            raw.span(),
            format!("expect = \"{code}\": a REST call expects an HTTP status, such as 200"),
        )),
        (Call::Grpc { .. }, RawExpect::Code(name)) => {
            contract::grpc_code(name).map(Expect::Grpc).ok_or_else(|| {
                file.err(
                    raw.span(),
                    format!(
                        "unknown gRPC code `{name}`: expected one of {}",
                        contract::grpc_code_names()
                    ),
                )
            })
        }
        (Call::Grpc { .. }, RawExpect::Status(s)) => Err(file.err(
            raw.span(),
            format!("expect = {s}: a gRPC call expects a code name, such as \"OK\""),
        )),
    }
}

fn stream(
    file: &File,
    raw_call: &Spanned<String>,
    call: &Call,
    raw: Option<&Spanned<String>>,
    messages: Option<&Spanned<Int>>,
) -> Result<Option<Stream>, ScenarioError> {
    let name = raw_call.get_ref();
    let kind = match call {
        Call::Rest { .. } => {
            if let Some(s) = raw {
                return Err(file.err(s.span(), "stream applies to gRPC streaming calls only"));
            }
            if let Some(m) = messages {
                return Err(file.err(m.span(), "messages applies to gRPC streaming calls only"));
            }
            return Ok(None);
        }
        Call::Grpc { kind, .. } => *kind,
    };
    let (want, word) = match kind {
        GrpcKind::Unary => {
            if let Some(s) = raw {
                return Err(file.err(
                    s.span(),
                    format!("`{name}` is unary: stream applies to streaming methods only"),
                ));
            }
            if let Some(m) = messages {
                return Err(file.err(
                    m.span(),
                    format!("`{name}` is unary: messages applies to streaming methods only"),
                ));
            }
            return Ok(None);
        }
        GrpcKind::ServerStream => ("server", "server-streaming"),
        GrpcKind::Bidi => ("bidi", "bidi-streaming"),
    };
    let Some(raw) = raw else {
        return Err(file.err(
            raw_call.span(),
            format!("`{name}` is {word}: expected stream = \"{want}\" and messages = N"),
        ));
    };
    match raw.get_ref().as_str() {
        s if s == want => {}
        "server" | "bidi" => {
            return Err(file.err(
                raw.span(),
                format!("`{name}` is {word}: expected stream = \"{want}\""),
            ));
        }
        other => {
            return Err(file.err(
                raw.span(),
                format!("unknown stream `{other}`: expected server or bidi"),
            ));
        }
    }
    let Some(messages) = messages else {
        return Err(file.err(raw.span(), "stream needs messages = N (N >= 1)"));
    };
    match u32::try_from(messages.get_ref().0) {
        Ok(n) if n >= 1 => Ok(Some(Stream { kind, messages: n })),
        _ => Err(file.err(
            messages.span(),
            format!(
                "messages = {}: expected an integer in 1..={}",
                messages.get_ref().0,
                u32::MAX
            ),
        )),
    }
}

fn load_section(
    file: &File,
    raw: Option<Spanned<RawLoad>>,
    protocol: Protocol,
) -> Result<Load, ScenarioError> {
    let (header, raw) = match raw {
        Some(raw) => (Some(raw.span()), raw.into_inner()),
        None => (None, RawLoad::default()),
    };
    let model = match raw.model.as_ref().map(|m| (m.span(), m.get_ref().as_str())) {
        None | Some((_, "open")) => Model::Open,
        Some((_, "closed")) => Model::Closed,
        Some((span, other)) => {
            return Err(file.err(
                span,
                format!("unknown model `{other}`: expected open or closed"),
            ));
        }
    };
    let arrival = match raw
        .arrival
        .as_ref()
        .map(|a| (a.span(), a.get_ref().as_str()))
    {
        Some((span, _)) if model == Model::Closed => {
            return Err(file.err(span, "arrival applies to the open loop"));
        }
        None | Some((_, "uniform")) => Arrival::Uniform,
        Some((_, "poisson")) => Arrival::Poisson,
        Some((span, other)) => {
            return Err(file.err(
                span,
                format!("unknown arrival `{other}`: expected uniform or poisson"),
            ));
        }
    };
    let concurrency = match &raw.concurrency {
        None => DEFAULT_CONCURRENCY,
        Some(c) => at_least_one(file, c, "concurrency")?,
    };
    let connections = match (&raw.connections, protocol) {
        (Some(c), Protocol::Http1) => {
            return Err(file.err(
                c.span(),
                "connections applies to http2 and grpc: http1 opens one connection per request \
                 in flight (connections = concurrency)",
            ));
        }
        (None, Protocol::Http1) => concurrency,
        (None, _) => DEFAULT_CONNECTIONS.min(concurrency),
        (Some(c), _) => {
            let n = at_least_one(file, c, "connections")?;
            if n > concurrency {
                return Err(file.err(
                    c.span(),
                    format!("connections = {n} must be <= concurrency ({concurrency})"),
                ));
            }
            n
        }
    };
    let warmup = match &raw.warmup {
        None => DEFAULT_WARMUP,
        Some(w) => duration(file, w)?,
    };
    let timeout = match &raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) => positive_duration(file, t, "timeout")?,
    };
    let seed = match &raw.seed {
        None => DEFAULT_SEED,
        Some(s) => u64::try_from(s.get_ref().0).map_err(|_| {
            file.err(
                s.span(),
                format!("seed = {}: expected an integer >= 0", s.get_ref().0),
            )
        })?,
    };
    let duration = match &raw.duration {
        None => None,
        Some(d) => Some((d.span(), positive_duration(file, d, "duration")?)),
    };

    let (stages, duration) = schedule(file, &raw, model, header, duration)?;

    Ok(Load {
        model,
        stages,
        arrival,
        concurrency,
        connections,
        duration,
        warmup,
        timeout,
        seed,
    })
}

/// The open loop's stages (one for `rate`, or `stages`) and the measured
/// duration; a closed loop has no stages.
fn schedule(
    file: &File,
    raw: &RawLoad,
    model: Model,
    header: Option<Range<usize>>,
    duration: Option<(Range<usize>, Duration)>,
) -> Result<(Vec<Stage>, Duration), ScenarioError> {
    Ok(match model {
        Model::Closed => {
            if let Some(rate) = &raw.rate {
                return Err(file.err(
                    rate.span(),
                    "rate applies to the open loop: a closed loop keeps `concurrency` requests \
                     in flight, each sent when the previous one completes",
                ));
            }
            if let Some(stages) = &raw.stages {
                return Err(file.err(stages.span(), "stages apply to the open loop"));
            }
            (Vec::new(), duration.map_or(DEFAULT_DURATION, |(_, d)| d))
        }
        Model::Open => match (&raw.rate, &raw.stages) {
            (Some(rate), Some(_)) => {
                return Err(file.err(rate.span(), "give rate or stages, not both"));
            }
            (None, None) => {
                let message = "the open loop needs a rate (requests/s) or stages";
                return Err(match header {
                    Some(span) => file.err(span, message),
                    None => {
                        file.no_pos(format!("{message}: expected a [load] table with rate = N"))
                    }
                });
            }
            (Some(rate), None) => {
                let rate = rate_value(file, rate)?;
                let d = duration.map_or(DEFAULT_DURATION, |(_, d)| d);
                (
                    vec![Stage {
                        rate,
                        duration: d,
                        ramp: false,
                    }],
                    d,
                )
            }
            (None, Some(raw_stages)) => {
                if raw_stages.get_ref().is_empty() {
                    return Err(file.err(
                        raw_stages.span(),
                        "stages is empty: expected at least one { rate = N, duration = \"..\" }",
                    ));
                }
                let mut stages = Vec::new();
                for stage in raw_stages.get_ref() {
                    stages.push(Stage {
                        rate: rate_value(file, &stage.rate)?,
                        duration: positive_duration(file, &stage.duration, "a stage's duration")?,
                        ramp: stage.ramp,
                    });
                }
                let total: Duration = stages.iter().map(|s| s.duration).sum();
                if let Some((span, d)) = duration.filter(|(_, d)| *d != total) {
                    return Err(file.err(
                        span,
                        format!(
                            "duration = \"{}\" differs from the stages' total ({}): expected it \
                             left out or equal",
                            humantime::format_duration(d),
                            humantime::format_duration(total)
                        ),
                    ));
                }
                (stages, total)
            }
        },
    })
}

fn at_least_one(file: &File, value: &Spanned<Int>, key: &str) -> Result<usize, ScenarioError> {
    let n = value.get_ref().0;
    usize::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
        file.err(
            value.span(),
            format!("{key} = {n}: expected an integer >= 1"),
        )
    })
}

fn rate_value(file: &File, value: &Spanned<Int>) -> Result<u64, ScenarioError> {
    let n = value.get_ref().0;
    u64::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
        file.err(
            value.span(),
            format!("rate = {n}: expected requests per second, an integer >= 1"),
        )
    })
}

/// The longest duration a file may give: a day. Longer is a typo, and sums of
/// such spans would overflow the schedule's nanosecond clock.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

fn duration(file: &File, value: &Spanned<DurationText>) -> Result<Duration, ScenarioError> {
    let text = &value.get_ref().0;
    let d = humantime::parse_duration(text).map_err(|e| {
        file.err(
            value.span(),
            format!("invalid duration \"{text}\" ({e}): expected a number and a unit, such as \"10s\" or \"500ms\""),
        )
    })?;
    if d > MAX_DURATION {
        return Err(file.err(
            value.span(),
            format!("duration \"{text}\" is longer than a day (24h), the most a scenario may give"),
        ));
    }
    Ok(d)
}

fn positive_duration(
    file: &File,
    value: &Spanned<DurationText>,
    what: &str,
) -> Result<Duration, ScenarioError> {
    let d = duration(file, value)?;
    if d.is_zero() {
        return Err(file.err(value.span(), format!("{what} must be > 0")));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Part;

    /// A scenario directory with files in it.
    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new() -> Self {
            Dir(tempfile::tempdir().unwrap())
        }

        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let path = self.0.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        fn load(&self, text: &str) -> Result<Scenario, ScenarioError> {
            load(&self.write("t.toml", text))
        }
    }

    const HEAD: &str = "name = \"t\"\nprotocol = \"http1\"\n";

    fn ok(text: &str) -> Scenario {
        Dir::new()
            .load(text)
            .unwrap_or_else(|e| panic!("{e}\n--- in ---\n{text}"))
    }

    /// Loads `text` as `t.toml`; the error must be at `line:col` and contain `needle`.
    #[track_caller]
    fn fails(text: &str, at: (usize, usize), needle: &str) -> ScenarioError {
        fails_in(&Dir::new(), text, at, needle)
    }

    #[track_caller]
    fn fails_in(dir: &Dir, text: &str, at: (usize, usize), needle: &str) -> ScenarioError {
        let err = match dir.load(text) {
            Ok(_) => panic!("loaded, expected `{needle}`\n--- in ---\n{text}"),
            Err(e) => e,
        };
        assert_eq!(err.at, Some(at), "{err}\n--- in ---\n{text}");
        assert!(err.message.contains(needle), "`{err}` lacks `{needle}`");
        err
    }

    /// A REST call on users with an `id` param and an open-loop rate, plus `extra`.
    fn users(extra: &str) -> String {
        format!(
            "{HEAD}call = \"GET /v1/users/{{id}}\"\n{extra}[params]\nid = {{ uniform = [1, 10] }}\n"
        )
    }

    fn users_load(load: &str) -> String {
        users(&format!("[load]\n{load}\n"))
    }

    #[test]
    fn minimal_file_gets_the_defaults() {
        let s = ok(&users_load("rate = 100"));
        assert_eq!(s.name, "t");
        assert_eq!(s.description, "");
        assert_eq!(s.protocol, Protocol::Http1);
        assert_eq!(s.expect, Expect::Http(200));
        assert!(s.body.is_none() && s.stream.is_none() && s.slo.p99.is_none());
        let Call::Rest { method, path } = &s.call else {
            panic!()
        };
        assert_eq!(*method, http::Method::GET);
        assert_eq!(path.parts, [Part::Lit("/v1/users/".into()), Part::Var(0)]);
        let l = &s.load;
        assert_eq!(l.model, Model::Open);
        assert_eq!(l.arrival, Arrival::Uniform);
        assert_eq!(
            l.stages,
            [Stage {
                rate: 100,
                duration: Duration::from_secs(10),
                ramp: false
            }]
        );
        assert_eq!(l.duration, Duration::from_secs(10));
        assert_eq!((l.concurrency, l.connections), (64, 64));
        assert_eq!(
            (l.warmup, l.timeout, l.seed),
            (Duration::from_secs(2), Duration::from_secs(2), 1)
        );
    }

    #[test]
    fn drain_section() {
        let window = "rate = 1000\nduration = \"3s\"\n";
        let s = ok(&users_load(&format!(
            "{window}[drain]\nsignal_after = \"1s\"\n"
        )));
        assert_eq!(
            s.drain,
            Some(Drain {
                signal_after: Duration::from_secs(1),
                delay: Drain::DEFAULT_DELAY,
                timeout: Drain::DEFAULT_TIMEOUT,
            })
        );
        let s = ok(&users_load(&format!(
            "{window}[drain]\nsignal_after = \"500ms\"\ndelay = \"0s\"\ntimeout = \"2s\"\n"
        )));
        let drain = s.drain.unwrap();
        assert_eq!(drain.delay, Duration::ZERO);
        assert_eq!(drain.timeout, Duration::from_secs(2));
        assert!(ok(&users_load(window)).drain.is_none());
    }

    #[test]
    fn drain_errors_point_at_the_key() {
        let window = "rate = 1000\nduration = \"3s\"\n";
        // users_load puts [load] on line 4: the window is lines 5-6 and [drain] line 7.
        fails(
            &users_load(&format!("{window}[drain]\nsignal_after = \"3s\"\n")),
            (8, 16),
            "signal_after must fall inside the measured window (3s)",
        );
        fails(
            &users_load(&format!(
                "{window}[drain]\nsignal_after = \"1s\"\ndelay = \"2s\"\n"
            )),
            (9, 9),
            "signal_after + delay (3s) must end inside the measured window (3s)",
        );
        fails(
            &users_load(&format!("{window}[drain]\nsignal_after = \"0s\"\n")),
            (8, 16),
            "signal_after must be > 0",
        );
        fails(
            &users_load(&format!(
                "{window}[drain]\nsignal_after = \"1s\"\ndelai = \"1s\"\n"
            )),
            (9, 1),
            "unknown key `delai`",
        );
        fails(
            &users_load("model = \"closed\"\nduration = \"3s\"\n[drain]\nsignal_after = \"1s\"\n"),
            (7, 1),
            "[drain] needs the open loop",
        );
    }

    #[test]
    fn every_key_set() {
        let s = ok(r#"name = "t"
description = "d"
protocol = "http2"
call = "GET /v1/products?limit={n}"
expect = 404
[params]
n = 5
[load]
model = "open"
rate = 9
arrival = "poisson"
concurrency = 8
connections = 2
duration = "1m"
warmup = "0s"
timeout = "250ms"
seed = 77
[slo]
p99 = "5ms"
"#);
        assert_eq!(s.description, "d");
        assert_eq!(s.expect, Expect::Http(404));
        let l = &s.load;
        assert_eq!(l.arrival, Arrival::Poisson);
        assert_eq!((l.concurrency, l.connections, l.seed), (8, 2, 77));
        assert_eq!(l.duration, Duration::from_secs(60));
        assert_eq!(l.stages[0].duration, Duration::from_secs(60));
        assert_eq!(l.warmup, Duration::ZERO);
        assert_eq!(l.timeout, Duration::from_millis(250));
        assert_eq!(s.slo.p99, Some(Duration::from_millis(5)));
        let Call::Rest { path, .. } = &s.call else {
            panic!()
        };
        assert_eq!(
            path.parts,
            [Part::Lit("/v1/products?limit=".into()), Part::Var(0)]
        );
    }

    #[test]
    fn error_display_is_file_line_col_message() {
        let dir = Dir::new();
        let err = fails_in(&dir, &users_load("rate = 0"), (5, 8), "rate = 0");
        let shown = err.to_string();
        let file = dir.0.path().join("t.toml");
        assert_eq!(shown, format!("{}:5:8: {}", file.display(), err.message));

        let missing = dir.0.path().join("missing.toml");
        let err = load(&missing).unwrap_err();
        assert_eq!(err.at, None);
        assert!(
            err.to_string()
                .starts_with(&format!("{}: cannot read scenario: ", missing.display()))
        );
        let _: &dyn std::error::Error = &err;
    }

    #[test]
    fn toml_syntax_error() {
        fails("name = \"t\nprotocol = \"http1\"\n", (1, 10), "");
        fails(&format!("{HEAD}call = \n"), (3, 8), "");
        fails(&format!("{HEAD}{HEAD}"), (3, 1), "duplicate key");
    }

    #[test]
    fn unknown_keys() {
        fails(
            &users("nmae = \"x\"\n[load]\nrate = 1\n"),
            (4, 1),
            "unknown key `nmae`",
        );
        fails(
            &users_load("rate = 1\nrat = 2"),
            (6, 1),
            "unknown key `rat`",
        );
        fails(
            &users_load("rate = 1\n[slo]\np95 = \"1ms\""),
            (7, 1),
            "unknown key `p95`",
        );
        fails(
            &users_load("stages = [{ rate = 1, duration = \"1s\", rmp = true }]"),
            (5, 40),
            "unknown key `rmp`",
        );
        let param = |p: &str| {
            format!("{HEAD}call = \"GET /v1/users/{{id}}\"\n[params]\nid = {p}\n[load]\nrate = 1\n")
        };
        fails(
            &param("{ unifrom = [1, 2] }"),
            (5, 6),
            "unknown param kind `unifrom`",
        );
        fails(
            &param("{ uniform = [1, 2], x = 3 }"),
            (5, 6),
            "unexpected key `x`",
        );
        fails(
            &param("{ zipf = { n = 10, s = 1.0, q = 1 } }"),
            (5, 34),
            "unknown key `q`",
        );
        fails(&param("{}"), (5, 6), "empty param table");
    }

    #[test]
    fn wrong_types() {
        fails(
            &users_load("rate = \"fast\""),
            (5, 8),
            "expected an integer",
        );
        fails(&users_load("rate = 1.5"), (5, 8), "expected an integer");
        fails(
            &users_load("rate = 1\nconcurrency = -1"),
            (6, 15),
            "concurrency = -1: expected an integer >= 1",
        );
        fails(
            &users_load("rate = 1\nconcurrency = \"8\""),
            (6, 15),
            "expected an integer",
        );
        fails(
            &users_load("rate = 1\nduration = 10"),
            (6, 12),
            "expected a duration string",
        );
        fails(&users_load("rate = 1\nseed = -3"), (6, 8), "seed = -3");
        fails(
            &users_load("stages = [{ rate = 1, duration = \"1s\", ramp = 1 }]"),
            (5, 47),
            "expected a boolean",
        );
        fails("name = 1\n", (1, 8), "expected a string");
        fails(
            &format!("{HEAD}call = \"GET /health\"\nparams = 3\n"),
            (4, 10),
            "expected a table of params",
        );
        fails(
            &format!("{HEAD}call = \"GET /v1/users/{{id}}\"\n[params]\nid = [1, 2]\n"),
            (5, 6),
            "{ choice = [..] }",
        );
    }

    #[test]
    fn missing_required_keys() {
        fails(
            "protocol = \"http1\"\ncall = \"GET /health\"\n",
            (1, 1),
            "missing required key `name`",
        );
        fails(
            "name = \"t\"\ncall = \"GET /health\"\n",
            (1, 1),
            "missing required key `protocol`",
        );
        fails(HEAD, (1, 1), "missing required key `call`");
        fails(
            &users_load("stages = [{ rate = 1 }]"),
            (5, 11),
            "missing required key `duration`",
        );
    }

    #[test]
    fn open_loop_rates_and_stages() {
        fails(
            &users_load("rate = 0"),
            (5, 8),
            "expected requests per second, an integer >= 1",
        );
        fails(&users_load("rate = -5"), (5, 8), "rate = -5");
        fails(
            &users_load("model = \"open\""),
            (4, 1),
            "the open loop needs a rate",
        );
        let err = fails_no_pos(&users(""));
        assert!(err.message.contains("the open loop needs a rate"), "{err}");
        fails(&users_load("stages = []"), (5, 10), "stages is empty");
        fails(
            &users_load("stages = [{ rate = 0, duration = \"1s\" }]"),
            (5, 20),
            "rate = 0",
        );
        fails(
            &users_load("stages = [{ rate = 1, duration = \"0s\" }]"),
            (5, 34),
            "a stage's duration must be > 0",
        );
        fails(
            &users_load("stages = [{ rate = 1, duration = \"1x\" }]"),
            (5, 34),
            "invalid duration \"1x\"",
        );
        fails(
            &users_load("rate = 5\nstages = [{ rate = 1, duration = \"1s\" }]"),
            (5, 8),
            "give rate or stages, not both",
        );
        fails(
            &users_load(
                "duration = \"3s\"\nstages = [{ rate = 1, duration = \"1s\" }, { rate = 2, duration = \"1s\" }]",
            ),
            (5, 12),
            "differs from the stages' total (2s)",
        );
        let s = ok(&users_load(
            "duration = \"3s\"\nstages = [{ rate = 100, duration = \"1s\" }, { rate = 400, duration = \"2s\", ramp = true }]",
        ));
        assert_eq!(
            s.load.stages,
            [
                Stage {
                    rate: 100,
                    duration: Duration::from_secs(1),
                    ramp: false
                },
                Stage {
                    rate: 400,
                    duration: Duration::from_secs(2),
                    ramp: true
                },
            ]
        );
        assert_eq!(s.load.duration, Duration::from_secs(3));
        // A ramp may come first (from 0), and the array-of-tables form works too.
        let s = ok(&users(
            "[[load.stages]]\nrate = 10\nduration = \"5s\"\nramp = true\n[[load.stages]]\nrate = 10\nduration = \"5s\"\n",
        ));
        assert_eq!(s.load.stages.len(), 2);
        assert_eq!(s.load.duration, Duration::from_secs(10));
    }

    #[track_caller]
    fn fails_no_pos(text: &str) -> ScenarioError {
        let err = Dir::new().load(text).expect_err("an error");
        assert_eq!(err.at, None, "{err}");
        err
    }

    #[test]
    fn durations_beyond_a_day_are_refused() {
        assert_eq!(
            ok(&users_load("rate = 1\nduration = \"24h\""))
                .load
                .duration,
            MAX_DURATION
        );
        fails(
            &users_load("rate = 1\nduration = \"1000years\""),
            (6, 12),
            "longer than a day (24h)",
        );
    }

    #[test]
    fn durations() {
        fails(
            &users_load("rate = 1\nduration = \"10 parsecs\""),
            (6, 12),
            "expected a number and a unit",
        );
        fails(
            &users_load("rate = 1\nduration = \"0s\""),
            (6, 12),
            "duration must be > 0",
        );
        fails(
            &users_load("rate = 1\ntimeout = \"0ms\""),
            (6, 11),
            "timeout must be > 0",
        );
        fails(
            &users_load("rate = 1\nwarmup = \"-1s\""),
            (6, 10),
            "invalid duration",
        );
        fails(
            &users_load("rate = 1\n[slo]\np99 = \"0s\""),
            (7, 7),
            "p99 must be > 0",
        );
        let s = ok(&users_load(
            "rate = 1\nwarmup = \"0s\"\nduration = \"1m 30s\"",
        ));
        assert_eq!(s.load.duration, Duration::from_secs(90));
    }

    #[test]
    fn unknown_enum_values() {
        fails(
            "name = \"t\"\nprotocol = \"http3\"\ncall = \"GET /health\"\n",
            (2, 12),
            "unknown protocol `http3`: expected http1, http2 or grpc",
        );
        fails(
            &users_load("model = \"half-open\""),
            (5, 9),
            "unknown model `half-open`: expected open or closed",
        );
        fails(
            &users_load("rate = 1\narrival = \"bursty\""),
            (6, 11),
            "unknown arrival `bursty`: expected uniform or poisson",
        );
    }

    #[test]
    fn closed_loop_rules() {
        let s = ok(&users_load(
            "model = \"closed\"\nconcurrency = 3\nduration = \"2s\"",
        ));
        assert_eq!(s.load.model, Model::Closed);
        assert!(s.load.stages.is_empty());
        assert_eq!((s.load.concurrency, s.load.connections), (3, 3));
        assert_eq!(s.load.duration, Duration::from_secs(2));
        fails(
            &users_load("model = \"closed\"\nrate = 10"),
            (6, 8),
            "rate applies to the open loop",
        );
        fails(
            &users_load("model = \"closed\"\nstages = [{ rate = 1, duration = \"1s\" }]"),
            (6, 10),
            "stages apply to the open loop",
        );
        fails(
            &users_load("model = \"closed\"\narrival = \"poisson\""),
            (6, 11),
            "arrival applies to the open loop",
        );
    }

    #[test]
    fn connections() {
        fails(
            &users_load("rate = 1\nconnections = 4"),
            (6, 15),
            "connections applies to http2 and grpc",
        );
        let h2 = |load: &str| {
            format!(
                "name = \"t\"\nprotocol = \"http2\"\ncall = \"GET /health\"\n[load]\nrate = 1\n{load}\n"
            )
        };
        fails(
            &h2("concurrency = 4\nconnections = 5"),
            (7, 15),
            "connections = 5 must be <= concurrency (4)",
        );
        fails(
            &h2("connections = 0"),
            (6, 15),
            "connections = 0: expected an integer >= 1",
        );
        assert_eq!(ok(&h2("")).load.connections, 16);
        assert_eq!(ok(&h2("concurrency = 4")).load.connections, 4);
        assert_eq!(ok(&h2("connections = 64")).load.connections, 64);
    }

    #[test]
    fn names() {
        fails(
            "name = \"Get_User\"\nprotocol = \"http1\"\ncall = \"GET /health\"\n",
            (1, 8),
            "not kebab-case",
        );
        fails(
            "name = \"other\"\nprotocol = \"http1\"\ncall = \"GET /health\"\n",
            (1, 8),
            "must match the file name: expected `t`",
        );
    }

    #[test]
    fn placeholders_in_the_call() {
        fails(
            &format!("{HEAD}call = \"GET /v1/users/{{nope}}\"\n[load]\nrate = 1\n"),
            (3, 23),
            "placeholder `{nope}` has no param",
        );
        fails(
            &format!("{HEAD}call = \"GET /v1/users/{{id\"\n[params]\nid = 1\n"),
            (3, 23),
            "unclosed placeholder `{id`",
        );
        // Not a verbatim string (an escape): the error points at the value.
        fails(
            &format!("{HEAD}call = \"GET /v1/users/\\u007Bnope}}\"\n[load]\nrate = 1\n"),
            (3, 8),
            "placeholder `{nope}` has no param",
        );
        fails(
            &format!(
                "{HEAD}call = \"GET /health\"\n[params.idd]\nuniform = [1, 2]\n[load]\nrate = 1\n"
            ),
            (4, 9),
            "param `idd` is not used",
        );
        fails(
            &format!("{HEAD}call = \"GET /health\"\n[params]\nmy-id = 1\n[load]\nrate = 1\n"),
            (5, 1),
            "param name `my-id` cannot be a placeholder",
        );
    }

    #[test]
    fn params_keep_file_order_and_literal_text() {
        let s = ok(&format!(
            "{HEAD}call = \"GET /v1/products?z={{z}}&a={{a}}&m={{m}}&f={{f}}&b={{b}}&c={{c}}\"\n\
             [params]\nz = \"raw text\"\na = 42\nm = {{ zipf = {{ n = 10, s = 1 }} }}\nf = 2.5\nb = true\n\
             c = {{ choice = [\"x\", 7, 1.0, false] }}\n[load]\nrate = 1\n"
        ));
        let names: Vec<&str> = s.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["z", "a", "m", "f", "b", "c"]);
        let lit = |i: usize| match &s.params[i].1 {
            Param::Literal(t) => t.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            [lit(0), lit(1), lit(3), lit(4)],
            ["raw text", "42", "2.5", "true"]
        );
        let Param::Choice(items) = &s.params[5].1 else {
            panic!()
        };
        assert_eq!(items, &["x", "7", "1", "false"]);
        assert!(matches!(&s.params[2].1, Param::Zipf(_)));
        let Call::Rest { path, .. } = &s.call else {
            panic!()
        };
        assert_eq!(path.parts[1], Part::Var(0));
        assert_eq!(path.parts[3], Part::Var(1));
    }

    #[test]
    fn param_domains() {
        let param = |p: &str| {
            format!("{HEAD}call = \"GET /v1/users/{{id}}\"\n[params]\nid = {p}\n[load]\nrate = 1\n")
        };
        fails(
            &param("{ uniform = [10, 1] }"),
            (5, 6),
            "uniform [10, 1] is empty: expected lo <= hi",
        );
        fails(
            &param("{ uniform = [1, 2, 3] }"),
            (5, 6),
            "uniform takes two integers [lo, hi], got 3",
        );
        fails(&param("{ uniform = [1] }"), (5, 6), "got 1");
        fails(
            &param("{ uniform = [1, \"2\"] }"),
            (5, 22),
            "expected an integer",
        );
        fails(&param("{ choice = [] }"), (5, 6), "choice is empty");
        fails(
            &param("{ choice = [[1]] }"),
            (5, 18),
            "expected a string, integer, float or boolean",
        );
        fails(
            &param("{ zipf = { n = 0, s = 1.1 } }"),
            (5, 6),
            "zipf n must be in 1..=1000000, got 0",
        );
        fails(&param("{ zipf = { n = -1, s = 1.1 } }"), (5, 6), "got -1");
        fails(
            &param("{ zipf = { n = 1000001, s = 1.1 } }"),
            (5, 6),
            "got 1000001",
        );
        fails(
            &param("{ zipf = { n = 10, s = 0.0 } }"),
            (5, 6),
            "zipf s must be a number > 0",
        );
        fails(
            &param("{ zipf = { n = 10, s = -1 } }"),
            (5, 6),
            "zipf s must be a number > 0",
        );
        fails(
            &param("{ zipf = { n = 10 } }"),
            (5, 15),
            "missing required key `s`",
        );
        let s = ok(&param("{ uniform = [5, 5] }"));
        assert!(matches!(s.params[0].1, Param::Uniform { lo: 5, hi: 5 }));
    }

    #[test]
    fn rest_calls_must_be_in_the_contract() {
        let call = |c: &str| format!("{HEAD}call = \"{c}\"\n[load]\nrate = 1\n");
        let err = fails(
            &call("POST /v1/users/1"),
            (3, 8),
            "`POST /v1/users/1` is not in the contract",
        );
        assert!(
            err.message
                .contains("GET /health, GET /metrics, GET /v1/users/{id}"),
            "{err}"
        );
        fails(&call("GET /v1/user/1"), (3, 8), "not in the contract");
        fails(&call("GET /v1/users/"), (3, 8), "not in the contract");
        fails(&call("get /health"), (3, 8), "expected `METHOD /path`");
        fails(&call("GET health"), (3, 8), "expected `METHOD /path`");
        fails(
            &call("GET /v1/products ?limit=1"),
            (3, 25),
            "unexpected space",
        );
        fails(
            &call("health"),
            (3, 8),
            "expected `METHOD /path` (REST) or `lab.v1.Service/Method` (gRPC)",
        );
        ok(&call("GET /v1/users/1"));
        ok(&call("GET /metrics"));
        ok(&call("GET /health?probe=1"));
        ok(&call("GET /v1/orders/0042"));
        fails(
            &format!("{HEAD}call = \"POST /v1/echo?x=1\"\n[load]\nrate = 1\n"),
            (3, 22),
            "a query string is only for GET calls",
        );
    }

    #[test]
    fn grpc_calls_must_be_in_the_contract() {
        let grpc = |c: &str| {
            format!("name = \"t\"\nprotocol = \"grpc\"\ncall = \"{c}\"\n[load]\nrate = 1\n")
        };
        let s = ok(&grpc("lab.v1.UserService/GetUser"));
        let Call::Grpc { path, kind, input } = &s.call else {
            panic!()
        };
        assert_eq!(path, "/lab.v1.UserService/GetUser");
        assert_eq!(*kind, GrpcKind::Unary);
        assert_eq!(input.full_name(), "lab.v1.GetUserRequest");
        assert_eq!(s.expect, Expect::Grpc(tonic::Code::Ok));
        let err = fails(
            &grpc("lab.v1.UserService/GetUsers"),
            (3, 8),
            "is not in the contract",
        );
        assert!(
            err.message.contains("lab.v1.OrderService/CreateOrder"),
            "{err}"
        );
        fails(
            &grpc("grpc.health.v1.Health/Check"),
            (3, 8),
            "is not in the contract",
        );
        fails(
            &grpc("/lab.v1.UserService/GetUser"),
            (3, 8),
            "is a REST call but protocol is grpc",
        );
        fails(
            &grpc("GET /health"),
            (3, 8),
            "is a REST call but protocol is grpc",
        );
        fails(
            "name = \"t\"\nprotocol = \"http2\"\ncall = \"lab.v1.UserService/GetUser\"\n",
            (3, 8),
            "is a gRPC call but protocol is http2",
        );
        fails(
            "name = \"t\"\nprotocol = \"http1\"\ncall = \"lab.v1.UserService/GetUser\"\n",
            (3, 8),
            "is a gRPC call but protocol is http1",
        );
    }

    #[test]
    fn expect_values() {
        let rest =
            |e: &str| format!("{HEAD}call = \"GET /health\"\nexpect = {e}\n[load]\nrate = 1\n");
        assert_eq!(ok(&rest("404")).expect, Expect::Http(404));
        assert_eq!(ok(&rest("100")).expect, Expect::Http(100));
        fails(
            &rest("600"),
            (4, 10),
            "expect = 600 is not an HTTP status: expected an integer in 100..=599",
        );
        fails(&rest("99"), (4, 10), "100..=599");
        fails(&rest("-200"), (4, 10), "100..=599");
        fails(
            &rest("\"OK\""),
            (4, 10),
            "a REST call expects an HTTP status",
        );
        fails(
            &rest("2.0"),
            (4, 10),
            "an HTTP status (200) or a gRPC code name",
        );
        let grpc = |e: &str| {
            format!(
                "name = \"t\"\nprotocol = \"grpc\"\ncall = \"lab.v1.UserService/GetUser\"\nexpect = {e}\n[load]\nrate = 1\n"
            )
        };
        assert_eq!(
            ok(&grpc("\"NOT_FOUND\"")).expect,
            Expect::Grpc(tonic::Code::NotFound)
        );
        assert_eq!(
            ok(&grpc("\"INVALID_ARGUMENT\"")).expect,
            Expect::Grpc(tonic::Code::InvalidArgument)
        );
        let err = fails(
            &grpc("\"not_found\""),
            (4, 10),
            "unknown gRPC code `not_found`",
        );
        assert!(err.message.contains("OK, CANCELLED, UNKNOWN"), "{err}");
        fails(&grpc("200"), (4, 10), "a gRPC call expects a code name");
    }

    fn stream_file(call: &str, extra: &str) -> String {
        format!("name = \"t\"\nprotocol = \"grpc\"\ncall = \"{call}\"\n{extra}[load]\nrate = 1\n")
    }

    #[test]
    fn streams() {
        let sp = "lab.v1.CatalogService/StreamProducts";
        let bidi = "lab.v1.EchoService/EchoStream";
        let unary = "lab.v1.EchoService/Echo";
        let s = ok(&stream_file(sp, "stream = \"server\"\nmessages = 20\n"));
        assert!(matches!(
            s.stream,
            Some(Stream {
                kind: GrpcKind::ServerStream,
                messages: 20
            })
        ));
        let s = ok(&stream_file(bidi, "stream = \"bidi\"\nmessages = 1\n"));
        assert!(matches!(
            s.stream,
            Some(Stream {
                kind: GrpcKind::Bidi,
                messages: 1
            })
        ));
        assert!(matches!(
            &s.call,
            Call::Grpc {
                kind: GrpcKind::Bidi,
                ..
            }
        ));

        fails(
            &stream_file(sp, ""),
            (3, 8),
            "is server-streaming: expected stream = \"server\" and messages = N",
        );
        fails(
            &stream_file(bidi, "stream = \"server\"\nmessages = 1\n"),
            (4, 10),
            "is bidi-streaming: expected stream = \"bidi\"",
        );
        fails(
            &stream_file(sp, "stream = \"client\"\nmessages = 1\n"),
            (4, 10),
            "unknown stream `client`",
        );
        fails(
            &stream_file(sp, "stream = \"server\"\n"),
            (4, 10),
            "stream needs messages = N",
        );
        fails(
            &stream_file(sp, "stream = \"server\"\nmessages = 0\n"),
            (5, 12),
            "messages = 0: expected an integer in 1..=4294967295",
        );
        fails(
            &stream_file(unary, "stream = \"bidi\"\nmessages = 1\n"),
            (4, 10),
            "is unary: stream applies",
        );
        fails(
            &stream_file(unary, "messages = 1\n"),
            (4, 12),
            "is unary: messages applies",
        );
        fails(
            &users("stream = \"server\"\n[load]\nrate = 1\n"),
            (4, 10),
            "stream applies to gRPC streaming calls only",
        );
        fails(
            &users("messages = 3\n[load]\nrate = 1\n"),
            (4, 12),
            "messages applies to gRPC streaming calls only",
        );
    }

    #[test]
    fn body_paths_resolve_from_the_scenario_directory() {
        let dir = Dir::new();
        dir.write("bodies/b.json", "{\"user_id\": {u}, \"items\": []}\n");
        let text = |body: &str| {
            format!(
                "{HEAD}call = \"POST /v1/orders\"\nbody = \"{body}\"\nexpect = 422\n[params]\nu = {{ uniform = [1, 3] }}\n[load]\nrate = 1\n"
            )
        };
        let s = dir.load(&text("bodies/b.json")).unwrap();
        let body = s.body.unwrap();
        assert_eq!(
            body.parts,
            [
                Part::Lit("{\"user_id\": ".into()),
                Part::Var(0),
                Part::Lit(", \"items\": []}\n".into())
            ]
        );
        let err = fails_in(
            &dir,
            &text("bodies/nope.json"),
            (4, 8),
            "cannot read body file",
        );
        assert!(
            err.message
                .contains(&dir.0.path().join("bodies/nope.json").display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn body_placeholder_errors_point_into_the_body_file() {
        let dir = Dir::new();
        let body = dir.write(
            "bodies/b.json",
            "{\n  \"user_id\": {nope},\n  \"x\": 1\n}\n",
        );
        let text = format!(
            "{HEAD}call = \"POST /v1/orders\"\nbody = \"bodies/b.json\"\n[params]\nu = 1\n[load]\nrate = 1\n"
        );
        let err = dir.load(&text).unwrap_err();
        assert_eq!(err.path, body);
        assert_eq!(err.at, Some((2, 14)));
        assert!(
            err.message.contains("placeholder `{nope}` has no param"),
            "{err}"
        );
        assert!(
            err.message.contains(&format!(
                "(body of {})",
                dir.0.path().join("t.toml").display()
            )),
            "{err}"
        );

        dir.write("bodies/b.json", "{\"user_id\": {u, \"x\": 1}");
        let err = dir.load(&text).unwrap_err();
        assert_eq!((err.path.clone(), err.at), (body, Some((1, 13))));
        assert!(err.message.contains("unclosed placeholder `{u`"), "{err}");
    }

    #[test]
    fn a_get_call_has_no_body() {
        let dir = Dir::new();
        dir.write("b.json", "{}");
        fails_in(
            &dir,
            &format!("{HEAD}call = \"GET /health\"\nbody = \"b.json\"\n[load]\nrate = 1\n"),
            (4, 8),
            "a GET call sends no body",
        );
    }

    #[test]
    fn rest_bodies_that_expect_success_must_be_json() {
        let dir = Dir::new();
        let text = |expect: u16| {
            format!(
                "{HEAD}call = \"POST /v1/echo\"\nbody = \"b.json\"\nexpect = {expect}\n[params]\nv = \"x\"\n[load]\nrate = 1\n"
            )
        };
        dir.write("b.json", "{\"a\": [1, 2, {v}]}");
        let err = dir.load(&text(200)).unwrap_err();
        assert_eq!(err.at, Some((1, 14)));
        assert!(
            err.message.starts_with("not a valid JSON: expected value"),
            "{err}"
        );
        assert!(err.message.contains("(in `{v}`, sampled as `x`)"), "{err}");
        // A body meant to be refused is sent as written.
        dir.load(&text(400)).unwrap();
        dir.write("b.json", "{\"a\": [1, 2, \"{v}\"]}");
        dir.load(&text(200)).unwrap();
        // Nested objects close with `}}`, sent as written.
        dir.write("b.json", "{\"a\": {\"b\": \"{v}\"}}");
        dir.load(&text(200)).unwrap();
        dir.write("b.json", "{\"a\": {\"b\": \"{v}\"} }");
        dir.load(&text(200)).unwrap();
    }

    fn grpc_body(
        dir: &Dir,
        call: &str,
        body: &str,
        params: &str,
    ) -> Result<Scenario, ScenarioError> {
        dir.write("b.json", body);
        dir.load(&format!(
            "name = \"t\"\nprotocol = \"grpc\"\ncall = \"{call}\"\nbody = \"b.json\"\n[params]\n{params}\n[load]\nrate = 1\n"
        ))
    }

    #[test]
    fn grpc_bodies_must_be_the_input_message() {
        let dir = Dir::new();
        let order = "lab.v1.OrderService/CreateOrder";
        let p = "u = { uniform = [1, 10] }";
        // Original names and lowerCamelCase both work; int64 as a number or a string.
        grpc_body(
            &dir,
            order,
            r#"{"user_id": {u}, "items": [{"sku": "SKU-00001", "quantity": 2}]}"#,
            p,
        )
        .unwrap();
        grpc_body(&dir, order, r#"{"userId": "{u}", "items": []}"#, p).unwrap();

        let err = grpc_body(&dir, order, "{\"user_id\": {u},\n \"item\": []}", p).unwrap_err();
        assert_eq!(err.path, dir.0.path().join("b.json"));
        assert!(
            err.message
                .starts_with("not a valid lab.v1.CreateOrderRequest in proto3 JSON"),
            "{err}"
        );
        assert!(err.message.contains("item"), "{err}");
        assert_eq!(err.at.map(|(line, _)| line), Some(2), "{err}");

        let err = grpc_body(&dir, order, r#"{"user_id": {u}, "items": "many"}"#, p).unwrap_err();
        assert!(err.message.contains("CreateOrderRequest"), "{err}");
        let err = grpc_body(&dir, order, r#"{"user_id": {u}} trailing"#, p).unwrap_err();
        assert!(err.message.contains("trailing"), "{err}");
        let err = grpc_body(
            &dir,
            "lab.v1.EchoService/Echo",
            r#"{"payload": "{u}"}"#,
            "u = \"not base64!\"",
        )
        .unwrap_err();
        assert!(err.message.contains("invalid base64"), "{err}");
        assert!(
            err.message
                .contains("with sampled values: {u} = `not base64!`"),
            "{err}"
        );
        grpc_body(
            &dir,
            "lab.v1.EchoService/Echo",
            r#"{"payload": "aGVsbG8="}"#,
            "",
        )
        .unwrap();
    }

    #[test]
    fn validate_dir_checks_top_level_toml_files_in_name_order() {
        let dir = Dir::new();
        dir.write(
            "b.toml",
            "name = \"b\"\nprotocol = \"http1\"\ncall = \"GET /health\"\n[load]\nrate = 1\n",
        );
        dir.write(
            "a.toml",
            "name = \"a\"\nprotocol = \"http1\"\ncall = \"GET /health\"\n[load]\nrate = 1\n",
        );
        dir.write("notes.md", "not a scenario");
        dir.write("suites/bad.toml", "not toml at all");
        let names: Vec<String> = validate_dir(dir.0.path())
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["a", "b"]);

        dir.write("c.toml", "name = \"c\"\n");
        dir.write("0.toml", "= broken");
        let errs = validate_dir(dir.0.path()).unwrap_err();
        let files: Vec<_> = errs
            .iter()
            .map(|e| e.path.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(files, ["0.toml", "c.toml"]);

        let errs = validate_dir(&dir.0.path().join("absent")).unwrap_err();
        assert!(
            errs[0].message.starts_with("cannot read directory"),
            "{}",
            errs[0]
        );
    }

    const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");

    /// How a scenario's call reads in the contract's terms, with its protocol.
    fn covers(s: &Scenario) -> String {
        let call = match &s.call {
            Call::Rest { method, path } => {
                let mut text = String::new();
                let values: Vec<String> =
                    s.params.iter().map(|(n, _)| format!("{{{n}}}")).collect();
                path.render(&values, &mut text);
                let route = text.split('?').next().unwrap();
                contract::rest_call(method.as_str(), route)
                    .unwrap()
                    .to_string()
            }
            Call::Grpc { path, .. } => path.trim_start_matches('/').to_string(),
        };
        format!("{call} over {}", s.protocol.name())
    }

    #[test]
    fn shipped_scenarios_are_valid_and_cover_the_listed_calls() {
        let scenarios = validate_dir(Path::new(SCENARIOS)).unwrap_or_else(|errs| {
            panic!(
                "{}",
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        for s in &scenarios {
            assert_eq!(
                Some(s.name.as_str()),
                s.path.file_stem().and_then(|n| n.to_str())
            );
            assert!(!s.description.is_empty(), "{}: no description", s.name);
            // A drain scenario counts outcomes, not latency.
            assert!(
                s.slo.p99.is_some() || s.drain.is_some(),
                "{}: no slo",
                s.name
            );
        }
        let covered: Vec<String> = scenarios.iter().map(covers).collect();
        for want in [
            "GET /health over http1",
            "GET /v1/users/{id} over http1",
            "GET /v1/users/{id} over http2",
            "lab.v1.UserService/GetUser over grpc",
            "GET /v1/products over http1",
            "POST /v1/orders over http1",
            "lab.v1.OrderService/CreateOrder over grpc",
            "POST /v1/echo over http1",
            "lab.v1.CatalogService/StreamProducts over grpc",
            "lab.v1.EchoService/EchoStream over grpc",
        ] {
            assert!(
                covered.iter().any(|c| c == want),
                "no scenario covers {want}: {covered:?}"
            );
        }
    }

    #[test]
    fn shipped_echo_bodies_have_their_sizes() {
        for (file, size) in [("echo-1k.json", 1024), ("echo-64k.json", 65536)] {
            let text =
                std::fs::read_to_string(Path::new(SCENARIOS).join("bodies").join(file)).unwrap();
            assert_eq!(text.len(), size, "{file}");
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
            assert!(
                template::split(&text)
                    .unwrap()
                    .iter()
                    .all(|p| p.kind == PieceKind::Text),
                "{file}"
            );
        }
    }

    /// The ```toml blocks of scenarios/README.md, each with its first line number.
    fn readme_examples() -> Vec<(usize, String)> {
        let readme = std::fs::read_to_string(Path::new(SCENARIOS).join("README.md")).unwrap();
        let mut blocks = Vec::new();
        let mut current: Option<(usize, String)> = None;
        for (i, line) in readme.lines().enumerate() {
            match &mut current {
                None if line.trim_start().starts_with("```toml") => {
                    current = Some((i + 2, String::new()))
                }
                Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
                Some((_, text)) => {
                    text.push_str(line);
                    text.push('\n');
                }
                None => {}
            }
        }
        assert!(
            current.is_none(),
            "unclosed ```toml block in scenarios/README.md"
        );
        blocks
    }

    #[test]
    fn readme_examples_are_valid_scenarios() {
        let dir = Dir::new();
        for entry in std::fs::read_dir(Path::new(SCENARIOS).join("bodies")).unwrap() {
            let entry = entry.unwrap();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            dir.write(
                &format!("bodies/{}", entry.file_name().to_string_lossy()),
                &text,
            );
        }
        let examples = readme_examples();
        assert!(examples.len() >= 5, "only {} examples", examples.len());
        for (line, text) in examples {
            let table: toml::Table = toml::from_str(&text)
                .unwrap_or_else(|e| panic!("README.md example at line {line}: {e}"));
            let name = table["name"].as_str().expect("a name");
            let path = dir.write(&format!("{name}.toml"), &text);
            if let Err(e) = load(&path) {
                panic!("README.md example at line {line}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod properties;
