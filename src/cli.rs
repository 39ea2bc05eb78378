//! The command line: `latchkey serve`, `latchkey keys rotate` and `latchkey users
//! import|export`, their flags and `LATCHKEY_*`
//! environment variables, turned into a `Config` (which knows nothing of clap).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, DatabaseConfig, HashingConfig, Tls};
use crate::infra::hasher::HashParams;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Self-hosted identity server speaking Auth0's Authentication API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Manage the token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Import and export users with their password hashes.
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Import users from Auth0 bulk-import files (a JSON array or NDJSON, gzipped or not), or
    /// from Auth0's password-hash export joined with a profile export (`--profiles`). Every
    /// file is read through once first: one that does not parse imports nothing.
    Import(ImportArgs),
    /// Export users as Auth0's export does (NDJSON by default), optionally with their hashes.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The database connection the users join.
    #[arg(long)]
    pub connection: String,
    /// Update users that exist (by email) with Auth0's upsert rules instead of refusing them.
    #[arg(long)]
    pub upsert: bool,
    /// Auth0's user export (NDJSON, gzipped or not) to join the password-hash export FILEs
    /// with, on the user id.
    #[arg(long)]
    pub profiles: Option<PathBuf>,
    /// Where the refused users and their errors go (a JSON array, Auth0's job-errors shape).
    #[arg(long, default_value = "import-errors.json")]
    pub errors: PathBuf,
    /// Bulk-import files, or password-hash exports with `--profiles`.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    Json,
    Csv,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Only the users of this connection.
    #[arg(long)]
    pub connection: Option<String>,
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: ExportFormat,
    /// The file to write (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also write every user's password hash to this file, in Auth0's password-hash export
    /// format (`passwordHash` for bcrypt, `custom_password_hash` for the rest), which
    /// `users import --profiles` takes back.
    #[arg(long)]
    pub with_hashes: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key active; the previous one stays published in the JWKS for 48 h so
    /// tokens it signed still verify.
    Rotate(DatabaseArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASS@HOST/DB`.
    #[arg(
        long,
        env = "LATCHKEY_DATABASE_URL",
        default_value = "sqlite://latchkey.db"
    )]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "LATCHKEY_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// Seconds to wait for a pooled database connection (also the start-up connect timeout).
    #[arg(long, env = "LATCHKEY_DB_ACQUIRE_TIMEOUT", default_value_t = 5)]
    pub db_acquire_timeout: u64,

    /// 32 random bytes, base64 (`openssl rand -base64 32`): private signing keys are stored
    /// encrypted with it (AES-256-GCM). Every instance and `keys rotate` need the same value.
    #[arg(long, env = "LATCHKEY_KEY_ENCRYPTION_KEY", hide_env_values = true)]
    pub key_encryption_key: Option<String>,
}

impl DatabaseArgs {
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: self.database_url.clone(),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout),
            key_encryption_key: self.key_encryption_key.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to bind; port 0 picks a free port (the bound address is printed).
    #[arg(long, env = "LATCHKEY_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Public base URL; tokens' `iss`. Default: http(s)://<bound address>/.
    #[arg(long, env = "LATCHKEY_ISSUER")]
    pub issuer: Option<String>,

    /// YAML or JSON file of tenant settings, clients and connections, upserted at start.
    #[arg(long, env = "LATCHKEY_TENANT_FILE")]
    pub tenant_file: Option<PathBuf>,

    /// PEM certificate chain for HTTPS.
    #[arg(long, env = "LATCHKEY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for HTTPS.
    #[arg(long, env = "LATCHKEY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate for localhost/127.0.0.1 generated at start (development).
    #[arg(long, env = "LATCHKEY_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,

    /// `pretty` (default on a terminal) or `json` (default otherwise).
    #[arg(long, env = "LATCHKEY_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "LATCHKEY_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "LATCHKEY_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// Seconds a connection may take to send a request's headers, counted from when it opened
    /// or its previous answer was sent: also the idle timeout of kept-alive connections (keep
    /// a reverse proxy's upstream idle timeout below it).
    #[arg(long, env = "LATCHKEY_HEADER_READ_TIMEOUT", default_value_t = 30)]
    pub header_read_timeout: u64,

    /// Most connections open at once; further ones wait to be accepted. Default: the open-files
    /// limit less a reserve for the database and files (16..16384).
    #[arg(long, env = "LATCHKEY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Management API requests per second each client may make on this instance (bursts up to
    /// twice as many); 0 turns the limit off.
    #[arg(long, env = "LATCHKEY_MANAGEMENT_RATE_LIMIT", default_value_t = 1000)]
    pub management_rate_limit: u32,

    /// Share the Management API rate limit between every instance through this Redis
    /// (`redis://host:6379/0`); without it each instance keeps its own budgets.
    #[arg(long, env = "LATCHKEY_MANAGEMENT_RATE_LIMIT_REDIS")]
    pub management_rate_limit_redis: Option<String>,

    /// Days the tenant log keeps its events (`GET /api/v2/logs`); older ones are neither
    /// served nor kept.
    #[arg(long, env = "LATCHKEY_LOG_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub log_retention_days: u32,

    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "LATCHKEY_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,

    /// Behind a reverse proxy: take the client's IP (brute-force protection, `last_ip`) from
    /// the last address of `X-Forwarded-For`, which the proxy appends. Only when every request
    /// comes through such a proxy: clients could otherwise choose their IP.
    #[arg(long, env = "LATCHKEY_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Deliver the outbox over SMTP, in lettre's URL form: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (implicit TLS), `smtp://host:25` (plain).
    /// Without it, emails stay in the outbox (`GET /api/v2/emails`).
    #[arg(long, env = "LATCHKEY_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of emails (default: `no-reply@<issuer host>`).
    #[arg(long, env = "LATCHKEY_EMAIL_FROM")]
    pub email_from: Option<String>,

    /// Password hashes computed at once (default: the number of cores).
    #[arg(long, env = "LATCHKEY_HASH_WORKERS")]
    pub hash_workers: Option<usize>,

    /// Password hashes allowed to wait for a worker; beyond that requests get 429 at once.
    /// Default: 16 per worker.
    #[arg(long, env = "LATCHKEY_HASH_QUEUE")]
    pub hash_queue: Option<usize>,

    /// Argon2id memory cost in KiB.
    #[arg(long, env = "LATCHKEY_ARGON2_M_COST", default_value_t = 19_456)]
    pub argon2_m_cost: u32,

    /// Argon2id iterations.
    #[arg(long, env = "LATCHKEY_ARGON2_T_COST", default_value_t = 2)]
    pub argon2_t_cost: u32,

    /// Argon2id parallelism.
    #[arg(long, env = "LATCHKEY_ARGON2_P_COST", default_value_t = 1)]
    pub argon2_p_cost: u32,
}

impl ServeArgs {
    /// Settings as `latchkey serve ARGS…` would parse them (environment included).
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::try_parse_from(
            std::iter::once("latchkey".into())
                .chain(std::iter::once("serve".into()))
                .chain(args.into_iter().map(Into::into)),
        )?;
        match cli.command {
            Command::Serve(a) => Ok(*a),
            Command::Keys(_) | Command::Users(_) => Err(clap::Error::raw(
                clap::error::ErrorKind::InvalidSubcommand,
                "expected the serve subcommand",
            )),
        }
    }

    /// The settings these flags give.
    pub fn config(&self) -> Config {
        let workers = self.hash_workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        Config {
            listen: self.listen,
            database: self.database.config(),
            issuer: self.issuer.clone(),
            tenant_file: self.tenant_file.clone(),
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Tls::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                },
                _ if self.tls_self_signed => Tls::SelfSigned,
                _ => Tls::Off,
            },
            body_limit: self.body_limit,
            request_timeout: Duration::from_secs(self.request_timeout),
            header_read_timeout: Duration::from_secs(self.header_read_timeout.max(1)),
            max_connections: self.max_connections.unwrap_or_else(|| {
                crate::config::default_max_connections(self.database.db_max_connections)
            }),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            management_rate_limit: self.management_rate_limit,
            management_rate_limit_redis: self.management_rate_limit_redis.clone(),
            log_retention_days: self.log_retention_days,
            trust_forwarded_for: self.trust_forwarded_for,
            smtp_url: self.smtp_url.clone(),
            email_from: self.email_from.clone(),
            hashing: HashingConfig {
                params: HashParams {
                    m_cost: self.argon2_m_cost,
                    t_cost: self.argon2_t_cost,
                    p_cost: self.argon2_p_cost,
                },
                workers,
                queue: self.hash_queue.unwrap_or(16 * workers),
            },
        }
    }
}
