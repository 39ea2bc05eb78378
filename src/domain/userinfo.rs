//! `GET /userinfo` rules: a verified access token for the userinfo audience, naming a user
//! who still exists and is not blocked, answers that user's current profile claims per the
//! token's scope.

use serde_json::{Map, Value};

use super::Services;
use super::claims::{parse_scope, profile_claims};
use super::error::Failure;
use super::ports::VerifyError;
use super::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UserinfoError {
    /// A bearer token that is missing, malformed, expired or not ours; the text says which.
    #[error("invalid access token: {0}")]
    InvalidToken(&'static str),
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<StoreError> for UserinfoError {
    fn from(e: StoreError) -> Self {
        UserinfoError::Failure(e.into())
    }
}

impl From<VerifyError> for UserinfoError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Rejected(why) => UserinfoError::InvalidToken(why),
            VerifyError::WrongAudience => {
                UserinfoError::InvalidToken("the token is not valid for /userinfo")
            }
            VerifyError::Failure(f) => UserinfoError::Failure(f),
        }
    }
}

/// The profile claims for the bearer token `token` (`None`: no token was presented).
pub async fn userinfo(
    ctx: &Services,
    token: Option<&str>,
) -> Result<Map<String, Value>, UserinfoError> {
    let token = token.ok_or(UserinfoError::InvalidToken("missing bearer token"))?;
    let claims = ctx.signer.verify(token, ctx.userinfo_audience()).await?;
    let id = claims
        .get("sub")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("auth0|"))
        .ok_or(UserinfoError::InvalidToken("the token is not a user's"))?;
    let user = ctx
        .store
        .user_by_id(id)
        .await?
        .filter(|u| !u.blocked)
        .ok_or(UserinfoError::InvalidToken("the user is gone or blocked"))?;
    let scopes = parse_scope(
        claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    Ok(profile_claims(&user, &scopes))
}
