//! What the domain needs from infrastructure, as traits it owns: the clock, the password hashing
//! pool, the token signer and the mailer. `crate::infra` implements them; tests substitute a clock.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::error::Failure;
use super::user::Password;

/// The time, injected so that tests can move it.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_millis() / 1000
    }
}

/// Password hashing on a bounded pool. A place is reserved first (`admit`), before any other
/// work for the request, so that an overloaded server refuses at once.
pub trait PasswordHasher: Send + Sync + 'static {
    /// A reserved place, or `Failure::Overloaded` at once when the pool and its queue are full.
    fn admit(&self) -> Result<Box<dyn HashTicket>, Failure>;

    /// Whether a stored hash was made with other parameters than new hashes get (it is then
    /// replaced at the next successful login).
    fn needs_rehash(&self, phc: &str) -> bool;
}

/// A reserved place in the hashing pool; dropped unused, it gives the place back.
#[async_trait]
pub trait HashTicket: Send {
    /// The password's hash (a PHC string).
    async fn hash(self: Box<Self>, password: Password) -> Result<String, Failure>;

    /// Whether `password` matches `phc`. With `None` a dummy hash is verified, so that unknown
    /// users cost the same as known ones, and the answer is false.
    async fn verify(
        self: Box<Self>,
        password: Password,
        phc: Option<String>,
    ) -> Result<bool, Failure>;
}

/// Why a presented token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is malformed, expired, or not ours; the text is the OAuth description.
    #[error("{0}")]
    Rejected(&'static str),
    /// A valid token of ours, issued for another audience (each endpoint words it).
    #[error("the token is for another audience")]
    WrongAudience,
    #[error(transparent)]
    Failure(#[from] Failure),
}

/// Signs and verifies the JWTs latchkey issues (RS256, with the active key).
#[async_trait]
pub trait Signer: Send + Sync + 'static {
    async fn sign(&self, claims: &Value) -> Result<String, Failure>;

    /// The claims of a token signed by a published key, for this issuer and `audience`, not
    /// expired (by the injected clock).
    async fn verify(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<Arc<Map<String, Value>>, VerifyError>;
}

/// Why a message was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MailError {
    /// Worth trying again later (the server is down, a 4xx reply, a time-out).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Trying again will not help (a 5xx reply, a malformed address).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Delivers outbox messages (SMTP in production, a recorder in tests).
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, message: &super::store::OutboxMessage) -> Result<(), MailError>;
}
