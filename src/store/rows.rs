//! Rows as the queries read them (`FromRow`), and their conversion into domain values. Booleans
//! are read as BIGINT (`USER_COLUMNS` casts them): the `Any` driver cannot decode SQLite's
//! BOOLEAN.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::corrupt;
use crate::domain::keys::SigningKey;
use crate::domain::store::{
    AuthorizationCode, OutboxMessage, RefreshToken, Session, StoreError, Ticket,
};
use crate::domain::tenant::{AppType, Client, Connection, ConnectionOptions};
use crate::domain::user::{Profile, User};

/// The columns of `UserRow`, in a form both databases read.
pub const USER_COLUMNS: &str = "id, connection, email, username, \
     CAST(CASE WHEN email_verified THEN 1 ELSE 0 END AS BIGINT) AS email_verified, given_name, \
     family_name, name, nickname, picture, password_hash, \
     CAST(CASE WHEN blocked THEN 1 ELSE 0 END AS BIGINT) AS blocked, updated_at";

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: String,
    connection: String,
    email: String,
    username: Option<String>,
    email_verified: i64,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
    password_hash: String,
    blocked: i64,
    updated_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            connection: r.connection,
            email: r.email,
            username: r.username,
            email_verified: r.email_verified != 0,
            profile: Profile {
                given_name: r.given_name,
                family_name: r.family_name,
                name: r.name,
                nickname: r.nickname,
                picture: r.picture,
            },
            password_hash: r.password_hash,
            blocked: r.blocked != 0,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct RefreshTokenRow {
    token_hash: String,
    family_id: String,
    client_id: String,
    user_id: String,
    scope: String,
    audience: Option<String>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(r: RefreshTokenRow) -> Self {
        RefreshToken {
            token_hash: r.token_hash,
            family_id: r.family_id,
            client_id: r.client_id,
            user_id: r.user_id,
            scope: r.scope,
            audience: r.audience,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

/// A refresh token joined with its user.
#[derive(sqlx::FromRow)]
pub struct RefreshWithUserRow {
    #[sqlx(flatten)]
    pub token: RefreshTokenRow,
    #[sqlx(flatten)]
    pub user: UserRow,
}

/// What a client row keeps in its JSON `config` column. Fields added later default, so rows
/// written by older versions still read.
#[derive(Serialize, Deserialize, Default)]
pub struct ClientConfig {
    pub web_origins: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub callbacks: Vec<String>,
    pub allowed_logout_urls: Vec<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub token_endpoint_ip_header_trusted: bool,
}

impl From<&Client> for ClientConfig {
    fn from(c: &Client) -> Self {
        Self {
            web_origins: c.web_origins.clone(),
            allowed_origins: c.allowed_origins.clone(),
            callbacks: c.callbacks.clone(),
            allowed_logout_urls: c.allowed_logout_urls.clone(),
            grant_types: c.grant_types.clone(),
            token_endpoint_ip_header_trusted: c.token_endpoint_ip_header_trusted,
        }
    }
}

pub fn app_type_str(t: AppType) -> &'static str {
    match t {
        AppType::Spa => "spa",
        AppType::RegularWeb => "regular_web",
        AppType::Native => "native",
        AppType::NonInteractive => "non_interactive",
    }
}

/// A client, and a connection looked up by name beside it (its columns `NULL` when there is
/// none of that name).
#[derive(sqlx::FromRow)]
pub struct ClientWithConnectionRow {
    client_id: String,
    client_name: String,
    secret_hash: Option<String>,
    app_type: String,
    config: String,
    connection_name: Option<String>,
    strategy: Option<String>,
    enabled_clients: Option<String>,
    options: Option<String>,
}

impl ClientWithConnectionRow {
    pub fn decode(self) -> Result<(Arc<Client>, Option<Arc<Connection>>), StoreError> {
        let config: ClientConfig = serde_json::from_str(&self.config).map_err(corrupt)?;
        let client = Client {
            client_id: self.client_id,
            name: self.client_name,
            secret_hash: self.secret_hash,
            app_type: serde_json::from_value(serde_json::Value::String(self.app_type))
                .map_err(corrupt)?,
            web_origins: config.web_origins,
            allowed_origins: config.allowed_origins,
            callbacks: config.callbacks,
            allowed_logout_urls: config.allowed_logout_urls,
            grant_types: config.grant_types,
            token_endpoint_ip_header_trusted: config.token_endpoint_ip_header_trusted,
        };
        let connection = match (
            self.connection_name,
            self.strategy,
            self.enabled_clients,
            self.options,
        ) {
            (Some(name), Some(strategy), Some(enabled), Some(options)) => {
                Some(Arc::new(Connection {
                    name,
                    strategy,
                    enabled_clients: serde_json::from_str(&enabled).map_err(corrupt)?,
                    options: serde_json::from_str::<ConnectionOptions>(&options)
                        .map_err(corrupt)?,
                }))
            }
            _ => None,
        };
        Ok((Arc::new(client), connection))
    }
}

#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    kid: String,
    private_pem: String,
    public_jwk: String,
    created_at: i64,
    retired_at: Option<i64>,
}

impl SigningKeyRow {
    pub fn decode(self) -> Result<SigningKey, StoreError> {
        Ok(SigningKey {
            kid: self.kid,
            private_pem: self.private_pem,
            public_jwk: serde_json::from_str(&self.public_jwk).map_err(corrupt)?,
            created_at: self.created_at,
            retired_at: self.retired_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ConnectionRow {
    name: String,
    strategy: String,
    enabled_clients: String,
    options: String,
}

impl ConnectionRow {
    pub fn decode(self) -> Result<Connection, StoreError> {
        Ok(Connection {
            name: self.name,
            strategy: self.strategy,
            enabled_clients: serde_json::from_str(&self.enabled_clients).map_err(corrupt)?,
            options: serde_json::from_str(&self.options).map_err(corrupt)?,
        })
    }
}

/// The columns of `SessionRow`, prefixed for a join with `users`.
pub const SESSION_COLUMNS: &str = "s.id_hash, s.sid, s.user_id, s.auth_time, \
     s.created_at AS session_created_at, s.last_seen";

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    id_hash: String,
    sid: String,
    user_id: String,
    auth_time: i64,
    session_created_at: i64,
    last_seen: i64,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id_hash: r.id_hash,
            sid: r.sid,
            user_id: r.user_id,
            auth_time: r.auth_time,
            created_at: r.session_created_at,
            last_seen: r.last_seen,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionWithUserRow {
    #[sqlx(flatten)]
    pub session: SessionRow,
    #[sqlx(flatten)]
    pub user: UserRow,
}

/// The columns of `CodeRow`, prefixed for a join with `users`.
pub const CODE_COLUMNS: &str = "a.code_hash, a.client_id, a.user_id, a.session_hash, \
     a.redirect_uri, a.code_challenge, a.scope, a.audience, a.nonce, a.auth_time, a.sid, \
     a.family_id, a.expires_at, a.used_at";

#[derive(sqlx::FromRow)]
pub struct CodeRow {
    code_hash: String,
    client_id: String,
    user_id: String,
    session_hash: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    scope: String,
    audience: Option<String>,
    nonce: Option<String>,
    auth_time: i64,
    sid: String,
    family_id: String,
    expires_at: i64,
    pub used_at: Option<i64>,
}

impl From<CodeRow> for AuthorizationCode {
    fn from(r: CodeRow) -> Self {
        AuthorizationCode {
            code_hash: r.code_hash,
            client_id: r.client_id,
            user_id: r.user_id,
            session_hash: r.session_hash,
            redirect_uri: r.redirect_uri,
            code_challenge: r.code_challenge,
            scope: r.scope,
            audience: r.audience,
            nonce: r.nonce,
            auth_time: r.auth_time,
            sid: r.sid,
            family_id: r.family_id,
            expires_at: r.expires_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct CodeWithUserRow {
    #[sqlx(flatten)]
    pub code: CodeRow,
    #[sqlx(flatten)]
    pub user: UserRow,
}

#[derive(sqlx::FromRow)]
pub struct TicketRow {
    id_hash: String,
    kind: String,
    user_id: String,
    ticket_email: Option<String>,
    result_url: Option<String>,
    ticket_created_at: i64,
    expires_at: i64,
}

impl From<TicketRow> for Ticket {
    fn from(r: TicketRow) -> Self {
        Ticket {
            id_hash: r.id_hash,
            kind: r.kind,
            user_id: r.user_id,
            email: r.ticket_email.unwrap_or_default(),
            result_url: r.result_url,
            created_at: r.ticket_created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct TicketWithUserRow {
    #[sqlx(flatten)]
    pub ticket: TicketRow,
    #[sqlx(flatten)]
    pub user: UserRow,
}

#[derive(sqlx::FromRow)]
pub struct OutboxRow {
    id: String,
    kind: String,
    sender: Option<String>,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
    created_at: i64,
    attempts: i64,
    sent_at: Option<i64>,
    last_error: Option<String>,
}

impl From<OutboxRow> for OutboxMessage {
    fn from(r: OutboxRow) -> Self {
        OutboxMessage {
            id: r.id,
            kind: r.kind,
            from: r.sender,
            recipient: r.recipient,
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            created_at: r.created_at,
            attempts: r.attempts,
            sent_at: r.sent_at,
            last_error: r.last_error,
        }
    }
}
