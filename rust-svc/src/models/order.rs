use serde::Serialize;

/// The only order status there is.
pub const ORDER_STATUS_CREATED: &str = "created";

/// A stored order: immutable once created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    pub id: i64,
    pub user_id: i64,
    pub items: Vec<OrderLine>,
    pub total_cents: i64,
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub line_total_cents: i64,
}

/// An order request whose shape is valid (REST body or gRPC message), before
/// the 422 validation in `services`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub user_id: i64,
    pub items: Vec<NewOrderItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderItem {
    pub sku: String,
    pub quantity: i64,
}
