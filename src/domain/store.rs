//! The storage contract the domain relies on, one trait per area (tenant, users, tokens, keys,
//! sessions, authorization codes, tickets and the outbox); `crate::store` implements them all over SQLite and
//! PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;

use super::keys::SigningKey;
use super::tenant::{Client, ClientGrant, Connection, TenantConfig, TenantSettings};
use super::user::{NewUser, User};

// The store's error lives with the other shared errors (so `error` imports nothing back).
pub use super::error::{StoreError, UniqueField};

/// Who is guessing at which account: brute-force protection counts per (connection,
/// identifier, IP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKey {
    pub connection: String,
    /// SHA-256 (hex) of the login identifier as typed (trimmed, lower-cased), known to exist
    /// or not: a fixed size whatever was typed, and not the identifier itself.
    pub identifier: String,
    pub ip: String,
}

/// What a successful login records.
#[derive(Debug)]
pub struct RecordedLogin<'a> {
    pub user_id: &'a str,
    pub ip: &'a str,
    pub now: i64,
    /// `(old, new)`: the stored hash and its replacement, when the parameters changed.
    pub rehash: Option<(&'a str, &'a str)>,
}

/// A stored refresh token (the hash of it; the token itself is never stored).
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub audience: Option<String>,
    pub created_at: i64,
    /// When the family ends: rotation carries it over, so a chain cannot outlive its login.
    pub expires_at: i64,
    /// When the token was exchanged for a newer one (read-only: derived from its successor).
    pub used_at: Option<i64>,
}

/// Credentials of a freshly created default tenant, to print once at start.
#[derive(Debug, Clone)]
pub struct BootstrapCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub connection: String,
}

/// Tenant settings, clients, connections and client grants.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Checks the database takes a durable write (readiness).
    async fn check_writable(&self, now: i64) -> Result<(), StoreError>;

    /// Creates `tenant` if the store was never set up, in one transaction that is safe against
    /// concurrent starts; `Ok(false)` when already set up.
    async fn bootstrap(&self, tenant: &TenantConfig) -> Result<bool, StoreError>;

    /// Upserts the tenant's settings, clients (by name), connections (by name) and client
    /// grants (those of the file's clients are replaced) in one transaction; nothing is applied
    /// when any part fails.
    async fn apply_tenant(&self, tenant: &TenantConfig) -> Result<(), StoreError>;

    /// Every stored client's id, by name (tenant-file clients without an id keep theirs).
    async fn client_ids_by_name(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError>;

    // Shared, not copied: these come from a cache on every request.
    async fn tenant_settings(&self) -> Result<Arc<TenantSettings>, StoreError>;
    async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError>;
    /// A client and a connection in one round trip: `None` when the client is unknown, the
    /// connection `None` when it is.
    async fn client_with_connection(
        &self,
        client_id: &str,
        connection: &str,
    ) -> Result<Option<(Arc<Client>, Option<Arc<Connection>>)>, StoreError>;

    /// The grant of `client_id` for `audience`, if any.
    async fn client_grant(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<Arc<ClientGrant>>, StoreError>;

    /// Every client grant, by client and audience.
    async fn client_grants(&self) -> Result<Vec<ClientGrant>, StoreError>;

    /// A grant made through the Management API (kept when the tenant file is applied again);
    /// `Conflict` when the client already has one for the audience, or the client is unknown.
    async fn insert_client_grant(&self, grant: &ClientGrant) -> Result<(), StoreError>;

    /// Replaces the scopes of the grant of `grant.client_id` for `grant.audience`; `false` when
    /// there is none.
    async fn update_client_grant(&self, grant: &ClientGrant) -> Result<bool, StoreError>;

    /// Removes the grant of `client_id` for `audience`, if any. Tokens already issued under
    /// it stay valid until they expire.
    async fn delete_client_grant(&self, client_id: &str, audience: &str) -> Result<(), StoreError>;

    /// Whether any client lists `origin` in `web_origins` or `allowed_origins`.
    async fn origin_known(&self, origin: &str) -> Result<bool, StoreError>;

    /// Every connection, by name (the hosted pages pick a client's default among them).
    async fn connections(&self) -> Result<Vec<Arc<Connection>>, StoreError>;

    /// Whether any client lists `url` in `allowed_logout_urls` (a logout naming no client).
    async fn logout_url_known(&self, url: &str) -> Result<bool, StoreError>;
}

/// Users, their password history and brute-force counters.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts the user and its first password-history entry atomically; returns only once
    /// committed. Fails with `Conflict` on a duplicate email or username.
    async fn create_user(&self, user: &NewUser) -> Result<(), StoreError>;

    /// A user of `connection` whose email, or else username, is `identifier` (lower-cased).
    async fn user_by_identifier(
        &self,
        connection: &str,
        identifier: &str,
    ) -> Result<Option<User>, StoreError>;

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// Reserves an evaluation for `key` atomically: counts it as pending (forgetting pending
    /// counts untouched since `stale_before`, left by requests that never finished) and returns
    /// failures + pending including this one, or -1 when `key` already has `max` failures.
    async fn reserve_login_attempt(
        &self,
        key: &AttemptKey,
        now: i64,
        stale_before: i64,
        max: i64,
    ) -> Result<i64, StoreError>;

    /// Gives back a reservation that was not evaluated (or whose password was right for a
    /// blocked user).
    async fn release_login_attempt(&self, key: &AttemptKey) -> Result<(), StoreError>;

    /// A reserved evaluation failed: one more failure, one less pending.
    async fn record_login_failure(&self, key: &AttemptKey, now: i64) -> Result<(), StoreError>;

    /// A successful login: bumps `logins_count`, sets `last_login` and `last_ip`, deletes the
    /// attempt counter of `attempts` (failures and pending), and with `rehash` replaces the
    /// stored hash (and its password-history entry) by one of the same password made with the
    /// current parameters, in one transaction.
    async fn record_login(
        &self,
        login: &RecordedLogin<'_>,
        attempts: &AttemptKey,
    ) -> Result<(), StoreError>;

    /// The distinct parameter prefixes of the stored Argon2id password hashes (a PHC string
    /// without its salt and output) with how many users hold each, for the dummy hash to
    /// cost what the most common one costs.
    async fn password_hash_classes(&self) -> Result<Vec<(String, i64)>, StoreError>;

    /// Deletes attempt counters below `keep_from` (not blocking anyone) untouched since before
    /// `idle_before`; returns how many went.
    async fn purge_attempts(&self, idle_before: i64, keep_from: i64) -> Result<u64, StoreError>;
}

/// Refresh tokens.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError>;

    /// A refresh token with its user, in one read (a refresh needs both; the foreign key
    /// deletes a user's tokens with the user).
    async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshToken, User)>, StoreError>;

    /// Stores `new_hash` as the successor of `old_hash` (same family, client, user, scope,
    /// audience and expiry), which marks `old_hash` used. A token has at most one successor:
    /// `Ok(false)` when `old_hash` already has one (e.g. a concurrent request rotated it first)
    /// or is gone.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Deletes every token of a family.
    async fn revoke_refresh_family(&self, family_id: &str) -> Result<(), StoreError>;

    /// Deletes refresh tokens whose family expired before `now`; returns how many went.
    async fn purge_refresh_tokens(&self, now: i64) -> Result<u64, StoreError>;
}

/// A login session, as the `auth0` cookie names it (by the hash of its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    /// The public id (the id_token's `sid`).
    pub sid: String,
    pub user_id: String,
    /// When the user last authenticated with a password in this session (ms).
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen: i64,
}

/// A stored authorization code (the hash of it) and everything it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub session_hash: String,
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    pub scope: String,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub sid: String,
    /// The refresh-token family the exchange starts (if it issues one), reserved at creation so
    /// that a replay can revoke it.
    pub family_id: String,
    pub expires_at: i64,
}

/// What presenting a code found.
#[derive(Debug)]
pub enum Redeemed {
    /// First use, within its lifetime: now marked used.
    First(Box<(AuthorizationCode, User)>),
    /// Already exchanged once.
    Replayed(Box<AuthorizationCode>),
    /// Unknown or expired.
    Invalid,
}

/// Sessions and login transactions (a validated `/authorize` request waiting at a page).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A login on a hosted page, in one transaction: stores `session`, deletes the browser's
    /// previous session `replaces` (each login gets a new id) and the finished login
    /// transaction, and stores the authorization code the answer carries, if any.
    async fn complete_login(
        &self,
        session: &Session,
        replaces: Option<&str>,
        transaction: &str,
        code: Option<&AuthorizationCode>,
    ) -> Result<(), StoreError>;

    /// A session with its user.
    async fn session(&self, id_hash: &str) -> Result<Option<(Session, User)>, StoreError>;

    /// Records activity (idle expiry counts from it).
    async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError>;

    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError>;

    async fn insert_transaction(
        &self,
        id_hash: &str,
        request: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// A transaction's stored request, if it exists and has not expired by `now`.
    async fn transaction(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError>;

    /// Deletes sessions created before `created_before` or idle since before `idle_before`,
    /// transactions and codes expired by `now`; returns how many rows went.
    async fn purge_sessions(
        &self,
        created_before: i64,
        idle_before: i64,
        now: i64,
    ) -> Result<u64, StoreError>;
}

/// Authorization codes.
#[async_trait]
pub trait CodeStore: Send + Sync + 'static {
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;

    /// Marks the code used, atomically: of concurrent exchanges, one gets `First`.
    async fn redeem_code(&self, code_hash: &str, now: i64) -> Result<Redeemed, StoreError>;
}

/// A single-use link (password reset, email verification), by the hash of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id_hash: String,
    pub kind: String,
    pub user_id: String,
    /// The address the ticket was made for: honoured only while the user still has it.
    pub email: String,
    pub result_url: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An email waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxMessage {
    pub id: String,
    pub kind: String,
    /// The template's sender; `None`: the server's `--email-from`.
    pub from: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: i64,
    /// Failed delivery attempts so far.
    pub attempts: i64,
    /// When it was delivered.
    pub sent_at: Option<i64>,
    /// The last delivery failure, as the SMTP server or the connection gave it.
    pub last_error: Option<String>,
}

/// A password reset through a ticket, applied in one transaction and only if the ticket is
/// still unused and unexpired at `now`.
#[derive(Debug)]
pub struct PasswordReset<'a> {
    pub ticket_hash: &'a str,
    pub user_id: &'a str,
    pub new_hash: &'a str,
    pub now: i64,
    /// The brute-force counters to clear: the user's connection and identifier hashes.
    pub connection: &'a str,
    pub identifiers: &'a [String],
}

/// A stored user as an export or a Management read gives it: everything but its sessions and
/// tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedUser {
    pub id: String,
    pub connection: String,
    pub email: String,
    pub username: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub user_metadata: serde_json::Map<String, serde_json::Value>,
    pub app_metadata: serde_json::Map<String, serde_json::Value>,
    /// Never served over HTTP; written only by `users export --with-hashes`.
    pub password_hash: String,
    pub blocked: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login: Option<i64>,
    pub logins_count: i64,
    pub last_password_reset: Option<i64>,
    pub last_ip: Option<String>,
}

/// A Management API job (users-imports, users-exports), without its input and output.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    /// `users_import` or `users_export`.
    pub kind: String,
    /// `pending`, `processing`, `completed` or `failed`.
    pub status: String,
    pub connection: Option<String>,
    pub upsert: bool,
    pub external_id: Option<String>,
    /// An export's `json` or `csv`.
    pub format: Option<String>,
    /// An export's `fields` and `limit`, as JSON.
    pub options: Option<String>,
    /// `{failed, updated, inserted, total}` of an import, as JSON.
    pub summary: Option<String>,
    /// Why a failed job failed.
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    pub status: &'static str,
    pub summary: Option<String>,
    pub errors: Option<String>,
    pub output: Option<Vec<u8>>,
    pub error: Option<String>,
}

/// Management API jobs, run by one instance at a time.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    async fn insert_job(&self, job: &Job, input: Option<Vec<u8>>) -> Result<(), StoreError>;

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError>;

    /// A job's per-user errors (a JSON array); `None`: no such job; `Some(None)`: none yet.
    async fn job_errors(&self, id: &str) -> Result<Option<Option<String>>, StoreError>;

    /// A completed export's file.
    async fn job_output(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Claims the oldest pending job (or one whose claim lapsed: its instance died) until
    /// `now + lease_ms`, marking it `processing`; of concurrent claims, one wins.
    async fn claim_job(
        &self,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<(Job, Option<Vec<u8>>)>, StoreError>;

    async fn finish_job(&self, id: &str, result: JobResult, now: i64) -> Result<(), StoreError>;
}

/// Users in bulk: imports and exports.
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// Writes `users` into `connection` in one transaction: each is inserted, or (with
    /// `upsert`, matched by email) updated by the upsert rules, or refused as a duplicate.
    async fn import_users(
        &self,
        connection: &str,
        users: &[super::imported_user::ImportUser],
        upsert: bool,
        now: i64,
    ) -> Result<Vec<super::imported_user::Outcome>, StoreError>;

    /// Up to `limit` users with ids after `after` (`""`: from the start), in id order, of one
    /// connection or all.
    async fn export_users(
        &self,
        connection: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ExportedUser>, StoreError>;
}

/// Tickets and the outbox.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Stores a ticket and the email that carries it (if any: a Management API ticket is
    /// answered, not mailed), together.
    async fn insert_ticket(
        &self,
        ticket: &Ticket,
        email: Option<&OutboxMessage>,
    ) -> Result<(), StoreError>;

    /// A ticket of `kind` with its user, if unused and unexpired at `now`.
    async fn ticket(
        &self,
        id_hash: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<(Ticket, User)>, StoreError>;

    /// The user's newest `n` password hashes (the current one first).
    async fn recent_password_hashes(
        &self,
        user_id: &str,
        n: u32,
    ) -> Result<Vec<String>, StoreError>;

    /// Uses the ticket and sets the password (history, `last_password_reset`), clearing the
    /// user's brute-force counters and ending their sessions and refresh tokens; `Ok(false)`
    /// when the ticket was used or expired meanwhile (nothing changes then).
    async fn reset_password(&self, reset: &PasswordReset<'_>) -> Result<bool, StoreError>;

    /// Uses an email-verification ticket and marks the user's email verified, together;
    /// `Ok(false)` when the ticket was used or expired meanwhile.
    async fn verify_email(
        &self,
        ticket_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Claims up to `limit` of the oldest messages due at `now` (unsent, under
    /// `max_attempts`, not claimed by another sender) until `now + lease_ms`; of concurrent
    /// claims of one message, one wins.
    async fn claim_emails(
        &self,
        now: i64,
        lease_ms: i64,
        max_attempts: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Claimed messages were delivered.
    async fn emails_sent(&self, ids: &[String], now: i64) -> Result<(), StoreError>;

    /// A claimed message failed: one more attempt, the next not before `retry_at`.
    async fn email_failed(&self, id: &str, retry_at: i64, error: &str) -> Result<(), StoreError>;

    /// Outbox messages, newest first, to `recipient` when given.
    async fn outbox(
        &self,
        recipient: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
}

/// A Management API change to a user; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub username: Option<Option<String>>,
    pub given_name: Option<Option<String>>,
    pub family_name: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub picture: Option<Option<String>>,
    /// The whole new metadata (merged by the domain); written only if the stored metadata is
    /// still `expected_metadata`, so that concurrent merges do not lose keys.
    pub user_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub app_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The stored `(user_metadata, app_metadata)` the merge started from.
    pub expected_metadata: Option<(
        serde_json::Map<String, serde_json::Value>,
        serde_json::Map<String, serde_json::Value>,
    )>,
    pub blocked: Option<bool>,
    /// A new password's hash: also sets `last_password_reset`.
    pub password_hash: Option<String>,
    /// Whether the user's sessions, refresh tokens and outstanding codes end with this change
    /// (blocked, new password).
    pub end_sessions: bool,
    /// Brute-force counters cleared with this change (a new password), as `AttemptKey` keys.
    pub clear_attempts: Vec<String>,
    /// Whether outstanding tickets (reset and verification links) end (a new email).
    pub end_tickets: bool,
    pub now: i64,
}

/// What an update found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    Done,
    /// No such user.
    Missing,
    /// The metadata changed since it was read: merge again.
    Stale,
}

/// Users as the Management API reads and writes them.
#[async_trait]
pub trait ManageStore: Send + Sync + 'static {
    async fn managed_user(&self, id: &str) -> Result<Option<ExportedUser>, StoreError>;

    /// Users of every connection with this (normalized) email.
    async fn users_by_email(&self, email: &str) -> Result<Vec<ExportedUser>, StoreError>;

    /// A page of the users `query` matches (all when `None`), sorted, and with `count` the
    /// number of matches.
    async fn search_users(
        &self,
        query: Option<&super::search::Query>,
        sort: Option<super::search::Sort>,
        offset: i64,
        limit: i64,
        count: bool,
    ) -> Result<(Vec<ExportedUser>, Option<i64>), StoreError>;

    /// Inserts a user with its app metadata and blocked flag; `Conflict` on a duplicate.
    async fn create_managed_user(
        &self,
        user: &NewUser,
        app_metadata: &serde_json::Map<String, serde_json::Value>,
        blocked: bool,
    ) -> Result<(), StoreError>;

    /// Applies `update` in one transaction (with its sessions and tokens ending when asked);
    /// `Conflict` on a duplicate email or username.
    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Updated, StoreError>;

    /// Deletes a user with everything that refers to it; nothing when already gone.
    async fn delete_user(&self, id: &str) -> Result<(), StoreError>;

    /// The IPs from which `identifier` (its hash, as `AttemptKey` holds it) has `max` failed
    /// logins, on one connection or all.
    async fn login_blocks(
        &self,
        connection: Option<&str>,
        identifier: &str,
        max: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Forgets the failed logins of `identifier` (its hash), on one connection or all.
    async fn clear_login_blocks(
        &self,
        connection: Option<&str>,
        identifier: &str,
    ) -> Result<(), StoreError>;
}

/// A role (Auth0's RBAC role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// Roles and who holds them.
#[async_trait]
pub trait RoleStore: Send + Sync + 'static {
    /// Every role, by name.
    async fn roles(&self) -> Result<Vec<Role>, StoreError>;

    async fn role(&self, id: &str) -> Result<Option<Role>, StoreError>;

    /// `Conflict` when the name is taken.
    async fn insert_role(&self, role: &Role, now: i64) -> Result<(), StoreError>;

    /// Renames or redescribes; `false` when there is no such role, `Conflict` when the name is
    /// taken.
    async fn update_role(&self, role: &Role) -> Result<bool, StoreError>;

    /// Removes the role from everyone who held it; `false` when there was none.
    async fn delete_role(&self, id: &str) -> Result<bool, StoreError>;

    /// A page of the holders of a role (by user id, from `from` inclusive), and how many hold
    /// it.
    async fn role_members(
        &self,
        role_id: &str,
        from: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ExportedUser>, i64), StoreError>;

    /// The roles `user_id` holds, by name.
    async fn roles_of_user(&self, user_id: &str) -> Result<Vec<Role>, StoreError>;

    /// Gives each of `users` each of `roles` (those already held are kept), atomically;
    /// `Conflict` when a user or role does not exist.
    async fn grant_roles(&self, users: &[String], roles: &[String]) -> Result<(), StoreError>;

    /// Takes `roles` from `user_id` (those not held are ignored).
    async fn revoke_roles(&self, user_id: &str, roles: &[String]) -> Result<(), StoreError>;
}

/// One event of the tenant log (management.md, "Log events"). Never a secret, password or token.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogEvent {
    pub log_id: String,
    /// Unix time, ms.
    pub date: i64,
    pub kind: String,
    pub description: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub connection: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub details: Option<serde_json::Value>,
}

/// Which log events to read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogQuery {
    pub query: Option<super::search::Query>,
    /// Checkpoint paging: events after this one (by log id), oldest first.
    pub after: Option<String>,
    /// Newest first (offset paging) or oldest first.
    pub newest_first: bool,
    pub offset: i64,
    pub limit: i64,
    pub count: bool,
}

/// The append-only tenant log.
#[async_trait]
pub trait LogStore: Send + Sync + 'static {
    /// Appends events in one write.
    async fn append_logs(&self, events: &[LogEvent]) -> Result<(), StoreError>;

    async fn log_event(&self, log_id: &str) -> Result<Option<LogEvent>, StoreError>;

    /// The events `q` selects, and with `count` how many match (offset paging only). An
    /// `after` naming no stored event reads from the start.
    async fn log_events(&self, q: &LogQuery) -> Result<(Vec<LogEvent>, Option<i64>), StoreError>;

    /// Deletes events older than `before` (ms); how many went.
    async fn expire_logs(&self, before: i64) -> Result<u64, StoreError>;
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;

    /// Stores `key` as the active key unless one is active already (concurrent starts race
    /// here safely); `Ok(false)` when another was there first.
    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError>;

    /// Retires the active key and makes `key` active, in one transaction.
    async fn rotate_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;
}

/// The whole store, as the application holds it (`Arc<dyn Store>` upcasts to each area).
pub trait Store:
    TenantStore
    + UserStore
    + TokenStore
    + KeyStore
    + SessionStore
    + CodeStore
    + TicketStore
    + ImportStore
    + JobStore
    + ManageStore
    + RoleStore
    + LogStore
{
}

impl<T> Store for T where
    T: TenantStore
        + UserStore
        + TokenStore
        + KeyStore
        + SessionStore
        + CodeStore
        + TicketStore
        + ImportStore
        + JobStore
        + ManageStore
        + RoleStore
        + LogStore
{
}
