use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use serde::Serialize;

use crate::AppState;
use crate::apperror::AppError;

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(state)
}

async fn health() -> Result<Response, AppError> {
    super::json(StatusCode::OK, &Health { status: "ok" })
}
