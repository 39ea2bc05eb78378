//! The storage contract the domain relies on; `crate::store` implements it for SQLite and
//! PostgreSQL.

use async_trait::async_trait;

use super::keys::SigningKey;
use super::tenant::{Client, Connection, TenantConfig, TenantSettings};
use super::user::NewUser;

/// Which unique constraint a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Email,
    Username,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated ({0:?})")]
    Conflict(UniqueField),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

/// Credentials of a freshly created default tenant, to print once at start.
#[derive(Debug, Clone)]
pub struct BootstrapCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub connection: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates `tenant` (clients, connections, settings) if the store was never set up, in one
    /// transaction that is safe against concurrent starts; `Ok(false)` when already set up.
    async fn bootstrap(&self, tenant: &TenantConfig) -> Result<bool, StoreError>;

    /// Upserts the tenant's settings, clients (by name) and connections (by name) in one
    /// transaction; nothing is applied when any part fails.
    async fn apply_tenant(&self, tenant: &TenantConfig) -> Result<(), StoreError>;

    async fn tenant_settings(&self) -> Result<TenantSettings, StoreError>;
    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// A client and a connection in one round trip: `None` when the client is unknown, the
    /// connection `None` when it is.
    async fn client_with_connection(
        &self,
        client_id: &str,
        connection: &str,
    ) -> Result<Option<(Client, Option<Connection>)>, StoreError>;

    /// Whether any client lists `origin` in `web_origins` or `allowed_origins`.
    async fn origin_known(&self, origin: &str) -> Result<bool, StoreError>;

    /// Inserts the user and its first password-history entry atomically; returns only once
    /// committed. Fails with `Conflict` on a duplicate email or username.
    async fn create_user(&self, user: &NewUser) -> Result<(), StoreError>;

    /// The user's stored password hashes, newest first (current one included).
    async fn password_history(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;

    /// Stores `key` as the active key unless one is active already (concurrent starts race
    /// here safely); `Ok(false)` when another was there first.
    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError>;

    /// Retires the active key and makes `key` active, in one transaction.
    async fn rotate_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;

    /// Number of users in a connection (tests and benchmarks).
    async fn count_users(&self, connection: &str) -> Result<i64, StoreError>;
}
