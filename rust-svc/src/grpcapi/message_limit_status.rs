//! tonic reports a message over the size limit (4 MiB) as `OUT_OF_RANGE`;
//! grpc-go, and the contract, say `RESOURCE_EXHAUSTED`. Nothing in this
//! service returns `OUT_OF_RANGE` itself, so this layer rewrites every one of
//! them, in trailers-only responses and in trailers alike.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::TryFutureExt as _;
use futures::future::MapOk;
use http::{HeaderMap, HeaderValue};
use hyper::body::{Body, Frame, SizeHint};
use tonic::{Code, Status};

const GRPC_STATUS: &str = "grpc-status";

#[derive(Debug, Clone, Copy, Default)]
pub struct MessageLimitStatusLayer;

impl<S> tower::Layer<S> for MessageLimitStatusLayer {
    type Service = MessageLimitStatus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageLimitStatus { inner }
    }
}

#[derive(Debug, Clone)]
pub struct MessageLimitStatus<S> {
    inner: S,
}

type Remap<B> = fn(http::Response<B>) -> http::Response<RemappedBody<B>>;

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for MessageLimitStatus<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<RemappedBody<ResBody>>;
    type Error = S::Error;
    type Future = MapOk<S::Future, Remap<ResBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        self.inner
            .call(request)
            .map_ok(remap_response as Remap<ResBody>)
    }
}

fn remap_response<B>(mut response: http::Response<B>) -> http::Response<RemappedBody<B>> {
    remap_headers(response.headers_mut());
    response.map(|inner| RemappedBody { inner })
}

fn remap_headers(headers: &mut HeaderMap) {
    let out_of_range = headers
        .get(GRPC_STATUS)
        .is_some_and(|value| Code::from_bytes(value.as_bytes()) == Code::OutOfRange);
    if out_of_range {
        headers.insert(
            GRPC_STATUS,
            HeaderValue::from(Code::ResourceExhausted as i32),
        );
    }
}

#[derive(Debug)]
pub struct RemappedBody<B> {
    inner: B,
}

impl<B> Body for RemappedBody<B>
where
    B: Body<Data = Bytes, Error = Status> + Unpin,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx).map(|frame| {
            frame.map(|frame| match frame {
                Ok(frame) => Ok(match frame.into_trailers() {
                    Ok(mut trailers) => {
                        remap_headers(&mut trailers);
                        Frame::trailers(trailers)
                    }
                    Err(frame) => frame,
                }),
                Err(status) if status.code() == Code::OutOfRange => Err(Status::new(
                    Code::ResourceExhausted,
                    status.message().to_owned(),
                )),
                Err(status) => Err(status),
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_out_of_range() {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_STATUS, HeaderValue::from_static("11"));
        remap_headers(&mut headers);
        assert_eq!(headers[GRPC_STATUS], "8");
        for other in ["0", "3", "5", "8"] {
            headers.insert(GRPC_STATUS, HeaderValue::from_static(other));
            remap_headers(&mut headers);
            assert_eq!(headers[GRPC_STATUS], other);
        }
        let mut none = HeaderMap::new();
        remap_headers(&mut none);
        assert!(none.is_empty());
    }
}
