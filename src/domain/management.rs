//! The Management API's rules that exist so far: who may call it (a machine token for
//! `<issuer>api/v2/` carrying the endpoint's scope), its error type, and the outbox read that
//! lets offline tests follow emailed links. Jobs are in `jobs.rs`, users in `manage_users.rs`.

use super::Services;
use super::claims::parse_scope;
use super::error::Failure;
use super::ports::VerifyError;
use super::store::{OutboxMessage, StoreError};

/// Scope of `GET /api/v2/emails` (latchkey's own: Auth0 has no outbox).
pub const READ_EMAILS: &str = "read:emails";

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    /// No usable bearer token; the text says why.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The token lacks the endpoint's scope (any of these, comma-separated).
    #[error("insufficient scope, expected {0}")]
    InsufficientScope(String),
    /// A body or form the endpoint cannot take; the text says why.
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("unknown connection")]
    UnknownConnection,
    #[error("unknown job")]
    UnknownJob,
    #[error("unknown user")]
    UnknownUser,
    #[error("unknown client")]
    UnknownClient,
    #[error("unknown API {0:?}")]
    UnknownApi(String),
    #[error("unknown client grant")]
    UnknownGrant,
    #[error("client grant already exists")]
    GrantExists,
    #[error("unknown role")]
    UnknownRole,
    #[error("unknown log event")]
    UnknownLog,
    #[error("role name already exists")]
    RoleExists,
    #[error("user already exists")]
    UserExists,
    #[error("username already exists")]
    UsernameExists,
    /// A password rule; the text is Auth0's (`PasswordStrengthError: Password is too weak`).
    #[error("password refused")]
    Password(&'static str),
    /// A `q`, `sort` or paging parameter that cannot be used; the text says why.
    #[error("invalid query: {0}")]
    Query(String),
    /// A body over the endpoint's limit.
    #[error("request body too large")]
    TooLarge,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<StoreError> for ManagementError {
    fn from(e: StoreError) -> Self {
        ManagementError::Failure(e.into())
    }
}

impl From<VerifyError> for ManagementError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Rejected(why) => ManagementError::Unauthorized(why),
            VerifyError::WrongAudience => {
                ManagementError::Unauthorized("the token is not valid for the Management API")
            }
            VerifyError::Failure(f) => ManagementError::Failure(f),
        }
    }
}

/// Checks a Management API token for `scope`.
pub async fn authorize(
    ctx: &Services,
    token: Option<&str>,
    scope: &'static str,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, &[scope]).await
}

/// Checks a Management API token for any of `scopes`.
pub async fn authorize_any(
    ctx: &Services,
    token: Option<&str>,
    scopes: &[&str],
) -> Result<(), ManagementError> {
    let token = token.ok_or(ManagementError::Unauthorized("Missing authentication"))?;
    let claims = ctx.signer.verify(token, ctx.management_audience()).await?;
    let granted = parse_scope(
        claims
            .get("scope")
            .and_then(|s| s.as_str())
            .unwrap_or_default(),
    );
    if scopes.iter().any(|want| granted.iter().any(|g| g == want)) {
        Ok(())
    } else {
        Err(ManagementError::InsufficientScope(scopes.join(", ")))
    }
}

/// `GET /api/v2/emails?to=`: the newest outbox messages (at most 100), to one address or all.
pub async fn emails(
    ctx: &Services,
    token: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<OutboxMessage>, ManagementError> {
    authorize(ctx, token, READ_EMAILS).await?;
    let to = to.map(super::user::normalize_identifier);
    Ok(ctx.store.outbox(to.as_deref(), 100).await?)
}
