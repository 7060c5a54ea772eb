//! axum handlers, one module per resource, each with its `router`; the
//! request-body pipeline is in `decode` and the query-string parser in `query`.

pub mod decode;
pub mod echo;
pub mod health;
pub mod metrics;
pub mod orders;
pub mod products;
pub mod query;
pub mod users;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::apperror::AppError;

/// A JSON response serialized now, with `Content-Type: application/json` exactly.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, AppError> {
    let bytes = serde_json::to_vec(value).map_err(AppError::internal)?;
    Ok(json_bytes(status, bytes))
}

/// A response whose body is already JSON.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A path id: ASCII digits only (leading zeros allowed) with a value in
/// `1..=i64::MAX`. axum has already percent-decoded the segment; a segment that
/// does not decode to UTF-8 is rejected the same way.
pub fn path_id(segment: Result<Path<String>, PathRejection>) -> Result<i64, AppError> {
    let Ok(Path(raw)) = segment else {
        return Err(AppError::invalid_id());
    };
    parse_id(&raw).ok_or_else(AppError::invalid_id)
}

/// A percent-decoded path id segment: ASCII digits, value `1..=i64::MAX`.
pub(crate) fn parse_id(raw: &str) -> Option<i64> {
    let n = parse_digits(raw.as_bytes())?;
    (n >= 1).then_some(n)
}

/// A non-empty string of ASCII digits whose value fits an `i64`.
pub fn parse_digits(raw: &[u8]) -> Option<i64> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    raw.iter().try_fold(0i64, |n, &digit| {
        n.checked_mul(10)?.checked_add(i64::from(digit - b'0'))
    })
}

/// Marks a response as a routing failure, so that metrics label it `unmatched`
/// even though axum matched the path (a 405 is decided inside the route).
#[derive(Debug, Clone, Copy)]
pub struct Unmatched;

/// Fallback: no route has this path.
pub async fn no_such_route() -> Response {
    let mut response = AppError::no_such_route().into_response();
    response.extensions_mut().insert(Unmatched);
    response
}

/// The path exists with other methods.
pub async fn method_not_allowed() -> Response {
    let mut response = AppError::MethodNotAllowed.into_response();
    response.extensions_mut().insert(Unmatched);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("1"), Some(1));
        assert_eq!(parse_id("010001"), Some(10001));
        assert_eq!(parse_id("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_id("0009223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "0",
            "000",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1 ",
            "9223372036854775808",
            "99999999999999999999999",
            "1.0",
            "0x1",
            "１",
        ] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
    }
}
