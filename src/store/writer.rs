//! The write path, a named mechanism of the store. Hot-path writes as data: each write is a
//! short list of statements that must apply together. On SQLite they go to one writer task, owning a connection outside any pool, that runs every
//! write waiting at that moment in one transaction (group commit: one fsync for the lot, each
//! write isolated by a savepoint; a write alone commits by itself); on PostgreSQL, which commits
//! concurrent transactions together by itself, they run directly, on kept connections.

use std::sync::Arc;

use sqlx::{Any, AnyConnection, Connection, Executor, Row};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::kept::Kept;
use super::{backend, stopped};
use crate::domain::store::StoreError;

/// Most writes one SQLite transaction takes.
const MAX_BATCH: usize = 128;

/// A bound value.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
}

/// One statement and its arguments. A `returning` statement yields the first column of its
/// first row (an integer); others yield the number of rows they affected.
#[derive(Debug, Clone)]
pub struct Stmt {
    sql: String,
    args: Vec<Arg>,
    returning: bool,
}

impl Stmt {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
            returning: false,
        }
    }

    pub fn text(mut self, v: impl Into<Option<String>>) -> Self {
        self.args.push(Arg::Text(v.into()));
        self
    }

    pub fn int(mut self, v: impl Into<Option<i64>>) -> Self {
        self.args.push(Arg::Int(v.into()));
        self
    }

    pub fn boolean(mut self, v: bool) -> Self {
        self.args.push(Arg::Bool(v));
        self
    }

    pub fn returning(mut self) -> Self {
        self.returning = true;
        self
    }

    async fn run<'e, E>(&self, executor: E) -> Result<i64, sqlx::Error>
    where
        E: Executor<'e, Database = Any>,
    {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(v) => q.bind(v.clone()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
            };
        }
        if self.returning {
            let row = q.fetch_one(executor).await?;
            row.try_get::<i64, _>(0)
        } else {
            Ok(q.execute(executor).await?.rows_affected() as i64)
        }
    }
}

type Reply = Result<Vec<i64>, StoreError>;

struct Job {
    stmts: Vec<Stmt>,
    reply: oneshot::Sender<Reply>,
}

/// What the writer task is sent.
enum Msg {
    Write(Job),
    /// Close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// Where writes go.
pub struct Writer(Route);

enum Route {
    Direct(Arc<Kept>),
    /// The queue to the writer task.
    Batched(mpsc::UnboundedSender<Msg>),
}

impl Writer {
    pub fn direct(kept: Arc<Kept>) -> Self {
        Self(Route::Direct(kept))
    }

    /// Starts the writer task on a connection of its own. Not pooled: SQLite drops a
    /// connection's page cache whenever another connection has written, so a writer taking
    /// turns among shared connections re-reads the pages it has just written; and sqlx's pool
    /// pings a connection each time it is handed back, a second round trip to the
    /// connection's thread for every write. `gate` is held while a batch runs, so other writers
    /// (tenant set-up, key rotation) never collide with it.
    pub fn batched(
        conn: AnyConnection,
        gate: Arc<Semaphore>,
        file: Option<Arc<super::file_guard::FileGuard>>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer_loop(conn, gate, file, rx));
        Self(Route::Batched(tx))
    }

    /// Closes the writer's own connection once the writes queued before are done (the direct
    /// route's connections are the store's pool's).
    pub async fn close(&self) {
        if let Route::Batched(queue) = &self.0 {
            let (ack, done) = oneshot::channel();
            if queue.send(Msg::Close(ack)).is_ok() {
                let _ = done.await;
            }
        }
    }

    /// Runs `stmts` atomically; returns each statement's result once durably committed.
    pub async fn run(&self, stmts: Vec<Stmt>) -> Reply {
        match &self.0 {
            Route::Direct(kept) => run_direct(kept, &stmts).await,
            Route::Batched(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send(Msg::Write(Job { stmts, reply }))
                    .map_err(|_| stopped("the writer has stopped"))?;
                answer
                    .await
                    .map_err(|_| stopped("the writer has stopped"))?
            }
        }
    }
}

async fn run_direct(kept: &Kept, stmts: &[Stmt]) -> Reply {
    let mut conn = kept.lease().await.map_err(backend)?;
    let out = run_alone(&mut conn, stmts).await?;
    conn.keep();
    Ok(out)
}

/// One write in a transaction of its own (a single statement is one by itself).
async fn run_alone(conn: &mut AnyConnection, stmts: &[Stmt]) -> Reply {
    if let [one] = stmts {
        return Ok(vec![one.run(&mut *conn).await.map_err(backend)?]);
    }
    let mut tx = conn.begin().await.map_err(backend)?;
    let mut out = Vec::with_capacity(stmts.len());
    for s in stmts {
        out.push(s.run(&mut *tx).await.map_err(backend)?);
    }
    tx.commit().await.map_err(backend)?;
    Ok(out)
}

async fn writer_loop(
    mut conn: AnyConnection,
    gate: Arc<Semaphore>,
    file: Option<Arc<super::file_guard::FileGuard>>,
    mut queue: mpsc::UnboundedReceiver<Msg>,
) {
    let mut closing = None;
    while closing.is_none() {
        let first = match queue.recv().await {
            Some(Msg::Write(job)) => job,
            Some(Msg::Close(ack)) => {
                closing = Some(ack);
                break;
            }
            None => break,
        };
        // Whatever queued while the previous batch committed goes into this one.
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Msg::Write(job)) => jobs.push(job),
                Ok(Msg::Close(ack)) => {
                    closing = Some(ack);
                    break;
                }
                Err(_) => break,
            }
        }
        let Ok(_permit) = gate.acquire().await else {
            return;
        };
        // Alone, a write needs no savepoint: it commits by itself, saving four round trips to
        // the connection's thread (on a busy server, most batches hold one).
        // A write to a file nobody can find again is never acknowledged.
        let gone = file.as_ref().and_then(|f| f.check().err());
        let replies = match (gone, jobs.as_slice()) {
            (Some(e), _) => jobs.iter().map(|_| Err(e.clone())).collect(),
            (None, [one]) => vec![run_alone(&mut conn, &one.stmts).await],
            (None, _) => run_batch(&mut conn, &jobs).await,
        };
        for (job, reply) in jobs.into_iter().zip(replies) {
            let _ = job.reply.send(reply);
        }
    }
    // Closing checkpoints SQLite's write-ahead log into the database file.
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "closing the writer's connection failed");
    }
    if let Some(ack) = closing {
        let _ = ack.send(());
    }
}

/// One transaction for all `jobs`; a failing job is rolled back to its savepoint alone.
async fn run_batch(conn: &mut AnyConnection, jobs: &[Job]) -> Vec<Reply> {
    let fail_all = |e: StoreError| jobs.iter().map(|_| Err(e.clone())).collect();
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(backend(e)),
    };
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let Err(e) = tx.execute("SAVEPOINT job").await {
            return fail_all(backend(e));
        }
        let mut out = Vec::with_capacity(job.stmts.len());
        let mut failed = None;
        for s in &job.stmts {
            match s.run(&mut *tx).await {
                Ok(v) => out.push(v),
                Err(e) => {
                    failed = Some(backend(e));
                    break;
                }
            }
        }
        if failed.is_some()
            && let Err(e) = tx.execute("ROLLBACK TO SAVEPOINT job").await
        {
            return fail_all(backend(e));
        }
        if let Err(e) = tx.execute("RELEASE SAVEPOINT job").await {
            return fail_all(backend(e));
        }
        replies.push(match failed {
            Some(e) => Err(e),
            None => Ok(out),
        });
    }
    // Nobody hears back before the commit is durable.
    match tx.commit().await {
        Ok(()) => replies,
        Err(e) => fail_all(backend(e)),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::AnyPool;

    use super::*;

    async fn writer(dir: &tempfile::TempDir) -> (Writer, AnyPool) {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let pool = AnyPool::connect(&url).await.unwrap();
        pool.execute("CREATE TABLE t (x INTEGER UNIQUE)")
            .await
            .unwrap();
        let own = AnyConnection::connect(&url).await.unwrap();
        (
            Writer::batched(own, Arc::new(Semaphore::new(1)), None),
            pool,
        )
    }

    fn insert(x: i64) -> Stmt {
        Stmt::new("INSERT INTO t (x) VALUES ($1)").int(x)
    }

    async fn rows(pool: &AnyPool) -> Vec<i64> {
        sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_lone_write_applies_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, pool) = writer(&dir).await;
        assert_eq!(writer.run(vec![insert(1)]).await.unwrap(), vec![1]);
        // The second statement fails: the first must not stay applied.
        assert!(writer.run(vec![insert(2), insert(1)]).await.is_err());
        assert_eq!(
            writer.run(vec![insert(3), insert(4)]).await.unwrap(),
            vec![1, 1]
        );
        assert_eq!(rows(&pool).await, vec![1, 3, 4]);
    }

    #[tokio::test]
    async fn close_waits_for_queued_writes_then_refuses_more() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, pool) = writer(&dir).await;
        let queued = futures::future::join_all((0..5).map(|i| writer.run(vec![insert(i)])));
        let (results, ()) = tokio::join!(queued, writer.close());
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        assert_eq!(rows(&pool).await, vec![0, 1, 2, 3, 4]);
        let after = writer.run(vec![insert(9)]).await.unwrap_err();
        assert_eq!(
            crate::domain::error::chain(&after),
            "database error: the writer has stopped"
        );
    }

    #[tokio::test]
    async fn writes_batched_together_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, pool) = writer(&dir).await;
        // Queued before the writer task first runs, so they share one transaction; every
        // third one collides with an earlier one.
        let results = futures::future::join_all((0..30).map(|i| {
            let x = if i % 3 == 2 { i - 1 } else { i };
            writer.run(vec![insert(100 + x), insert(1000 + i)])
        }))
        .await;
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i % 3 != 2, "job {i}: {r:?}");
        }
        let expected: Vec<i64> = (0..30)
            .filter(|i| i % 3 != 2)
            .flat_map(|i| [100 + i, 1000 + i])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(rows(&pool).await, expected);
        writer.close().await;
    }
}
