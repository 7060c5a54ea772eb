use futures::StreamExt as _;
use futures::stream::Map;
use lab_proto::v1 as pb;
use tonic::{Request, Response, Status, Streaming};

#[derive(Debug, Clone, Copy, Default)]
pub struct EchoApi;

type Reply = fn(Result<pb::EchoRequest, Status>) -> Result<pb::EchoResponse, Status>;

fn reply(request: Result<pb::EchoRequest, Status>) -> Result<pb::EchoResponse, Status> {
    request.map(|request| pb::EchoResponse {
        payload: request.payload,
    })
}

#[tonic::async_trait]
impl pb::echo_service_server::EchoService for EchoApi {
    async fn echo(
        &self,
        request: Request<pb::EchoRequest>,
    ) -> Result<Response<pb::EchoResponse>, Status> {
        Ok(Response::new(pb::EchoResponse {
            payload: request.into_inner().payload,
        }))
    }

    type EchoStreamStream = Map<Streaming<pb::EchoRequest>, Reply>;

    /// Ping-pong: each request is answered as it arrives, until the client
    /// half-closes (or a request fails to decode, which ends the call with its status).
    async fn echo_stream(
        &self,
        request: Request<Streaming<pb::EchoRequest>>,
    ) -> Result<Response<Self::EchoStreamStream>, Status> {
        Ok(Response::new(request.into_inner().map(reply as Reply)))
    }
}
