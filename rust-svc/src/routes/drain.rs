//! What Go's net/http does with a request body the handler left unread on an
//! HTTP/1.x connection (`chunkWriter.writeHeader`): discard up to 256 KiB of
//! it so the connection can carry the next request, and otherwise answer with
//! `Connection: close`. hyper alone would close such a connection without
//! saying so, and a client could send its next request into it.
//!
//! This concerns the responses given before reading the body: 415, 413 by
//! `Content-Length`, 404 and 405 with a body.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Version, header};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, SizeHint};

use crate::handlers::decode::declared_length;

/// Go's `maxPostHandlerReadBytes`.
pub const MAX_DISCARD_BYTES: u64 = 256 << 10;

pub async fn finish_request_body(request: Request, next: Next) -> Response {
    let http1 = matches!(request.version(), Version::HTTP_10 | Version::HTTP_11);
    let declared = declared_length(request.headers());
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    if !http1 || (declared.unwrap_or(0) == 0 && !chunked) {
        return next.run(request).await;
    }
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));

    let rescue = Rescue::default();
    let request = request.map(|body| {
        Body::new(Tracked {
            inner: Some(body),
            read: 0,
            rescue: rescue.clone(),
        })
    });
    let mut response = next.run(request).await;

    let leftover = rescue
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(leftover) = leftover else {
        // Read to the end, or still owned by the response.
        return response;
    };
    if response
        .headers()
        .get(header::CONNECTION)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
    {
        return response;
    }
    let unread = declared.map(|len| len.saturating_sub(leftover.read));
    // The client waits for `100 Continue` before sending the body: do not ask for it.
    let reusable = !expects_continue
        && unread.is_none_or(|n| n < MAX_DISCARD_BYTES)
        && discard(leftover.body).await;
    if !reusable {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads and drops up to 256 KiB; true if that reached the end of the body.
async fn discard(mut body: Body) -> bool {
    let mut seen = 0u64;
    loop {
        match body.frame().await {
            None => return true,
            Some(Err(_)) => return false,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.len() as u64;
                    if seen > MAX_DISCARD_BYTES {
                        return false;
                    }
                }
            }
        }
    }
}

struct Leftover {
    body: Body,
    read: u64,
}

/// Where a request body dropped before its end is put back for the middleware.
#[derive(Clone, Default)]
struct Rescue(Arc<Mutex<Option<Leftover>>>);

struct Tracked {
    inner: Option<Body>,
    read: u64,
    rescue: Rescue,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.read += data.len() as u64;
                }
            }
            // The end (or a broken body, which the connection cannot recover from).
            Poll::Ready(None | Some(Err(_))) => this.inner = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(hyper::body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), hyper::body::Body::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if hyper::body::Body::is_end_stream(&body) {
            return;
        }
        let leftover = Leftover {
            body,
            read: self.read,
        };
        *self.rescue.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(leftover);
    }
}
