use std::sync::Arc;

use lab_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::models::{NewOrder, NewOrderItem};

#[derive(Debug, Clone)]
pub struct OrderApi {
    state: Arc<AppState>,
}

impl OrderApi {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::order_service_server::OrderService for OrderApi {
    /// The REST 422 rules, as `INVALID_ARGUMENT` (a missing `user_id` reads as 0).
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        let new = NewOrder {
            user_id: request.user_id,
            items: request
                .items
                .into_iter()
                .map(|item| NewOrderItem {
                    sku: item.sku,
                    quantity: item.quantity,
                })
                .collect(),
        };
        let order = self.state.services.create_order(new)?;
        Ok(Response::new(super::order_message(&order)))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let order = self.state.services.order(request.get_ref().id)?;
        Ok(Response::new(super::order_message(&order)))
    }
}
