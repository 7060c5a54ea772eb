//! Properties of scenario parsing over generated files: valid scenarios built
//! from random field values round-trip; a valid scenario with one field made
//! invalid is refused at that field; anything else, down to random bytes, is
//! loaded or refused with a position inside the file, never a panic.

use proptest::prelude::*;

use super::*;
use crate::rng::Rng;
use crate::scenario::{Part, draw};

// ---- the generated scenario ------------------------------------------------------

/// A piece of a template as its author means it.
#[derive(Debug, Clone)]
enum Seg {
    Lit(String),
    /// The param at this index.
    Var(usize),
}

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Float(f64),
}

impl Value {
    fn toml(&self) -> String {
        match self {
            Value::Str(s) => format!("\"{s}\""),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            // `{:?}` always has a `.` or an exponent, so TOML reads a float.
            Value::Float(f) => format!("{f:?}"),
        }
    }

    /// The text a request gets: TOML's value, printed by Rust.
    fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
enum ParamSpec {
    Literal(Value),
    Uniform(i64, i64),
    Choice(Vec<Value>),
    Zipf(u64, f64),
}

impl ParamSpec {
    fn toml(&self) -> String {
        match self {
            ParamSpec::Literal(v) => v.toml(),
            ParamSpec::Uniform(lo, hi) => format!("{{ uniform = [{lo}, {hi}] }}"),
            ParamSpec::Choice(items) => {
                let items: Vec<String> = items.iter().map(Value::toml).collect();
                format!("{{ choice = [{}] }}", items.join(", "))
            }
            ParamSpec::Zipf(n, s) => format!("{{ zipf = {{ n = {n}, s = {s:?} }} }}"),
        }
    }
}

/// A duration as written, as parts such as (500, "ms"), and what it means.
#[derive(Debug, Clone)]
struct Dur {
    parts: Vec<(u64, &'static str)>,
    space: bool,
}

const UNITS: [(&str, u64); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl Dur {
    fn text(&self) -> String {
        let parts: Vec<String> = self.parts.iter().map(|(n, u)| format!("{n}{u}")).collect();
        parts.join(if self.space { " " } else { "" })
    }

    fn value(&self) -> Duration {
        let unit = |u: &str| UNITS.iter().find(|(name, _)| *name == u).unwrap().1;
        Duration::from_nanos(self.parts.iter().map(|(n, u)| n * unit(u)).sum())
    }
}

#[derive(Debug, Clone)]
enum CallSpec {
    Rest {
        method: &'static str,
        /// The whole `/path?query`.
        path: Vec<Seg>,
    },
    Grpc {
        name: &'static str,
        kind: GrpcKind,
        input: &'static str,
    },
}

#[derive(Debug, Clone)]
enum Rate {
    Plain(u64),
    /// (rate, duration, ramp as written), as an inline array or as `[[load.stages]]`.
    Stages(Vec<(u64, Dur, Option<bool>)>, bool),
}

#[derive(Debug, Clone)]
struct LoadSpec {
    /// None: `model` left out (open).
    model: Option<Model>,
    /// Open loop only.
    rate: Option<Rate>,
    arrival: Option<Arrival>,
    concurrency: Option<usize>,
    connections: Option<usize>,
    /// With stages: written as their total, in nanoseconds, or left out.
    duration: Option<Dur>,
    warmup: Option<Dur>,
    timeout: Option<Dur>,
    seed: Option<u64>,
}

#[derive(Debug, Clone)]
struct Spec {
    description: Option<String>,
    protocol: Protocol,
    call: CallSpec,
    /// The body file's content, as segments: `{` + `"k": "<segs>"`… + `}`.
    body: Option<Vec<(String, Vec<Seg>)>>,
    expect: Option<RawExpectSpec>,
    stream: Option<(GrpcKind, u32)>,
    params: Vec<(String, ParamSpec)>,
    load: LoadSpec,
    slo: Option<Dur>,
    /// Quote strings with `'` (TOML literal strings) rather than `"`.
    literal_call: bool,
}

#[derive(Debug, Clone)]
enum RawExpectSpec {
    Http(u16),
    Grpc(&'static str, tonic::Code),
}

/// Where a field's value sits in the rendered file: 0-based line, byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Protocol,
    Expect,
    Messages,
    Param(usize),
    Model,
    Rate,
    StageRate(usize),
    StageDuration(usize),
    Arrival,
    Concurrency,
    Duration,
    Warmup,
    Timeout,
    Seed,
    P99,
}

struct Rendered {
    text: String,
    body: Option<String>,
    at: Vec<(Field, usize, Range<usize>)>,
}

/// Builds the file line by line, remembering where each value went.
#[derive(Default)]
struct Writer {
    lines: Vec<String>,
    at: Vec<(Field, usize, Range<usize>)>,
}

impl Writer {
    fn line(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    /// `key = value`, the value remembered as `field`.
    fn key(&mut self, key: &str, value: &str, field: Option<Field>) {
        let start = key.len() + 3;
        if let Some(f) = field {
            self.at
                .push((f, self.lines.len(), start..start + value.len()));
        }
        self.line(format!("{key} = {value}"));
    }

    /// Appends `value` to the current line, remembered as `field`.
    fn push(&mut self, value: &str, field: Option<Field>) {
        let line = self.lines.len() - 1;
        let current = self.lines.last_mut().unwrap();
        if let Some(f) = field {
            self.at
                .push((f, line, current.len()..current.len() + value.len()));
        }
        current.push_str(value);
    }
}

/// A template's source: a literal `{` doubled, a param `{name}`.
fn template_source(segs: &[Seg], names: &[String]) -> String {
    segs.iter()
        .map(|s| match s {
            Seg::Lit(t) => t.replace('{', "{{"),
            Seg::Var(i) => format!("{{{}}}", names[*i]),
        })
        .collect()
}

/// The template the parser should build: adjacent literals merged.
fn template_parts(segs: &[Seg]) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    for s in segs {
        match (s, parts.last_mut()) {
            (Seg::Lit(t), Some(Part::Lit(last))) => last.push_str(t),
            (Seg::Lit(t), _) => parts.push(Part::Lit(t.clone())),
            (Seg::Var(i), _) => parts.push(Part::Var(*i)),
        }
    }
    parts.retain(|p| !matches!(p, Part::Lit(t) if t.is_empty()));
    parts
}

fn rendered_with(segs: &[Seg], values: &[String]) -> String {
    segs.iter()
        .map(|s| match s {
            Seg::Lit(t) => t.as_str(),
            Seg::Var(i) => values[*i].as_str(),
        })
        .collect()
}

fn body_segs(body: &[(String, Vec<Seg>)]) -> Vec<Seg> {
    let mut segs = vec![Seg::Lit("{".into())];
    for (i, (key, value)) in body.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        segs.push(Seg::Lit(format!("{sep}\"{key}\": \"")));
        segs.extend(value.iter().cloned());
        segs.push(Seg::Lit("\"".into()));
    }
    segs.push(Seg::Lit("}\n".into()));
    segs
}

impl Spec {
    fn names(&self) -> Vec<String> {
        self.params.iter().map(|(n, _)| n.clone()).collect()
    }

    fn render(&self) -> Rendered {
        let mut w = Writer::default();
        let body = self.write_call(&mut w);
        self.write_params(&mut w);
        let tables = self.write_load(&mut w);
        if let Some(p99) = &self.slo {
            w.line("");
            w.line("[slo]");
            w.key("p99", &format!("\"{}\"", p99.text()), Some(Field::P99));
        }
        // Arrays of tables last: a `[[load.stages]]` table ends the [load] keys.
        write_stage_tables(&mut w, tables);
        let mut text = w.lines.join("\n");
        text.push('\n');
        Rendered {
            text,
            body,
            at: w.at,
        }
    }

    /// The top-level keys, from `name` to `messages`; returns the body file's content.
    fn write_call(&self, w: &mut Writer) -> Option<String> {
        let names = self.names();
        w.key("name", "\"t\"", None);
        if let Some(d) = &self.description {
            w.key("description", &format!("\"{d}\""), None);
        }
        w.key(
            "protocol",
            &format!("\"{}\"", self.protocol.name()),
            Some(Field::Protocol),
        );
        let call = match &self.call {
            CallSpec::Rest { method, path } => {
                format!("{method} {}", template_source(path, &names))
            }
            CallSpec::Grpc { name, .. } => name.to_string(),
        };
        let q = if self.literal_call { '\'' } else { '"' };
        w.key("call", &format!("{q}{call}{q}"), None);
        let body = self.body.as_ref().map(|b| {
            w.key("body", "\"b.json\"", None);
            // The object's own braces stay single: `{"` is literal text.
            let segs = body_segs(b);
            let inner = template_source(&segs[1..segs.len() - 1], &names);
            format!("{{{inner}}}\n")
        });
        match &self.expect {
            Some(RawExpectSpec::Http(s)) => w.key("expect", &s.to_string(), Some(Field::Expect)),
            Some(RawExpectSpec::Grpc(name, _)) => {
                w.key("expect", &format!("\"{name}\""), Some(Field::Expect))
            }
            None => {}
        }
        if let Some((kind, messages)) = self.stream {
            let word = if kind == GrpcKind::Bidi {
                "bidi"
            } else {
                "server"
            };
            w.key("stream", &format!("\"{word}\""), None);
            w.key("messages", &messages.to_string(), Some(Field::Messages));
        }
        body
    }

    fn write_params(&self, w: &mut Writer) {
        if !self.params.is_empty() {
            w.line("");
            w.line("[params]");
            for (i, (name, p)) in self.params.iter().enumerate() {
                w.key(name, &p.toml(), Some(Field::Param(i)));
            }
        }
    }

    /// The `[load]` table's keys; returns the stages to write as `[[load.stages]]`.
    fn write_load(&self, w: &mut Writer) -> Option<&[(u64, Dur, Option<bool>)]> {
        let l = &self.load;
        w.line("");
        w.line("[load]");
        if let Some(m) = l.model {
            let m = if m == Model::Open { "open" } else { "closed" };
            w.key("model", &format!("\"{m}\""), Some(Field::Model));
        }
        if let Some(a) = l.arrival {
            let a = if a == Arrival::Uniform {
                "uniform"
            } else {
                "poisson"
            };
            w.key("arrival", &format!("\"{a}\""), Some(Field::Arrival));
        }
        for (key, value, field) in [
            (
                "concurrency",
                l.concurrency.map(|c| c as u64),
                Field::Concurrency,
            ),
            (
                "connections",
                l.connections.map(|c| c as u64),
                Field::Concurrency,
            ),
            ("seed", l.seed, Field::Seed),
        ] {
            if let Some(v) = value {
                // Connections are never mutated: only its own field is marked.
                let field = (key != "connections").then_some(field);
                w.key(key, &v.to_string(), field);
            }
        }
        for (key, value, field) in [
            ("duration", &l.duration, Field::Duration),
            ("warmup", &l.warmup, Field::Warmup),
            ("timeout", &l.timeout, Field::Timeout),
        ] {
            if let Some(d) = value {
                w.key(key, &format!("\"{}\"", d.text()), Some(field));
            }
        }
        match &l.rate {
            None => None,
            Some(Rate::Plain(r)) => {
                w.key("rate", &r.to_string(), Some(Field::Rate));
                None
            }
            Some(Rate::Stages(stages, false)) => {
                write_inline_stages(w, stages);
                None
            }
            Some(Rate::Stages(stages, true)) => Some(stages),
        }
    }

    fn expected_load(&self) -> (Model, Vec<Stage>, Duration) {
        let l = &self.load;
        let given = l.duration.as_ref().map(Dur::value);
        match (&l.rate, l.model.unwrap_or(Model::Open)) {
            (_, Model::Closed) | (None, _) => {
                (Model::Closed, Vec::new(), given.unwrap_or(DEFAULT_DURATION))
            }
            (Some(Rate::Plain(r)), Model::Open) => {
                let d = given.unwrap_or(DEFAULT_DURATION);
                let stage = Stage {
                    rate: *r,
                    duration: d,
                    ramp: false,
                };
                (Model::Open, vec![stage], d)
            }
            (Some(Rate::Stages(stages, _)), Model::Open) => {
                let stages: Vec<Stage> = stages
                    .iter()
                    .map(|(rate, d, ramp)| Stage {
                        rate: *rate,
                        duration: d.value(),
                        ramp: ramp.unwrap_or(false),
                    })
                    .collect();
                let total = stages.iter().map(|s| s.duration).sum();
                (Model::Open, stages, total)
            }
        }
    }
}

/// `stages = [{ rate = …, duration = "…" }, …]` on one line.
fn write_inline_stages(w: &mut Writer, stages: &[(u64, Dur, Option<bool>)]) {
    w.line("stages = [");
    for (i, (rate, d, ramp)) in stages.iter().enumerate() {
        w.push(if i == 0 { "{ rate = " } else { ", { rate = " }, None);
        w.push(&rate.to_string(), Some(Field::StageRate(i)));
        w.push(", duration = ", None);
        w.push(&format!("\"{}\"", d.text()), Some(Field::StageDuration(i)));
        if let Some(r) = ramp {
            w.push(&format!(", ramp = {r}"), None);
        }
        w.push(" }", None);
    }
    w.push("]", None);
}

/// One `[[load.stages]]` table per stage.
fn write_stage_tables(w: &mut Writer, stages: Option<&[(u64, Dur, Option<bool>)]>) {
    for (i, (rate, d, ramp)) in stages.into_iter().flatten().enumerate() {
        w.line("[[load.stages]]");
        w.key("rate", &rate.to_string(), Some(Field::StageRate(i)));
        w.key(
            "duration",
            &format!("\"{}\"", d.text()),
            Some(Field::StageDuration(i)),
        );
        if let Some(r) = ramp {
            w.key("ramp", &r.to_string(), None);
        }
    }
}

// ---- strategies ------------------------------------------------------------------

/// Text that needs no escaping in TOML or JSON strings.
const SAFE: &str = "[A-Za-z0-9 _.-]{0,10}";

fn dur(positive: bool) -> impl Strategy<Value = Dur> {
    let part = (
        0u64..=1000,
        prop::sample::select(UNITS.map(|(u, _)| u).to_vec()),
    );
    (prop::collection::vec(part, 1..=2), any::<bool>())
        .prop_map(|(parts, space)| Dur { parts, space })
        .prop_filter("a positive duration", move |d| {
            !positive || !d.value().is_zero()
        })
        // Files may give at most a day; three stages of 8 hours stay within it.
        .prop_filter("at most 8 hours", |d| {
            d.value() <= Duration::from_secs(8 * 3600)
        })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        SAFE.prop_map(Value::Str),
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![-1e6..1e6f64, (-30i32..30).prop_map(|e| 1.5 * 10f64.powi(e))]
            .prop_map(Value::Float),
    ]
}

fn param() -> impl Strategy<Value = ParamSpec> {
    prop_oneof![
        value().prop_map(ParamSpec::Literal),
        (any::<i64>(), any::<i64>()).prop_map(|(a, b)| ParamSpec::Uniform(a.min(b), a.max(b))),
        prop::collection::vec(value(), 1..4).prop_map(ParamSpec::Choice),
        (1u64..=1000, 0.1..3.0f64).prop_map(|(n, s)| ParamSpec::Zipf(n, s)),
    ]
}

/// Unique param names in file order: `[a-z_][a-z0-9_]*`.
fn names(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set("[a-z_][a-z0-9_]{0,6}", 0..=max)
        .prop_map(|set| set.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

/// Literal text of a path or query: no space, `?` or `/`; braces allowed.
fn path_lit() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~{}-]{1,6}"
}

/// `n` params spread over `slots` template pieces, each used at least once,
/// with literal text around them.
fn spread(n: usize, slots: usize) -> impl Strategy<Value = Vec<Vec<Seg>>> {
    let lits = prop::collection::vec(prop::option::of(path_lit()), slots * 2 + n * 2);
    let homes = prop::collection::vec(0..slots.max(1), n);
    (lits, homes).prop_map(move |(lits, homes)| {
        let mut lits = lits.into_iter();
        let mut out: Vec<Vec<Seg>> = (0..slots)
            .map(|_| lits.next().flatten().map(Seg::Lit).into_iter().collect())
            .collect();
        for (i, home) in homes.into_iter().enumerate() {
            out[home].push(Seg::Var(i));
            out[home].extend(lits.next().flatten().map(Seg::Lit));
        }
        out
    })
}

const GRPC: [(&str, GrpcKind, &str, Option<&str>); 7] = [
    (
        "lab.v1.UserService/GetUser",
        GrpcKind::Unary,
        "lab.v1.GetUserRequest",
        Some("id"),
    ),
    (
        "lab.v1.OrderService/GetOrder",
        GrpcKind::Unary,
        "lab.v1.GetOrderRequest",
        Some("id"),
    ),
    (
        "lab.v1.CatalogService/ListProducts",
        GrpcKind::Unary,
        "lab.v1.ListProductsRequest",
        Some("limit"),
    ),
    (
        "lab.v1.CatalogService/StreamProducts",
        GrpcKind::ServerStream,
        "lab.v1.ListProductsRequest",
        Some("offset"),
    ),
    (
        "lab.v1.OrderService/CreateOrder",
        GrpcKind::Unary,
        "lab.v1.CreateOrderRequest",
        None,
    ),
    (
        "lab.v1.EchoService/Echo",
        GrpcKind::Unary,
        "lab.v1.EchoRequest",
        None,
    ),
    (
        "lab.v1.EchoService/EchoStream",
        GrpcKind::Bidi,
        "lab.v1.EchoRequest",
        None,
    ),
];

const CODES: [(&str, tonic::Code); 4] = [
    ("OK", tonic::Code::Ok),
    ("NOT_FOUND", tonic::Code::NotFound),
    ("INVALID_ARGUMENT", tonic::Code::InvalidArgument),
    ("UNAUTHENTICATED", tonic::Code::Unauthenticated),
];

/// What the call part of a scenario decides: protocol, call, body, expect,
/// stream and params.
type Head = (
    Protocol,
    CallSpec,
    Option<Vec<(String, Vec<Seg>)>>,
    Option<RawExpectSpec>,
    Option<(GrpcKind, u32)>,
    Vec<(String, ParamSpec)>,
);

fn rest_head() -> impl Strategy<Value = Head> {
    let protocol = prop_oneof![Just(Protocol::Http1), Just(Protocol::Http2)];
    let expect = prop::option::of((100u16..=599).prop_map(RawExpectSpec::Http));
    let route = prop::sample::select(vec![
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/v1/users/"),
        ("GET", "/v1/products"),
        ("GET", "/v1/orders/"),
        ("POST", "/v1/orders"),
        ("POST", "/v1/echo"),
    ]);
    (protocol, expect, route, names(4), any::<bool>())
        .prop_flat_map(|(protocol, expect, (method, route), names, with_body)| {
            let n = names.len();
            let params = prop::collection::vec(param(), n);
            let id = route.ends_with('/');
            let get = method == "GET";
            // A GET spreads its params over the id segment and the query
            // values; a POST over the body's string values.
            let slots = if get { 3 } else { 2 };
            (
                Just((protocol, expect, method, route, names, id)),
                params,
                spread(n, slots),
                any::<bool>(),
                Just(get || !(with_body || n > 0)),
            )
        })
        .prop_map(
            |((protocol, expect, method, route, names, id), params, slots, query, no_body)| {
                let mut path = vec![Seg::Lit(route.to_string())];
                let mut body = None;
                if method == "GET" {
                    let [id_seg, q1, q2] = <[Vec<Seg>; 3]>::try_from(slots).unwrap();
                    if id {
                        if id_seg.is_empty() {
                            path.push(Seg::Lit("42".into()));
                        }
                        path.extend(id_seg);
                    } else if !id_seg.is_empty() {
                        // No id segment on this route: the query takes them.
                        path.push(Seg::Lit("?id=".into()));
                        path.extend(id_seg);
                    }
                    if query || !q1.is_empty() || !q2.is_empty() {
                        let lead = if path
                            .iter()
                            .any(|s| matches!(s, Seg::Lit(t) if t.contains('?')))
                        {
                            "&"
                        } else {
                            "?"
                        };
                        path.push(Seg::Lit(format!("{lead}a=")));
                        path.extend(q1);
                        path.push(Seg::Lit("&b=".into()));
                        path.extend(q2);
                    }
                } else if !no_body {
                    body = Some(
                        slots
                            .into_iter()
                            .enumerate()
                            .map(|(i, segs)| (format!("k{i}"), segs))
                            .collect(),
                    );
                }
                let params = names.into_iter().zip(params).collect();
                (
                    protocol,
                    CallSpec::Rest { method, path },
                    body,
                    expect,
                    None,
                    params,
                )
            },
        )
}

fn grpc_head() -> impl Strategy<Value = Head> {
    (
        prop::sample::select(GRPC.to_vec()),
        prop::option::of(prop::sample::select(CODES.to_vec())),
        1u32..=u32::MAX,
        prop::option::of(any::<(i64, i64)>()),
        "[a-z_][a-z0-9_]{0,6}",
        any::<bool>(),
    )
        .prop_map(
            |((name, kind, input, field), code, messages, bounds, pname, constant)| {
                let stream = (kind != GrpcKind::Unary).then_some((kind, messages));
                let call = CallSpec::Grpc { name, kind, input };
                let expect = code.map(|(n, c)| RawExpectSpec::Grpc(n, c));
                // Int64 fields take a number as a JSON string: `"{p}"` for a
                // uniform param, or a constant body.
                let (body, params) = match (field, bounds) {
                    (Some(field), Some((a, b))) => (
                        Some(vec![(field.to_string(), vec![Seg::Var(0)])]),
                        vec![(pname, ParamSpec::Uniform(a.min(b), a.max(b)))],
                    ),
                    (Some(field), None) if constant => (
                        Some(vec![(field.to_string(), vec![Seg::Lit("7".into())])]),
                        vec![],
                    ),
                    _ => (None, vec![]),
                };
                (Protocol::Grpc, call, body, expect, stream, params)
            },
        )
}

/// Small counts most of the time, so that rules between keys (connections
/// at most concurrency, 16 connections by default) bite.
fn count() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 1usize..=32, 1 => 1usize..=1 << 20]
}

fn load_spec(protocol: Protocol) -> impl Strategy<Value = LoadSpec> {
    let stage = (
        1u64..=i64::MAX as u64,
        dur(true),
        prop::option::of(any::<bool>()),
    );
    let rate = prop_oneof![
        (1u64..=i64::MAX as u64).prop_map(Rate::Plain),
        (prop::collection::vec(stage, 1..=3), any::<bool>()).prop_map(|(s, t)| Rate::Stages(s, t)),
    ];
    let model = prop_oneof![
        Just(None),
        Just(Some(Model::Open)),
        Just(Some(Model::Closed))
    ];
    (
        model,
        rate,
        prop::option::of(prop_oneof![Just(Arrival::Uniform), Just(Arrival::Poisson)]),
        prop::option::of(count()),
        prop::option::of(count()),
        (any::<bool>(), dur(true)),
        prop::option::of(dur(false)),
        prop::option::of(dur(true)),
        prop::option::of(0u64..=i64::MAX as u64),
    )
        .prop_map(
            move |(
                model,
                rate,
                arrival,
                concurrency,
                connections,
                (with_d, d),
                warmup,
                timeout,
                seed,
            )| {
                let closed = model == Some(Model::Closed);
                let connections = match (protocol, connections) {
                    (Protocol::Http1, _) | (_, None) => None,
                    (_, Some(c)) => Some(c.min(concurrency.unwrap_or(DEFAULT_CONCURRENCY))),
                };
                let duration = match (&rate, closed) {
                    // Stages may restate their total.
                    (Rate::Stages(stages, _), false) => with_d.then(|| {
                        let ns: u128 = stages.iter().map(|(_, d, _)| d.value().as_nanos()).sum();
                        Dur {
                            parts: vec![(u64::try_from(ns).unwrap(), "ns")],
                            space: false,
                        }
                    }),
                    _ => with_d.then_some(d),
                };
                LoadSpec {
                    model,
                    rate: (!closed).then_some(rate),
                    arrival: arrival.filter(|_| !closed),
                    concurrency,
                    connections,
                    duration,
                    warmup,
                    timeout,
                    seed,
                }
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![3 => rest_head(), 1 => grpc_head()].prop_flat_map(|head| {
        let protocol = head.0;
        (
            Just(head),
            prop::option::of(SAFE),
            load_spec(protocol),
            prop::option::of(dur(true)),
            any::<bool>(),
        )
            .prop_map(
                |(
                    (protocol, call, body, expect, stream, params),
                    description,
                    load,
                    slo,
                    literal_call,
                )| Spec {
                    description,
                    protocol,
                    call,
                    body,
                    expect,
                    stream,
                    params,
                    load,
                    slo,
                    literal_call,
                },
            )
    })
}

// ---- helpers ---------------------------------------------------------------------

/// A directory holding `t.toml` (and `b.json`), reused across cases.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }

    fn scenario(&self) -> PathBuf {
        self.0.path().join("t.toml")
    }

    fn body(&self) -> PathBuf {
        self.0.path().join("b.json")
    }

    fn load(&self, text: &[u8], body: Option<&str>) -> Result<Scenario, ScenarioError> {
        std::fs::write(self.scenario(), text).unwrap();
        match body {
            Some(b) => std::fs::write(self.body(), b).unwrap(),
            None => {
                let _ = std::fs::remove_file(self.body());
            }
        }
        load(&self.scenario())
    }
}

thread_local! {
    static DIR: Dir = Dir::new();
}

/// The error's position lies in the file it names, and shows as `file:line:col`.
fn check_position(
    err: &ScenarioError,
    dir: &Dir,
    text: &[u8],
    body: Option<&str>,
) -> Result<(), TestCaseError> {
    let file_text = if err.path == dir.scenario() {
        String::from_utf8_lossy(text).into_owned()
    } else if err.path == dir.body() && body.is_some() {
        body.unwrap().to_string()
    } else {
        return Err(TestCaseError::fail(format!(
            "error names another file: {err}"
        )));
    };
    let shown = err.to_string();
    match err.at {
        Some((line, col)) => {
            let lines: Vec<&str> = file_text.split('\n').collect();
            prop_assert!(
                (1..=lines.len()).contains(&line),
                "line {line} of {}: {err}",
                lines.len()
            );
            let width = lines[line - 1].chars().count();
            prop_assert!(
                (1..=width + 1).contains(&col),
                "column {col} of a {width}-character line: {err}"
            );
            let prefix = format!("{}:{line}:{col}: ", err.path.display());
            prop_assert!(shown.starts_with(&prefix), "{shown}");
        }
        None => {
            // Only what has no place in the file: unreadable text, and a
            // missing [load] table.
            prop_assert!(
                err.message.starts_with("cannot read scenario")
                    || err.message.contains("expected a [load] table"),
                "no position: {err}"
            );
            prop_assert!(
                shown.starts_with(&format!("{}: ", err.path.display())),
                "{shown}"
            );
        }
    }
    prop_assert!(!err.message.is_empty());
    Ok(())
}

fn check_param(got: &Param, want: &ParamSpec) -> Result<(), TestCaseError> {
    match (got, want) {
        (Param::Literal(t), ParamSpec::Literal(v)) => prop_assert_eq!(t, &v.text()),
        (Param::Uniform { lo, hi }, ParamSpec::Uniform(a, b)) => {
            prop_assert_eq!((*lo, *hi), (*a, *b))
        }
        (Param::Choice(items), ParamSpec::Choice(values)) => {
            let want: Vec<String> = values.iter().map(Value::text).collect();
            prop_assert_eq!(items, &want);
        }
        (Param::Zipf(z), ParamSpec::Zipf(n, s)) => {
            prop_assert_eq!(format!("{z:?}"), format!("Zipf {{ n: {n}, s: {s:?} }}"))
        }
        _ => prop_assert!(false, "{got:?} is not {want:?}"),
    }
    Ok(())
}

/// A drawn value is one its param can give.
fn check_drawn(value: &str, want: &ParamSpec) -> Result<(), TestCaseError> {
    match want {
        ParamSpec::Literal(v) => prop_assert_eq!(value, v.text()),
        ParamSpec::Uniform(lo, hi) => {
            let v: i64 = value.parse().unwrap();
            prop_assert!((*lo..=*hi).contains(&v), "{v} outside [{lo}, {hi}]");
        }
        ParamSpec::Choice(items) => {
            prop_assert!(items.iter().any(|i| i.text() == value), "{value}")
        }
        ParamSpec::Zipf(n, _) => {
            let v: u64 = value.parse().unwrap();
            prop_assert!((1..=*n).contains(&v), "{v} outside 1..={n}");
        }
    }
    Ok(())
}

// ---- fuzzing input ---------------------------------------------------------------

/// Lines that look like scenario TOML: real keys, plausible and implausible
/// values, table headers, and noise.
fn tomlish() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "name",
        "description",
        "protocol",
        "call",
        "body",
        "expect",
        "stream",
        "messages",
        "model",
        "rate",
        "stages",
        "arrival",
        "concurrency",
        "connections",
        "duration",
        "warmup",
        "timeout",
        "seed",
        "p99",
        "id",
        "n",
        "uniform",
        "choice",
        "zipf",
        "ramp",
        "s",
        "params",
        "load",
        "load.rate",
        "params.id",
    ]);
    let values = prop::sample::select(vec![
        "\"t\"",
        "\"http1\"",
        "\"http2\"",
        "\"grpc\"",
        "\"GET /v1/users/{id}\"",
        "\"GET /health\"",
        "\"POST /v1/echo\"",
        "\"POST /v1/orders?x={id}\"",
        "\"GET /v1/products?limit={n}&x={{\"",
        "\"GET /v1/users/{id\"",
        "\"lab.v1.UserService/GetUser\"",
        "\"lab.v1.CatalogService/StreamProducts\"",
        "\"lab.v1.EchoService/EchoStream\"",
        "\"b.json\"",
        "\"nope.json\"",
        "\"10s\"",
        "\"0s\"",
        "\"1x\"",
        "\"\"",
        "\"server\"",
        "\"bidi\"",
        "\"open\"",
        "\"closed\"",
        "\"poisson\"",
        "\"OK\"",
        "\"NOT_FOUND\"",
        "0",
        "1",
        "-1",
        "5",
        "200",
        "600",
        "9223372036854775807",
        "18446744073709551615",
        "1.5",
        "nan",
        "-inf",
        "true",
        "[1, 2]",
        "[3, 1]",
        "[]",
        "[[1]]",
        "{ uniform = [1, 3] }",
        "{ uniform = [5, 1] }",
        "{ choice = [\"a\", 1, 2.5] }",
        "{ choice = [] }",
        "{ zipf = { n = 10, s = 1.1 } }",
        "{ zipf = { n = 0, s = 1 } }",
        "{ zipf = { n = 10, s = -1.0 } }",
        "{}",
        "[{ rate = 1, duration = \"1s\", ramp = true }]",
        "[{ rate = 0, duration = \"1s\" }]",
        "\"\"\"\nmulti\nline\"\"\"",
        "'literal {x}'",
        "\"\\u007Bid}\"",
        "\"é\\t\"",
    ]);
    let line = prop_oneof![
        6 => (keys, values).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => prop::sample::select(vec![
            "[params]", "[load]", "[slo]", "[[load.stages]]", "[params.id]", "[load.x]", "",
            "# comment", "name = \"t\"", "protocol = \"http1\"", "protocol = \"grpc\"",
            "call = \"GET /v1/users/{id}\"", "call = \"lab.v1.UserService/GetUser\"",
            "body = \"b.json\"", "rate = 10",
        ]).prop_map(str::to_string),
        1 => "[ -~é\t]{0,20}",
    ];
    // Lines dropped into a valid skeleton (or into nothing), so that
    // validation beyond the TOML syntax gets exercised.
    let skeleton = prop::sample::select(SKELETONS.to_vec());
    let inserts = prop::collection::vec((any::<prop::sample::Index>(), line), 0..8);
    (skeleton, inserts).prop_map(|(skeleton, inserts)| {
        let mut lines: Vec<String> = skeleton.lines().map(str::to_string).collect();
        for (at, line) in inserts {
            lines.insert(at.index(lines.len() + 1), line);
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    })
}

const SKELETONS: [&str; 5] = [
    "",
    "name = \"t\"\nprotocol = \"http1\"\ncall = \"GET /v1/users/{id}\"\n[params]\n\
     id = { uniform = [1, 10] }\n[load]\nrate = 10\n",
    "name = \"t\"\nprotocol = \"http2\"\ncall = \"POST /v1/echo\"\nbody = \"b.json\"\n\
     [params]\nid = \"x\"\n[load]\nrate = 10\n",
    "name = \"t\"\nprotocol = \"grpc\"\ncall = \"lab.v1.UserService/GetUser\"\n\
     body = \"b.json\"\n[params]\nid = { uniform = [1, 10] }\n[load]\nrate = 10\n",
    "name = \"t\"\nprotocol = \"grpc\"\ncall = \"lab.v1.CatalogService/StreamProducts\"\n\
     stream = \"server\"\nmessages = 3\n[load]\nmodel = \"closed\"\n",
];

/// A body file: JSON-ish text with placeholders, good and bad.
fn bodyish() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{\"id\": {id}}".to_string()),
        Just("{\"id\": \"{id}\"}\n".to_string()),
        Just("{}".to_string()),
        "[{}\"a-z:, \n\\[\\]0-9]{0,30}",
    ]
}

/// Edits to a valid file: each a byte range replaced by some text.
fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, usize, String)>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), 0usize..6, "[ -~\n]{0,4}"),
        1..=3,
    )
}

fn apply_edits(text: &str, edits: &[(prop::sample::Index, usize, String)]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for (at, len, with) in edits {
        let start = at.index(bytes.len() + 1);
        let end = (start + len).min(bytes.len());
        bytes.splice(start..end, with.bytes());
    }
    bytes
}

// ---- properties ------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A scenario written from random valid values loads, with those values.
    /// The call and body templates, rendered with values drawn from the
    /// params, hold exactly those values where the placeholders were.
    #[test]
    fn generated_scenarios_round_trip(spec in spec(), seed in any::<u64>()) {
        let r = spec.render();
        let s = DIR.with(|d| d.load(r.text.as_bytes(), r.body.as_deref()))
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- in ---\n{}", r.text)))?;
        prop_assert_eq!(&s.name, "t");
        prop_assert_eq!(&s.description, spec.description.as_deref().unwrap_or(""));
        prop_assert_eq!(s.protocol, spec.protocol);
        prop_assert_eq!(s.params.len(), spec.params.len());
        for ((name, got), (want_name, want)) in s.params.iter().zip(&spec.params) {
            prop_assert_eq!(name, want_name);
            check_param(got, want)?;
        }
        let mut values = Vec::new();
        draw(&s.params, &mut Rng::new(seed), &mut values);
        for (v, (_, want)) in values.iter().zip(&spec.params) {
            check_drawn(v, want)?;
        }
        match (&s.call, &spec.call) {
            (Call::Rest { method, path }, CallSpec::Rest { method: m, path: segs }) => {
                prop_assert_eq!(method.as_str(), *m);
                prop_assert_eq!(&path.parts, &template_parts(segs));
                let mut out = String::new();
                path.render(&values, &mut out);
                prop_assert_eq!(out, rendered_with(segs, &values));
            }
            (Call::Grpc { path, kind, input }, CallSpec::Grpc { name, kind: k, input: i }) => {
                prop_assert_eq!(path, &format!("/{name}"));
                prop_assert_eq!(kind, k);
                prop_assert_eq!(input.full_name(), *i);
            }
            (got, want) => prop_assert!(false, "{got:?} is not {want:?}"),
        }
        match (&s.body, &spec.body) {
            (None, None) => {}
            (Some(t), Some(b)) => {
                let segs = body_segs(b);
                prop_assert_eq!(&t.parts, &template_parts(&segs));
                let mut out = String::new();
                t.render(&values, &mut out);
                prop_assert_eq!(out, rendered_with(&segs, &values));
            }
            (got, want) => prop_assert!(false, "body {got:?} is not {want:?}"),
        }
        let expect = match (&spec.expect, &spec.call) {
            (Some(RawExpectSpec::Http(s)), _) => Expect::Http(*s),
            (Some(RawExpectSpec::Grpc(_, c)), _) => Expect::Grpc(*c),
            (None, CallSpec::Rest { .. }) => Expect::Http(200),
            (None, CallSpec::Grpc { .. }) => Expect::Grpc(tonic::Code::Ok),
        };
        prop_assert_eq!(s.expect, expect);
        prop_assert_eq!(
            s.stream.map(|st| (st.kind, st.messages)),
            spec.stream
        );
        let l = &s.load;
        let (model, stages, duration) = spec.expected_load();
        prop_assert_eq!(l.model, model);
        prop_assert_eq!(&l.stages, &stages);
        prop_assert_eq!(l.duration, duration);
        prop_assert_eq!(l.arrival, spec.load.arrival.unwrap_or(Arrival::Uniform));
        let concurrency = spec.load.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        let connections = match (spec.protocol, spec.load.connections) {
            (Protocol::Http1, _) => concurrency,
            (_, Some(c)) => c,
            (_, None) => DEFAULT_CONNECTIONS.min(concurrency),
        };
        prop_assert_eq!((l.concurrency, l.connections), (concurrency, connections));
        prop_assert_eq!(l.warmup, spec.load.warmup.as_ref().map_or(DEFAULT_WARMUP, Dur::value));
        prop_assert_eq!(l.timeout, spec.load.timeout.as_ref().map_or(DEFAULT_TIMEOUT, Dur::value));
        prop_assert_eq!(l.seed, spec.load.seed.unwrap_or(DEFAULT_SEED));
        prop_assert_eq!(s.slo.p99, spec.slo.as_ref().map(Dur::value));
    }

    /// One field of a valid scenario given an invalid value: refused, at
    /// that value's line and column.
    #[test]
    fn one_invalid_field_is_refused_at_its_place(
        spec in spec(),
        pick in any::<prop::sample::Index>(),
        bad_int in prop_oneof![Just(0i64), i64::MIN..0],
        bad_word in "[a-z0-9]{0,6}",
        bad_dur in prop::sample::select(vec!["", "10 parsecs", "1x", "-1s", "5", "s", "1.5.2s"]),
        zero_dur in prop::sample::select(vec!["0s", "0ms", "0ns 0h"]),
        bad_status in prop_oneof![-1000i64..100, 600i64..100_000],
    ) {
        let r = spec.render();
        // A field and the value it gets, where the field can take a bad one.
        let mut options: Vec<(Field, String)> = Vec::new();
        let word = |w: &str| format!("\"{w}x\"");
        for &(field, _, _) in &r.at {
            let bad = match field {
                Field::Protocol | Field::Model | Field::Arrival => word(&bad_word),
                Field::Rate | Field::StageRate(_) | Field::Concurrency => bad_int.to_string(),
                Field::Seed => bad_int.min(-1).to_string(),
                Field::Messages => "0".to_string(),
                Field::Expect => match spec.expect {
                    Some(RawExpectSpec::Http(_)) => bad_status.to_string(),
                    _ => word(&bad_word),
                },
                Field::Param(i) => match &spec.params[i].1 {
                    ParamSpec::Uniform(lo, hi) if lo < hi => format!("{{ uniform = [{hi}, {lo}] }}"),
                    ParamSpec::Zipf(_, s) => format!("{{ zipf = {{ n = 0, s = {s:?} }} }}"),
                    _ => continue,
                },
                Field::Warmup | Field::StageDuration(_) => format!("\"{bad_dur}\""),
                Field::Duration | Field::Timeout | Field::P99 => {
                    format!("\"{}\"", if bad_int % 2 == 0 { bad_dur } else { zero_dur })
                }
            };
            options.push((field, bad));
        }
        let (field, bad) = pick.get(&options).clone();
        let &(_, line, ref range) = r.at.iter().find(|(f, _, _)| *f == field).unwrap();
        let mut lines: Vec<String> = r.text.split('\n').map(str::to_string).collect();
        let col = lines[line][..range.start].chars().count() + 1;
        lines[line].replace_range(range.clone(), &bad);
        let text = lines.join("\n");
        let err = match DIR.with(|d| d.load(text.as_bytes(), r.body.as_deref())) {
            Ok(_) => return Err(TestCaseError::fail(format!("{field:?} = {bad} was accepted\n--- in ---\n{text}"))),
            Err(e) => e,
        };
        prop_assert_eq!(
            err.at,
            Some((line + 1, col)),
            "{:?} = {}: {}\n--- in ---\n{}", field, bad, err, text
        );
    }

    /// Random bytes: loaded or refused with a position inside the file.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        DIR.with(|d| match d.load(&bytes, None) {
            Ok(_) => Ok(()),
            Err(e) => check_position(&e, d, &bytes, None),
        })?;
    }

    /// Random text, and TOML-ish lines with the real keys, beside a body
    /// file: loaded or refused with a position inside the file at fault.
    #[test]
    fn arbitrary_text_never_panics(
        text in prop_oneof![1 => "(?s).{0,200}", 4 => tomlish()],
        body in bodyish(),
    ) {
        DIR.with(|d| match d.load(text.as_bytes(), Some(&body)) {
            Ok(_) => Ok(()),
            Err(e) => check_position(&e, d, text.as_bytes(), Some(&body)),
        })?;
    }

    /// A valid scenario, its body, or both, with a few random edits: loaded
    /// or refused with a position inside the file at fault.
    #[test]
    fn edited_scenarios_never_panic(
        spec in spec(),
        (edits, body_edits) in prop_oneof![
            edits().prop_map(|e| (Some(e), None)),
            edits().prop_map(|e| (None, Some(e))),
            (edits(), edits()).prop_map(|(a, b)| (Some(a), Some(b))),
        ],
    ) {
        let r = spec.render();
        let bytes = match &edits {
            Some(e) => apply_edits(&r.text, e),
            None => r.text.clone().into_bytes(),
        };
        // The edits are ASCII and bodies too: the body stays UTF-8.
        let body = match (&r.body, &body_edits) {
            (Some(b), Some(e)) => Some(String::from_utf8(apply_edits(b, e)).unwrap()),
            (b, _) => b.clone(),
        };
        DIR.with(|d| match d.load(&bytes, body.as_deref()) {
            Ok(_) => Ok(()),
            Err(e) => check_position(&e, d, &bytes, body.as_deref()),
        })?;
    }
}
