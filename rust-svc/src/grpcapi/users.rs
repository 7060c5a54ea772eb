use std::sync::Arc;

use lab_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::AppState;

#[derive(Debug, Clone)]
pub struct UserApi {
    state: Arc<AppState>,
}

impl UserApi {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for UserApi {
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let user = self.state.services.user(request.get_ref().id)?;
        Ok(Response::new(super::user_message(user)))
    }
}
