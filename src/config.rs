//! Server settings as plain data, independent of the command line: `cli` builds them from
//! flags and environment, tests build them directly or from flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::infra::hasher::HashParams;
use crate::infra::keys::{KeyCipher, KeyError};

/// Everything `Application::build` needs besides the injected dependencies.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: DatabaseConfig,
    /// Public base URL; tokens' `iss`. `None`: http(s)://<bound address>/.
    pub issuer: Option<String>,
    /// Applied (upserted) at start; without one, a default tenant is bootstrapped once.
    pub tenant_file: Option<PathBuf>,
    pub tls: Tls,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// How long a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long a connection may take to send a request's headers, counted from when it
    /// opened or its previous answer was sent (so also how long a kept-alive connection may
    /// idle).
    pub header_read_timeout: Duration,
    /// Most connections open at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long in-flight requests get to finish after the shutdown signal.
    pub shutdown_grace: Duration,
    /// Management API requests per second per client on this instance; 0: no limit.
    pub management_rate_limit: u32,
    /// Redis shared by the instances for that limit; `None`: each instance's own.
    pub management_rate_limit_redis: Option<String>,
    /// Days the tenant log keeps its events.
    pub log_retention_days: u32,
    /// Whether the client's IP is the last `X-Forwarded-For` address (behind a proxy).
    pub trust_forwarded_for: bool,
    /// SMTP delivery of the outbox (lettre's URL form); `None`: emails stay in the outbox.
    pub smtp_url: Option<String>,
    /// The sender of emails; `None`: `no-reply@<issuer host>`.
    pub email_from: Option<String>,
    pub hashing: HashingConfig,
}

/// The database, shared by `serve` and `keys rotate`.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
    /// How long to wait for a pooled connection (also the start-up connect timeout).
    pub acquire_timeout: Duration,
    /// Base64 of 32 bytes; private signing keys are sealed with it.
    pub key_encryption_key: Option<String>,
}

impl DatabaseConfig {
    /// The cipher for private signing keys.
    pub fn key_cipher(&self) -> Result<KeyCipher, KeyError> {
        self.key_encryption_key
            .as_deref()
            .map_or_else(|| Ok(KeyCipher::default()), KeyCipher::from_base64)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    Off,
    /// PEM certificate chain and private key.
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// A certificate for localhost/127.0.0.1 generated at start (development).
    SelfSigned,
}

/// A connection cap that leaves file descriptors for the database and files: the soft limit
/// of open files, less a reserve, between 16 and 16,384.
pub fn default_max_connections(db_max_connections: u32) -> usize {
    const RESERVE: u64 = 64;
    let soft = open_files_limit().unwrap_or(1024);
    soft.saturating_sub(RESERVE + u64::from(db_max_connections))
        .clamp(16, 16_384) as usize
}

fn open_files_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The password hashing pool.
#[derive(Debug, Clone, Copy)]
pub struct HashingConfig {
    pub params: HashParams,
    /// Hashes computed at once.
    pub workers: usize,
    /// Hashes allowed to wait for a worker; beyond that requests get 429 at once.
    pub queue: usize,
}
