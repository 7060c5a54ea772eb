//! The REST contract, request by request, through the real router.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::AppState;
use crate::services::Services;

fn app() -> Router {
    super::router(AppState::new(Services::default()).unwrap())
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .map_or("", |v| v.to_str().unwrap())
    }

    fn json(&self) -> Value {
        assert_eq!(self.content_type(), "application/json");
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts a contract error body.
    fn assert_error(&self, status: u16, code: &str, message: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {:?}", self.body);
        assert_eq!(
            self.json(),
            json!({"error": {"code": code, "message": message}})
        );
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_json(app: &Router, uri: &str, body: impl Into<Body>) -> Reply {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap();
    send(app, request).await
}

async fn echo(app: &Router, body: &'static str) -> Reply {
    post_json(app, "/v1/echo", body).await
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test]
async fn health() {
    let app = app();
    let reply = get(&app, "/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn health_reports_the_drain() {
    let state = AppState::new(Services::default()).unwrap();
    let app = super::router(Arc::clone(&state));
    state.stop_serving();
    let reply = get(&app, "/health").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json(), json!({"status": "draining"}));
    let reply = send(&app, Request::head("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.content_type(), "application/json");
    assert!(reply.body.is_empty());
    // Every other route keeps working.
    assert_eq!(get(&app, "/v1/users/1").await.status, StatusCode::OK);
    assert_eq!(get(&app, "/metrics").await.status, StatusCode::OK);
    let text = String::from_utf8(get(&app, "/metrics").await.body.to_vec()).unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="503"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn head_is_get_without_a_body() {
    let app = app();
    for uri in ["/health", "/v1/users/1", "/v1/products?limit=2", "/metrics"] {
        let reply = send(&app, Request::head(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert!(reply.body.is_empty(), "{uri}");
    }
    let reply = send(
        &app,
        Request::head("/v1/users/0").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.content_type(), "application/json");
}

#[tokio::test]
async fn users() {
    let app = app();
    let reply = get(&app, "/v1/users/1").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"id":1,"name":"User 1","email":"user1@example.com","age":63,"tags":["t1","t1"]})
    );
    assert_eq!(get(&app, "/v1/users/%31").await.json()["id"], 1);
    assert_eq!(get(&app, "/v1/users/0010000").await.json()["id"], 10000);
    get(&app, "/v1/users/010001")
        .await
        .assert_error(404, "not_found", "user 10001 not found");
    get(&app, "/v1/users/9223372036854775807")
        .await
        .assert_error(404, "not_found", "user 9223372036854775807 not found");
    for bad in [
        "0",
        "-1",
        "+1",
        "1e3",
        "abc",
        "1.0",
        "9223372036854775808",
        "%20",
        "1%20",
        "1%2F2",
        "%2B1",
        "%FF",
        "%zz",
    ] {
        get(&app, &format!("/v1/users/{bad}")).await.assert_error(
            400,
            "bad_request",
            "invalid id: must be a positive integer",
        );
    }
}

#[tokio::test]
async fn routing_404_and_405() {
    let app = app();
    for uri in [
        "/",
        "/nope",
        "/v1/users",
        "/v1/users/",
        "/v1/users/1/x",
        "/health/",
        "/V1/users/1",
    ] {
        get(&app, uri)
            .await
            .assert_error(404, "not_found", "no such route");
    }
    let cases = [
        (Method::POST, "/health"),
        (Method::DELETE, "/v1/users/1"),
        (Method::POST, "/v1/users/abc"),
        (Method::GET, "/v1/orders"),
        (Method::HEAD, "/v1/echo"),
        (Method::PUT, "/v1/orders/1"),
        (Method::POST, "/v1/products"),
        (Method::OPTIONS, "/metrics"),
    ];
    for (method, uri) in cases {
        let reply = send(
            &app,
            Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        if method == Method::HEAD {
            assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        } else {
            reply.assert_error(405, "method_not_allowed", "method not allowed");
        }
    }
}

#[tokio::test]
async fn products_paging() {
    let app = app();
    let reply = get(&app, "/v1/products").await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = reply.json();
    assert_eq!(page["total"], 1000);
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert_eq!(
        page["items"][0],
        json!({"id":1,"sku":"SKU-00001","name":"Product 1","price_cents":137,"category":"games"})
    );
    let ids = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect()
    };
    let cases: [(&str, Vec<i64>); 9] = [
        ("limit=5&limit=7", (1..=5).collect()),
        ("limit=3&offset=10", vec![11, 12, 13]),
        ("offset=995&limit=10", (996..=1000).collect()),
        ("offset=1000", vec![]),
        ("offset=9223372036854775807&limit=1000", vec![]),
        ("limit=005&offset=00", (1..=5).collect()),
        ("%6cimit=2&unknown=%41&&", vec![1, 2]),
        ("limit=1000", (1..=1000).collect()),
        ("Limit=1", (1..=20).collect()),
    ];
    for (query, want) in cases {
        let reply = get(&app, &format!("/v1/products?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
        assert_eq!(reply.json()["total"], 1000);
        assert_eq!(ids(&reply.json()), want, "{query}");
    }
}

#[tokio::test]
async fn products_errors_in_order() {
    let app = app();
    let limit = "invalid limit: must be an integer in 1..=1000";
    let offset = "invalid offset: must be a non-negative integer";
    let query = "invalid query string";
    let cases = [
        ("limit=%zz", query),
        ("a;b=1", query),
        ("limit=5&x=1;", query),
        ("limit=0&offset=%", query),
        ("limit=", limit),
        ("limit", limit),
        ("limit=0", limit),
        ("limit=1001", limit),
        ("limit=-1", limit),
        ("limit=+5", limit),
        ("limit=5+", limit),
        ("limit=%205", limit),
        ("limit=1e2", limit),
        ("limit=99999999999999999999", limit),
        ("limit=0&offset=x", limit),
        ("offset=x&limit=0", limit),
        ("offset=", offset),
        ("offset=-1", offset),
        ("offset=1.5", offset),
        ("offset=9223372036854775808", offset),
        ("limit=5&offset=x", offset),
    ];
    for (q, message) in cases {
        get(&app, &format!("/v1/products?{q}"))
            .await
            .assert_error(400, "bad_request", message);
    }
}

#[tokio::test]
async fn orders_round_trip() {
    let app = app();
    let reply = post_json(
        &app,
        "/v1/orders",
        r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":2}],"comment":"ignored"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let order = json!({"id":1,"user_id":1,"items":[{"sku":"SKU-00001","quantity":2,"unit_price_cents":137,"line_total_cents":274}],"total_cents":274,"status":"created"});
    assert_eq!(reply.json(), order);
    let reply = get(&app, "/v1/orders/1").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), order);
    assert_eq!(get(&app, "/v1/orders/0001").await.json(), order);
    get(&app, "/v1/orders/2")
        .await
        .assert_error(404, "not_found", "order 2 not found");
    get(&app, "/v1/orders/0").await.assert_error(
        400,
        "bad_request",
        "invalid id: must be a positive integer",
    );
    let second = post_json(&app, "/v1/orders", r#"{"items":[{"quantity":1,"sku":"SKU-00002"},{"sku":"SKU-00002","quantity":1}],"user_id":10000}"#).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.json()["id"], 2);
    assert_eq!(second.json()["total_cents"], 348);
}

#[tokio::test]
async fn order_body_errors() {
    let app = app();
    let cases: [(&str, u16, &str, &str); 21] = [
        ("", 400, "bad_request", "request body is not valid JSON"),
        ("{", 400, "bad_request", "request body is not valid JSON"),
        (
            "{} {}",
            400,
            "bad_request",
            "request body is not valid JSON",
        ),
        ("[]", 400, "bad_request", "order must be a JSON object"),
        ("null", 400, "bad_request", "order must be a JSON object"),
        ("{}", 400, "bad_request", "missing field: user_id"),
        (
            r#"{"User_id":1}"#,
            400,
            "bad_request",
            "missing field: user_id",
        ),
        (
            r#"{"user_id":-0,"items":[]}"#,
            400,
            "bad_request",
            "field user_id must be an integer",
        ),
        (
            r#"{"user_id":1.0,"items":[]}"#,
            400,
            "bad_request",
            "field user_id must be an integer",
        ),
        (
            r#"{"user_id":1e3,"items":[]}"#,
            400,
            "bad_request",
            "field user_id must be an integer",
        ),
        (
            r#"{"user_id":9223372036854775808,"items":[]}"#,
            400,
            "bad_request",
            "field user_id must be an integer",
        ),
        (
            r#"{"user_id":"x","user_id":1}"#,
            400,
            "bad_request",
            "missing field: items",
        ),
        (
            r#"{"user_id":1,"user_id":"x"}"#,
            400,
            "bad_request",
            "field user_id must be an integer",
        ),
        (
            r#"{"user_id":1,"items":{}}"#,
            400,
            "bad_request",
            "field items must be an array",
        ),
        (
            r#"{"user_id":1,"items":[[]]}"#,
            400,
            "bad_request",
            "field items[0] must be an object",
        ),
        (
            r#"{"user_id":1,"items":[{"SKU":"SKU-00001","quantity":1}]}"#,
            400,
            "bad_request",
            "missing field: items[0].sku",
        ),
        (
            r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":-0}]}"#,
            400,
            "bad_request",
            "field items[0].quantity must be an integer",
        ),
        (
            r#"{"user_id":0,"items":[]}"#,
            422,
            "validation_failed",
            "unknown user_id 0",
        ),
        (
            r#"{"user_id":1,"items":[]}"#,
            422,
            "validation_failed",
            "items must contain 1 to 100 entries, got 0",
        ),
        (
            r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1},{"sku":"sku-00001","quantity":1}]}"#,
            422,
            "validation_failed",
            "items[1].sku: unknown sku sku-00001",
        ),
        (
            r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1001}]}"#,
            422,
            "validation_failed",
            "items[0].quantity: must be in 1..=1000, got 1001",
        ),
    ];
    for (body, status, code, message) in cases {
        post_json(&app, "/v1/orders", body)
            .await
            .assert_error(status, code, message);
    }
    // Nothing above was stored.
    let ok = post_json(
        &app,
        "/v1/orders",
        r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1}]}"#,
    )
    .await;
    assert_eq!(ok.json()["id"], 1);
}

#[tokio::test]
async fn content_type_rules() {
    let app = app();
    let send_with = |content_type: Option<&'static str>, uri: &'static str| {
        let app = app.clone();
        async move {
            let mut request = Request::post(uri);
            if let Some(ct) = content_type {
                request = request.header(header::CONTENT_TYPE, ct);
            }
            send(&app, request.body(Body::from(r#"{"a":1}"#)).unwrap()).await
        }
    };
    for uri in ["/v1/echo", "/v1/orders"] {
        for bad in [
            None,
            Some("text/plain"),
            Some("application/json5"),
            Some("application/jsonx; charset=utf-8"),
            Some("application"),
            Some(""),
        ] {
            send_with(bad, uri).await.assert_error(
                415,
                "unsupported_media_type",
                "content type must be application/json",
            );
        }
    }
    for good in [
        "application/json",
        "Application/JSON",
        " application/json ; charset=utf-8",
        "APPLICATION/JSON;x=y",
        "application/json;",
    ] {
        let reply = send_with(Some(good), "/v1/echo").await;
        assert_eq!(reply.status, StatusCode::OK, "{good}");
        assert_eq!(reply.json(), json!({"a": 1}));
    }
}

#[tokio::test]
async fn body_size_limits() {
    let app = app();
    // By Content-Length, before reading (and before JSON syntax).
    for uri in ["/v1/echo", "/v1/orders"] {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, "1048577")
            .body(Body::from("not json"))
            .unwrap();
        send(&app, request).await.assert_error(
            413,
            "payload_too_large",
            "request body exceeds 1048576 bytes",
        );
    }
    // Content type is checked before size.
    let request = Request::post("/v1/echo")
        .header(header::CONTENT_LENGTH, "99999999")
        .body(Body::empty())
        .unwrap();
    send(&app, request).await.assert_error(
        415,
        "unsupported_media_type",
        "content type must be application/json",
    );

    // While reading a body without a length.
    let chunks = (0..17).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 64 * 1024])));
    let streamed = Body::from_stream(futures::stream::iter(chunks));
    post_json(&app, "/v1/echo", streamed).await.assert_error(
        413,
        "payload_too_large",
        "request body exceeds 1048576 bytes",
    );

    // Exactly 1 MiB is allowed, streamed or not.
    let exact = format!("\"{}\"", "x".repeat((1 << 20) - 2));
    assert_eq!(exact.len(), 1_048_576);
    let reply = post_json(&app, "/v1/echo", exact.clone()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body.len(), 1_048_576);
    let halves = [exact[..1000].to_owned(), exact[1000..].to_owned()]
        .map(|half| Ok::<_, std::io::Error>(Bytes::from(half)));
    let reply = post_json(
        &app,
        "/v1/echo",
        Body::from_stream(futures::stream::iter(halves)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // One byte more is not.
    let over = format!("\"{}\" ", "x".repeat((1 << 20) - 2));
    post_json(&app, "/v1/echo", over).await.assert_error(
        413,
        "payload_too_large",
        "request body exceeds 1048576 bytes",
    );
}

#[tokio::test]
async fn json_syntax_edges() {
    let app = app();
    let invalid = "request body is not valid JSON";
    for body in [
        "",
        " ",
        "{",
        "[1,]",
        "{\"a\":1}x",
        "1 2",
        "\"\\ud800\"",
        "\"\\udc00x\"",
        "NaN",
        "'a'",
        "{a:1}",
    ] {
        echo(&app, body)
            .await
            .assert_error(400, "bad_request", invalid);
    }
    let request_bytes = |bytes: &'static [u8]| {
        Request::post("/v1/echo")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .unwrap()
    };
    send(&app, request_bytes(b"\"\xff\""))
        .await
        .assert_error(400, "bad_request", invalid);
    send(&app, request_bytes(b"\"\xed\xa0\x80\""))
        .await
        .assert_error(400, "bad_request", invalid);

    let ok = post_json(&app, "/v1/echo", nested(127)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, nested(127).as_bytes());
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(127), "}".repeat(127));
    assert_eq!(
        post_json(&app, "/v1/echo", deep_objects).await.status,
        StatusCode::OK
    );
    post_json(&app, "/v1/echo", nested(128))
        .await
        .assert_error(400, "bad_request", invalid);
    post_json(&app, "/v1/orders", nested(128))
        .await
        .assert_error(400, "bad_request", invalid);
}

#[tokio::test]
async fn echo_rewrites_the_document() {
    let app = app();
    let cases = [
        (
            r#" { "b" : [1, 2.5, -0, 1e3, "\u00e9\ud83d\ude00"], "a": {"a":1,"a":2}, "c": null } "#,
            json!({"a": {"a": 2}, "b": [1, 2.5, -0.0, 1000.0, "é😀"], "c": null}),
        ),
        ("1", json!(1)),
        ("\"<tag>\"", json!("<tag>")),
        ("[]", json!([])),
        ("null", json!(null)),
        ("9223372036854775808", json!(9_223_372_036_854_775_808u64)),
    ];
    for (body, want) in cases {
        let reply = echo(&app, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}");
        assert_eq!(reply.json(), want, "{body}");
    }
    // Compact, keys sorted.
    assert_eq!(
        echo(&app, r#"{"b": 1, "a": [ true ]}"#).await.body,
        r#"{"a":[true],"b":1}"#.as_bytes()
    );
}

/// contract/README.md, "Limits and hostile input" (the HTTP rows the router decides).
#[tokio::test]
async fn hostile_input() {
    let app = app();
    let invalid = "request body is not valid JSON";
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    for uri in ["/v1/echo", "/v1/orders"] {
        for body in [
            nested(10_000),
            deep_objects.clone(),
            r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1}"#.to_owned(),
            r#"{"user_id":1,"#.to_owned(),
            "1e400".to_owned(),
        ] {
            post_json(&app, uri, body)
                .await
                .assert_error(400, "bad_request", invalid);
        }
        let not_utf8 = b"{\"user_id\":1,\"items\":[{\"sku\":\"\xff\xfe\",\"quantity\":1}]}";
        post_json(&app, uri, &not_utf8[..])
            .await
            .assert_error(400, "bad_request", invalid);
    }
    for (body, message) in [
        (
            r#"{"user_id":18446744073709551616,"items":[{"sku":"SKU-00001","quantity":1}]}"#,
            "field user_id must be an integer",
        ),
        (
            r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":18446744073709551616}]}"#,
            "field items[0].quantity must be an integer",
        ),
        (
            r#"{"user_id":123456789012345678901234567890,"items":[]}"#,
            "field user_id must be an integer",
        ),
    ] {
        post_json(&app, "/v1/orders", body)
            .await
            .assert_error(400, "bad_request", message);
    }

    // Beyond 64 bits: echoed by value while it fits a float64, else not JSON.
    for (body, want) in [
        (
            "123456789012345678901234567890",
            json!(1.234_567_890_123_456_8e29),
        ),
        ("18446744073709551616", json!(18_446_744_073_709_551_616.0)),
        ("[1.7976931348623157e308]", json!([f64::MAX])),
        // Below the smallest float64: rounds to zero, keeping the sign.
        ("1e-400", json!(0.0)),
        ("-1e-400", json!(-0.0)),
    ] {
        let reply = echo(&app, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}");
        assert_eq!(reply.json(), want, "{body}");
    }
    let minus_zero: f64 = serde_json::from_slice(&echo(&app, "-1e-400").await.body).unwrap();
    assert!(minus_zero == 0.0 && minus_zero.is_sign_negative());
    for body in [
        "1e400",
        "-1e400",
        r#"{"n":[1e400]}"#,
        "1.7976931348623159e308",
    ] {
        echo(&app, body)
            .await
            .assert_error(400, "bad_request", invalid);
    }

    for id in [
        "-1",
        "0",
        "1e3",
        "%00",
        "%2e%2e",
        "..",
        "99999999999999999999",
    ] {
        for resource in ["users", "orders"] {
            get(&app, &format!("/v1/{resource}/{id}"))
                .await
                .assert_error(400, "bad_request", "invalid id: must be a positive integer");
        }
    }
    // Routing is on the raw path: nothing is cleaned or redirected.
    for uri in [
        "/v1/users/../",
        "/v1/users/../1",
        "/v1/users/./1",
        "/v1/users/%2e%2e/1",
        "//v1/users/1",
    ] {
        get(&app, uri)
            .await
            .assert_error(404, "not_found", "no such route");
    }
}

#[tokio::test]
async fn metrics_label_routes() {
    let app = app();
    get(&app, "/v1/users/1").await;
    get(&app, "/v1/users/99999").await;
    get(&app, "/nope").await;
    send(
        &app,
        Request::delete("/v1/users/1").body(Body::empty()).unwrap(),
    )
    .await;
    send(&app, Request::head("/health").body(Body::empty()).unwrap()).await;
    post_json(&app, "/v1/orders", "{}").await;
    let reply = get(&app, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .content_type()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = std::str::from_utf8(&reply.body).unwrap();
    for needle in [
        r#"http_requests_total{method="GET",route="/v1/users/{id}",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="/v1/users/{id}",status="404"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"http_requests_total{method="DELETE",route="unmatched",status="405"} 1"#,
        r#"http_requests_total{method="HEAD",route="/health",status="200"} 1"#,
        r#"http_requests_total{method="POST",route="/v1/orders",status="400"} 1"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/v1/users/{id}",status="200",le="2.5"} 1"#,
        r#"http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1"#,
        "tokio_workers ",
        "tokio_alive_tasks ",
        "tokio_global_queue_depth ",
        "process_cpu_seconds_total ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // The scrape itself is counted on the next one.
    let text = String::from_utf8(get(&app, "/metrics").await.body.to_vec()).unwrap();
    assert!(text.contains(r#"http_requests_total{method="GET",route="/metrics",status="200"} 1"#));
}

#[tokio::test]
async fn every_response_is_serialized_per_request() {
    let state = AppState::new(Services::new(2)).unwrap();
    let app = super::router(Arc::clone(&state));
    for _ in 0..3 {
        let reply = post_json(
            &app,
            "/v1/orders",
            r#"{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1}]}"#,
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    get(&app, "/v1/orders/1")
        .await
        .assert_error(404, "not_found", "order 1 not found");
    assert_eq!(get(&app, "/v1/orders/3").await.json()["id"], 3);
}

/// An HTTP/1.1 request with a declared body the handler may leave unread.
fn with_body(method: Method, uri: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap()
}

fn closes(reply: &Reply) -> bool {
    reply
        .headers
        .get(header::CONNECTION)
        .is_some_and(|v| v == "close")
}

#[tokio::test]
async fn small_unread_bodies_are_discarded() {
    let app = app();
    // Under 256 KiB left unread: discarded, and the connection stays usable.
    let reply = send(
        &app,
        with_body(
            Method::POST,
            "/v1/echo",
            "text/plain",
            b"{\"a\":1}".to_vec(),
        ),
    )
    .await;
    reply.assert_error(
        415,
        "unsupported_media_type",
        "content type must be application/json",
    );
    assert!(!closes(&reply));
    let reply = send(
        &app,
        with_body(Method::POST, "/nope", "application/json", vec![b' '; 1000]),
    )
    .await;
    reply.assert_error(404, "not_found", "no such route");
    assert!(!closes(&reply));
    let reply = send(
        &app,
        with_body(
            Method::PUT,
            "/v1/users/1",
            "application/json",
            vec![b' '; (256 << 10) - 1],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!closes(&reply));
}

#[tokio::test]
async fn large_unread_bodies_close_the_connection() {
    let app = app();
    // 256 KiB or more left unread, by Content-Length or while discarding.
    let reply = send(
        &app,
        with_body(
            Method::POST,
            "/v1/echo",
            "text/plain",
            vec![b' '; 256 << 10],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(closes(&reply));
    let chunks = (0..5).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 64 << 10])));
    let chunked = Request::post("/v1/echo")
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let reply = send(&app, chunked).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(closes(&reply));
}

#[tokio::test]
async fn a_client_waiting_for_100_continue_is_closed() {
    // The client waits for `100 Continue`, which is never sent.
    let mut expecting = with_body(Method::POST, "/v1/echo", "text/plain", b"{}".to_vec());
    expecting.headers_mut().insert(
        header::EXPECT,
        http::HeaderValue::from_static("100-continue"),
    );
    assert!(closes(&send(&app(), expecting).await));
}

#[tokio::test]
async fn a_413_closes_the_connection() {
    // The rest of the body is not read.
    let reply = send(
        &app(),
        with_body(
            Method::POST,
            "/v1/echo",
            "application/json",
            vec![b' '; (1 << 20) + 1],
        ),
    )
    .await;
    reply.assert_error(
        413,
        "payload_too_large",
        "request body exceeds 1048576 bytes",
    );
    assert!(closes(&reply));
}

#[tokio::test]
async fn bodies_that_were_read_and_http2_keep_the_connection() {
    let app = app();
    let reply = send(
        &app,
        with_body(
            Method::POST,
            "/v1/echo",
            "application/json",
            b"[1]".to_vec(),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!closes(&reply));
    let reply = send(
        &app,
        with_body(
            Method::POST,
            "/v1/orders",
            "application/json",
            b"{}".to_vec(),
        ),
    )
    .await;
    reply.assert_error(400, "bad_request", "missing field: user_id");
    assert!(!closes(&reply));
    let mut h2 = with_body(
        Method::POST,
        "/v1/echo",
        "text/plain",
        vec![b' '; 300 << 10],
    );
    *h2.version_mut() = http::Version::HTTP_2;
    assert!(!closes(&send(&app, h2).await));
}
