use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use lab_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::services::{PRODUCT_COUNT, check_limit, check_offset};

#[derive(Debug, Clone)]
pub struct CatalogApi {
    state: Arc<AppState>,
}

impl CatalogApi {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    /// `limit` then `offset`, with the same rules and messages as REST.
    fn page_bounds(request: &pb::ListProductsRequest) -> Result<(u64, u64), Status> {
        Ok((check_limit(request.limit)?, check_offset(request.offset)?))
    }
}

type ProductStream = Pin<Box<dyn Stream<Item = Result<pb::Product, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl pb::catalog_service_server::CatalogService for CatalogApi {
    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        let (limit, offset) = Self::page_bounds(request.get_ref())?;
        let items = self
            .state
            .services
            .product_page(limit, offset)
            .iter()
            .map(super::product_message)
            .collect();
        Ok(Response::new(pb::ListProductsResponse {
            items,
            total: PRODUCT_COUNT,
        }))
    }

    type StreamProductsStream = ProductStream;

    /// One message per product of the page, in id order, each built as it is sent.
    async fn stream_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<Self::StreamProductsStream>, Status> {
        let (limit, offset) = Self::page_bounds(request.get_ref())?;
        let state = Arc::clone(&self.state);
        let len = state.services.product_page(limit, offset).len();
        let messages = (0..len).map(move |i| {
            Ok(super::product_message(
                &state.services.product_page(limit, offset)[i],
            ))
        });
        Ok(Response::new(Box::pin(futures::stream::iter(messages))))
    }
}
