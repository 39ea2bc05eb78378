//! Domain rules: the tenant model, password policy, signup, logins and token grants, the hosted
//! login (authorize, sessions, codes, logout), userinfo.
//! Takes typed inputs from the HTTP edge and reaches storage, hashing, signing and the time only
//! through the traits of `store` and `ports`; never imports axum, sqlx, tower or hyper (CI
//! checks this).

pub mod audit;
pub mod authorize;
pub mod claims;
pub mod email;
pub mod error;
pub mod imported_hash;
pub mod imported_user;
pub mod jobs;
pub mod keys;
pub mod manage_logs;
pub mod manage_roles;
pub mod manage_tenant;
pub mod manage_tickets;
pub mod manage_users;
pub mod management;
pub mod migration;
pub mod outbox;
pub mod password_check;
pub mod password_policy;
pub mod password_reset;
pub mod ports;
pub mod search;
pub mod signup;
pub mod store;
pub mod tenant;
pub mod token;
pub mod user;
pub mod userinfo;
pub mod verification;

use std::sync::Arc;

use ports::{Clock, PasswordHasher, Signer};
use store::Store;

/// What the domain's operations run on, built once at start.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub signer: Arc<dyn Signer>,
    pub clock: Arc<dyn Clock>,
    /// `iss` of every token: the configured issuer, with its trailing slash.
    pub issuer: String,
    /// The issuer's origin (scheme://host:port); pages served from it may always call the API.
    pub own_origin: String,
    /// Work that outlives its request (queuing an email after the answer), awaited at shutdown.
    pub background: tokio_util::task::TaskTracker,
    /// Whether emails are delivered (SMTP is configured): verification emails are then sent
    /// at signup unless the tenant file says otherwise.
    pub delivers_email: bool,
    /// Development without SMTP (a loopback issuer): the log shows each kept email's link.
    pub logs_email_links: bool,
    /// The tenant log's events go here.
    pub log: Arc<dyn audit::EventLog>,
    /// How long log events are kept (ms); older ones are neither read nor kept.
    pub log_retention_ms: i64,
    userinfo_audience: String,
    management_audience: String,
}

impl Services {
    /// `issuer` must end with one slash, as `iss` does.
    pub fn new(
        store: Arc<dyn Store>,
        hasher: Arc<dyn PasswordHasher>,
        signer: Arc<dyn Signer>,
        clock: Arc<dyn Clock>,
        issuer: &str,
        own_origin: &str,
    ) -> Self {
        Self {
            store,
            hasher,
            signer,
            clock,
            userinfo_audience: format!("{issuer}userinfo"),
            management_audience: format!("{issuer}api/v2/"),
            issuer: issuer.to_owned(),
            own_origin: own_origin.to_owned(),
            background: tokio_util::task::TaskTracker::new(),
            delivers_email: false,
            logs_email_links: false,
            log: Arc::new(audit::NoEventLog),
            log_retention_ms: 30 * 86_400_000,
        }
    }

    /// The audience `/userinfo` accepts.
    pub fn userinfo_audience(&self) -> &str {
        &self.userinfo_audience
    }

    /// The Management API's audience, `<issuer>api/v2/`.
    pub fn management_audience(&self) -> &str {
        &self.management_audience
    }

    /// Whether a browser page at `origin` may call the API as `client`.
    pub fn origin_allowed(&self, client: &tenant::Client, origin: Option<&str>) -> bool {
        match origin {
            Some(o) => o.eq_ignore_ascii_case(&self.own_origin) || client.allows_origin(o),
            None => true,
        }
    }
}
