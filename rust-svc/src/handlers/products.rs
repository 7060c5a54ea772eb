use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;

use crate::AppState;
use crate::apperror::AppError;
use crate::models::ProductPage;
use crate::services::{PRODUCT_COUNT, check_limit, check_offset};

use super::query::Query;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/products", get(list_products))
        .with_state(state)
}

async fn list_products(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let (limit, offset) = page_params(raw.as_deref().unwrap_or(""))?;
    let page = ProductPage {
        items: state.services.product_page(limit, offset),
        total: PRODUCT_COUNT,
    };
    super::json(StatusCode::OK, &page)
}

/// `limit` and `offset` from a raw query string, checked in contract order.
pub(crate) fn page_params(raw: &str) -> Result<(u64, u64), AppError> {
    let query = Query::parse(raw)?;
    // `limit` is checked completely (syntax, then range) before `offset`.
    let limit = query
        .first(b"limit")
        .map(|raw| super::parse_digits(raw).ok_or_else(AppError::invalid_limit))
        .transpose()?;
    let limit = check_limit(limit)?;
    let offset = query
        .first(b"offset")
        .map(|raw| super::parse_digits(raw).ok_or_else(AppError::invalid_offset))
        .transpose()?;
    let offset = check_offset(offset)?;
    Ok((limit, offset))
}
