//! The tenant area: settings, clients (with their origins, for CORS), connections and client
//! grants; set up once or upserted from the tenant file; read through short-lived caches.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::rows::{ClientConfig, ClientWithConnectionRow, ConnectionRow, app_type_str};
use super::writer::Stmt;
use super::{ClientLookup, SqlStore, backend, corrupt, normalize_origin};
use crate::domain::store::{StoreError, TenantStore};
use crate::domain::tenant::{Client, ClientGrant, Connection, TenantConfig, TenantSettings};

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

impl SqlStore {
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
        let row: Option<ClientWithConnectionRow> = sqlx::query_as(
            "SELECT c.client_id, c.name AS client_name, c.secret_hash, c.app_type, c.config, \
             n.name AS connection_name, n.strategy, n.enabled_clients, n.options \
             FROM clients c LEFT JOIN connections n ON n.name = $2 WHERE c.client_id = $1",
        )
        .bind(client_id)
        .bind(connection)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(ClientWithConnectionRow::decode).transpose()
    }

    async fn load_client_grant(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<ClientGrant>, StoreError> {
        let scope: Option<String> = sqlx::query_scalar(
            "SELECT scope FROM client_grants WHERE client_id = $1 AND audience = $2",
        )
        .bind(client_id)
        .bind(audience)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        scope
            .map(|s| {
                Ok(ClientGrant {
                    client_id: client_id.to_owned(),
                    audience: audience.to_owned(),
                    scope: serde_json::from_str(&s).map_err(corrupt)?,
                })
            })
            .transpose()
    }

    async fn upsert_tenant(tx: &mut Tx<'_>, tenant: &TenantConfig) -> Result<(), StoreError> {
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
            upsert_client(tx, c).await?;
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
        // The file's clients get exactly the file's grants, besides those made through the
        // Management API; where both name one client and audience, the file's wins.
        for c in &tenant.clients {
            sqlx::query("DELETE FROM client_grants WHERE client_id = $1 AND origin = 'file'")
                .bind(&c.client_id)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
        }
        for g in &tenant.client_grants {
            sqlx::query(
                "INSERT INTO client_grants (client_id, audience, scope, origin) \
                 VALUES ($1, $2, $3, 'file') ON CONFLICT (client_id, audience) DO UPDATE SET \
                 scope = excluded.scope, origin = 'file'",
            )
            .bind(&g.client_id)
            .bind(&g.audience)
            .bind(serde_json::to_string(&g.scope).map_err(corrupt)?)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }
}

async fn upsert_client(tx: &mut Tx<'_>, c: &Client) -> Result<(), StoreError> {
    let config = serde_json::to_string(&ClientConfig::from(c)).map_err(corrupt)?;
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
    Ok(())
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn check_writable(&self, now: i64) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO health (id, checked_at) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                )
                .int(now),
            ])
            .await
            .map(|_| ())
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
        // Indexes of the searched metadata paths; a path no longer listed keeps its index
        // until dropped by hand (docs/api.md).
        for path in &tenant.settings.indexed_app_metadata {
            if let Some(expr) = super::manage::indexed_metadata(self.search, path) {
                let name = super::manage::metadata_index_name(path);
                sqlx::query(&format!(
                    "CREATE INDEX IF NOT EXISTS {name} ON users ({expr})"
                ))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            }
        }
        Ok(())
    }

    async fn client_ids_by_name(&self) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, client_id FROM clients")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().collect())
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

    async fn client_grant(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<Arc<ClientGrant>>, StoreError> {
        let key = (client_id.to_owned(), audience.to_owned());
        if let Some(hit) = self.grants.get(&key) {
            return Ok(hit);
        }
        let found = self
            .load_client_grant(client_id, audience)
            .await?
            .map(Arc::new);
        self.grants.insert(key, found.clone());
        Ok(found)
    }

    async fn client_grants(&self) -> Result<Vec<ClientGrant>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT client_id, audience, scope FROM client_grants ORDER BY client_id, audience",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(client_id, audience, scope)| {
                Ok(ClientGrant {
                    client_id,
                    audience,
                    scope: serde_json::from_str(&scope).map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn insert_client_grant(&self, grant: &ClientGrant) -> Result<(), StoreError> {
        let _gate = self.writer().await?;
        sqlx::query(
            "INSERT INTO client_grants (client_id, audience, scope, origin) \
             VALUES ($1, $2, $3, 'api')",
        )
        .bind(&grant.client_id)
        .bind(&grant.audience)
        .bind(serde_json::to_string(&grant.scope).map_err(corrupt)?)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        self.forget_config();
        Ok(())
    }

    async fn update_client_grant(&self, grant: &ClientGrant) -> Result<bool, StoreError> {
        let _gate = self.writer().await?;
        let changed = sqlx::query(
            "UPDATE client_grants SET scope = $3 WHERE client_id = $1 AND audience = $2",
        )
        .bind(&grant.client_id)
        .bind(&grant.audience)
        .bind(serde_json::to_string(&grant.scope).map_err(corrupt)?)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        self.forget_config();
        Ok(changed > 0)
    }

    async fn delete_client_grant(&self, client_id: &str, audience: &str) -> Result<(), StoreError> {
        let _gate = self.writer().await?;
        sqlx::query("DELETE FROM client_grants WHERE client_id = $1 AND audience = $2")
            .bind(client_id)
            .bind(audience)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.forget_config();
        Ok(())
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

    async fn connections(&self) -> Result<Vec<Arc<Connection>>, StoreError> {
        let rows: Vec<ConnectionRow> = sqlx::query_as(
            "SELECT name, strategy, enabled_clients, options FROM connections ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter().map(|r| r.decode().map(Arc::new)).collect()
    }

    async fn logout_url_known(&self, url: &str) -> Result<bool, StoreError> {
        let configs: Vec<String> = sqlx::query_scalar("SELECT config FROM clients")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        for raw in configs {
            let config: ClientConfig = serde_json::from_str(&raw).map_err(corrupt)?;
            if config.allowed_logout_urls.iter().any(|u| u == url) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
