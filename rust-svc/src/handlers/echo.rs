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

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(body: &str) -> String {
        String::from_utf8(rewrite(body.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn numbers_keep_their_value() {
        // Found by the `echo` fuzz target (input 1.02075937496510418403, whose
        // echo is this): serde_json's default float parser read it one unit in
        // the last place too high, as 1.0207593749651045.
        assert_eq!(echo("1.0207593749651043"), "1.0207593749651043");
        assert_eq!(echo("1.02075937496510418403"), "1.0207593749651043");
        assert_eq!(
            echo("[0.1,1e-7,2.5e300,5e-324]"),
            "[0.1,1e-7,2.5e+300,5e-324]"
        );
    }
}
