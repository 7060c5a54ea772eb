//! Golden cases: fixed requests with the exact status, content type and body
//! (or gRPC code, message and messages) that contract/README.md prescribes.
//!
//! Cases run in order on a freshly started service, so order ids are known:
//! every successful create takes the next id.

use bytes::Bytes;
use http::Method;
use lab_proto::v1;
use serde_json::{Value, json};

use super::model;
use crate::wire::client::{GrpcRequest, Request, RestBody, RestRequest};

/// What a case expects.
#[derive(Debug, Clone)]
pub enum Expect {
    /// The normalized outcome, exactly (see `Outcome::normalized`).
    Exact(Value),
    /// A text response: this status, a content type starting with this, and a
    /// body containing each of these strings.
    Text {
        status: u16,
        content_type_prefix: &'static str,
        contains: Vec<&'static str>,
    },
    /// Only this gRPC code (for statuses whose text comes from the gRPC library).
    Code(tonic::Code),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub request: Request,
    pub expect: Expect,
}

const JSON: &str = "application/json";
pub const MIB: usize = 1 << 20;

/// Every golden case, in the order they must run.
pub fn cases() -> Vec<Case> {
    let mut c = Cases::default();
    health(&mut c);
    users(&mut c);
    products(&mut c);
    orders(&mut c);
    echo(&mut c);
    grpc(&mut c);
    // Last, so that every route and rpc above has been counted.
    c.rest(
        "metrics expose request counters, latency histograms and runtime metrics",
        RestRequest::get("/metrics"),
        Expect::Text {
            status: 200,
            content_type_prefix: "text/plain",
            contains: vec![
                "http_requests_total{",
                "http_request_duration_seconds_bucket{",
                "route=\"/v1/users/{id}\"",
                "route=\"unmatched\"",
                "status=\"422\"",
                "grpc_requests_total{",
                "grpc_request_duration_seconds_bucket{",
                "method=\"/lab.v1.UserService/GetUser\"",
                "code=\"NOT_FOUND\"",
                "process_resident_memory_bytes",
            ],
        },
    );
    c.cases
}

#[derive(Default)]
struct Cases {
    cases: Vec<Case>,
    next_order_id: i64,
}

impl Cases {
    fn rest(&mut self, name: &str, request: RestRequest, expect: Expect) {
        self.cases.push(Case {
            name: name.to_string(),
            request: Request::Rest(request),
            expect,
        });
    }

    fn grpc(&mut self, name: &str, request: GrpcRequest, expect: Expect) {
        self.cases.push(Case {
            name: format!("gRPC {name}"),
            request: Request::Grpc(request),
            expect,
        });
    }

    /// The id the next successful create gets.
    fn order_id(&mut self) -> i64 {
        self.next_order_id += 1;
        self.next_order_id
    }
}

pub(super) fn ok(status: u16, body: Value) -> Expect {
    Expect::Exact(json!({ "status": status, "content_type": JSON, "body": body }))
}

pub(super) fn error(status: u16, code: &str, message: &str) -> Expect {
    Expect::Exact(json!({
        "status": status,
        "content_type": JSON,
        "body": { "error": { "code": code, "message": message } },
    }))
}

pub(super) fn bad_request(message: &str) -> Expect {
    error(400, "bad_request", message)
}

fn unprocessable(message: &str) -> Expect {
    error(422, "validation_failed", message)
}

fn grpc_ok(messages: Vec<Value>) -> Expect {
    Expect::Exact(json!({ "code": "OK", "message": "", "messages": messages }))
}

fn grpc_error(code: &str, message: &str) -> Expect {
    Expect::Exact(json!({ "code": code, "message": message, "messages": [] }))
}

fn post(path: &str, body: impl Into<Bytes>) -> RestRequest {
    RestRequest::json(Method::POST, path, body)
}

pub(super) const BAD_ID: &str = "invalid id: must be a positive integer";
const BAD_LIMIT: &str = "invalid limit: must be an integer in 1..=1000";
const BAD_OFFSET: &str = "invalid offset: must be a non-negative integer";
const BAD_QUERY: &str = "invalid query string";
pub(super) const BAD_JSON: &str = "request body is not valid JSON";
pub(super) const TOO_LARGE: &str = "request body exceeds 1048576 bytes";
pub(super) const NOT_JSON: &str = "content type must be application/json";

fn health(c: &mut Cases) {
    c.rest(
        "health over HTTP/1.1",
        RestRequest::get("/health"),
        ok(200, json!({"status": "ok"})),
    );
    c.rest(
        "health over h2c",
        RestRequest::get("/health").h2c(),
        ok(200, json!({"status": "ok"})),
    );
    c.rest(
        "HEAD answers like GET without a body",
        RestRequest::get("/health").method(Method::HEAD),
        ok(200, Value::Null),
    );
    c.rest(
        "unknown path",
        RestRequest::get("/nope"),
        error(404, "not_found", "no such route"),
    );
    c.rest(
        "trailing slash is no route",
        RestRequest::get("/health/"),
        error(404, "not_found", "no such route"),
    );
    c.rest(
        "POST on a GET route",
        post("/health", "{}"),
        error(405, "method_not_allowed", "method not allowed"),
    );
}

fn users(c: &mut Cases) {
    c.rest(
        "first user",
        RestRequest::get("/v1/users/1"),
        ok(200, model::user(1)),
    );
    c.rest(
        "last user",
        RestRequest::get("/v1/users/10000"),
        ok(200, model::user(10000)),
    );
    c.rest(
        "user over h2c",
        RestRequest::get("/v1/users/4242").h2c(),
        ok(200, model::user(4242)),
    );
    c.rest(
        "leading zeros",
        RestRequest::get("/v1/users/007"),
        ok(200, model::user(7)),
    );
    c.rest(
        "percent-encoded digit",
        RestRequest::get("/v1/users/%31"),
        ok(200, model::user(1)),
    );
    c.rest(
        "user past the last",
        RestRequest::get("/v1/users/10001"),
        error(404, "not_found", "user 10001 not found"),
    );
    c.rest(
        "largest int64 id",
        RestRequest::get("/v1/users/9223372036854775807"),
        error(404, "not_found", "user 9223372036854775807 not found"),
    );
    c.rest(
        "leading zeros in a 404",
        RestRequest::get("/v1/users/010001"),
        error(404, "not_found", "user 10001 not found"),
    );
    for id in [
        "0",
        "-1",
        "abc",
        "1e3",
        "%2B1",
        "9223372036854775808",
        "1.0",
        "%20%31",
    ] {
        c.rest(
            &format!("bad user id {id}"),
            RestRequest::get(format!("/v1/users/{id}")),
            bad_request(BAD_ID),
        );
    }
    c.rest(
        "malformed escape in the path is a transport-level 400",
        RestRequest::get("/v1/users/%zz"),
        Expect::Text {
            status: 400,
            content_type_prefix: "",
            contains: vec![],
        },
    );
    c.rest(
        "encoded slash stays in the id",
        RestRequest::get("/v1/users/1%2F2"),
        bad_request(BAD_ID),
    );
    c.rest(
        "empty id is no route",
        RestRequest::get("/v1/users/"),
        error(404, "not_found", "no such route"),
    );
    c.rest(
        "collection of users is no route",
        RestRequest::get("/v1/users"),
        error(404, "not_found", "no such route"),
    );
    c.rest(
        "DELETE a user",
        RestRequest::get("/v1/users/1").method(Method::DELETE),
        error(405, "method_not_allowed", "method not allowed"),
    );
}

fn products(c: &mut Cases) {
    let page = |first: i64, last: i64| ok(200, model::product_page(first, last));
    c.rest(
        "default page",
        RestRequest::get("/v1/products"),
        page(1, 20),
    );
    c.rest(
        "limit 100",
        RestRequest::get("/v1/products?limit=100"),
        page(1, 100),
    );
    c.rest(
        "whole catalog",
        RestRequest::get("/v1/products?limit=1000"),
        page(1, 1000),
    );
    c.rest(
        "last page",
        RestRequest::get("/v1/products?limit=5&offset=995"),
        page(996, 1000),
    );
    c.rest(
        "page past the end",
        RestRequest::get("/v1/products?offset=1000"),
        page(1, 0),
    );
    c.rest(
        "page over h2c",
        RestRequest::get("/v1/products?limit=2&offset=10").h2c(),
        page(11, 12),
    );
    c.rest(
        "first of a repeated key wins",
        RestRequest::get("/v1/products?limit=5&limit=7"),
        page(1, 5),
    );
    c.rest(
        "percent-encoded limit",
        RestRequest::get("/v1/products?limit=%33"),
        page(1, 3),
    );
    c.rest(
        "unknown keys are ignored",
        RestRequest::get("/v1/products?foo=bar&limit=1"),
        page(1, 1),
    );
    c.rest(
        "largest offset does not overflow",
        RestRequest::get("/v1/products?limit=3&offset=9223372036854775807"),
        page(1, 0),
    );
    for query in [
        "limit=0",
        "limit=1001",
        "limit=",
        "limit=abc",
        "limit=+5",
        "limit=-1",
        "limit=99999999999999999999",
    ] {
        c.rest(
            &format!("bad {query}"),
            RestRequest::get(format!("/v1/products?{query}")),
            bad_request(BAD_LIMIT),
        );
    }
    for query in [
        "offset=-1",
        "offset=",
        "offset=x",
        "offset=9223372036854775808",
    ] {
        c.rest(
            &format!("bad {query}"),
            RestRequest::get(format!("/v1/products?{query}")),
            bad_request(BAD_OFFSET),
        );
    }
    // Mostly empty pairs (they count too), so that the request head stays
    // under the 16 KiB limit (431) that the HTTP layer applies first.
    let at_cap = format!(
        "/v1/products?limit=2{}{}",
        "&x".repeat(2_000),
        "&".repeat(7_999)
    );
    c.rest(
        "10,000 query pairs",
        RestRequest::get(at_cap.clone()),
        page(1, 2),
    );
    c.rest(
        "10,001 query pairs",
        RestRequest::get(format!("{at_cap}&")),
        bad_request(BAD_QUERY),
    );
    c.rest(
        "malformed percent escape",
        RestRequest::get("/v1/products?limit=%zz"),
        bad_request(BAD_QUERY),
    );
    c.rest(
        "semicolon in the query",
        RestRequest::get("/v1/products?a;b=1"),
        bad_request(BAD_QUERY),
    );
}

fn order_body(user_id: i64, lines: &[(i64, i64)]) -> String {
    let items: Vec<Value> = lines
        .iter()
        .map(|(p, q)| json!({ "sku": model::sku(*p), "quantity": q }))
        .collect();
    json!({ "user_id": user_id, "items": items }).to_string()
}

fn orders(c: &mut Cases) {
    let id = c.order_id();
    let first = model::order(id, 1, &[(1, 2)]);
    c.rest(
        "create an order",
        post("/v1/orders", order_body(1, &[(1, 2)])),
        ok(201, first.clone()),
    );
    let id = c.order_id();
    let lines = [(10, 1), (999, 1000), (10, 3)];
    let second = model::order(id, 10000, &lines);
    c.rest(
        "order with a repeated sku",
        post("/v1/orders", order_body(10000, &lines)).h2c(),
        ok(201, second.clone()),
    );
    let id = c.order_id();
    c.rest(
        "content type with parameters, any case",
        RestRequest::get("/v1/orders")
            .method(Method::POST)
            .header(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("Application/JSON ; charset=utf-8"),
            )
            .body(RestBody::Full(order_body(2, &[(3, 1)]).into())),
        ok(201, model::order(id, 2, &[(3, 1)])),
    );
    let hundred: Vec<(i64, i64)> = (1..=100).map(|p| (p, p)).collect();
    let id = c.order_id();
    c.rest(
        "100 items",
        post("/v1/orders", order_body(3, &hundred)),
        ok(201, model::order(id, 3, &hundred)),
    );
    let id = c.order_id();
    c.rest(
        "unknown fields ignored, last duplicate key wins",
        post("/v1/orders", r#"{"user_id":5,"note":[1,{"x":null}],"user_id":2,"items":[{"sku":"SKU-00004","quantity":1,"gift":true}]}"#),
        ok(201, model::order(id, 2, &[(4, 1)])),
    );
    let id = c.order_id();
    c.rest(
        "escaped sku is decoded",
        post(
            "/v1/orders",
            r#"{"user_id":4,"items":[{"sku":"SKU\u002d00005","quantity":1}]}"#,
        ),
        ok(201, model::order(id, 4, &[(5, 1)])),
    );
    c.rest(
        "read an order back",
        RestRequest::get("/v1/orders/1"),
        ok(200, first),
    );
    c.rest(
        "read an order over h2c",
        RestRequest::get("/v1/orders/2").h2c(),
        ok(200, second),
    );
    c.rest(
        "order never created",
        RestRequest::get("/v1/orders/99999"),
        error(404, "not_found", "order 99999 not found"),
    );
    c.rest(
        "bad order id",
        RestRequest::get("/v1/orders/0"),
        bad_request(BAD_ID),
    );
    c.rest(
        "list orders is not a call",
        RestRequest::get("/v1/orders"),
        error(405, "method_not_allowed", "method not allowed"),
    );

    let valid = order_body(1, &[(1, 1)]);
    c.rest(
        "no content type",
        RestRequest::get("/v1/orders")
            .method(Method::POST)
            .body(RestBody::Full(valid.clone().into())),
        error(415, "unsupported_media_type", NOT_JSON),
    );
    c.rest(
        "text/plain",
        post("/v1/orders", valid.clone()).content_type("text/plain"),
        error(415, "unsupported_media_type", NOT_JSON),
    );
    c.rest(
        "content type checked before size",
        post("/v1/orders", vec![b' '; MIB + 1]).content_type("text/plain"),
        error(415, "unsupported_media_type", NOT_JSON),
    );
    c.rest(
        "body over 1 MiB",
        post("/v1/orders", padded_json(MIB + 1)),
        error(413, "payload_too_large", TOO_LARGE),
    );
    c.rest(
        "chunked body over 1 MiB",
        post("/v1/orders", "").body(RestBody::Chunked(vec![Bytes::from(vec![b' '; 600_000]); 2])),
        error(413, "payload_too_large", TOO_LARGE),
    );
    let shape_errors: [(&str, &str, &str); 19] = [
        ("truncated JSON", r#"{"user_id":"#, BAD_JSON),
        ("empty body", "", BAD_JSON),
        ("trailing data", r#"{"user_id":1,"items":[]} {}"#, BAD_JSON),
        ("top level array", "[]", "order must be a JSON object"),
        (
            "top level string",
            r#""order""#,
            "order must be a JSON object",
        ),
        ("no user_id", r#"{"items":[]}"#, "missing field: user_id"),
        (
            "null user_id",
            r#"{"user_id":null,"items":[]}"#,
            "missing field: user_id",
        ),
        (
            "field names are case-sensitive",
            r#"{"USER_ID":1,"items":[]}"#,
            "missing field: user_id",
        ),
        (
            "string user_id",
            r#"{"user_id":"1","items":[]}"#,
            "field user_id must be an integer",
        ),
        (
            "fractional user_id",
            r#"{"user_id":1.0,"items":[]}"#,
            "field user_id must be an integer",
        ),
        (
            "negative zero user_id",
            r#"{"user_id":-0,"items":[]}"#,
            "field user_id must be an integer",
        ),
        (
            "user_id beyond int64",
            r#"{"user_id":9223372036854775808,"items":[]}"#,
            "field user_id must be an integer",
        ),
        (
            "items field absent",
            r#"{"user_id":1}"#,
            "missing field: items",
        ),
        (
            "items not an array",
            r#"{"user_id":1,"items":{}}"#,
            "field items must be an array",
        ),
        (
            "item not an object",
            r#"{"user_id":1,"items":[1]}"#,
            "field items[0] must be an object",
        ),
        (
            "item without sku",
            r#"{"user_id":1,"items":[{"quantity":1}]}"#,
            "missing field: items[0].sku",
        ),
        (
            "numeric sku",
            r#"{"user_id":1,"items":[{"sku":5,"quantity":1}]}"#,
            "field items[0].sku must be a string",
        ),
        (
            "item without quantity",
            r#"{"user_id":1,"items":[{"sku":"SKU-00001"}]}"#,
            "missing field: items[0].quantity",
        ),
        (
            "shape errors come before validation",
            r#"{"user_id":99999,"items":[{"sku":"nope","quantity":1},{"sku":"SKU-00001","quantity":"2"}]}"#,
            "field items[1].quantity must be an integer",
        ),
    ];
    for (name, body, message) in shape_errors {
        c.rest(name, post("/v1/orders", body), bad_request(message));
    }
    let too_many: Vec<(i64, i64)> = (1..=101).map(|p| (p, 1)).collect();
    let validation_errors: [(&str, String, String); 9] = [
        (
            "unknown user",
            order_body(10001, &[(1, 1)]),
            "unknown user_id 10001".into(),
        ),
        (
            "user 0",
            order_body(0, &[(1, 1)]),
            "unknown user_id 0".into(),
        ),
        (
            "negative user",
            order_body(-3, &[(1, 1)]),
            "unknown user_id -3".into(),
        ),
        (
            "no items",
            order_body(1, &[]),
            "items must contain 1 to 100 entries, got 0".into(),
        ),
        (
            "101 items",
            order_body(1, &too_many),
            "items must contain 1 to 100 entries, got 101".into(),
        ),
        (
            "unknown sku",
            r#"{"user_id":1,"items":[{"sku":"SKU-99999","quantity":1}]}"#.into(),
            "items[0].sku: unknown sku SKU-99999".into(),
        ),
        (
            "quantity 0",
            order_body(1, &[(1, 1), (2, 0)]),
            "items[1].quantity: must be in 1..=1000, got 0".into(),
        ),
        (
            "quantity 1001",
            order_body(1, &[(1, 1001)]),
            "items[0].quantity: must be in 1..=1000, got 1001".into(),
        ),
        (
            "user checked before items",
            order_body(20000, &[]),
            "unknown user_id 20000".into(),
        ),
    ];
    for (name, body, message) in validation_errors {
        c.rest(name, post("/v1/orders", body), unprocessable(&message));
    }
}

/// A JSON string document of exactly `len` bytes.
pub(super) fn padded_json(len: usize) -> Vec<u8> {
    let mut doc = vec![b'a'; len];
    doc[0] = b'"';
    doc[len - 1] = b'"';
    doc
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn echo(c: &mut Cases) {
    let doc = json!({"b": [1, 2, {"c": null, "d": true}], "a": "x\u{e9}<>&", "n": -12.5});
    c.rest(
        "echo an object",
        post("/v1/echo", doc.to_string()),
        ok(200, doc.clone()),
    );
    c.rest(
        "echo over h2c",
        post("/v1/echo", doc.to_string()).h2c(),
        ok(200, doc),
    );
    c.rest("echo a scalar", post("/v1/echo", "42"), ok(200, json!(42)));
    c.rest(
        "echo keeps big integers",
        post("/v1/echo", "[12345678901234567890,-9223372036854775808]"),
        ok(200, json!([12345678901234567890u64, i64::MIN])),
    );
    c.rest(
        "echo compares numbers by value",
        post("/v1/echo", "[1e3,0.5,-0]"),
        ok(200, json!([1000.0, 0.5, -0.0])),
    );
    c.rest(
        "echo whitespace is not kept",
        post("/v1/echo", " { \"a\" : [ ] } "),
        ok(200, json!({"a": []})),
    );
    let kib: Vec<Value> = (0..32)
        .map(|i| json!({"i": i, "s": "0123456789abcdef"}))
        .collect();
    c.rest(
        "echo 1 KiB",
        post("/v1/echo", Value::Array(kib.clone()).to_string()),
        ok(200, Value::Array(kib)),
    );
    c.rest(
        "echo 127 levels deep",
        post("/v1/echo", nested(127)),
        ok(200, serde_json::from_str(&nested(127)).expect("valid")),
    );
    c.rest(
        "echo 128 levels deep",
        post("/v1/echo", nested(128)),
        bad_request(BAD_JSON),
    );
    c.rest(
        "lone surrogate escape",
        post("/v1/echo", r#""\ud800""#),
        bad_request(BAD_JSON),
    );
    c.rest(
        "lone low surrogate escape",
        post("/v1/echo", r#"["\udc00"]"#),
        bad_request(BAD_JSON),
    );
    c.rest(
        "invalid UTF-8",
        post("/v1/echo", &b"\"\xff\xfe\""[..]),
        bad_request(BAD_JSON),
    );
    c.rest(
        "two documents",
        post("/v1/echo", "{} {}"),
        bad_request(BAD_JSON),
    );
    c.rest("bare word", post("/v1/echo", "nul"), bad_request(BAD_JSON));
    c.rest(
        "echo without content type",
        RestRequest::get("/v1/echo")
            .method(Method::POST)
            .body(RestBody::Full(Bytes::from_static(b"{}"))),
        error(415, "unsupported_media_type", NOT_JSON),
    );
    let exact = padded_json(MIB);
    let exact_value: Value = serde_json::from_slice(&exact).expect("valid");
    c.rest(
        "exactly 1 MiB is allowed",
        post("/v1/echo", exact),
        ok(200, exact_value),
    );
    c.rest(
        "1 MiB and a byte is not",
        post("/v1/echo", padded_json(MIB + 1)),
        error(413, "payload_too_large", TOO_LARGE),
    );
    c.rest(
        "chunked 1 MiB and a byte",
        post("/v1/echo", "").body(RestBody::Chunked(vec![Bytes::from(padded_json(MIB + 1))])),
        error(413, "payload_too_large", TOO_LARGE),
    );
    c.rest(
        "GET echo",
        RestRequest::get("/v1/echo"),
        error(405, "method_not_allowed", "method not allowed"),
    );
}

fn grpc(c: &mut Cases) {
    use GrpcRequest as G;
    let get_user = |id| G::GetUser(v1::GetUserRequest { id });
    c.grpc("user 1", get_user(1), grpc_ok(vec![model::user(1)]));
    c.grpc(
        "user 9999",
        get_user(9999),
        grpc_ok(vec![model::user(9999)]),
    );
    c.grpc(
        "user 0",
        get_user(0),
        grpc_error("INVALID_ARGUMENT", BAD_ID),
    );
    c.grpc(
        "negative user",
        get_user(-5),
        grpc_error("INVALID_ARGUMENT", BAD_ID),
    );
    c.grpc(
        "unknown user",
        get_user(10001),
        grpc_error("NOT_FOUND", "user 10001 not found"),
    );

    let page = |limit: Option<i64>, offset: Option<i64>| v1::ListProductsRequest { limit, offset };
    let list = |first, last| grpc_ok(vec![model::product_page(first, last)]);
    c.grpc(
        "default page",
        G::ListProducts(page(None, None)),
        list(1, 20),
    );
    c.grpc(
        "last page",
        G::ListProducts(page(Some(100), Some(900))),
        list(901, 1000),
    );
    c.grpc(
        "past the end",
        G::ListProducts(page(None, Some(2000))),
        list(1, 0),
    );
    c.grpc(
        "huge offset",
        G::ListProducts(page(Some(1000), Some(i64::MAX))),
        list(1, 0),
    );
    c.grpc(
        "limit 0",
        G::ListProducts(page(Some(0), None)),
        grpc_error("INVALID_ARGUMENT", BAD_LIMIT),
    );
    c.grpc(
        "limit 1001",
        G::ListProducts(page(Some(1001), None)),
        grpc_error("INVALID_ARGUMENT", BAD_LIMIT),
    );
    c.grpc(
        "negative offset",
        G::ListProducts(page(None, Some(-1))),
        grpc_error("INVALID_ARGUMENT", BAD_OFFSET),
    );
    let stream = |first, last| grpc_ok((first..=last).map(model::product).collect());
    c.grpc(
        "stream 5 products",
        G::StreamProducts(page(Some(5), None)),
        stream(1, 5),
    );
    c.grpc(
        "stream the tail",
        G::StreamProducts(page(None, Some(998))),
        stream(999, 1000),
    );
    c.grpc(
        "stream the whole catalog",
        G::StreamProducts(page(Some(1000), None)),
        stream(1, 1000),
    );
    c.grpc(
        "stream with limit 0",
        G::StreamProducts(page(Some(0), None)),
        grpc_error("INVALID_ARGUMENT", BAD_LIMIT),
    );

    let item = |product: i64, quantity| v1::OrderItemRequest {
        sku: model::sku(product),
        quantity,
    };
    let create = |user_id, items: Vec<v1::OrderItemRequest>| {
        G::CreateOrder(v1::CreateOrderRequest { user_id, items })
    };
    let id = c.order_id();
    let created = model::order(id, 42, &[(7, 3), (8, 1)]);
    c.grpc(
        "create an order",
        create(42, vec![item(7, 3), item(8, 1)]),
        grpc_ok(vec![created.clone()]),
    );
    c.grpc(
        "read it back",
        G::GetOrder(v1::GetOrderRequest { id }),
        grpc_ok(vec![created]),
    );
    c.grpc(
        "read a REST order over gRPC",
        G::GetOrder(v1::GetOrderRequest { id: 1 }),
        grpc_ok(vec![model::order(1, 1, &[(1, 2)])]),
    );
    c.grpc(
        "order 0",
        G::GetOrder(v1::GetOrderRequest { id: 0 }),
        grpc_error("INVALID_ARGUMENT", BAD_ID),
    );
    c.grpc(
        "unknown order",
        G::GetOrder(v1::GetOrderRequest { id: 77777 }),
        grpc_error("NOT_FOUND", "order 77777 not found"),
    );
    c.grpc(
        "missing user_id reads as 0",
        create(0, vec![item(1, 1)]),
        grpc_error("INVALID_ARGUMENT", "unknown user_id 0"),
    );
    c.grpc(
        "no items",
        create(1, vec![]),
        grpc_error(
            "INVALID_ARGUMENT",
            "items must contain 1 to 100 entries, got 0",
        ),
    );
    let unknown_sku = v1::OrderItemRequest {
        sku: "SKU-1".into(),
        quantity: 1,
    };
    c.grpc(
        "unknown sku",
        create(1, vec![item(1, 1), unknown_sku]),
        grpc_error("INVALID_ARGUMENT", "items[1].sku: unknown sku SKU-1"),
    );
    c.grpc(
        "quantity out of range",
        create(1, vec![item(1, -4)]),
        grpc_error(
            "INVALID_ARGUMENT",
            "items[0].quantity: must be in 1..=1000, got -4",
        ),
    );

    let echo = |payload: Vec<u8>| G::Echo(v1::EchoRequest { payload });
    c.grpc(
        "echo bytes",
        echo(b"hello".to_vec()),
        grpc_ok(vec![crate::wire::client::payload_json(b"hello")]),
    );
    c.grpc(
        "echo nothing",
        echo(vec![]),
        grpc_ok(vec![crate::wire::client::payload_json(b"")]),
    );
    let big: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    c.grpc(
        "echo 1 MiB",
        echo(big.clone()),
        grpc_ok(vec![crate::wire::client::payload_json(&big)]),
    );
    c.grpc(
        "message over 4 MiB",
        echo(vec![7; 4 * MIB + 1]),
        Expect::Code(tonic::Code::ResourceExhausted),
    );
    let pings: Vec<v1::EchoRequest> = (0..3u8)
        .map(|i| v1::EchoRequest {
            payload: vec![i; 1 + usize::from(i) * 100],
        })
        .collect();
    let pongs = pings
        .iter()
        .map(|p| crate::wire::client::payload_json(&p.payload))
        .collect();
    c.grpc("ping-pong stream", G::EchoStream(pings), grpc_ok(pongs));
    c.grpc(
        "empty ping-pong stream",
        G::EchoStream(vec![]),
        grpc_ok(vec![]),
    );

    for service in [
        "",
        "lab.v1.UserService",
        "lab.v1.CatalogService",
        "lab.v1.OrderService",
        "lab.v1.EchoService",
    ] {
        c.grpc(
            &format!("health of {service:?}"),
            G::Health(service.into()),
            grpc_ok(vec![json!({"status": "SERVING"})]),
        );
    }
    c.grpc(
        "health of an unknown service",
        G::Health("lab.v1.Nope".into()),
        Expect::Code(tonic::Code::NotFound),
    );
    c.grpc(
        "unknown method",
        G::Unknown("/lab.v1.UserService/DeleteUser"),
        Expect::Code(tonic::Code::Unimplemented),
    );
    c.grpc(
        "unknown service",
        G::Unknown("/lab.v1.Nope/Nope"),
        Expect::Code(tonic::Code::Unimplemented),
    );
    c.grpc(
        "reflection lists the services",
        G::ListServices,
        grpc_ok(
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
                "lab.v1.CatalogService",
                "lab.v1.EchoService",
                "lab.v1.OrderService",
                "lab.v1.UserService",
            ]
            .map(|s| json!(s))
            .to_vec(),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_stay_under_the_head_limit() {
        // The contract refuses a head over 16 KiB with 431 before anything else.
        for case in cases() {
            if let Request::Rest(r) = &case.request {
                let head = format!("{} {} HTTP/1.1\r\n", r.method, r.path).len()
                    + r.headers
                        .iter()
                        .map(|(n, v)| n.as_str().len() + v.len() + 4)
                        .sum::<usize>();
                assert!(head < 15 * 1024, "{:?}: a head of {head} bytes", case.name);
            }
        }
    }

    #[test]
    fn at_least_sixty_cases_with_unique_names() {
        let cases = cases();
        assert!(cases.len() >= 60, "{} cases", cases.len());
        let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate case names");
    }

    #[test]
    fn every_call_and_error_class_is_covered() {
        let cases = cases();
        let calls: Vec<String> = cases.iter().map(|c| c.request.call()).collect();
        for needle in [
            "GET /health",
            "GET /metrics",
            "GET /v1/users/",
            "GET /v1/products",
            "POST /v1/orders",
            "GET /v1/orders/",
            "POST /v1/echo",
            "(h2c)",
            "lab.v1.UserService/GetUser",
            "lab.v1.CatalogService/ListProducts",
            "lab.v1.CatalogService/StreamProducts",
            "lab.v1.OrderService/CreateOrder",
            "lab.v1.OrderService/GetOrder",
            "lab.v1.EchoService/Echo",
            "lab.v1.EchoService/EchoStream",
            "grpc.health.v1.Health/Check",
        ] {
            assert!(
                calls.iter().any(|c| c.contains(needle)),
                "no case for {needle}"
            );
        }
        let expected = format!("{:?}", cases.iter().map(|c| &c.expect).collect::<Vec<_>>());
        for class in [
            "bad_request",
            "not_found",
            "method_not_allowed",
            "unsupported_media_type",
            "payload_too_large",
            "validation_failed",
            "INVALID_ARGUMENT",
            "NOT_FOUND",
            "ResourceExhausted",
            "Unimplemented",
        ] {
            assert!(expected.contains(class), "no case expects {class}");
        }
    }

    #[test]
    fn padded_json_is_a_string_of_that_size() {
        let doc = padded_json(10);
        assert_eq!(doc.len(), 10);
        assert_eq!(
            serde_json::from_slice::<Value>(&doc).unwrap(),
            json!("aaaaaaaa")
        );
    }
}
