//! Kept connections, a named mechanism of the store: connections the hot paths keep out of
//! sqlx's pool between queries. sqlx's pool pings every
//! connection handed back to it (sqlx-core 0.8 `return_to_pool`), a second round trip per query
//! to the database, or to SQLite's connection thread. A connection kept here after a query that
//! completed is reused without that ping; one whose query failed or was cancelled goes back
//! through the pool, whose ping decides whether it is still usable.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection as _};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A connection kept idle longer than this is pinged before use: a database, or a proxy in
/// front of it, may have closed it meanwhile. Under load none waits that long.
const STALE: Duration = Duration::from_secs(10);

pub struct Kept {
    pool: AnyPool,
    /// Kept connections, with when each was kept.
    idle: Mutex<Vec<(Instant, PoolConnection<Any>)>>,
    /// Most connections kept; 0 keeps none.
    most: usize,
    /// `STALE`, but for tests.
    stale: Duration,
    /// `most` permits. Leases queue here in turn: were they to wait in the pool instead,
    /// connections going straight back to `idle` would starve them.
    turns: Semaphore,
}

/// A connection in use; dropped, it goes back to the pool.
pub struct Lease<'a> {
    kept: &'a Kept,
    conn: PoolConnection<Any>,
    /// Held while the connection is in use; none when nothing is kept.
    turn: Option<SemaphorePermit<'a>>,
}

impl Kept {
    /// Keeps at most `most` connections; with none, every lease comes from the pool.
    pub fn new(pool: AnyPool, most: usize) -> Self {
        Self {
            pool,
            idle: Mutex::new(Vec::with_capacity(most)),
            most,
            stale: STALE,
            turns: Semaphore::new(most),
        }
    }

    pub async fn lease(&self) -> Result<Lease<'_>, sqlx::Error> {
        let turn = match self.most {
            0 => None,
            _ => Some(
                self.turns
                    .acquire()
                    .await
                    .map_err(|_| sqlx::Error::PoolClosed)?,
            ),
        };
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some((since, conn)) if since.elapsed() < self.stale => conn,
            Some((_, mut conn)) => match conn.ping().await {
                Ok(()) => conn,
                // Dropped, it goes back to the pool, whose own ping discards it.
                Err(_) => {
                    drop(conn);
                    self.pool.acquire().await?
                }
            },
            None => self.pool.acquire().await?,
        };
        Ok(Lease {
            kept: self,
            conn,
            turn,
        })
    }

    /// Closes the pool. It waits for every connection to come back, so the idle ones are
    /// handed back after it is marked closed (from then on `keep` keeps nothing).
    pub async fn close(&self) {
        let closing = self.pool.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        closing.await;
    }
}

impl Lease<'_> {
    /// The query completed: keep the connection for the next one, without a ping.
    pub fn keep(self) {
        let Lease { kept, conn, turn } = self;
        // The turn is given back only after the push (when this returns), so `idle` never holds
        // more than `most`.
        if turn.is_some()
            && let Ok(mut idle) = kept.idle.lock()
            && !kept.pool.is_closed()
        {
            idle.push((Instant::now(), conn));
        }
    }
}

impl Deref for Lease<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;
    use sqlx::Executor as _;

    use super::*;

    async fn kept(dir: &tempfile::TempDir, most: usize) -> Kept {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(3)
            .connect(&url)
            .await
            .unwrap();
        Kept::new(pool, most)
    }

    fn idle(kept: &Kept) -> usize {
        kept.idle.lock().unwrap().len()
    }

    #[tokio::test]
    async fn a_kept_connection_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let kept = kept(&dir, 1).await;
        let mut a = kept.lease().await.unwrap();
        // Per-connection state tells connections apart.
        a.execute("CREATE TEMP TABLE mark (x)").await.unwrap();
        a.keep();
        assert_eq!(idle(&kept), 1);
        let mut again = kept.lease().await.unwrap();
        again.execute("SELECT * FROM mark").await.unwrap();
        assert_eq!(idle(&kept), 0);
    }

    #[tokio::test]
    async fn a_stale_kept_connection_is_pinged_and_reused_when_it_answers() {
        let dir = tempfile::tempdir().unwrap();
        let mut kept = kept(&dir, 1).await;
        kept.stale = Duration::ZERO;
        let mut a = kept.lease().await.unwrap();
        a.execute("CREATE TEMP TABLE mark (x)").await.unwrap();
        a.keep();
        let mut again = kept.lease().await.unwrap();
        again.execute("SELECT * FROM mark").await.unwrap();
    }

    #[tokio::test]
    async fn leases_wait_their_turn_and_a_dropped_lease_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let kept = kept(&dir, 1).await;
        let first = kept.lease().await.unwrap();
        let mut second = Box::pin(kept.lease());
        assert!((&mut second).now_or_never().is_none());
        drop(first);
        assert_eq!(idle(&kept), 0);
        let second = second.await.unwrap();
        second.keep();
        assert_eq!(idle(&kept), 1);
    }

    #[tokio::test]
    async fn with_nothing_to_keep_leases_come_from_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let kept = kept(&dir, 0).await;
        let (a, b) = (kept.lease().await.unwrap(), kept.lease().await.unwrap());
        a.keep();
        b.keep();
        assert_eq!(idle(&kept), 0);
    }

    #[tokio::test]
    async fn close_hands_back_the_kept_connections_and_keeps_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let kept = kept(&dir, 2).await;
        let in_use = kept.lease().await.unwrap();
        kept.lease().await.unwrap().keep();
        assert_eq!(idle(&kept), 1);
        // The pool waits for the lease in use; kept after the close began, it is not kept.
        let close = kept.close();
        tokio::pin!(close);
        assert!((&mut close).now_or_never().is_none());
        assert_eq!(idle(&kept), 0);
        in_use.keep();
        tokio::time::timeout(std::time::Duration::from_secs(5), close)
            .await
            .unwrap();
        assert_eq!(idle(&kept), 0);
    }
}
