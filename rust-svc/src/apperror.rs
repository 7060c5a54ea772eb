//! The one error type of the service, mapped once to an HTTP response and once
//! to a gRPC status (contract/README.md, "Errors" and "REST status and gRPC code").

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::models::{ErrorBody, ErrorDetail};

/// What clients see instead of an internal error's cause.
const INTERNAL_MESSAGE: &str = "internal error";

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `bad_request` / `INVALID_ARGUMENT`.
    #[error("{0}")]
    BadRequest(String),
    /// 404 `not_found` / `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed` / `UNIMPLEMENTED`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413 `payload_too_large` / `RESOURCE_EXHAUSTED`.
    #[error("request body exceeds 1048576 bytes")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type` (no gRPC equivalent).
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// 422 `validation_failed` / `INVALID_ARGUMENT`.
    #[error("{0}")]
    Validation(String),
    /// 500 `internal` / `INTERNAL`: the cause is logged, never shown.
    #[error("internal error: {0}")]
    Internal(#[source] BoxError),
}

impl AppError {
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn invalid_id() -> Self {
        Self::BadRequest("invalid id: must be a positive integer".to_owned())
    }

    pub fn invalid_limit() -> Self {
        Self::BadRequest("invalid limit: must be an integer in 1..=1000".to_owned())
    }

    pub fn invalid_offset() -> Self {
        Self::BadRequest("invalid offset: must be a non-negative integer".to_owned())
    }

    pub fn invalid_query() -> Self {
        Self::BadRequest("invalid query string".to_owned())
    }

    pub fn invalid_json() -> Self {
        Self::BadRequest("request body is not valid JSON".to_owned())
    }

    pub fn no_such_route() -> Self {
        Self::NotFound("no such route".to_owned())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `code` field of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::Internal(_) => "internal",
        }
    }

    /// The `message` field of the error body (and the gRPC status message).
    pub fn message(&self) -> &str {
        match self {
            Self::BadRequest(m) | Self::NotFound(m) | Self::Validation(m) => m,
            Self::MethodNotAllowed => "method not allowed",
            Self::PayloadTooLarge => "request body exceeds 1048576 bytes",
            Self::UnsupportedMediaType => "content type must be application/json",
            Self::Internal(_) => INTERNAL_MESSAGE,
        }
    }

    fn log_if_internal(&self) {
        if let Self::Internal(cause) = self {
            tracing::error!(error = %cause, "internal error");
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log_if_internal();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.message(),
            },
        };
        let bytes = match serde_json::to_vec(&body) {
            Ok(bytes) => bytes,
            // Serializing two strings cannot fail; keep a valid body regardless.
            Err(_) => br#"{"error":{"code":"internal","message":"internal error"}}"#.to_vec(),
        };
        let mut response = (self.status(), bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if matches!(self, Self::PayloadTooLarge) {
            // The rest of the body stays unread, so the connection cannot carry
            // another request: tell an HTTP/1.1 client, as Go's net/http does.
            // (HTTP/2 has no such header; hyper drops it there.)
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<AppError> for tonic::Status {
    fn from(err: AppError) -> Self {
        err.log_if_internal();
        let code = match &err {
            AppError::BadRequest(_) | AppError::Validation(_) => tonic::Code::InvalidArgument,
            AppError::NotFound(_) => tonic::Code::NotFound,
            AppError::MethodNotAllowed => tonic::Code::Unimplemented,
            AppError::PayloadTooLarge => tonic::Code::ResourceExhausted,
            // gRPC fixes its own content type: the library refuses a wrong one
            // with HTTP 415 before any handler, which gRPC clients read as
            // UNKNOWN. Never sent by a handler; mapped as the client would see it.
            AppError::UnsupportedMediaType => tonic::Code::Unknown,
            AppError::Internal(_) => tonic::Code::Internal,
        };
        tonic::Status::new(code, err.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn parts(err: AppError) -> (StatusCode, String, serde_json::Value) {
        let response = err.into_response();
        let status = response.status();
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn every_error_has_the_contract_body() {
        let cases = [
            (
                AppError::invalid_id(),
                400,
                "bad_request",
                "invalid id: must be a positive integer",
            ),
            (
                AppError::NotFound("user 7 not found".into()),
                404,
                "not_found",
                "user 7 not found",
            ),
            (
                AppError::MethodNotAllowed,
                405,
                "method_not_allowed",
                "method not allowed",
            ),
            (
                AppError::PayloadTooLarge,
                413,
                "payload_too_large",
                "request body exceeds 1048576 bytes",
            ),
            (
                AppError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
                "content type must be application/json",
            ),
            (
                AppError::Validation("unknown user_id 0".into()),
                422,
                "validation_failed",
                "unknown user_id 0",
            ),
            (
                AppError::internal("disk on fire"),
                500,
                "internal",
                "internal error",
            ),
        ];
        for (err, status, code, message) in cases {
            let (got_status, content_type, body) = parts(err).await;
            assert_eq!(got_status.as_u16(), status);
            assert_eq!(content_type, "application/json");
            assert_eq!(
                body,
                serde_json::json!({"error": {"code": code, "message": message}})
            );
        }
    }

    #[test]
    fn grpc_codes_follow_the_mapping_table() {
        let cases = [
            (AppError::invalid_limit(), tonic::Code::InvalidArgument),
            (
                AppError::Validation("x".into()),
                tonic::Code::InvalidArgument,
            ),
            (AppError::NotFound("x".into()), tonic::Code::NotFound),
            (AppError::MethodNotAllowed, tonic::Code::Unimplemented),
            (AppError::PayloadTooLarge, tonic::Code::ResourceExhausted),
            (AppError::UnsupportedMediaType, tonic::Code::Unknown),
            (AppError::internal("secret cause"), tonic::Code::Internal),
        ];
        for (err, code) in cases {
            let message = err.message().to_owned();
            let status = tonic::Status::from(err);
            assert_eq!(status.code(), code);
            assert_eq!(status.message(), message);
        }
        let status = tonic::Status::from(AppError::internal("secret cause"));
        assert_eq!(status.message(), "internal error");
    }
}
