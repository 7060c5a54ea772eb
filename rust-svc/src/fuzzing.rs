//! Entry points for the fuzz targets in `rust-svc/fuzz`: the request decoding
//! the REST handlers run once the body or path is read, without HTTP. Not an
//! API; hidden from the docs.

use crate::apperror::AppError;
use crate::handlers;
use crate::models::NewOrder;

/// `POST /v1/orders` after reading the body: JSON syntax, then the order's
/// shape (validation is `Services::create_order`).
pub fn decode_order(body: &[u8]) -> Result<NewOrder, AppError> {
    handlers::decode::order(body)
}

/// `POST /v1/echo` after reading the body: the response body.
pub fn echo(body: &[u8]) -> Result<Vec<u8>, AppError> {
    handlers::echo::rewrite(body)
}

/// A path id, after percent-decoding.
pub fn path_id(segment: &str) -> Option<i64> {
    handlers::parse_id(segment)
}

/// `GET /v1/products`: `(limit, offset)` from the raw query string.
pub fn products_query(raw: &str) -> Result<(u64, u64), AppError> {
    handlers::products::page_params(raw)
}
