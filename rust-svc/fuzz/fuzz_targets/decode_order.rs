//! `POST /v1/orders` body bytes through the handler's decoding (JSON, shape)
//! and validation. Must not panic; a decoded order written back as JSON
//! decodes to the same order.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rust_svc::fuzzing::decode_order;
use rust_svc::models::NewOrder;
use rust_svc::services::Services;
use serde_json::json;

/// The generated data set; an order ring of one slot.
static SERVICES: LazyLock<Services> = LazyLock::new(|| Services::new(1));

fuzz_target!(|body: &[u8]| {
    let Ok(order) = decode_order(body) else {
        return;
    };
    let again = serde_json::to_vec(&document(&order)).expect("serializable");
    assert_eq!(decode_order(&again).expect("re-decodes"), order);
    if let Ok(created) = SERVICES.create_order(order.clone()) {
        assert_eq!(created.user_id, order.user_id);
        assert_eq!(created.items.len(), order.items.len());
        let sum: i64 = created.items.iter().map(|l| l.line_total_cents).sum();
        assert_eq!(created.total_cents, sum);
    }
});

fn document(order: &NewOrder) -> serde_json::Value {
    let items: Vec<_> = order
        .items
        .iter()
        .map(|item| json!({"sku": item.sku, "quantity": item.quantity}))
        .collect();
    json!({"user_id": order.user_id, "items": items})
}
