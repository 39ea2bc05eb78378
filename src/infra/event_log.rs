//! The tenant log's writer: events recorded by the domain are queued (recording never waits on
//! the database) and written in batches by one task per instance, a batch gathering for at most
//! 25 ms; `flush` waits for what was queued before it. When the queue is full (the database far behind), events are dropped and
//! counted in the service log rather than slowing logins.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::domain::audit::EventLog;
use crate::domain::store::{LogEvent, Store};

/// Events waiting to be written, at most.
const QUEUE: usize = 65_536;
/// Events per write, at most.
const BATCH: usize = 512;
/// How long a batch may wait for more events before it is written.
const WINDOW: std::time::Duration = std::time::Duration::from_millis(25);

enum Msg {
    Event(Box<LogEvent>),
    Flush(oneshot::Sender<()>),
}

pub struct LogWriter {
    queue: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl LogWriter {
    /// Starts the writer task; it ends when the last `LogWriter` is dropped and its queue is
    /// written.
    pub fn start(store: Arc<dyn Store>) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, mut rx) = mpsc::channel::<Msg>(QUEUE);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut waiting = Vec::new();
            while let Some(first) = rx.recv().await {
                // A window for the batch to fill: one commit for a burst of events instead of
                // one each (each commit is a WAL write and sync). A flush ends it at once.
                let deadline = tokio::time::Instant::now() + WINDOW;
                let mut next = Some(first);
                while let Some(m) = next.take() {
                    match m {
                        Msg::Event(e) => batch.push(*e),
                        Msg::Flush(done) => waiting.push(done),
                    }
                    if batch.len() >= BATCH || !waiting.is_empty() {
                        break;
                    }
                    next = match rx.try_recv() {
                        Ok(m) => Some(m),
                        Err(_) => tokio::time::timeout_at(deadline, rx.recv())
                            .await
                            .ok()
                            .flatten(),
                    };
                }
                if !batch.is_empty() {
                    if let Err(e) = store.append_logs(&batch).await {
                        tracing::warn!(
                            cause = %crate::domain::error::chain(&e),
                            events = batch.len(),
                            "tenant log events could not be written"
                        );
                    }
                    batch.clear();
                }
                for done in waiting.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        (
            Self {
                queue,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            task,
        )
    }
}

#[async_trait::async_trait]
impl EventLog for LogWriter {
    fn record(&self, event: LogEvent) {
        if self.queue.try_send(Msg::Event(Box::new(event))).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "the tenant log is behind; events dropped");
            }
        }
    }

    async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}
