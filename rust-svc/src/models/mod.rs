//! The records the service serves, with the JSON field names of the contract.
//!
//! REST serializes these structs on every request; gRPC converts them to the
//! `lab.v1` messages in `grpcapi`.

mod error;
mod order;
mod product;
mod user;

pub use error::{ErrorBody, ErrorDetail};
pub use order::{NewOrder, NewOrderItem, ORDER_STATUS_CREATED, Order, OrderLine};
pub use product::{Product, ProductPage};
pub use user::User;
