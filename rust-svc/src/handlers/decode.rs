//! The request-body pipeline, in contract order: content type (415), size
//! (413), JSON syntax (400), then for orders the document's shape (400).

use axum::body::Body;
use http::{HeaderMap, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde_json::{Map, Value};

use crate::apperror::AppError;
use crate::limits::MAX_BODY_BYTES;
use crate::models::{NewOrder, NewOrderItem};

/// Checks the content type and size, and reads the body.
pub async fn read_json_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, AppError> {
    if !is_json(headers) {
        return Err(AppError::UnsupportedMediaType);
    }
    read_limited(headers, body).await
}

/// Parses a body as JSON. serde_json's recursion limit rejects more than 127
/// nested arrays/objects, and it rejects invalid UTF-8, unpaired surrogate
/// escapes, trailing data and numbers beyond float64 (`1e400`).
pub fn parse_json(body: &[u8]) -> Result<Value, AppError> {
    serde_json::from_slice(body).map_err(|_| AppError::invalid_json())
}

/// A `POST /v1/orders` body: JSON syntax, then the order's shape.
pub fn order(body: &[u8]) -> Result<NewOrder, AppError> {
    new_order(parse_json(body)?)
}

/// The media type (before any `;`, trimmed, case-insensitive) is `application/json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let bytes = value.as_bytes();
    let media_type = bytes.split(|&b| b == b';').next().unwrap_or_default();
    media_type
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

/// At most 1 MiB: refused by `Content-Length` before reading, or as soon as a
/// body without one goes over.
async fn read_limited(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, AppError> {
    if declared_length(headers).is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(AppError::PayloadTooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(AppError::PayloadTooLarge),
        // The client broke the body off (reset, short read): it is not a JSON document.
        Err(_) => Err(AppError::invalid_json()),
    }
}

/// The request's `Content-Length`, if it has a valid one.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

/// Extracts an order from a parsed document, checking its shape in contract
/// order: top level is an object; `user_id`; `items`; then each item: is an
/// object, `sku`, `quantity`. Keys are case-sensitive, unknown keys ignored.
pub fn new_order(document: Value) -> Result<NewOrder, AppError> {
    let Value::Object(mut order) = document else {
        return Err(AppError::BadRequest(
            "order must be a JSON object".to_owned(),
        ));
    };
    let user_id = integer(&order, "user_id", || "user_id".to_owned())?;
    let items = match present(&mut order, "items") {
        None => return Err(missing("items")),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(AppError::BadRequest(
                "field items must be an array".to_owned(),
            ));
        }
    };
    let items = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| order_item(i, item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NewOrder { user_id, items })
}

fn order_item(i: usize, item: Value) -> Result<NewOrderItem, AppError> {
    let Value::Object(mut item) = item else {
        return Err(AppError::BadRequest(format!(
            "field items[{i}] must be an object"
        )));
    };
    let sku = match present(&mut item, "sku") {
        None => return Err(missing(&format!("items[{i}].sku"))),
        Some(Value::String(sku)) => sku,
        Some(_) => {
            return Err(AppError::BadRequest(format!(
                "field items[{i}].sku must be a string"
            )));
        }
    };
    let quantity = integer(&item, "quantity", || format!("items[{i}].quantity"))?;
    Ok(NewOrderItem { sku, quantity })
}

/// Takes a field that is present and not `null`.
fn present(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    object.remove(key).filter(|value| !value.is_null())
}

/// A JSON integer: a number token without fraction or exponent that fits an
/// `i64`. serde_json reads `-0`, `1.0` and `1e3` as floats, and integers
/// beyond `i64` as `u64` or floats, so `as_i64` is exactly that rule.
fn integer(
    object: &Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
) -> Result<i64, AppError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(missing(&path())),
        Some(value) => value
            .as_i64()
            .ok_or_else(|| AppError::BadRequest(format!("field {} must be an integer", path()))),
    }
}

fn missing(path: &str) -> AppError {
    AppError::BadRequest(format!("missing field: {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape_error(document: Value) -> String {
        match new_order(document) {
            Err(AppError::BadRequest(message)) => message,
            other => panic!("expected a shape error, got {other:?}"),
        }
    }

    #[test]
    fn extracts_orders() {
        let order = new_order(json!({
            "user_id": 7, "extra": [1], "USER_ID": "x",
            "items": [{"sku": "SKU-00001", "quantity": 2, "note": null}, {"quantity": 1, "sku": ""}]
        }))
        .unwrap();
        assert_eq!(order.user_id, 7);
        assert_eq!(
            order.items,
            vec![
                NewOrderItem {
                    sku: "SKU-00001".into(),
                    quantity: 2
                },
                NewOrderItem {
                    sku: String::new(),
                    quantity: 1
                },
            ]
        );
        // Shape passes with zero items: the count is a 422 rule.
        assert!(
            new_order(json!({"user_id": 1, "items": []}))
                .unwrap()
                .items
                .is_empty()
        );
    }

    #[test]
    fn shape_errors_in_contract_order() {
        let cases = [
            (json!([]), "order must be a JSON object"),
            (json!("x"), "order must be a JSON object"),
            (json!(null), "order must be a JSON object"),
            (json!({}), "missing field: user_id"),
            (
                json!({"user_id": null, "items": 5}),
                "missing field: user_id",
            ),
            (json!({"User_id": 1}), "missing field: user_id"),
            (json!({"user_id": "1"}), "field user_id must be an integer"),
            (json!({"user_id": 1.5}), "field user_id must be an integer"),
            (json!({"user_id": true}), "field user_id must be an integer"),
            (json!({"user_id": 1}), "missing field: items"),
            (json!({"user_id": 1, "items": null}), "missing field: items"),
            (
                json!({"user_id": 1, "items": {}}),
                "field items must be an array",
            ),
            (
                json!({"user_id": 1, "items": "a"}),
                "field items must be an array",
            ),
            (
                json!({"user_id": 1, "items": [5]}),
                "field items[0] must be an object",
            ),
            (
                json!({"user_id": 1, "items": [{"sku":"a","quantity":1}, null]}),
                "field items[1] must be an object",
            ),
            (
                json!({"user_id": 1, "items": [{"quantity": 1}]}),
                "missing field: items[0].sku",
            ),
            (
                json!({"user_id": 1, "items": [{"sku": null, "quantity": "x"}]}),
                "missing field: items[0].sku",
            ),
            (
                json!({"user_id": 1, "items": [{"sku": 1, "quantity": 1}]}),
                "field items[0].sku must be a string",
            ),
            (
                json!({"user_id": 1, "items": [{"sku": "a"}]}),
                "missing field: items[0].quantity",
            ),
            (
                json!({"user_id": 1, "items": [{"sku": "a", "quantity": null}]}),
                "missing field: items[0].quantity",
            ),
            (
                json!({"user_id": 1, "items": [{"sku": "a", "quantity": "2"}]}),
                "field items[0].quantity must be an integer",
            ),
            // Shape of every item comes before any 422 rule.
            (
                json!({"user_id": 0, "items": [{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": []}]}),
                "field items[1].quantity must be an integer",
            ),
        ];
        for (document, message) in cases {
            assert_eq!(shape_error(document.clone()), message, "{document}");
        }
    }

    #[test]
    fn integers_follow_the_contract() {
        let parse = |text: &str| -> Result<i64, String> {
            let document: Value =
                serde_json::from_str(&format!(r#"{{"user_id": {text}, "items": []}}"#)).unwrap();
            new_order(document)
                .map(|o| o.user_id)
                .map_err(|e| e.message().to_owned())
        };
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("-1"), Ok(-1));
        assert_eq!(parse("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse("-9223372036854775808"), Ok(i64::MIN));
        for not_integer in [
            "-0",
            "1.0",
            "1e3",
            "1E3",
            "0.5",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
        ] {
            assert_eq!(
                parse(not_integer),
                Err("field user_id must be an integer".to_owned()),
                "{not_integer}"
            );
        }
    }
}
