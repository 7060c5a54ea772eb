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

/// Writes the parsed document back compactly (object keys sorted).
async fn echo(headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let document = decode::json_body(&headers, body).await?;
    super::json(StatusCode::OK, &document)
}
