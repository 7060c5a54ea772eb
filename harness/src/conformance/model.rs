//! The contract's data, computed here independently from the formulas in
//! contract/README.md, so golden cases check the services against the
//! formulas rather than against each other.

use serde_json::{Value, json};

pub const USERS: i64 = 10_000;
pub const PRODUCTS: i64 = 1_000;
const CATEGORIES: [&str; 5] = ["books", "games", "tools", "food", "toys"];

pub fn user(id: i64) -> Value {
    json!({
        "id": id,
        "name": format!("User {id}"),
        "email": format!("user{id}@example.com"),
        "age": 18 + (id * 7919) % 62,
        "tags": [format!("t{}", id % 5), format!("t{}", id % 7)],
    })
}

pub fn sku(id: i64) -> String {
    format!("SKU-{id:05}")
}

pub fn price_cents(id: i64) -> i64 {
    100 + (id * 37) % 9900
}

pub fn product(id: i64) -> Value {
    json!({
        "id": id,
        "sku": sku(id),
        "name": format!("Product {id}"),
        "price_cents": price_cents(id),
        "category": CATEGORIES[(id % 5) as usize],
    })
}

/// The page holding products `first..=last` (empty when `last < first`).
pub fn product_page(first: i64, last: i64) -> Value {
    let items: Vec<Value> = (first..=last).map(product).collect();
    json!({ "items": items, "total": PRODUCTS })
}

/// An order as the services return it; `lines` are (product id, quantity).
pub fn order(id: i64, user_id: i64, lines: &[(i64, i64)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|&(p, q)| {
            json!({ "sku": sku(p), "quantity": q, "unit_price_cents": price_cents(p), "line_total_cents": price_cents(p) * q })
        })
        .collect();
    let total: i64 = lines.iter().map(|&(p, q)| price_cents(p) * q).sum();
    json!({ "id": id, "user_id": user_id, "items": items, "total_cents": total, "status": "created" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_examples_in_the_contract() {
        assert_eq!(
            user(1).to_string(),
            r#"{"age":63,"email":"user1@example.com","id":1,"name":"User 1","tags":["t1","t1"]}"#
        );
        assert_eq!(
            product(1).to_string(),
            r#"{"category":"games","id":1,"name":"Product 1","price_cents":137,"sku":"SKU-00001"}"#
        );
        assert_eq!(order(1, 1, &[(1, 2)])["total_cents"], 274);
    }

    #[test]
    fn pages_are_inclusive_and_may_be_empty() {
        assert_eq!(
            product_page(996, 1000)["items"].as_array().unwrap().len(),
            5
        );
        assert_eq!(product_page(1, 0)["items"], json!([]));
    }
}
