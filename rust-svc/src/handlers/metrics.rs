use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};

use crate::AppState;
use crate::apperror::AppError;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, AppError> {
    let (content_type, body) = state.metrics.render().map_err(AppError::internal)?;
    let content_type = HeaderValue::try_from(content_type).map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
