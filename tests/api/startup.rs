//! Start-up and serving: default tenant, tenant-file errors, health, TLS, graceful shutdown.

use latchkey::cli::ServeArgs;
use latchkey::domain::store::TenantStore;
use latchkey::startup::{Application, Dependencies};
use serde_json::json;

use crate::helpers::{Backend, Options, PASSWORD, database_url, parts, spawn_on, spawn_with};

async fn default_tenant_is_created_once_and_works(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let args = |url: &str| {
        ServeArgs::parse_from_args(["--listen", "127.0.0.1:0", "--database-url", url]).unwrap()
    };
    let first = Application::build(args(&url).config(), Dependencies::default())
        .await
        .unwrap();
    let creds = first
        .bootstrap_credentials()
        .cloned()
        .expect("first start creates the default tenant");
    assert_eq!(creds.client_id.len(), 32);
    assert_eq!(creds.connection, "Username-Password-Authentication");
    drop(first);
    let second = Application::build(args(&url).config(), Dependencies::default())
        .await
        .unwrap();
    assert!(
        second.bootstrap_credentials().is_none(),
        "second start reuses the tenant"
    );
    drop(second);

    let app = spawn_on(&url, dir, Options::without_tenant()).await;
    let req = json!({"client_id": creds.client_id, "connection": creds.connection, "email": "first@example.com", "password": PASSWORD});
    assert_eq!(parts(app.signup(&req).await).await.0, 200);
    // The default policy is `good`.
    let weak = json!({"client_id": creds.client_id, "connection": creds.connection, "email": "weak@example.com", "password": "password"});
    let (s, b) = parts(app.signup(&weak).await).await;
    assert_eq!(
        (s, b["name"].as_str()),
        (400, Some("PasswordStrengthError"))
    );
    app.stop().await;
}

async fn bad_tenant_file_stops_start_and_applies_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let path = dir.path().join("bad.yaml");
    let bad = crate::helpers::TENANT.replace(
        "enabled_clients: [App, Browser App, Web App]\n    options:\n      passwordPolicy: good",
        "enabled_clients: [Ghost]\n    options:\n      passwordPolicy: good",
    );
    std::fs::write(&path, &bad).unwrap();
    let args = ServeArgs::parse_from_args([
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--tenant-file",
        path.to_str().unwrap(),
    ])
    .unwrap();
    let err = Application::build(args.config(), Dependencies::default())
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    let line = bad.lines().position(|l| l.contains("Ghost")).unwrap() + 1;
    assert_eq!(
        err,
        format!(
            "{}:{line}: connection \"Username-Password-Authentication\": enabled_clients names unknown client \"Ghost\"",
            path.display()
        )
    );
    // Nothing was applied: not even the valid clients of the same file.
    let app = spawn_on(&url, dir, Options::without_tenant()).await;
    assert!(app.store.client("app-client").await.unwrap().is_none());
    app.stop().await;
}

async fn health_and_readiness(backend: Backend) {
    let app = spawn_with(backend, Options::default()).await;
    for path in ["/healthz", "/readyz"] {
        let (s, b) = parts(app.http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!((s, b), (200, json!({"status": "ok"})), "{path}");
    }
    app.stop().await;
}

async fn serves_https_with_a_self_signed_certificate(backend: Backend) {
    let app = spawn_with(
        backend,
        Options {
            extra_args: vec!["--tls-self-signed".into()],
            ..Default::default()
        },
    )
    .await;
    assert!(app.base.starts_with("https://127.0.0.1:"), "{}", app.base);
    let (s, _) = parts(app.signup(&json!({"client_id": "app-client", "connection": "Username-Password-Authentication", "email": "tls@example.com", "password": PASSWORD})).await).await;
    assert_eq!(s, 200);
    app.stop().await;
}

async fn shutdown_lets_in_flight_requests_finish(backend: Backend) {
    // A slow hash keeps the signup in flight while the server is told to stop.
    let app = spawn_with(
        backend,
        Options {
            extra_args: ["--argon2-m-cost", "19456", "--argon2-t-cost", "30"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        },
    )
    .await;
    let req = json!({"client_id": "app-client", "connection": "Username-Password-Authentication", "email": "late@example.com", "password": PASSWORD});
    let in_flight = {
        let http = app.http.clone();
        let url = app.url("/dbconnections/signup");
        tokio::spawn(async move { http.post(url).json(&req).send().await })
    };
    // Wait until the signup is being processed (it holds a hashing slot).
    while app.hasher.in_flight() == 0 {
        assert!(
            !in_flight.is_finished(),
            "the request ended before it was hashed"
        );
        tokio::task::yield_now().await;
    }
    app.stop().await;
    let resp = in_flight
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(resp.status(), 200);
}

crate::both_stores!(
    default_tenant_is_created_once_and_works,
    bad_tenant_file_stops_start_and_applies_nothing,
    health_and_readiness,
    serves_https_with_a_self_signed_certificate,
    shutdown_lets_in_flight_requests_finish,
);

/// A SQLite database whose per-connection set-up fails (here: another process holds it
/// exclusively, as a read-only mount refuses the WAL) stops start-up with SQLite's reason, at
/// once, not with the pool's "timed out".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_start_up_names_why_the_database_cannot_be_set_up() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    sqlx::any::install_default_drivers();
    let mut holder = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::Executor::execute(&mut holder, "CREATE TABLE t (x INTEGER)")
        .await
        .unwrap();
    sqlx::Executor::execute(&mut holder, "BEGIN EXCLUSIVE")
        .await
        .unwrap();
    let args = ServeArgs::parse_from_args([
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &format!("sqlite://{}", path.display()),
        "--db-acquire-timeout",
        "3",
    ])
    .unwrap();
    let err = match Application::build(args.config(), Dependencies::default()).await {
        Ok(_) => panic!("started on a database it cannot set up"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("locked"), "{err}");
    assert!(!err.contains("timed out"), "{err}");
    sqlx::Executor::execute(&mut holder, "ROLLBACK")
        .await
        .unwrap();
}
