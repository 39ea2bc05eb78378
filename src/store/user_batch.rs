//! Batched user reads, a named mechanism of the store: concurrent lookups of users by id share one query. Each query costs the
//! database a round trip and a statement execution whatever its size; under load, lookups that
//! arrive while earlier ones are in flight wait for a slot and then go together. An idle server
//! runs each lookup at once, so nothing waits for a timer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::kept::Kept;
use super::rows::{USER_COLUMNS, UserRow};
use super::{backend, corrupt, stopped};
use crate::domain::store::StoreError;
use crate::domain::user::User;

/// Most ids one query takes.
const MAX_BATCH: usize = 64;

/// Queries in flight at once. Few, so that lookups queue and batch instead of each taking a
/// connection of their own.
const IN_FLIGHT: usize = 2;

type Reply = Result<Option<User>, StoreError>;

struct Lookup {
    id: String,
    reply: oneshot::Sender<Reply>,
}

/// Looks users up by id, batching concurrent lookups.
pub struct UserReader {
    queue: mpsc::UnboundedSender<Lookup>,
    #[cfg_attr(not(test), allow(dead_code))]
    queries: Arc<AtomicUsize>,
}

impl UserReader {
    /// Starts the reader task. `json_ids` is a subquery body yielding the elements of the JSON
    /// array of ids bound as `$1`: the only part of the query that differs between databases.
    pub fn start(kept: Arc<Kept>, json_ids: &str) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id IN (SELECT {json_ids})");
        let queries = Arc::new(AtomicUsize::new(0));
        tokio::spawn(reader_loop(kept, sql.into(), rx, queries.clone()));
        Self { queue, queries }
    }

    /// Queries run so far (each serving one batch).
    #[cfg(test)]
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }

    pub async fn user_by_id(&self, id: &str) -> Reply {
        let stopped = || stopped("the user reader has stopped");
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Lookup {
                id: id.to_owned(),
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn reader_loop(
    kept: Arc<Kept>,
    sql: Arc<str>,
    mut queue: mpsc::UnboundedReceiver<Lookup>,
    queries: Arc<AtomicUsize>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = queue.recv().await {
        // Waiting for a slot before draining lets the batch grow while queries are in flight.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(lookup) => batch.push(lookup),
                Err(_) => break,
            }
        }
        // A lookup whose request is gone (client disconnected, timed out) has nobody to answer.
        batch.retain(|l| !l.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        queries.fetch_add(1, Ordering::Relaxed);
        let (kept, sql) = (kept.clone(), sql.clone());
        tokio::spawn(async move {
            let found = fetch(&kept, &sql, &batch).await;
            drop(slot);
            for lookup in batch {
                let reply = match &found {
                    Ok(users) => Ok(users.get(&lookup.id).cloned()),
                    Err(e) => Err(e.clone()),
                };
                let _ = lookup.reply.send(reply);
            }
        });
    }
}

async fn fetch(
    kept: &Kept,
    sql: &str,
    batch: &[Lookup],
) -> Result<HashMap<String, User>, StoreError> {
    let ids: Vec<&str> = batch.iter().map(|l| l.id.as_str()).collect();
    let ids = serde_json::to_string(&ids).map_err(corrupt)?;
    let mut conn = kept.lease().await.map_err(backend)?;
    let rows: Vec<UserRow> = sqlx::query_as(sql)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    conn.keep();
    Ok(rows
        .into_iter()
        .map(|row| {
            let user = User::from(row);
            (user.id.clone(), user)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::super::SqlStore;

    async fn store_with_users(dir: &tempfile::TempDir, ids: &[&str]) -> SqlStore {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqlStore::connect(&url, &Default::default()).await.unwrap();
        for id in ids {
            sqlx::query(
                "INSERT INTO users (id, connection, email, password_hash, created_at, updated_at) \
                 VALUES ($1, 'c', $2, 'h', 0, 0)",
            )
            .bind(*id)
            .bind(format!("{id}@example.com"))
            .execute(&store.pool)
            .await
            .unwrap();
        }
        store
    }

    #[tokio::test]
    async fn concurrent_lookups_share_queries_and_each_gets_its_own_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_users(&dir, &["a", "b", "c"]).await;
        let ids = ["a", "b", "c", "nobody"];
        let found =
            futures::future::join_all((0..40).map(|i| store.users.user_by_id(ids[i % ids.len()])))
                .await;
        for (i, user) in found.into_iter().enumerate() {
            let user = user.unwrap();
            match ids[i % ids.len()] {
                "nobody" => assert!(user.is_none()),
                id => assert_eq!(user.unwrap().email, format!("{id}@example.com")),
            }
        }
        // All 40 are queued before the reader first runs: one batch, within MAX_BATCH.
        assert_eq!(store.user_queries(), 1);
    }

    #[tokio::test]
    async fn lookups_whose_caller_is_gone_are_not_queried() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_users(&dir, &["a"]).await;
        for _ in 0..3 {
            // The first poll queues the lookup; dropping the future closes its reply.
            let mut gone = Box::pin(store.users.user_by_id("a"));
            assert!((&mut gone).now_or_never().is_none());
        }
        // One yield on this single-threaded runtime lets the reader drain the three.
        tokio::task::yield_now().await;
        assert_eq!(store.user_queries(), 0);
        let user = store.users.user_by_id("a").await.unwrap();
        assert_eq!(user.unwrap().id, "a");
        assert_eq!(store.user_queries(), 1);
    }
}
