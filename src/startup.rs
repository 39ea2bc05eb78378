//! Start-up shared by `main` and the tests: load the tenant file, connect and migrate the store,
//! apply or bootstrap the tenant, bind the listener, and serve until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use crate::config::ServeArgs;
use crate::domain::hasher::{HashParams, Hasher};
use crate::domain::store::{BootstrapCredentials, Store};
use crate::http::{self, App, Limits};
use crate::store::{PoolSettings, SqlStore};
use crate::{tenant_file, tls};

pub struct Application {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Option<RustlsConfig>,
    router: axum::Router,
    issuer: String,
    bootstrap: Option<BootstrapCredentials>,
    store: Arc<SqlStore>,
    hasher: Hasher,
    grace: Duration,
}

/// How often expired refresh tokens and idle attempt counters are deleted (also once at start).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// `issuer` with exactly one trailing slash.
fn normalize_issuer(issuer: &str) -> String {
    format!("{}/", issuer.trim_end_matches('/'))
}

impl Application {
    pub async fn build(args: ServeArgs) -> anyhow::Result<Self> {
        tls::install_crypto_provider();
        let store = SqlStore::connect(
            &args.database_url,
            &PoolSettings {
                max_connections: args.db_max_connections,
                acquire_timeout: Duration::from_secs(args.db_acquire_timeout),
            },
        )
        .await?;
        let store = Arc::new(store);

        let bootstrap = match &args.tenant_file {
            Some(path) => {
                // Clients without an explicit client_id keep the one already stored.
                let known = store.client_ids_by_name().await?;
                let tenant = tenant_file::load(path, &|name| known.get(name).cloned())?;
                store
                    .apply_tenant(&tenant)
                    .await
                    .context("cannot apply the tenant file")?;
                None
            }
            None => {
                let (tenant, creds) = tenant_file::default_tenant();
                store.bootstrap(&tenant).await?.then_some(creds)
            }
        };

        let cipher = crate::config::key_cipher(args.key_encryption_key.as_deref())?;
        crate::domain::keys::ensure_active(store.as_ref(), &cipher)
            .await
            .context("cannot set up the signing key")?;

        let hasher = Hasher::new(
            HashParams {
                m_cost: args.argon2_m_cost,
                t_cost: args.argon2_t_cost,
                p_cost: args.argon2_p_cost,
            },
            args.hash_workers(),
            args.hash_queue(),
        )
        .context("invalid Argon2 parameters")?;

        let listener = std::net::TcpListener::bind(args.listen)
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(tls::from_pem_files(cert, key).await?),
            _ if args.tls_self_signed => Some(tls::self_signed().await?),
            _ => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let issuer = normalize_issuer(
            &args
                .issuer
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}/")),
        );
        let own_origin = url::Url::parse(&issuer)
            .with_context(|| format!("the issuer {issuer:?} is not a URL"))?
            .origin()
            .ascii_serialization();

        let state = Arc::new(App {
            store: store.clone(),
            hasher: hasher.clone(),
            tokens: crate::domain::tokens::Tokens::new(store.clone(), cipher, &issuer),
            own_origin,
            trust_forwarded_for: args.trust_forwarded_for,
        });
        let router = http::router(
            state,
            Limits {
                body_bytes: args.body_limit,
                timeout: Duration::from_secs(args.request_timeout),
            },
        );
        Ok(Self {
            listener,
            addr,
            tls,
            router,
            issuer,
            bootstrap,
            store,
            hasher,
            grace: Duration::from_secs(args.shutdown_grace),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http(s)://ADDR` of the bound listener.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Credentials of the default tenant, when this start created it.
    pub fn bootstrap_credentials(&self) -> Option<&BootstrapCredentials> {
        self.bootstrap.as_ref()
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

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
        let store = self.store.clone();
        let housekeeping = tokio::spawn(async move {
            let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
            loop {
                every.tick().await;
                match crate::domain::oauth::housekeeping(store.as_ref()).await {
                    Ok((0, 0)) => {}
                    Ok((tokens, attempts)) => {
                        tracing::info!(
                            tokens,
                            attempts,
                            "purged expired refresh tokens and idle attempt counters"
                        );
                    }
                    Err(e) => tracing::warn!(cause = %e, "housekeeping failed"),
                }
            }
        });
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            Some(config) => {
                axum_server::from_tcp_rustls(self.listener, config)
                    .handle(handle)
                    .serve(service)
                    .await?
            }
            None => {
                axum_server::from_tcp(self.listener)
                    .handle(handle)
                    .serve(service)
                    .await?
            }
        }
        housekeeping.abort();
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

#[cfg(test)]
mod tests {
    use super::normalize_issuer;

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
