//! Start-up shared by `main`, the tests and the benchmarks: connect and migrate the store,
//! apply the tenant file or bootstrap a default tenant, set up keys, hashing and signing, bind
//! the listener, and serve until told to stop. Dependencies that tests replace (the clock) are
//! passed in.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use crate::config::{Config, Tls};
use crate::domain::Services;
use crate::domain::ports::Clock;
use crate::domain::store::{BootstrapCredentials, Store, TenantStore, UserStore};
use crate::http::limit::ConnectionLimit;
use crate::http::{self, App, Limits};
use crate::infra::clock::SystemClock;
use crate::infra::hasher::Hasher;
use crate::infra::signer::JwtSigner;
use crate::infra::{keys, tls};
use crate::store::{PoolSettings, SqlStore};
use crate::tenant_file;

/// What the application is built with besides its settings; tests replace these.
#[derive(Clone)]
pub struct Dependencies {
    pub clock: Arc<dyn Clock>,
    /// Delivers the outbox; `None`: an SMTP mailer when `--smtp-url` is set, else none (the
    /// outbox keeps the messages). Tests pass a recorder.
    pub mailer: Option<Arc<dyn crate::domain::ports::Mailer>>,
}

impl Default for Dependencies {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            mailer: None,
        }
    }
}

pub struct Application {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Option<RustlsConfig>,
    router: axum::Router,
    bootstrap: Option<BootstrapCredentials>,
    store: Arc<SqlStore>,
    services: Services,
    hasher: Hasher,
    grace: Duration,
    header_read_timeout: Duration,
    max_connections: usize,
    mailer: Option<Arc<dyn crate::domain::ports::Mailer>>,
}

/// How often an instance looks for a pending Management API job.
const JOBS_EVERY: Duration = Duration::from_secs(1);
/// How often the sender looks for due emails.
const SEND_EVERY: Duration = Duration::from_secs(1);

/// How often expired refresh tokens and idle attempt counters are deleted (also once at start).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// `issuer` with exactly one trailing slash.
fn normalize_issuer(issuer: &str) -> String {
    format!("{}/", issuer.trim_end_matches('/'))
}

impl Application {
    pub async fn build(config: Config, deps: Dependencies) -> anyhow::Result<Self> {
        tls::install_crypto_provider();
        let db = &config.database;
        let store = SqlStore::connect(
            &db.url,
            &PoolSettings {
                max_connections: db.max_connections,
                acquire_timeout: db.acquire_timeout,
            },
        )
        .await?;
        let store = Arc::new(store);

        let mut seed_users = Vec::new();
        let bootstrap = match &config.tenant_file {
            Some(path) => {
                // Clients without an explicit client_id keep the one already stored.
                let known = store.client_ids_by_name().await?;
                let tenant = tenant_file::load(path, &|name| known.get(name).cloned())?;
                store
                    .apply_tenant(&tenant)
                    .await
                    .context("cannot apply the tenant file")?;
                seed_users = tenant.seed_users;
                None
            }
            None => {
                let (tenant, creds) = tenant_file::default_tenant();
                store.bootstrap(&tenant).await?.then_some(creds)
            }
        };

        let cipher = db.key_cipher()?;
        keys::ensure_active(store.as_ref(), &cipher, deps.clock.as_ref())
            .await
            .context("cannot set up the signing key")?;

        let h = &config.hashing;
        let hasher =
            Hasher::new(h.params, h.workers, h.queue).context("invalid Argon2 parameters")?;
        // Unknown users must cost what most stored hashes cost (hashes made before a cost
        // change keep their cost until their user logs in again and is re-hashed).
        if !seed_users.is_empty() {
            let made = crate::domain::migration::seed(
                store.as_ref(),
                &hasher,
                deps.clock.now_millis(),
                &seed_users,
            )
            .await
            .map_err(|e| anyhow::anyhow!(crate::domain::error::chain(&e)))
            .context("cannot create the tenant file's users")?;
            if made > 0 {
                tracing::info!(created = made, "created the tenant file's users");
            }
        }
        let classes = store.password_hash_classes().await?;
        hasher
            .match_classes(&classes)
            .await
            .context("cannot make the dummy hash")?;

        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let tls = match &config.tls {
            Tls::Files { cert, key } => Some(tls::from_pem_files(cert, key).await?),
            Tls::SelfSigned => Some(tls::self_signed().await?),
            Tls::Off => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let issuer = normalize_issuer(
            &config
                .issuer
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}/")),
        );
        let own_origin = url::Url::parse(&issuer)
            .with_context(|| format!("the issuer {issuer:?} is not a URL"))?
            .origin()
            .ascii_serialization();

        let mailer = match (deps.mailer, &config.smtp_url) {
            (Some(m), _) => Some(m),
            (None, Some(url)) => {
                let host = url::Url::parse(&issuer)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".into());
                let from = config
                    .email_from
                    .clone()
                    .unwrap_or_else(|| format!("no-reply@{host}"));
                let m = crate::infra::mailer::SmtpMailer::new(url, &from)?;
                Some(Arc::new(m) as Arc<dyn crate::domain::ports::Mailer>)
            }
            (None, None) => None,
        };
        let signer = JwtSigner::new(store.clone(), cipher, deps.clock.clone(), &issuer);
        let mut services = Services::new(
            store.clone(),
            Arc::new(hasher.clone()),
            Arc::new(signer),
            deps.clock,
            &issuer,
            &own_origin,
        );
        let management_limiter = match &config.management_rate_limit_redis {
            Some(url) => crate::http::rate::SharedLimiter::connect(
                url,
                config.management_rate_limit,
                // One deployment's instances share an issuer; other deployments on the same
                // Redis keep their own budgets.
                &issuer,
            )
            .await
            .map_err(|e| anyhow::anyhow!("--management-rate-limit-redis: cannot connect: {e}"))?
            .map(crate::http::rate::ManagementLimiter::Shared),
            None => crate::http::rate::limiter(config.management_rate_limit),
        };
        let (log_writer, _writing) = crate::infra::event_log::LogWriter::start(store.clone());
        services.log = Arc::new(log_writer);
        services.log_retention_ms = i64::from(config.log_retention_days) * 86_400_000;
        services.delivers_email = mailer.is_some();
        services.logs_email_links = mailer.is_none() && issuer_is_loopback(&issuer);
        let state = Arc::new(App {
            services: services.clone(),
            trust_forwarded_for: config.trust_forwarded_for,
            pages: crate::http::pages::Pages::new(issuer.starts_with("https://")),
            reset_limiter: crate::http::change_password::limiter(),
            management_limiter,
        });
        let router = http::router(
            state,
            Limits {
                body_bytes: config.body_limit,
                timeout: config.request_timeout,
            },
        );
        Ok(Self {
            listener,
            addr,
            tls,
            router,
            bootstrap,
            store,
            services,
            hasher,
            grace: config.shutdown_grace,
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            mailer,
        })
    }

    /// `http(s)://ADDR` of the bound listener.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn issuer(&self) -> &str {
        &self.services.issuer
    }

    /// Credentials of the default tenant, when this start created it.
    pub fn bootstrap_credentials(&self) -> Option<&BootstrapCredentials> {
        self.bootstrap.as_ref()
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The router the server serves, for driving it in-process (the fuzz harness).
    #[cfg(feature = "testing")]
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The store as itself, with its test-only reads.
    #[cfg(feature = "testing")]
    pub fn sql_store(&self) -> Arc<SqlStore> {
        self.store.clone()
    }

    /// The domain's services, as the handlers use them (tests call domain operations directly).
    pub fn services(&self) -> Services {
        self.services.clone()
    }

    /// The hashing pool (tests watch its queue).
    pub fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (up to the grace
    /// period) and closes the database pool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let handle = Handle::new();
        let stopper = handle.clone();
        let grace = self.grace;
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            stopper.graceful_shutdown(Some(grace));
        });
        // The sender: every instance runs one; claims make each message go out once.
        let sender = self.mailer.clone().map(|mailer| {
            let services = self.services.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(SEND_EVERY);
                loop {
                    every.tick().await;
                    if let Err(e) = crate::domain::outbox::deliver_due(&services, mailer.as_ref()).await {
                        tracing::warn!(cause = %crate::domain::error::chain(&e), "email delivery failed");
                    }
                }
            })
        });
        // Management API jobs: every instance looks for one; a claim gives each to one.
        let services = self.services.clone();
        let job_runner = tokio::spawn(async move {
            let mut every = tokio::time::interval(JOBS_EVERY);
            loop {
                every.tick().await;
                loop {
                    match crate::migration::run_job(&services).await {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(cause = %crate::domain::error::chain(&e), "a job failed to run");
                            break;
                        }
                    }
                }
            }
        });
        let services = self.services.clone();
        let housekeeping = tokio::spawn(async move {
            let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
            loop {
                every.tick().await;
                match crate::domain::token::housekeeping(&services).await {
                    Ok((0, 0, 0, 0)) => {}
                    Ok((tokens, attempts, sessions, logs)) => {
                        tracing::info!(
                            tokens,
                            attempts,
                            sessions,
                            logs,
                            "purged expired refresh tokens, idle attempt counters, ended sessions and old log events"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(cause = %crate::domain::error::chain(&e), "housekeeping failed")
                    }
                }
            }
        });
        let silent = crate::http::silence::Silent::default();
        let service = ConnectionLimit::new(
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
            self.max_connections,
            silent.clone(),
        );
        let header_read_timeout = self.header_read_timeout;
        // hyper disables its header-read timeout unless it has a timer.
        let timed = |builder: &mut hyper_util::server::conn::auto::Builder<_>| {
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_read_timeout);
        };
        // Connections that send nothing are cut at the same timeout, counted from accept.
        use crate::http::silence::CutSilence;
        match self.tls {
            Some(config) => {
                let mut server = axum_server::from_tcp_rustls(self.listener, config)
                    .map(|a| CutSilence::new(a, header_read_timeout, silent));
                timed(server.http_builder());
                server.handle(handle).serve(service).await?
            }
            None => {
                let mut server = axum_server::from_tcp(self.listener)
                    .map(|a| CutSilence::new(a, header_read_timeout, silent));
                timed(server.http_builder());
                server.handle(handle).serve(service).await?
            }
        }
        housekeeping.abort();
        // A job cut short here is claimed again by an instance once its lease lapses.
        job_runner.abort();
        if let Some(s) = sender {
            s.abort();
        }
        // Emails queued after their requests' answers are written before the store closes.
        self.services.background.close();
        self.services.background.wait().await;
        self.services.log.flush().await;
        self.store.close().await;
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Whether the issuer names this machine (development): only then may the log show links.
fn issuer_is_loopback(issuer: &str) -> bool {
    match url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{issuer_is_loopback, normalize_issuer};

    #[test]
    fn only_loopback_issuers_are_development() {
        for dev in [
            "http://127.0.0.1:3000/",
            "https://localhost/",
            "http://[::1]:8080/",
            "http://app.localhost/",
        ] {
            assert!(issuer_is_loopback(dev), "{dev}");
        }
        for public in [
            "https://auth.acme.example/",
            "http://10.0.0.5/",
            "https://localhost.acme.example/",
        ] {
            assert!(!issuer_is_loopback(public), "{public}");
        }
    }

    #[test]
    fn issuer_has_one_trailing_slash() {
        assert_eq!(
            normalize_issuer("https://id.example.com"),
            "https://id.example.com/"
        );
        assert_eq!(
            normalize_issuer("https://id.example.com//"),
            "https://id.example.com/"
        );
    }
}
