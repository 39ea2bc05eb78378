//! The tenant log's writer: events recorded by the domain are queued (recording never waits on
//! the database) and written in batches by one task per instance; `flush` waits for what was
//! queued before it. When the queue is full (the database far behind), events are dropped and
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
                let mut next = Some(first);
                while let Some(m) = next.take() {
                    match m {
                        Msg::Event(e) => batch.push(*e),
                        Msg::Flush(done) => waiting.push(done),
                    }
                    if batch.len() < BATCH {
                        next = rx.try_recv().ok();
                    }
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
