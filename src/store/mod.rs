//! The `Store` implementation: one SQL store over sqlx's `Any` driver. SQLite and PostgreSQL
//! share every query (`$N` placeholders work on both); they differ only in their migrations and
//! the statements run on each new connection (`Dialect`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection as _, Executor, Row};

use crate::domain::keys::SigningKey;
use crate::domain::store::{AttemptKey, RefreshToken, Store, StoreError, UniqueField};
use crate::domain::tenant::{
    AppType, Client, Connection, ConnectionOptions, TenantConfig, TenantSettings,
};
use crate::domain::user::{NewUser, Profile, User};

mod kept;
mod reads;
mod writes;
use kept::Kept;
use reads::UserReader;
use writes::{Stmt, Writer};

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
};

const POSTGRES: Dialect = Dialect {
    migrator: &POSTGRES_MIGRATIONS,
    on_connect: &[],
    serialize_writes: false,
    json_strings: "json_array_elements_text($1::json)",
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
    /// Connections the hot paths keep between queries (see `kept`).
    kept: Arc<Kept>,
    /// One permit when writes are serialized (SQLite), none otherwise.
    write_gate: Option<Arc<tokio::sync::Semaphore>>,
    /// Hot-path writes (users, login attempts, refresh tokens).
    writes: Writer,
    users: UserReader,
    settings: moka::sync::Cache<(), Arc<TenantSettings>>,
    clients: moka::sync::Cache<(String, String), ClientLookup>,
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
    StoreError::Backend(e.to_string())
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// What a client row keeps in its JSON `config` column. Fields added later default, so rows
/// written by older versions still read.
#[derive(Serialize, Deserialize, Default)]
struct ClientConfig {
    web_origins: Vec<String>,
    allowed_origins: Vec<String>,
    callbacks: Vec<String>,
    allowed_logout_urls: Vec<String>,
    grant_types: Vec<String>,
    #[serde(default)]
    token_endpoint_ip_header_trusted: bool,
}

/// Origins are compared without a trailing slash and case-insensitively.
pub fn normalize_origin(origin: &str) -> String {
    origin.trim_end_matches('/').to_ascii_lowercase()
}

fn app_type_str(t: AppType) -> &'static str {
    match t {
        AppType::Spa => "spa",
        AppType::RegularWeb => "regular_web",
        AppType::Native => "native",
        AppType::NonInteractive => "non_interactive",
    }
}

/// `name_column` lets a joined query rename the client's `name`.
fn client_from_row(row: &AnyRow, name_column: &str) -> Result<Client, StoreError> {
    let config: ClientConfig =
        serde_json::from_str(&row.try_get::<String, _>("config").map_err(corrupt)?)
            .map_err(corrupt)?;
    let app_type: String = row.try_get("app_type").map_err(corrupt)?;
    Ok(Client {
        client_id: row.try_get("client_id").map_err(corrupt)?,
        name: row.try_get(name_column).map_err(corrupt)?,
        secret_hash: row.try_get("secret_hash").map_err(corrupt)?,
        app_type: serde_json::from_value(serde_json::Value::String(app_type)).map_err(corrupt)?,
        web_origins: config.web_origins,
        allowed_origins: config.allowed_origins,
        callbacks: config.callbacks,
        allowed_logout_urls: config.allowed_logout_urls,
        grant_types: config.grant_types,
        token_endpoint_ip_header_trusted: config.token_endpoint_ip_header_trusted,
    })
}

fn connection_from_row(row: &AnyRow) -> Result<Connection, StoreError> {
    let enabled: String = row.try_get("enabled_clients").map_err(corrupt)?;
    let options: String = row.try_get("options").map_err(corrupt)?;
    Ok(Connection {
        name: row.try_get("name").map_err(corrupt)?,
        strategy: row.try_get("strategy").map_err(corrupt)?,
        enabled_clients: serde_json::from_str(&enabled).map_err(corrupt)?,
        options: serde_json::from_str::<ConnectionOptions>(&options).map_err(corrupt)?,
    })
}

/// Booleans are read as BIGINT: the `Any` driver cannot decode SQLite's BOOLEAN.
const USER_COLUMNS: &str = "id, connection, email, username, \
     CAST(CASE WHEN email_verified THEN 1 ELSE 0 END AS BIGINT) AS email_verified, given_name, \
     family_name, name, nickname, picture, password_hash, \
     CAST(CASE WHEN blocked THEN 1 ELSE 0 END AS BIGINT) AS blocked, updated_at";

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id").map_err(corrupt)?,
        connection: row.try_get("connection").map_err(corrupt)?,
        email: row.try_get("email").map_err(corrupt)?,
        username: row.try_get("username").map_err(corrupt)?,
        email_verified: row.try_get::<i64, _>("email_verified").map_err(corrupt)? != 0,
        profile: Profile {
            given_name: row.try_get("given_name").map_err(corrupt)?,
            family_name: row.try_get("family_name").map_err(corrupt)?,
            name: row.try_get("name").map_err(corrupt)?,
            nickname: row.try_get("nickname").map_err(corrupt)?,
            picture: row.try_get("picture").map_err(corrupt)?,
        },
        password_hash: row.try_get("password_hash").map_err(corrupt)?,
        blocked: row.try_get::<i64, _>("blocked").map_err(corrupt)? != 0,
        updated_at: row.try_get("updated_at").map_err(corrupt)?,
    })
}

fn refresh_token_from_row(row: &AnyRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        token_hash: row.try_get("token_hash").map_err(corrupt)?,
        family_id: row.try_get("family_id").map_err(corrupt)?,
        client_id: row.try_get("client_id").map_err(corrupt)?,
        user_id: row.try_get("user_id").map_err(corrupt)?,
        scope: row.try_get("scope").map_err(corrupt)?,
        audience: row.try_get("audience").map_err(corrupt)?,
        created_at: row.try_get("created_at").map_err(corrupt)?,
        expires_at: row.try_get("expires_at").map_err(corrupt)?,
        used_at: row.try_get("used_at").map_err(corrupt)?,
    })
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
        // One direct connection first: a pool would retry until its timeout and report only
        // "timed out", hiding the reason (refused, unknown database, bad password…).
        let probe =
            tokio::time::timeout(pool.acquire_timeout, AnyConnection::connect_with(&options))
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
        let cache = || {
            moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CONFIG_CACHE_TTL)
                .build()
        };
        let kept = Arc::new(Kept::new(pool.clone(), keep_most));
        let write_gate = dialect
            .serialize_writes
            .then(|| Arc::new(tokio::sync::Semaphore::new(1)));
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
                Writer::batched(own, gate.clone())
            }
            None => Writer::direct(kept.clone()),
        };
        Ok(Self {
            users: UserReader::start(kept.clone(), dialect.json_strings),
            pool,
            kept,
            write_gate,
            writes,
            settings: moka::sync::Cache::builder()
                .time_to_live(CONFIG_CACHE_TTL)
                .build(),
            clients: cache(),
        })
    }

    /// Queries the batched user reader has run; with the number of lookups, how well
    /// concurrent lookups are shared.
    pub fn user_queries(&self) -> usize {
        self.users.queries()
    }

    /// Waits for the right to write (SQLite); a no-op on PostgreSQL.
    async fn writer(&self) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, StoreError> {
        match &self.write_gate {
            Some(gate) => gate
                .acquire()
                .await
                .map(Some)
                .map_err(|e| StoreError::Backend(e.to_string())),
            None => Ok(None),
        }
    }

    async fn load_tenant_settings(&self) -> Result<TenantSettings, StoreError> {
        let raw: Option<String> =
            sqlx::query_scalar("SELECT settings FROM tenant_settings WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        match raw {
            Some(s) => serde_json::from_str(&s).map_err(corrupt),
            None => Ok(TenantSettings::default()),
        }
    }

    async fn load_client_with_connection(
        &self,
        client_id: &str,
        connection: &str,
    ) -> Result<ClientLookup, StoreError> {
        let row = sqlx::query(
            "SELECT c.client_id, c.name AS client_name, c.secret_hash, c.app_type, c.config, \
             n.name, n.strategy, n.enabled_clients, n.options \
             FROM clients c LEFT JOIN connections n ON n.name = $2 WHERE c.client_id = $1",
        )
        .bind(client_id)
        .bind(connection)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let client = client_from_row(&row, "client_name")?;
        let has_connection = row
            .try_get::<Option<String>, _>("name")
            .map_err(corrupt)?
            .is_some();
        let connection = has_connection
            .then(|| connection_from_row(&row).map(Arc::new))
            .transpose()?;
        Ok(Some((Arc::new(client), connection)))
    }

    /// Drops cached configuration after this instance changed it.
    fn forget_config(&self) {
        self.settings.invalidate_all();
        self.clients.invalidate_all();
    }

    pub async fn close(&self) {
        self.writes.close().await;
        self.kept.close().await;
    }

    /// A hot-path read on a kept connection: one round trip, no ping after it.
    async fn fetch_optional_kept<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Option<AnyRow>, StoreError> {
        let mut conn = self.kept.lease().await.map_err(backend)?;
        let row = query.fetch_optional(&mut *conn).await.map_err(backend)?;
        conn.keep();
        Ok(row)
    }

    async fn upsert_tenant(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        tenant: &TenantConfig,
    ) -> Result<(), StoreError> {
        let settings = serde_json::to_string(&tenant.settings).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO tenant_settings (id, settings) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET settings = excluded.settings",
        )
        .bind(settings)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        for c in &tenant.clients {
            let config = serde_json::to_string(&ClientConfig {
                web_origins: c.web_origins.clone(),
                allowed_origins: c.allowed_origins.clone(),
                callbacks: c.callbacks.clone(),
                allowed_logout_urls: c.allowed_logout_urls.clone(),
                grant_types: c.grant_types.clone(),
                token_endpoint_ip_header_trusted: c.token_endpoint_ip_header_trusted,
            })
            .map_err(corrupt)?;
            sqlx::query(
                "INSERT INTO clients (client_id, name, secret_hash, app_type, config) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO UPDATE SET \
                 name = excluded.name, secret_hash = excluded.secret_hash, \
                 app_type = excluded.app_type, config = excluded.config",
            )
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(&c.secret_hash)
            .bind(app_type_str(c.app_type))
            .bind(config)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
            sqlx::query("DELETE FROM client_origins WHERE client_id = $1")
                .bind(&c.client_id)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            let mut origins: Vec<String> = c
                .web_origins
                .iter()
                .chain(&c.allowed_origins)
                .map(|o| normalize_origin(o))
                .collect();
            origins.sort();
            origins.dedup();
            for origin in origins {
                sqlx::query(
                    "INSERT INTO client_origins (client_id, origin) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&c.client_id)
                .bind(origin)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            }
        }
        for conn in &tenant.connections {
            sqlx::query(
                "INSERT INTO connections (name, strategy, enabled_clients, options) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
                 strategy = excluded.strategy, enabled_clients = excluded.enabled_clients, \
                 options = excluded.options",
            )
            .bind(&conn.name)
            .bind(&conn.strategy)
            .bind(serde_json::to_string(&conn.enabled_clients).map_err(corrupt)?)
            .bind(serde_json::to_string(&conn.options).map_err(corrupt)?)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }

    /// Every stored client's id, by name.
    pub async fn client_ids_by_name(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, client_id FROM clients")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().collect())
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    async fn bootstrap(&self, tenant: &TenantConfig) -> Result<bool, StoreError> {
        let _writer = self.writer().await?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The settings row doubles as the "already set up" marker; a concurrent start blocks
        // on it and then sees the row.
        let created = sqlx::query(
            "INSERT INTO tenant_settings (id, settings) VALUES (1, '{}') ON CONFLICT (id) DO NOTHING",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !created {
            return Ok(false);
        }
        Self::upsert_tenant(&mut tx, tenant).await?;
        tx.commit().await.map_err(backend)?;
        self.forget_config();
        Ok(true)
    }

    async fn apply_tenant(&self, tenant: &TenantConfig) -> Result<(), StoreError> {
        let _writer = self.writer().await?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        Self::upsert_tenant(&mut tx, tenant).await?;
        tx.commit().await.map_err(backend)?;
        self.forget_config();
        Ok(())
    }

    async fn tenant_settings(&self) -> Result<Arc<TenantSettings>, StoreError> {
        if let Some(s) = self.settings.get(&()) {
            return Ok(s);
        }
        let settings = Arc::new(self.load_tenant_settings().await?);
        self.settings.insert((), settings.clone());
        Ok(settings)
    }

    async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        // Cached under an empty connection name, which no connection can have.
        Ok(self
            .client_with_connection(client_id, "")
            .await?
            .map(|(client, _)| client))
    }

    async fn client_with_connection(
        &self,
        client_id: &str,
        connection: &str,
    ) -> Result<ClientLookup, StoreError> {
        let key = (client_id.to_owned(), connection.to_owned());
        if let Some(hit) = self.clients.get(&key) {
            return Ok(hit);
        }
        let found = self
            .load_client_with_connection(client_id, connection)
            .await?;
        self.clients.insert(key, found.clone());
        Ok(found)
    }

    async fn origin_known(&self, origin: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM client_origins WHERE origin = $1 LIMIT 1",
        )
        .bind(normalize_origin(origin))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn create_user(&self, user: &NewUser) -> Result<(), StoreError> {
        let metadata = serde_json::to_string(&user.user_metadata).map_err(corrupt)?;
        // One statement, answered once committed; a trigger appends the password history
        // entry within it (see migrations).
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO users (id, connection, email, username, email_verified, \
                     given_name, family_name, name, nickname, picture, user_metadata, \
                     password_hash, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
                )
                .text(user.id.clone())
                .text(user.connection.clone())
                .text(user.email.clone())
                .text(user.username.clone())
                .boolean(user.email_verified)
                .text(user.profile.given_name.clone())
                .text(user.profile.family_name.clone())
                .text(user.profile.name.clone())
                .text(user.profile.nickname.clone())
                .text(user.profile.picture.clone())
                .text(metadata)
                .text(user.password_hash.clone())
                .int(user.created_at),
            ])
            .await
            .map(|_| ())
    }

    async fn password_history(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, private_pem, public_jwk, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let jwk: String = r.try_get("public_jwk").map_err(corrupt)?;
                Ok(SigningKey {
                    kid: r.try_get("kid").map_err(corrupt)?,
                    private_pem: r.try_get("private_pem").map_err(corrupt)?,
                    public_jwk: serde_json::from_str(&jwk).map_err(corrupt)?,
                    created_at: r.try_get("created_at").map_err(corrupt)?,
                    retired_at: r.try_get("retired_at").map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError> {
        let _writer = self.writer().await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, private_pem, public_jwk, active, created_at) \
             VALUES ($1, $2, $3, 1, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.private_pem)
        .bind(key.public_jwk.to_string())
        .bind(key.created_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn rotate_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        let _writer = self.writer().await?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("UPDATE signing_keys SET active = NULL, retired_at = $1 WHERE active = 1")
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pem, public_jwk, active, created_at) \
             VALUES ($1, $2, $3, 1, $4)",
        )
        .bind(&key.kid)
        .bind(&key.private_pem)
        .bind(key.public_jwk.to_string())
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn user_by_identifier(
        &self,
        connection: &str,
        identifier: &str,
    ) -> Result<Option<User>, StoreError> {
        // Usernames are NULL on connections without them; an email match wins over a username.
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE connection = $1 \
             AND (email = $2 OR username = $2) \
             ORDER BY CASE WHEN email = $2 THEN 0 ELSE 1 END LIMIT 1"
        );
        let query = sqlx::query(&sql).bind(connection).bind(identifier);
        self.fetch_optional_kept(query)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.users.user_by_id(id).await
    }

    async fn count_login_attempt(&self, key: &AttemptKey, now: i64) -> Result<i64, StoreError> {
        // One statement: the increment and the read cannot be split by a concurrent attempt.
        let counts = self
            .writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO login_attempts (connection, identifier, ip, attempts, updated_at) \
                     VALUES ($1, $2, $3, 1, $4) ON CONFLICT (connection, identifier, ip) DO UPDATE \
                     SET attempts = login_attempts.attempts + 1, updated_at = excluded.updated_at \
                     RETURNING attempts",
                )
                .text(key.connection.clone())
                .text(key.identifier.clone())
                .text(key.ip.clone())
                .int(now)
                .returning(),
            ])
            .await?;
        counts
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("no attempt count returned".into()))
    }

    async fn record_login(
        &self,
        user_id: &str,
        ip: &str,
        now: i64,
        attempts: &AttemptKey,
    ) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "UPDATE users SET logins_count = logins_count + 1, last_login = $2, \
                     last_ip = $3 WHERE id = $1",
                )
                .text(user_id.to_owned())
                .int(now)
                .text(ip.to_owned()),
                Stmt::new(
                    "DELETE FROM login_attempts \
                     WHERE connection = $1 AND identifier = $2 AND ip = $3",
                )
                .text(attempts.connection.clone())
                .text(attempts.identifier.clone())
                .text(attempts.ip.clone()),
            ])
            .await
            .map(|_| ())
    }

    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, \
                     scope, audience, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .text(t.token_hash.clone())
                .text(t.family_id.clone())
                .text(t.client_id.clone())
                .text(t.user_id.clone())
                .text(t.scope.clone())
                .text(t.audience.clone())
                .int(t.created_at)
                .int(t.expires_at),
            ])
            .await
            .map(|_| ())
    }

    async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshToken, User)>, StoreError> {
        // A token is used once a child names it. The user's columns do not clash with the
        // token's, so USER_COLUMNS needs no table prefix here.
        let sql = format!(
            "SELECT t.token_hash, t.family_id, t.client_id, t.user_id, t.scope, t.audience, \
             t.created_at, t.expires_at, c.created_at AS used_at, {USER_COLUMNS} \
             FROM refresh_tokens t JOIN users ON users.id = t.user_id \
             LEFT JOIN refresh_tokens c ON c.parent_hash = t.token_hash \
             WHERE t.token_hash = $1"
        );
        self.fetch_optional_kept(sqlx::query(&sql).bind(token_hash))
            .await?
            .as_ref()
            .map(|row| Ok((refresh_token_from_row(row)?, user_from_row(row)?)))
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        // One statement: the child inherits the family; the unique parent_hash admits one
        // child per token, so a concurrent or repeated rotation fails here.
        let inserted = self
            .writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO refresh_tokens (token_hash, parent_hash, family_id, client_id, \
                     user_id, scope, audience, created_at, expires_at) \
                     SELECT $2, token_hash, family_id, client_id, user_id, scope, audience, $3, \
                     expires_at FROM refresh_tokens WHERE token_hash = $1",
                )
                .text(old_hash.to_owned())
                .text(new_hash.to_owned())
                .int(now),
            ])
            .await;
        match inserted {
            Ok(rows) => Ok(rows.first() == Some(&1)),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn revoke_refresh_family(&self, family_id: &str) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new("DELETE FROM refresh_tokens WHERE family_id = $1")
                    .text(family_id.to_owned()),
            ])
            .await
            .map(|_| ())
    }

    async fn purge(
        &self,
        now: i64,
        idle_before: i64,
        keep_from: i64,
    ) -> Result<(u64, u64), StoreError> {
        let _writer = self.writer().await?;
        // A family's tokens share its expiry, so whole families go (children by cascade too).
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        let attempts =
            sqlx::query("DELETE FROM login_attempts WHERE attempts < $1 AND updated_at < $2")
                .bind(keep_from)
                .bind(idle_before)
                .execute(&self.pool)
                .await
                .map_err(backend)?
                .rows_affected();
        Ok((tokens, attempts))
    }

    async fn count_users(&self, connection: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE connection = $1")
            .bind(connection)
            .fetch_one(&self.pool)
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
