//! One REST connection, served until it ends or the drain closes it.
//!
//! hyper's graceful shutdown closes a connection whose first request head it
//! has not read yet as if it were idle (one still in `auto`'s version
//! detection at once), even when the client has already sent the whole
//! request. So when the drain starts, a connection that has not handed the
//! service a request yet first waits for one, for at most
//! [`first_request_grace`] after its accept, and only then shuts down
//! gracefully: hyper lets that request finish and closes after it. go-svc's
//! drain does the same (`internal/server/firstrequest.go`).

use std::fmt::Display;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::TryFutureExt as _;
use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// net/http's grace for a new connection (`http.Server.Shutdown` treats a
/// `StateNew` connection as idle once it is 5 s old).
pub const NEW_CONNECTION_GRACE: Duration = Duration::from_secs(5);

/// How long after its accept a connection may take to send its first request
/// head once the drain has started: Go's 5 s, or the header-read timeout if
/// that is shorter (the connection would be cut then anyway).
pub fn first_request_grace(header_read_timeout: Duration) -> Duration {
    NEW_CONNECTION_GRACE.min(header_read_timeout)
}

/// Whether a connection has handed the service its first request.
#[derive(Debug, Default)]
pub struct FirstRequest {
    seen: AtomicBool,
    notify: Notify,
}

impl FirstRequest {
    /// Called with every request; only the first one notifies.
    fn mark(&self) {
        if !self.seen.load(Ordering::Relaxed) && !self.seen.swap(true, Ordering::AcqRel) {
            // Stores a permit if nobody waits yet.
            self.notify.notify_one();
        }
    }

    async fn arrived(&self) {
        if !self.seen.load(Ordering::Acquire) {
            self.notify.notified().await;
        }
    }
}

/// A hyper service that marks [`FirstRequest`] before passing each request
/// on and, once `closing` is set (the drain has begun), answers HTTP/1.x
/// requests with `Connection: close`.
///
/// An idle keep-alive connection that the drain closes races the client's
/// next request, which is then lost. Closed after a response instead, during
/// the drain delay, the connection is one the client knows not to reuse.
#[derive(Debug, Clone)]
pub struct Marking<S> {
    inner: S,
    first: Arc<FirstRequest>,
    closing: Arc<AtomicBool>,
}

impl<S> Marking<S> {
    pub fn new(inner: S, first: Arc<FirstRequest>, closing: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            first,
            closing,
        }
    }
}

type Finish<B> = fn(http::Response<B>) -> http::Response<B>;

fn keep<B>(response: http::Response<B>) -> http::Response<B> {
    response
}

fn close<B>(mut response: http::Response<B>) -> http::Response<B> {
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

impl<S, R, B> hyper::service::Service<http::Request<R>> for Marking<S>
where
    S: hyper::service::Service<http::Request<R>, Response = http::Response<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::MapOk<S::Future, Finish<B>>;

    fn call(&self, request: http::Request<R>) -> Self::Future {
        self.first.mark();
        // HTTP/2 has no Connection header: its connections get GOAWAY.
        let finish: Finish<B> =
            if request.version() < http::Version::HTTP_2 && self.closing.load(Ordering::Relaxed) {
                close
            } else {
                keep
            };
        self.inner.call(request).map_ok(finish)
    }
}

/// Serves `connection` until it ends. Once `draining` turns true it shuts
/// down gracefully: at once if it has handed the service a request, else as
/// soon as its first request arrives or at `first_request_by`, whichever
/// comes first.
pub async fn serve<C>(
    connection: C,
    first: Arc<FirstRequest>,
    mut draining: watch::Receiver<bool>,
    first_request_by: Instant,
) where
    C: GracefulConnection,
    C::Error: Display,
{
    let mut connection = pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => Some(ended),
        // An error means the server is gone: drain too.
        _ = draining.wait_for(|&d| d) => None,
    };
    let ended = match ended {
        Some(ended) => ended,
        None => {
            let ended = tokio::select! {
                ended = connection.as_mut() => Some(ended),
                () = first.arrived() => None,
                () = tokio::time::sleep_until(first_request_by) => None,
            };
            match ended {
                Some(ended) => ended,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            }
        }
    };
    if let Err(err) = ended {
        tracing::debug!(error = %err, "REST connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_request_is_seen_whether_it_comes_before_or_after_the_wait() {
        let before = FirstRequest::default();
        before.mark();
        before.mark();
        tokio::time::timeout(Duration::from_secs(1), before.arrived())
            .await
            .expect("marked before the wait");

        let after = Arc::new(FirstRequest::default());
        let waiting = tokio::spawn({
            let after = Arc::clone(&after);
            async move { after.arrived().await }
        });
        tokio::task::yield_now().await;
        after.mark();
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("marked during the wait")
            .unwrap();
    }

    #[test]
    fn the_grace_is_gos_five_seconds_or_the_header_read_timeout() {
        assert_eq!(
            first_request_grace(Duration::from_secs(10)),
            NEW_CONNECTION_GRACE
        );
        assert_eq!(
            first_request_grace(Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }
}
