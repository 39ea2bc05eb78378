//! A cap on open connections. The accept loop asks the make-service whether it is ready before
//! it accepts; while every place is taken it is not, so further connections wait in the
//! kernel's backlog instead of taking file descriptors. A place is held by the connection's
//! service (and every clone hyper makes of it per request), so it is given back when the
//! connection has closed and its last request finished. While every place is taken, the
//! connection that has been silent longest (see `silence`) is closed to make room.

use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tower::Service;

use super::silence::Silent;

/// Wraps a make-service so that at most `max` of the services it makes are alive at once.
#[derive(Clone)]
pub struct ConnectionLimit<M> {
    inner: M,
    places: PollSemaphore,
    reserved: Option<Arc<OwnedSemaphorePermit>>,
    /// Connections that have sent nothing yet: while every place is taken, the oldest of them
    /// is closed to make room.
    silent: Silent,
    /// Whether a connection was closed for the place awaited now (one per place).
    evicted: bool,
}

impl<M> ConnectionLimit<M> {
    pub fn new(inner: M, max: usize, silent: Silent) -> Self {
        Self {
            inner,
            places: PollSemaphore::new(Arc::new(Semaphore::new(max.max(1)))),
            reserved: None,
            silent,
            evicted: false,
        }
    }
}

impl<M, T> Service<T> for ConnectionLimit<M>
where
    M: Service<T>,
    M::Future: Send + 'static,
{
    type Response = Limited<M::Response>;
    type Error = M::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.reserved.is_none() {
            match self.places.poll_acquire(cx) {
                // `None`: the semaphore was closed, which never happens; serve without a place.
                Poll::Ready(place) => {
                    self.reserved = place.map(Arc::new);
                    self.evicted = false;
                }
                Poll::Pending => {
                    // A connection is waiting and every place is taken: the one silent longest
                    // gives its place up (when it has closed, the semaphore wakes us).
                    if !self.evicted {
                        self.evicted = self.silent.evict_oldest();
                    }
                    return Poll::Pending;
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: T) -> Self::Future {
        let place = self.reserved.take();
        let making = self.inner.call(target);
        Box::pin(async move {
            Ok(Limited {
                inner: making.await?,
                _place: place,
            })
        })
    }
}

/// A connection's service, holding its place.
#[derive(Clone)]
pub struct Limited<S> {
    inner: S,
    _place: Option<Arc<OwnedSemaphorePermit>>,
}

impl<S, R> Service<R> for Limited<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn a_place_is_held_until_every_clone_of_the_service_is_gone() {
        let make = tower::service_fn(|_: ()| async {
            Ok::<_, std::convert::Infallible>(tower::service_fn(|x: u8| async move {
                Ok::<_, std::convert::Infallible>(x)
            }))
        });
        let mut limit = ConnectionLimit::new(make, 1, Silent::default());
        let first = limit.ready().await.unwrap().call(()).await.unwrap();
        let copy = first.clone();
        // The only place is taken: not ready.
        assert!(limit.ready().now_or_never().is_none());
        drop(first);
        assert!(
            limit.ready().now_or_never().is_none(),
            "a clone still holds it"
        );
        drop(copy);
        let second = limit.ready().await.unwrap().call(()).await.unwrap();
        assert_eq!(second.oneshot(7).await.unwrap(), 7);
    }
}
