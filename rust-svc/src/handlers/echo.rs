use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use crate::AppState;
use crate::apperror::AppError;

use super::decode;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/echo", post(echo))
        .with_state(state)
}

async fn echo(headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let body = decode::read_json_body(&headers, body).await?;
    Ok(super::json_bytes(StatusCode::OK, rewrite(&body)?))
}

/// The parsed document, written back compactly (object keys sorted).
pub(crate) fn rewrite(body: &[u8]) -> Result<Vec<u8>, AppError> {
    let document = decode::parse_json(body)?;
    serde_json::to_vec(&document).map_err(AppError::internal)
}
