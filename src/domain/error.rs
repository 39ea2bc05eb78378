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
