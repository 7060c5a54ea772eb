//! tonic implementations of the four `lab.v1` services, on top of `services`
//! and the `AppError` -> `tonic::Status` mapping.

mod catalog;
mod echo;
mod message_limit_status;
mod orders;
mod users;

use std::sync::Arc;

use lab_proto::v1 as pb;
use tonic::service::Routes;
use tower::layer::util::{Identity, Stack};

pub use catalog::CatalogApi;
pub use echo::EchoApi;
pub use message_limit_status::{MessageLimitStatus, MessageLimitStatusLayer};
pub use orders::OrderApi;
pub use users::UserApi;

use crate::AppState;
use crate::limits::{GRPC_WINDOW_BYTES, MAX_CONCURRENT_STREAMS, MAX_MESSAGE_BYTES};
use crate::metrics::{GrpcMetricsLayer, Metrics};
use crate::models::{Order, Product, User};

/// The four `lab.v1` services, each accepting messages up to 4 MiB.
pub fn routes(state: &Arc<AppState>) -> Routes {
    use pb::catalog_service_server::CatalogServiceServer;
    use pb::echo_service_server::EchoServiceServer;
    use pb::order_service_server::OrderServiceServer;
    use pb::user_service_server::UserServiceServer;

    Routes::new(
        UserServiceServer::new(UserApi::new(Arc::clone(state)))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(
        CatalogServiceServer::new(CatalogApi::new(Arc::clone(state)))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(
        OrderServiceServer::new(OrderApi::new(Arc::clone(state)))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(EchoServiceServer::new(EchoApi).max_decoding_message_size(MAX_MESSAGE_BYTES))
}

/// The middleware of the gRPC server: metrics around the status rewrite.
pub type Layers = Stack<MessageLimitStatusLayer, Stack<GrpcMetricsLayer, Identity>>;

/// A tonic server with the contract's stream limit, metrics (outermost, so
/// they see the final codes) and the `RESOURCE_EXHAUSTED` rewrite.
pub fn server_builder(metrics: Arc<Metrics>) -> tonic::transport::Server<Layers> {
    tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        // hyper's defaults, fixed (no adaptive window), set as go-svc sets them:
        // what a client that never reads can park in the server is bounded.
        .initial_stream_window_size(GRPC_WINDOW_BYTES)
        .initial_connection_window_size(GRPC_WINDOW_BYTES)
        .layer(GrpcMetricsLayer::new(metrics))
        .layer(MessageLimitStatusLayer)
}

/// The names the health service reports on, besides `""`.
pub const SERVICE_NAMES: [&str; 4] = [
    pb::user_service_server::SERVICE_NAME,
    pb::catalog_service_server::SERVICE_NAME,
    pb::order_service_server::SERVICE_NAME,
    pb::echo_service_server::SERVICE_NAME,
];

fn user_message(user: &User) -> pb::User {
    pb::User {
        id: user.id,
        name: user.name.clone(),
        email: user.email.clone(),
        age: user.age,
        tags: user.tags.clone(),
    }
}

fn product_message(product: &Product) -> pb::Product {
    pb::Product {
        id: product.id,
        sku: product.sku.clone(),
        name: product.name.clone(),
        price_cents: product.price_cents,
        category: product.category.to_owned(),
    }
}

fn order_message(order: &Order) -> pb::Order {
    pb::Order {
        id: order.id,
        user_id: order.user_id,
        items: order
            .items
            .iter()
            .map(|line| pb::OrderLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price_cents: line.unit_price_cents,
                line_total_cents: line.line_total_cents,
            })
            .collect(),
        total_cents: order.total_cents,
        status: order.status.to_owned(),
    }
}

#[cfg(test)]
mod tests;
