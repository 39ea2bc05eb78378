//! Test harness: starts the real application (same `Application::build` as `main`) on port 0
//! with a fresh SQLite file or a fresh PostgreSQL database, and offers one helper per endpoint.

use std::sync::Arc;

use latchkey::cli::ServeArgs;
use latchkey::domain::Services;
use latchkey::infra::clock::TestClock;
use latchkey::startup::{Application, Dependencies};
use latchkey::store::SqlStore;
use serde_json::Value;
use sqlx::Connection as _;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The tenant every test starts with.
pub const TENANT: &str = r#"
tenant:
  friendly_name: Test
  default_directory: Username-Password-Authentication
  audiences:
    - https://api.example.com/
    - identifier: https://billing.example.com/
      scopes: [read:invoices, write:invoices]
clients:
  - name: App
    client_id: app-client
    client_secret: app-secret
    app_type: spa
    web_origins: ["http://allowed.example"]
  - name: Other
    client_id: other-client
    web_origins: ["http://other.example"]
  - name: Browser App
    client_id: spa-client
    app_type: spa
    web_origins: ["http://app.example"]
    callbacks: ["http://app.example/callback", "https://*.tenants.example/cb"]
    allowed_logout_urls: ["http://app.example/"]
  - name: Web App
    client_id: web-client
    client_secret: web-secret
    app_type: regular_web
    callbacks: ["http://web.example/callback"]
    allowed_logout_urls: ["http://web.example/bye"]
  - name: Limited
    client_id: limited-client
    client_secret: limited-secret
    grant_types: [client_credentials]
  - name: Admin
    client_id: admin-client
    client_secret: admin-secret
    grant_types: [client_credentials]
client_grants:
  - client_id: Admin
    audience: management
    scope: [read:users, create:users, update:users, delete:users, create:user_tickets, read:clients, read:connections, read:client_grants, create:client_grants, update:client_grants, delete:client_grants, read:roles, create:roles, update:roles, delete:roles, read:logs, read:logs_users, read:emails]
  - client_id: Limited
    audience: management
    scope: [read:users, create:users, read:emails, read:logs, read:roles, create:roles]
  - client_id: limited-client
    audience: https://api.example.com/
    scope: [read:things]
connections:
  - name: Username-Password-Authentication
    enabled_clients: [App, Browser App, Web App]
    options:
      passwordPolicy: good
  - name: usernames
    enabled_clients: [App]
    options:
      passwordPolicy: low
      requires_username: true
      validation: { username: { min: 3, max: 15 } }
  - name: closed
    enabled_clients: [App]
    options: { disable_signup: true }
  - name: strict
    enabled_clients: [App]
    options:
      passwordPolicy: none
      password_dictionary: { enable: true, dictionary: ["Latchkey"] }
      password_no_personal_info: { enable: true }
  - name: excellent
    enabled_clients: [App]
    options:
      passwordPolicy: excellent
  - name: minlen
    enabled_clients: [App]
    options:
      passwordPolicy: low
      password_complexity_options: { min_length: 12 }
  - name: others-only
    enabled_clients: [Other]
  - name: history
    enabled_clients: [App]
    options:
      passwordPolicy: low
      password_history: { enable: true, size: 3 }
"#;

pub const CONN: &str = "Username-Password-Authentication";
pub const CLIENT: &str = "app-client";
pub const PASSWORD: &str = "Passw0rd!";

pub struct TestApp {
    pub base: String,
    /// The database this app runs on (tests inspect and change rows directly).
    pub db_url: String,
    pub http: reqwest::Client,
    pub store: Arc<SqlStore>,
    pub hasher: latchkey::infra::hasher::Hasher,
    /// The domain's services, for calling operations directly (housekeeping).
    pub services: Services,
    /// The app's clock: it moves only when a test advances it.
    pub clock: Arc<TestClock>,
    /// The app's router, for driving requests in-process (the fuzz harness).
    #[allow(dead_code)]
    pub router: axum::Router,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Base URL of the PostgreSQL server the tests create databases on.
/// The Redis the shared-rate-limit test uses (LATCHKEY_TEST_REDIS, default the local one), if
/// one answers. Without one the test says so loudly and returns; with LATCHKEY_REQUIRE_REDIS=1
/// (CI) a missing Redis fails it.
pub fn test_redis() -> Option<String> {
    let url =
        std::env::var("LATCHKEY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let addr = url::Url::parse(&url).ok().and_then(|u| {
        Some(format!(
            "{}:{}",
            u.host_str()?.to_owned(),
            u.port().unwrap_or(6379)
        ))
    });
    let reachable = addr.as_deref().is_some_and(|a| {
        use std::net::ToSocketAddrs as _;
        a.to_socket_addrs()
            .ok()
            .and_then(|mut s| s.next())
            .is_some_and(|sa| {
                std::net::TcpStream::connect_timeout(&sa, std::time::Duration::from_secs(2)).is_ok()
            })
    });
    if reachable {
        return Some(url);
    }
    if std::env::var("LATCHKEY_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("no Redis answers at {url} and LATCHKEY_REQUIRE_REDIS=1");
    }
    eprintln!(
        "\n  ####  WARNING: no Redis answers at {url}: the shared rate-limit test is SKIPPED \
         (set LATCHKEY_TEST_REDIS=redis://HOST:PORT/)  ####\n"
    );
    None
}

pub fn postgres_base() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Creates an empty database named after a random token and returns its URL.
pub async fn fresh_postgres_database() -> String {
    let base = postgres_base();
    let name = format!(
        "lk_test_{}",
        latchkey::tenant_file::random_token(12).to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL tests need a server at {base} (set LATCHKEY_TEST_POSTGRES, or run \
                 the suite with `-- --skip postgres::`): {e}"
            )
        });
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    format!("{base}/{name}")
}

/// Drops the PostgreSQL database of `url` under whoever is connected to it (the database
/// disappearing under a running server).
pub async fn drop_postgres_database(url: &str) {
    let name = url.rsplit('/').next().expect("database name");
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_base()))
        .await
        .expect("maintenance connection");
    sqlx::Executor::execute(
        &mut admin,
        format!("DROP DATABASE {name} WITH (FORCE)").as_str(),
    )
    .await
    .expect("drop database");
}

pub struct Options {
    pub tenant: Option<String>,
    pub extra_args: Vec<String>,
}

impl Options {
    /// No tenant file: the store keeps (or bootstraps) its own tenant.
    pub fn without_tenant() -> Self {
        Self {
            tenant: None,
            extra_args: vec![],
        }
    }

    /// `TENANT` with these extra `serve` flags.
    pub fn args(args: &[&str]) -> Self {
        Self {
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            ..Self::default()
        }
    }

    /// This tenant file instead of `TENANT`.
    pub fn tenant(text: String) -> Self {
        Self {
            tenant: Some(text),
            extra_args: vec![],
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tenant: Some(TENANT.to_owned()),
            extra_args: vec![],
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, Options::default()).await
}

pub async fn spawn_with(backend: Backend, opts: Options) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(backend, &dir).await;
    spawn_on(&url, dir, opts).await
}

/// A fresh, empty database: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn database_url(backend: Backend, dir: &tempfile::TempDir) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("latchkey.db").display()),
        Backend::Postgres => fresh_postgres_database().await,
    }
}

/// Starts an app on an existing database URL (for scale-out tests: several apps, one database).
pub async fn spawn_on(url: &str, dir: tempfile::TempDir, opts: Options) -> TestApp {
    let mut args: Vec<String> = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--database-url".into(),
        url.into(),
    ];
    // Cheap hashes keep the suite fast unless a test asks for real ones; the benchmark uses
    // the real defaults.
    for (flag, value) in [("--argon2-m-cost", "256"), ("--argon2-t-cost", "1")] {
        if !opts.extra_args.iter().any(|a| a == flag) {
            args.extend([flag.to_owned(), value.to_owned()]);
        }
    }
    if let Some(tenant) = &opts.tenant {
        let path = dir.path().join("tenant.yaml");
        std::fs::write(&path, tenant).expect("write tenant file");
        args.push("--tenant-file".into());
        args.push(path.display().to_string());
    }
    args.extend(opts.extra_args);
    let settings = ServeArgs::parse_from_args(args).expect("test settings parse");
    let clock = Arc::new(TestClock::default());
    let app = Application::build(
        settings.config(),
        Dependencies {
            clock: clock.clone(),
            // Tests deliver the outbox themselves (domain::outbox::deliver_due).
            mailer: None,
        },
    )
    .await
    .expect("application starts");
    let base = app.base_url();
    let store = app.sql_store();
    let hasher = app.hasher();
    let services = app.services();
    let router = app.router();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    TestApp {
        base,
        db_url: url.to_owned(),
        http: reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .expect("http client"),
        store,
        hasher,
        services,
        clock,
        router,
        _dir: dir,
        stop: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /dbconnections/signup` with a JSON body.
    pub async fn signup(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/dbconnections/signup"))
            .json(body)
            .send()
            .await
            .expect("signup request")
    }

    /// `POST /dbconnections/signup` with a form-urlencoded body.
    pub async fn signup_form(&self, form: String) -> reqwest::Response {
        self.post_raw(
            "/dbconnections/signup",
            Some("application/x-www-form-urlencoded"),
            form,
        )
        .await
    }

    /// `POST path` with a raw body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send().await.expect("request")
    }

    /// `POST /oauth/token` with a JSON body.
    pub async fn token(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .json(body)
            .send()
            .await
            .expect("token request")
    }

    /// `POST /oauth/token` with a form body, as node-auth0 sends it.
    pub async fn token_form(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    /// A password-realm login of `email` with `PASSWORD` on the default connection; the 200 body.
    pub async fn login(&self, email: &str, scope: &str) -> Value {
        let (status, body) = parts(
            self.token(&serde_json::json!({
                "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                "client_id": CLIENT, "client_secret": "app-secret",
                "username": email, "password": PASSWORD, "realm": CONN, "scope": scope,
            }))
            .await,
        )
        .await;
        assert_eq!(status, 200, "login failed: {body}");
        body
    }

    /// Logs in with `scope` (which must include `offline_access`) and returns the refresh token.
    pub async fn refresh_token(&self, email: &str, scope: &str) -> String {
        let body = self.login(email, scope).await;
        body["refresh_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no refresh token: {body}"))
            .to_owned()
    }

    /// Signs `email` up with `PASSWORD` on the default connection.
    pub async fn signed_up(&self, email: &str) -> String {
        let (status, body) = parts(
            self.signup(&serde_json::json!({
                "client_id": CLIENT, "connection": CONN, "email": email, "password": PASSWORD,
            }))
            .await,
        )
        .await;
        assert_eq!(status, 200, "signup failed: {body}");
        body["_id"].as_str().expect("_id").to_owned()
    }

    /// The published keys of `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> Vec<Value> {
        let (status, body) = parts(
            self.http
                .get(self.url("/.well-known/jwks.json"))
                .send()
                .await
                .expect("jwks request"),
        )
        .await;
        assert_eq!(status, 200);
        body["keys"].as_array().expect("keys array").clone()
    }

    /// `GET /userinfo` with a bearer token.
    pub async fn userinfo(&self, access_token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo request")
    }

    /// Runs one SQL statement on the app's database.
    pub async fn sql(&self, statement: &str) {
        let mut conn = self.db().await;
        sqlx::Executor::execute(&mut conn, statement)
            .await
            .expect("sql statement");
    }

    /// A direct connection to the app's database.
    pub async fn db(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.db_url)
            .await
            .expect("database connection")
    }

    pub async fn users(&self, connection: &str) -> i64 {
        self.store
            .count_users(connection)
            .await
            .expect("count users")
    }

    /// A Management API token of the test tenant's `Limited` client with `scope`.
    pub async fn management_token(&self, scope: &str) -> String {
        let (status, body) = parts(
            self.token(&serde_json::json!({"grant_type": "client_credentials", "client_id": "limited-client",
                "client_secret": "limited-secret", "audience": format!("{}/api/v2/", self.base), "scope": scope}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A token of the tenant's admin client (every users scope of the Management API).
    pub async fn admin_token(&self) -> String {
        let (status, body) = parts(
            self.token(
                &serde_json::json!({"grant_type": "client_credentials", "client_id": "admin-client",
                "client_secret": "admin-secret", "audience": format!("{}/api/v2/", self.base)}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A Management API request with `token`.
    pub fn api(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(&format!("/api/v2{path}")))
            .bearer_auth(token)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }
}

/// Runs `latchkey keys rotate` on `url` (with a key-encryption key when given), asserts it
/// succeeded and returns what it printed.
pub async fn rotate_keys(url: &str, key_encryption_key: Option<&str>) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.args(["keys", "rotate", "--database-url", url]);
    if let Some(kek) = key_encryption_key {
        cmd.env("LATCHKEY_KEY_ENCRYPTION_KEY", kek);
    }
    let out = cmd.output().await.expect("run keys rotate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Status and JSON body of a response.
pub async fn parts(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text:?}"));
    (status, body)
}

/// Status and raw body text (for byte-exact comparisons).
pub async fn raw(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// Builds the application on a fresh database with `tenant` as its tenant file and returns why
/// start-up failed (it must fail).
pub async fn start_error(backend: Backend, tenant: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.yaml");
    std::fs::write(&path, tenant).expect("tenant file");
    let url = database_url(backend, &dir).await;
    let args = ServeArgs::parse_from_args([
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--tenant-file",
        path.to_str().expect("utf-8 path"),
    ])
    .expect("arguments");
    match Application::build(args.config(), Dependencies::default()).await {
        Ok(_) => panic!("start-up succeeded with {tenant}"),
        Err(e) => e.to_string(),
    }
}

/// Runs each listed `async fn(Backend)` once per store, as `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
