//! The domain's error type: every way a request can fail, independent of the wire envelope.

use super::hasher::HashError;
use super::password_policy::StrengthFailure;
use super::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is malformed, misses a field, or a field breaks a rule; the text says which.
    #[error("invalid body: {0}")]
    InvalidBody(String),
    #[error("request body too large")]
    BodyTooLarge,
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("invalid username: {0}")]
    InvalidUsername(String),
    #[error("unknown client")]
    UnknownClient,
    #[error("the connection does not exist")]
    ConnectionNotFound,
    #[error("the connection is not a database connection")]
    NotDatabaseConnection,
    #[error("the connection is not enabled for this client")]
    ConnectionNotEnabled,
    #[error("public signup is disabled")]
    SignupDisabled,
    #[error("origin not allowed for this client")]
    OriginNotAllowed,
    #[error("user already exists")]
    UserExists,
    #[error("username already exists")]
    UsernameExists,
    /// A duplicate signup under enumeration protection.
    #[error("invalid signup")]
    InvalidSignup,
    #[error("password too weak")]
    PasswordStrength(StrengthFailure),
    #[error("password too common")]
    PasswordDictionary,
    #[error("password contains user information")]
    PasswordNoUserInfo,
    #[error("password previously used")]
    PasswordHistory,
    /// OAuth: a required parameter is missing or a parameter is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unsupported grant type {0}")]
    UnsupportedGrantType(String),
    /// The client may not use this grant (its `grant_types`).
    #[error("grant type {0} not allowed for the client")]
    GrantNotAllowed(String),
    /// Client authentication failed (wrong or missing secret); the text says which.
    #[error("client authentication failed: {0}")]
    InvalidClient(&'static str),
    /// Wrong password or unknown user: one error, so the answer does not reveal which.
    #[error("wrong email or password")]
    WrongCredentials,
    /// Brute-force protection blocked this (identifier, IP).
    #[error("too many failed login attempts")]
    TooManyAttempts,
    #[error("user is blocked")]
    UserBlocked,
    #[error("unknown or invalid refresh token")]
    InvalidRefreshToken,
    #[error("unknown audience {0}")]
    UnknownAudience(String),
    #[error("no audience requested and no default audience")]
    MissingAudience,
    #[error("scope not granted: {0}")]
    InvalidScope(String),
    /// A bearer token that is malformed, expired or not ours.
    #[error("invalid access token: {0}")]
    InvalidToken(&'static str),
    /// Too much work queued (password hashing); retry later.
    #[error("overloaded")]
    Overloaded,
    /// Anything unexpected; the text goes to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<HashError> for Error {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Error::Overloaded,
            HashError::Internal(m) => Error::Internal(m),
        }
    }
}
