//! The store: one implementation over sqlx's `Any` driver for SQLite and PostgreSQL, by area
//! (`tenant`, `users`, `manage`, `tokens`, `keys`, `sessions`, `codes`, `tickets`, `import`, `jobs`). Both databases run the same queries (`$N`
//! placeholders work on both); what differs is named in `Dialect`: migrations, per-connection
//! set-up, one JSON function, and how hot-path writes travel (SQLite: one writer task with
//! group commit, `writer`; PostgreSQL: concurrent transactions on kept connections, `kept`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection as _, Executor};

use crate::domain::error::{Cause, Message};
use crate::domain::store::{StoreError, UniqueField};
use crate::domain::tenant::{Client, ClientGrant, Connection, TenantSettings};

mod codes;
mod file_guard;
mod import;
mod jobs;
mod kept;
mod keys;
mod logs;
mod manage;
mod roles;
mod rows;
mod sessions;
mod tenant;
mod tickets;
mod tokens;
mod user_batch;
mod users;
mod writer;
use kept::Kept;
use user_batch::UserReader;
use writer::Writer;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// What differs between the two databases.
struct Dialect {
    migrator: &'static Migrator,
    /// Run on every new pooled connection.
    on_connect: &'static [&'static str],
    /// SQLite has one writer at a time and makes the others poll with growing sleeps (up to
    /// 100 ms each), and every commit costs an fsync. Its writes are queued in-process and the
    /// hot ones committed in batches (see `writes`).
    serialize_writes: bool,
    /// A subquery body yielding the elements of the JSON array of strings bound as `$1`.
    json_strings: &'static str,
    /// Bulk statements bind anonymous `?` parameters: sqlx looks up each `$N` parameter's
    /// name, which SQLite finds by walking its list, so a statement of n `$N` parameters
    /// costs n² (most of a bulk import's time, measured with perf).
    anonymous_params: bool,
    /// How user search reads metadata and matches case-sensitive wildcards (`manage`).
    search: manage::SearchDialect,
}

const SQLITE: Dialect = Dialect {
    migrator: &SQLITE_MIGRATIONS,
    // WAL for concurrent readers; synchronous=FULL so a committed signup survives a crash or
    // power loss; a busy timeout so concurrent writers queue instead of failing. SQLite's
    // default 2 MiB page cache makes every lookup in a million-user index a read syscall:
    // reads go through a memory map (shared page cache) and each connection caches 16 MiB.
    on_connect: &[
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA mmap_size = 1073741824",
        "PRAGMA cache_size = -16384",
    ],
    serialize_writes: true,
    json_strings: "value FROM json_each($1)",
    anonymous_params: true,
    search: manage::SearchDialect::Sqlite,
};

const POSTGRES: Dialect = Dialect {
    migrator: &POSTGRES_MIGRATIONS,
    on_connect: &[],
    serialize_writes: false,
    json_strings: "json_array_elements_text($1::json)",
    anonymous_params: false,
    search: manage::SearchDialect::Postgres,
};

/// How long tenant settings and clients are served from memory: a change made by another
/// instance (or a restart with a new tenant file) reaches every instance within this time.
pub const CONFIG_CACHE_TTL: Duration = Duration::from_secs(1);

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL {0} (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("cannot connect to database {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot apply migrations to database {url}: {reason}")]
    Migrate { url: String, reason: String },
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparseable database URL>".to_owned(),
    }
}

/// Runs the dialect's per-connection statements on a new connection.
async fn set_up(conn: &mut AnyConnection, on_connect: &[&str]) -> Result<(), sqlx::Error> {
    for stmt in on_connect {
        conn.execute(*stmt).await?;
    }
    Ok(())
}

/// Also scrubs the password from a driver message that might echo the URL.
fn scrub(reason: impl std::fmt::Display, url: &str) -> String {
    let text = reason.to_string();
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(pw) if !pw.is_empty() => text.replace(&pw, "***"),
        _ => text,
    }
}

/// What `client_with_connection` answers, cached per (client_id, connection).
type ClientLookup = Option<(Arc<Client>, Option<Arc<Connection>>)>;

pub struct SqlStore {
    pool: AnyPool,
    /// See `Dialect::anonymous_params`.
    anonymous_params: bool,
    search: manage::SearchDialect,
    /// Connections the hot paths keep between queries (see `kept`).
    kept: Arc<Kept>,
    /// One permit when writes are serialized (SQLite), none otherwise.
    write_gate: Option<Arc<tokio::sync::Semaphore>>,
    /// The SQLite file as opened, checked before writes (see `file_guard`).
    file: Option<Arc<file_guard::FileGuard>>,
    /// Hot-path writes (users, login attempts, refresh tokens).
    writes: Writer,
    users: UserReader,
    settings: moka::sync::Cache<(), Arc<TenantSettings>>,
    clients: moka::sync::Cache<(String, String), ClientLookup>,
    grants: moka::sync::Cache<(String, String), Option<Arc<ClientGrant>>>,
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        // PostgreSQL names the constraint; SQLite names the columns in its message.
        let which = db
            .constraint()
            .map(str::to_owned)
            .unwrap_or_else(|| db.message().to_owned());
        let field = if which.contains("username") {
            UniqueField::Username
        } else if which.contains("email") {
            UniqueField::Email
        } else {
            UniqueField::Other
        };
        return StoreError::Conflict(field);
    }
    // A row referring to one deleted concurrently (a refresh token revoked while rotated).
    if let sqlx::Error::Database(db) = &e
        && db.is_foreign_key_violation()
    {
        return StoreError::Conflict(UniqueField::Other);
    }
    StoreError::Backend(Arc::new(e))
}

pub(crate) fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Corrupt(Arc::new(e))
}

/// A backend failure that is only a message (the writer or reader task has stopped).
pub(crate) fn stopped(what: &'static str) -> StoreError {
    StoreError::Backend(Arc::new(Message(what)) as Cause)
}

/// Origins are compared without a trailing slash and case-insensitively.
pub fn normalize_origin(origin: &str) -> String {
    origin.trim_end_matches('/').to_ascii_lowercase()
}

impl SqlStore {
    /// Connects, configures and migrates. Safe when several instances start at once: the
    /// migrator holds a database lock (an advisory lock on PostgreSQL) while it runs.
    pub async fn connect(url: &str, pool: &PoolSettings) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let redacted = redact_url(url);
        let (dialect, url) = if url.starts_with("sqlite:") {
            // Create the file when missing unless the URL chose a mode itself.
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (&SQLITE, url)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (&POSTGRES, url.to_owned())
        } else {
            return Err(ConnectError::UnsupportedUrl(redacted));
        };
        let options = AnyConnectOptions::from_str(&url).map_err(|e| ConnectError::Connect {
            url: redacted.clone(),
            reason: scrub(e, &url),
        })?;
        // One direct connection first, set up as the pool's will be: a pool would retry until
        // its timeout and report only "timed out", hiding the reason (refused, unknown
        // database, bad password, a read-only file system refusing SQLite's WAL…).
        let probe = async {
            let mut conn = AnyConnection::connect_with(&options).await?;
            set_up(&mut conn, dialect.on_connect).await?;
            Ok::<_, sqlx::Error>(conn)
        };
        let probe = tokio::time::timeout(pool.acquire_timeout, probe)
            .await
            .map_err(|_| ConnectError::Connect {
                url: redacted.clone(),
                reason: format!("no answer within {:?}", pool.acquire_timeout),
            })?
            .map_err(|e| ConnectError::Connect {
                url: redacted.clone(),
                reason: scrub(e, &url),
            })?;
        let _ = probe.close().await;
        let on_connect = dialect.on_connect;
        let pool_options = |max_connections: u32| {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(pool.acquire_timeout)
                // No ping before each use: it doubled the round trips of every query. A connection
                // that died (database restart) fails its next query and is then discarded.
                .test_before_acquire(false)
                .after_connect(move |conn, _meta| Box::pin(set_up(conn, on_connect)))
        };
        // Half the pool at most is kept by the hot paths, so other queries always find one.
        let keep_most = (pool.max_connections / 2) as usize;
        let pool = pool_options(pool.max_connections)
            .connect_with(options.clone())
            .await
            .map_err(|e| ConnectError::Connect {
                url: redacted.clone(),
                reason: scrub(e, &url),
            })?;
        dialect
            .migrator
            .run(&pool)
            .await
            .map_err(|e| ConnectError::Migrate {
                url: redacted.clone(),
                reason: scrub(e, &url),
            })?;
        // Bounded, so that requests naming random client ids cannot grow memory.
        fn cache<K, V>() -> moka::sync::Cache<K, V>
        where
            K: std::hash::Hash + Eq + Send + Sync + 'static,
            V: Clone + Send + Sync + 'static,
        {
            moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CONFIG_CACHE_TTL)
                .build()
        }
        let kept = Arc::new(Kept::new(pool.clone(), keep_most));
        let write_gate = dialect
            .serialize_writes
            .then(|| Arc::new(tokio::sync::Semaphore::new(1)));
        let file = dialect
            .serialize_writes
            .then(|| file_guard::FileGuard::of_url(&url))
            .flatten()
            .map(Arc::new);
        let writes = match &write_gate {
            // One connection of the writer's own (see `Writer::batched`): sharing the pool's
            // cost ~14 page reads a signup.
            Some(gate) => {
                let own = async {
                    let mut conn = AnyConnection::connect_with(&options).await?;
                    set_up(&mut conn, on_connect).await?;
                    Ok::<_, sqlx::Error>(conn)
                }
                .await
                .map_err(|e| ConnectError::Connect {
                    url: redacted.clone(),
                    reason: scrub(e, &url),
                })?;
                Writer::batched(own, gate.clone(), file.clone())
            }
            None => Writer::direct(kept.clone()),
        };
        Ok(Self {
            anonymous_params: dialect.anonymous_params,
            search: dialect.search,
            users: UserReader::start(kept.clone(), dialect.json_strings),
            pool,
            kept,
            write_gate,
            file,
            writes,
            settings: moka::sync::Cache::builder()
                .time_to_live(CONFIG_CACHE_TTL)
                .build(),
            clients: cache(),
            grants: cache(),
        })
    }

    /// Queries the batched user reader has run; with the number of lookups, how well
    /// concurrent lookups are shared.
    #[cfg(test)]
    pub fn user_queries(&self) -> usize {
        self.users.queries()
    }

    /// Waits for the right to write (SQLite); a no-op on PostgreSQL.
    async fn writer(&self) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, StoreError> {
        if let Some(file) = &self.file {
            file.check()?;
        }
        match &self.write_gate {
            Some(gate) => gate
                .acquire()
                .await
                .map(Some)
                .map_err(|_| stopped("the store is closing")),
            None => Ok(None),
        }
    }

    /// Drops cached configuration after this instance changed it.
    fn forget_config(&self) {
        self.settings.invalidate_all();
        self.clients.invalidate_all();
        self.grants.invalidate_all();
    }

    pub async fn close(&self) {
        self.writes.close().await;
        self.kept.close().await;
    }

    /// A hot-path read on a kept connection: one round trip, no ping after it.
    async fn fetch_optional_kept<'q, T>(
        &self,
        query: sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Option<T>, StoreError>
    where
        T: Send + Unpin + for<'r> sqlx::FromRow<'r, AnyRow>,
    {
        let mut conn = self.kept.lease().await.map_err(backend)?;
        let row = query.fetch_optional(&mut *conn).await.map_err(backend)?;
        conn.keep();
        Ok(row)
    }

    /// Number of users in a connection (tests and benchmarks).
    #[cfg(any(test, feature = "testing"))]
    pub async fn count_users(&self, connection: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE connection = $1")
            .bind(connection)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    /// The user's stored password hashes, newest first (tests; password changes will enforce
    /// `password_history` with it).
    #[cfg(any(test, feature = "testing"))]
    pub async fn password_history(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/latchkey"),
            "postgres://app:***@db:5432/latchkey"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(
            scrub("password s3cret rejected", "postgres://app:s3cret@db/x"),
            "password *** rejected"
        );
    }

    #[test]
    fn origins_are_normalized() {
        assert_eq!(
            normalize_origin("HTTP://Localhost:5173/"),
            "http://localhost:5173"
        );
    }
}
