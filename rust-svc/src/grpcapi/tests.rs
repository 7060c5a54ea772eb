//! Every rpc over a real tonic server on 127.0.0.1:0, with the metrics layer.

use std::sync::Arc;

use lab_proto::v1 as pb;
use pb::catalog_service_client::CatalogServiceClient;
use pb::echo_service_client::EchoServiceClient;
use pb::order_service_client::OrderServiceClient;
use pb::user_service_client::UserServiceClient;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use crate::AppState;
use crate::services::Services;

struct Harness {
    state: Arc<AppState>,
    channel: Channel,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Harness {
    let state = AppState::new(Services::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = super::server_builder(Arc::clone(&state.metrics))
        .add_routes(super::routes(&state))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
            let _ = stopped.await;
        });
    tokio::spawn(server);
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Harness {
        state,
        channel,
        _stop: stop,
    }
}

fn assert_status<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, message: &str) {
    let status = result.unwrap_err();
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(status.message(), message);
}

fn list(limit: Option<i64>, offset: Option<i64>) -> pb::ListProductsRequest {
    pb::ListProductsRequest { limit, offset }
}

fn item(sku: &str, quantity: i64) -> pb::OrderItemRequest {
    pb::OrderItemRequest {
        sku: sku.to_owned(),
        quantity,
    }
}

#[tokio::test]
async fn get_user() {
    let h = start().await;
    let mut users = UserServiceClient::new(h.channel.clone());
    let user = users
        .get_user(pb::GetUserRequest { id: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        user,
        pb::User {
            id: 1,
            name: "User 1".into(),
            email: "user1@example.com".into(),
            age: 63,
            tags: vec!["t1".into(), "t1".into()],
        }
    );
    for id in [0, -1, i64::MIN] {
        assert_status(
            users.get_user(pb::GetUserRequest { id }).await,
            Code::InvalidArgument,
            "invalid id: must be a positive integer",
        );
    }
    assert_status(
        users.get_user(pb::GetUserRequest { id: 10_001 }).await,
        Code::NotFound,
        "user 10001 not found",
    );
}

#[tokio::test]
async fn list_and_stream_products() {
    let h = start().await;
    let mut catalog = CatalogServiceClient::new(h.channel.clone());
    let cases: [(Option<i64>, Option<i64>, Vec<i64>); 6] = [
        (None, None, (1..=20).collect()),
        (Some(5), None, (1..=5).collect()),
        (Some(10), Some(995), (996..=1000).collect()),
        (None, Some(1000), vec![]),
        (Some(1000), Some(i64::MAX), vec![]),
        (Some(1000), Some(0), (1..=1000).collect()),
    ];
    for (limit, offset, want) in cases {
        let page = catalog
            .list_products(list(limit, offset))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total, 1000);
        assert_eq!(page.items.iter().map(|p| p.id).collect::<Vec<_>>(), want);
        let streamed: Vec<pb::Product> = catalog
            .stream_products(list(limit, offset))
            .await
            .unwrap()
            .into_inner()
            .collect::<Result<_, _>>()
            .await
            .unwrap();
        assert_eq!(streamed, page.items);
    }
    let first = catalog
        .list_products(list(Some(1), None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.items[0],
        pb::Product {
            id: 1,
            sku: "SKU-00001".into(),
            name: "Product 1".into(),
            price_cents: 137,
            category: "games".into(),
        }
    );
    let limit = "invalid limit: must be an integer in 1..=1000";
    let offset = "invalid offset: must be a non-negative integer";
    let errors = [
        (Some(0), None, limit),
        (Some(1001), None, limit),
        (Some(-1), Some(-1), limit),
        (None, Some(-1), offset),
        (Some(5), Some(i64::MIN), offset),
    ];
    for (l, o, message) in errors {
        assert_status(
            catalog.list_products(list(l, o)).await,
            Code::InvalidArgument,
            message,
        );
        assert_status(
            catalog.stream_products(list(l, o)).await,
            Code::InvalidArgument,
            message,
        );
    }
}

#[tokio::test]
async fn create_and_get_orders() {
    let h = start().await;
    let mut orders = OrderServiceClient::new(h.channel.clone());
    let created = orders
        .create_order(pb::CreateOrderRequest {
            user_id: 1,
            items: vec![item("SKU-00001", 2), item("SKU-00001", 1)],
        })
        .await
        .unwrap()
        .into_inner();
    let line = |quantity: i64| pb::OrderLine {
        sku: "SKU-00001".into(),
        quantity,
        unit_price_cents: 137,
        line_total_cents: 137 * quantity,
    };
    assert_eq!(
        created,
        pb::Order {
            id: 1,
            user_id: 1,
            items: vec![line(2), line(1)],
            total_cents: 411,
            status: "created".into(),
        }
    );
    let fetched = orders
        .get_order(pb::GetOrderRequest { id: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, created);
    assert_status(
        orders.get_order(pb::GetOrderRequest { id: 2 }).await,
        Code::NotFound,
        "order 2 not found",
    );
    assert_status(
        orders.get_order(pb::GetOrderRequest { id: 0 }).await,
        Code::InvalidArgument,
        "invalid id: must be a positive integer",
    );
    let invalid = [
        (pb::CreateOrderRequest::default(), "unknown user_id 0"),
        (
            pb::CreateOrderRequest {
                user_id: 1,
                items: vec![],
            },
            "items must contain 1 to 100 entries, got 0",
        ),
        (
            pb::CreateOrderRequest {
                user_id: 1,
                items: vec![item("SKU-00001", 1); 101],
            },
            "items must contain 1 to 100 entries, got 101",
        ),
        (
            pb::CreateOrderRequest {
                user_id: 2,
                items: vec![item("SKU-00001", 1), item("", 1)],
            },
            "items[1].sku: unknown sku ",
        ),
        (
            pb::CreateOrderRequest {
                user_id: 2,
                items: vec![item("SKU-00001", 0)],
            },
            "items[0].quantity: must be in 1..=1000, got 0",
        ),
    ];
    for (request, message) in invalid {
        assert_status(
            orders.create_order(request).await,
            Code::InvalidArgument,
            message,
        );
    }
}

#[tokio::test]
async fn echo_and_message_limits() {
    let h = start().await;
    let mut echo = EchoServiceClient::new(h.channel.clone())
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    for payload in [vec![], b"hello".to_vec(), vec![0, 255, 10]] {
        let reply = echo
            .echo(pb::EchoRequest {
                payload: payload.clone(),
            })
            .await
            .unwrap();
        assert_eq!(reply.into_inner().payload, payload);
    }
    // Exactly 4 MiB encoded: 1 tag byte + 4 length bytes + payload.
    let fits = vec![7u8; (4 << 20) - 5];
    let reply = echo
        .echo(pb::EchoRequest {
            payload: fits.clone(),
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().payload.len(), fits.len());
    let status = echo
        .echo(pb::EchoRequest {
            payload: vec![7u8; (4 << 20) - 4],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn echo_stream_ping_pong() {
    let h = start().await;
    let mut echo = EchoServiceClient::new(h.channel.clone());
    let (tx, rx) = mpsc::channel::<pb::EchoRequest>(1);
    let mut replies = echo
        .echo_stream(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    // Each reply arrives before the next request is sent.
    for i in 0..5u8 {
        tx.send(pb::EchoRequest {
            payload: vec![i; usize::from(i)],
        })
        .await
        .unwrap();
        let reply = replies.message().await.unwrap().unwrap();
        assert_eq!(reply.payload, vec![i; usize::from(i)]);
    }
    drop(tx);
    assert_eq!(replies.message().await.unwrap(), None);

    // A message over 4 MiB ends the stream with RESOURCE_EXHAUSTED.
    let mut echo = echo.max_encoding_message_size(usize::MAX);
    let too_big = pb::EchoRequest {
        payload: vec![1; 5 << 20],
    };
    let mut replies = echo
        .echo_stream(tokio_stream::iter([
            pb::EchoRequest {
                payload: b"a".to_vec(),
            },
            too_big,
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replies.message().await.unwrap().unwrap().payload, b"a");
    let status = replies.message().await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn unknown_methods_are_unimplemented() {
    let h = start().await;
    let mut grpc = tonic::client::Grpc::new(h.channel.clone());
    grpc.ready().await.unwrap();
    let status = grpc
        .unary::<_, pb::User, _>(
            tonic::Request::new(pb::GetUserRequest { id: 1 }),
            http::uri::PathAndQuery::from_static("/lab.v1.UserService/Nope"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    let text = String::from_utf8(h.state.metrics.render().unwrap().1).unwrap();
    assert!(!text.contains("Nope"), "{text}");
}

/// Sends one gRPC message made of `message`'s bytes as they are, and returns
/// the status the call ends with.
async fn raw_unary(channel: Channel, path: &'static str, message: &[u8]) -> tonic::Status {
    use http_body_util::{BodyExt as _, Full};
    use tower::ServiceExt as _;

    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(message);
    let request = http::Request::post(path)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(tonic::body::Body::new(Full::new(bytes::Bytes::from(frame))))
        .unwrap();
    let response = channel.oneshot(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let (parts, body) = response.into_parts();
    let trailers = body
        .collect()
        .await
        .unwrap()
        .trailers()
        .cloned()
        .unwrap_or_default();
    tonic::Status::from_header_map(&parts.headers)
        .or_else(|| tonic::Status::from_header_map(&trailers))
        .expect("a grpc-status")
}

/// contract/README.md, "Limits and hostile input", gRPC.
#[tokio::test]
async fn hostile_messages() {
    let h = start().await;
    // Not protobuf: INTERNAL, the gRPC libraries' code for an unparseable message.
    // (Not a field of the wrong wire type: prost refuses it, grpc-go keeps it
    // as an unknown field.)
    let cases: [(&str, &[u8]); 5] = [
        // A varint that never ends.
        ("/lab.v1.UserService/GetUser", &[0xff; 11]),
        // Field 1 with no value.
        ("/lab.v1.UserService/GetUser", &[0x08]),
        // A length past the end of the message.
        ("/lab.v1.EchoService/Echo", &[0x0a, 0x05, b'x']),
        ("/lab.v1.OrderService/CreateOrder", &[0x12, 0x02, 0x0a]),
        ("/lab.v1.CatalogService/ListProducts", &[0x08, 0x80]),
    ];
    for (path, message) in cases {
        let status = raw_unary(h.channel.clone(), path, message).await;
        assert_eq!(
            status.code(),
            Code::Internal,
            "{path} {message:?}: {status:?}"
        );
    }
    // Well-formed messages are served.
    let status = raw_unary(
        h.channel.clone(),
        "/lab.v1.UserService/GetUser",
        &[0x08, 0x01],
    )
    .await;
    assert_eq!(status.code(), Code::Ok, "{status:?}");
    let status = raw_unary(
        h.channel.clone(),
        "/lab.v1.EchoService/Echo",
        &[0x0a, 0x01, b'x'],
    )
    .await;
    assert_eq!(status.code(), Code::Ok, "{status:?}");

    // Over 4 MiB, announced by the frame's length prefix.
    let too_big = vec![0u8; (4 << 20) + 1];
    let status = raw_unary(h.channel.clone(), "/lab.v1.EchoService/Echo", &too_big).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // Unknown methods and services.
    for path in [
        "/lab.v1.UserService/Nope",
        "/lab.v1.NopeService/GetUser",
        "/lab.v2.UserService/GetUser",
        "/nope",
    ] {
        let status = raw_unary(h.channel.clone(), path, &[0x08, 0x01]).await;
        assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
    }
}

#[tokio::test]
async fn metrics_record_codes_at_the_end_of_each_call() {
    let h = start().await;
    let mut users = UserServiceClient::new(h.channel.clone());
    let mut catalog = CatalogServiceClient::new(h.channel.clone());
    let mut echo = EchoServiceClient::new(h.channel.clone()).max_encoding_message_size(usize::MAX);
    users.get_user(pb::GetUserRequest { id: 1 }).await.unwrap();
    users.get_user(pb::GetUserRequest { id: 1 }).await.unwrap();
    users
        .get_user(pb::GetUserRequest { id: 0 })
        .await
        .unwrap_err();
    users
        .get_user(pb::GetUserRequest { id: 99_999 })
        .await
        .unwrap_err();
    let streamed: Vec<_> = catalog
        .stream_products(list(Some(3), None))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(streamed.len(), 3);
    catalog
        .stream_products(list(Some(0), None))
        .await
        .unwrap_err();
    echo.echo(pb::EchoRequest {
        payload: vec![0; 5 << 20],
    })
    .await
    .unwrap_err();
    let mut replies = echo
        .echo_stream(tokio_stream::iter([pb::EchoRequest::default()]))
        .await
        .unwrap()
        .into_inner();
    while replies.message().await.unwrap().is_some() {}

    let text = String::from_utf8(h.state.metrics.render().unwrap().1).unwrap();
    for needle in [
        r#"grpc_requests_total{code="OK",method="/lab.v1.UserService/GetUser"} 2"#,
        r#"grpc_requests_total{code="INVALID_ARGUMENT",method="/lab.v1.UserService/GetUser"} 1"#,
        r#"grpc_requests_total{code="NOT_FOUND",method="/lab.v1.UserService/GetUser"} 1"#,
        r#"grpc_requests_total{code="OK",method="/lab.v1.CatalogService/StreamProducts"} 1"#,
        r#"grpc_requests_total{code="INVALID_ARGUMENT",method="/lab.v1.CatalogService/StreamProducts"} 1"#,
        r#"grpc_requests_total{code="RESOURCE_EXHAUSTED",method="/lab.v1.EchoService/Echo"} 1"#,
        r#"grpc_requests_total{code="OK",method="/lab.v1.EchoService/EchoStream"} 1"#,
        r#"grpc_request_duration_seconds_count{code="OK",method="/lab.v1.UserService/GetUser"} 2"#,
        r#"grpc_request_duration_seconds_bucket{code="OK",method="/lab.v1.UserService/GetUser",le="2.5"} 2"#,
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}
