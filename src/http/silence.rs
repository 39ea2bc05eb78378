//! Connections that say nothing. hyper's header-read timeout starts only once the HTTP
//! version is known, which takes the connection's first bytes: a connection that sends none
//! would stay open forever, holding a place and a file descriptor. Until its first bytes
//! decide the version (any byte that is not HTTP/2's preface, or the whole preface), a
//! connection is watched: it is cut at the header-read timeout counted from when it was
//! accepted, or earlier when every place is taken and it is the one that has been silent
//! longest (`Silent::evict_oldest`, called by the connection cap), so that a client with a
//! request is served while descriptors are exhausted.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// HTTP/2's connection preface: a connection whose first bytes follow it may still be one.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The connections that have not yet sent their first bytes, oldest first.
#[derive(Clone, Default)]
pub struct Silent(Arc<Mutex<Waiting>>);

#[derive(Default)]
struct Waiting {
    next: u64,
    by_age: BTreeMap<u64, CancellationToken>,
}

impl Silent {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // Nothing is left half-done under this lock, so a poisoned one is still consistent.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self) -> (u64, CancellationToken) {
        let token = CancellationToken::new();
        let mut w = self.waiting();
        let id = w.next;
        w.next += 1;
        w.by_age.insert(id, token.clone());
        (id, token)
    }

    fn forget(&self, id: u64) {
        self.waiting().by_age.remove(&id);
    }

    /// Closes the connection that has been silent longest; whether there was one.
    pub fn evict_oldest(&self) -> bool {
        let oldest = self.waiting().by_age.pop_first();
        match oldest {
            Some((_, token)) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Connections watched now.
    pub fn count(&self) -> usize {
        self.waiting().by_age.len()
    }
}

/// Wraps an acceptor (plain TCP, or TLS after its handshake) so that each connection's stream
/// is watched until its first bytes.
#[derive(Clone)]
pub struct CutSilence<A> {
    inner: A,
    timeout: Duration,
    silent: Silent,
}

impl<A> CutSilence<A> {
    pub fn new(inner: A, timeout: Duration, silent: Silent) -> Self {
        Self {
            inner,
            timeout,
            silent,
        }
    }
}

impl<A, I, S> Accept<I, S> for CutSilence<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = FirstBytes<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let deadline = Instant::now() + self.timeout;
        let accepting = self.inner.accept(stream, service);
        let silent = self.silent.clone();
        // Watched from accept: a TLS handshake that never comes is cut (and evicted) too.
        let (id, token) = silent.register();
        Box::pin(async move {
            let mut unwatch = Unregister(Some(silent.clone()), id);
            let (stream, service) = tokio::select! {
                accepted = accepting => accepted?,
                () = token.clone().cancelled_owned() => return Err(cut()),
                () = tokio::time::sleep_until(deadline) => return Err(cut()),
            };
            // From here the watch owns the registration.
            unwatch.0 = None;
            Ok((
                FirstBytes {
                    inner: stream,
                    watch: Some(Watch {
                        matched: 0,
                        deadline: Box::pin(tokio::time::sleep_until(deadline)),
                        evicted: Box::pin(token.cancelled_owned()),
                        id,
                        silent,
                    }),
                },
                service,
            ))
        })
    }
}

fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "no request on this connection in time",
    )
}

/// Forgets a registration when an accept ends before its stream is watched (`None` once the
/// watch owns it).
struct Unregister(Option<Silent>, u64);

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(silent) = &self.0 {
            silent.forget(self.1);
        }
    }
}

/// A connection's stream, watched until its first bytes decide its HTTP version.
pub struct FirstBytes<S> {
    inner: S,
    watch: Option<Watch>,
}

struct Watch {
    /// How many bytes so far followed HTTP/2's preface.
    matched: usize,
    deadline: Pin<Box<Sleep>>,
    evicted: Pin<Box<WaitForCancellationFutureOwned>>,
    id: u64,
    silent: Silent,
}

impl Watch {
    /// Takes bytes just read; whether they decided the version.
    fn decided(&mut self, bytes: &[u8]) -> bool {
        for b in bytes {
            if self.matched == H2_PREFACE.len() || H2_PREFACE[self.matched] != *b {
                return true;
            }
            self.matched += 1;
        }
        self.matched == H2_PREFACE.len()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.silent.forget(self.id);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytes<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let Some(watch) = self.watch.as_mut() else {
            return polled;
        };
        match &polled {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                // End of stream, or bytes that tell the version: watched no more.
                if read.is_empty() || watch.decided(read) {
                    self.watch = None;
                }
            }
            Poll::Ready(Err(_)) => self.watch = None,
            Poll::Pending => {
                let cut = watch.deadline.as_mut().poll(cx).is_ready()
                    || watch.evicted.as_mut().poll(cx).is_ready();
                if cut {
                    self.watch = None;
                    return Poll::Ready(Err(self::cut()));
                }
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytes<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn watched(
        s: tokio::io::DuplexStream,
        timeout: Duration,
        silent: &Silent,
    ) -> FirstBytes<tokio::io::DuplexStream> {
        let (id, token) = silent.register();
        FirstBytes {
            inner: s,
            watch: Some(Watch {
                matched: 0,
                deadline: Box::pin(tokio::time::sleep(timeout)),
                evicted: Box::pin(token.cancelled_owned()),
                id,
                silent: silent.clone(),
            }),
        }
    }

    #[tokio::test]
    async fn silence_is_cut_at_the_deadline_and_a_request_is_not() {
        let silent = Silent::default();
        let (_client, server) = tokio::io::duplex(64);
        let mut quiet = watched(server, Duration::from_millis(200), &silent);
        let mut buf = [0u8; 8];
        let err = quiet.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(silent.count(), 0);

        let (mut client, server) = tokio::io::duplex(64);
        let mut talking = watched(server, Duration::from_millis(200), &silent);
        client.write_all(b"G").await.unwrap();
        assert_eq!(talking.read(&mut buf).await.unwrap(), 1);
        assert_eq!(silent.count(), 0, "decided: HTTP/1");
        // Past the deadline, a decided connection is left to hyper's own timeouts.
        tokio::time::sleep(Duration::from_millis(400)).await;
        client.write_all(b"ET").await.unwrap();
        assert_eq!(talking.read(&mut buf).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn the_oldest_silent_connection_is_evicted_first() {
        let silent = Silent::default();
        let (_a, first) = tokio::io::duplex(64);
        let (_b, second) = tokio::io::duplex(64);
        let mut first = watched(first, Duration::from_millis(200), &silent);
        let mut second = watched(second, Duration::from_millis(200), &silent);
        assert!(silent.evict_oldest());
        let mut buf = [0u8; 8];
        assert!(first.read(&mut buf).await.is_err());
        assert_eq!(silent.count(), 1);
        assert!(silent.evict_oldest());
        assert!(second.read(&mut buf).await.is_err());
        assert!(!silent.evict_oldest());
    }

    #[tokio::test]
    async fn a_trickled_http2_preface_stays_watched() {
        let silent = Silent::default();
        let (_client, server) = tokio::io::duplex(64);
        let mut h2 = watched(server, Duration::from_millis(200), &silent);
        let w = h2.watch.as_mut().unwrap();
        assert!(!w.decided(b"PRI * "));
        assert!(!w.decided(b"HTTP/2.0\r\n"));
        assert!(w.decided(b"\r\nSM\r\n\r\n"));
        let (_client, server) = tokio::io::duplex(64);
        let mut h1 = watched(server, Duration::from_millis(200), &silent);
        assert!(h1.watch.as_mut().unwrap().decided(b"POST /"));
    }
}
