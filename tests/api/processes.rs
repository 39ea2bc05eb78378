//! Real `latchkey serve` processes: two instances on one PostgreSQL database (scale-out), and
//! `kill -9` in the middle of a signup load (durability), on both stores.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sqlx::Connection as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{Backend, CLIENT, CONN, PASSWORD, TENANT, fresh_postgres_database, parts};

/// A started `latchkey serve` process.
struct Process {
    child: Child,
    base: String,
    /// The process's log lines (stderr, JSON).
    logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Process {
    /// Waits (bounded) for a log line containing every one of `needles`.
    async fn await_log(&mut self, needles: &[&str]) -> String {
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = self.logs.recv().await {
                if needles.iter().all(|n| line.contains(n)) {
                    return line;
                }
            }
            panic!("latchkey's log ended without {needles:?}");
        })
        .await
        .expect("log line in time")
    }
}

async fn start(url: &str, tenant: &std::path::Path) -> Process {
    start_with(
        url,
        tenant,
        &["--argon2-m-cost", "256", "--argon2-t-cost", "1"],
    )
    .await
}

async fn start_with(url: &str, tenant: &std::path::Path, extra: &[&str]) -> Process {
    start_in(
        Command::new(env!("CARGO_BIN_EXE_latchkey")),
        url,
        tenant,
        extra,
    )
    .await
}

/// `latchkey serve` under `prlimit --nofile=N:N`: a process with few file descriptors.
async fn start_with_nofile(
    nofile: u32,
    url: &str,
    tenant: &std::path::Path,
    extra: &[&str],
) -> Process {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={nofile}:{nofile}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_latchkey"));
    start_in(command, url, tenant, extra).await
}

async fn start_in(
    mut command: Command,
    url: &str,
    tenant: &std::path::Path,
    extra: &[&str],
) -> Process {
    let mut child = command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            url,
            "--log-format",
            "json",
        ])
        .arg("--tenant-file")
        .arg(tenant)
        .args(extra)
        .env("RUST_LOG", "info,tower_http=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("latchkey starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("latchkey printed its address in time")
            .expect("read stdout")
            .expect("latchkey exited before listening");
        if let Some(rest) = line.strip_prefix("latchkey listening on ") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining both pipes so the process never blocks on a full one.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (tx, logs) = tokio::sync::mpsc::unbounded_channel();
    let mut err_lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = err_lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    Process { child, base, logs }
}

fn tenant_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("tenant.yaml");
    std::fs::write(&path, TENANT).unwrap();
    path
}

async fn signup(
    http: &reqwest::Client,
    base: &str,
    email: &str,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    let resp = http
        .post(format!("{base}/dbconnections/signup"))
        .json(
            &json!({"client_id": CLIENT, "connection": CONN, "email": email, "password": PASSWORD}),
        )
        .send()
        .await?;
    Ok(parts(resp).await)
}

async fn scale_out_two_instances_share_one_database(backend: Backend) {
    assert_eq!(
        backend,
        Backend::Postgres,
        "scale-out is a PostgreSQL feature"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_postgres_database().await;
    let tenant = tenant_file(&dir);
    // Both start at once on an empty database: migrations and tenant must not collide.
    let (a, b) = tokio::join!(start(&url, &tenant), start(&url, &tenant));
    let http = reqwest::Client::new();

    // One signing key for both, although each may have generated one at start.
    let jwks = |base: String| {
        let http = http.clone();
        async move {
            parts(
                http.get(format!("{base}/.well-known/jwks.json"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .1
        }
    };
    let (ja, jb) = (jwks(a.base.clone()).await, jwks(b.base.clone()).await);
    assert_eq!(ja["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(ja, jb);

    let (s, _) = signup(&http, &a.base, "shared@example.com").await.unwrap();
    assert_eq!(s, 200);
    let (s, body) = signup(&http, &b.base, "shared@example.com").await.unwrap();
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("user_exists")),
        "B sees A's user"
    );

    // 50 concurrent identical signups spread over both instances: exactly one user.
    let results = futures::future::join_all((0..50).map(|i| {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        signup(&http, base, "race@example.com")
    }))
    .await;
    let statuses: Vec<u16> = results.into_iter().map(|r| r.unwrap().0).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        49,
        "{statuses:?}"
    );

    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'race@example.com'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    drop((a, b));
}

async fn kill_9_loses_no_acknowledged_signup(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let tenant = tenant_file(&dir);
    let mut server = start(&url, &tenant).await;
    let http = reqwest::Client::new();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

    // Eight clients sign up continuously until the connection breaks.
    let load: Vec<_> = (0..8)
        .map(|c| {
            let http = http.clone();
            let base = server.base.clone();
            let acked = acked.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let email = format!("d{c}-{i}@example.com");
                    match signup(&http, &base, &email).await {
                        Ok((200, _)) => acked.lock().unwrap().push(email),
                        Ok((s, b)) => panic!("unexpected answer {s} {b}"),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Kill once a good number of signups are acknowledged, with more still in flight.
    while acked.lock().unwrap().len() < 300 {
        tokio::task::yield_now().await;
        assert!(!load.iter().all(|t| t.is_finished()), "load stopped early");
    }
    server.child.start_kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.child.wait().await.unwrap();
    for t in load {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // Restart on the same database; every acknowledged signup must be there, whole.
    let server = start(&url, &tenant).await;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT email FROM users WHERE connection = $1")
        .bind(CONN)
        .fetch_all(&mut db)
        .await
        .unwrap();
    let stored: std::collections::HashSet<String> = stored.into_iter().collect();
    let missing: Vec<_> = acked.iter().filter(|e| !stored.contains(*e)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let partial: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM password_history h WHERE h.user_id = u.id) \
         OR u.password_hash NOT LIKE '$argon2id$%'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(partial, 0, "users without their password or history");
    // The restarted server answers for them.
    let (s, b) = signup(&http, &server.base, &acked[0]).await.unwrap();
    assert_eq!((s, b["code"].as_str()), (400, Some("user_exists")));
    eprintln!(
        "durability ({backend:?}): {} acknowledged signups checked after kill -9, {} users stored",
        acked.len(),
        stored.len()
    );
}

async fn sigterm_finishes_in_flight_requests_then_exits_0(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let tenant = tenant_file(&dir);
    // A slow hash (about a second) keeps the signup in flight while SIGTERM arrives.
    let mut server = start_with(
        &url,
        &tenant,
        &["--argon2-m-cost", "19456", "--argon2-t-cost", "100"],
    )
    .await;
    let http = reqwest::Client::new();
    let in_flight = {
        let http = http.clone();
        let base = server.base.clone();
        tokio::spawn(async move { signup(&http, &base, "term@example.com").await })
    };
    // The server logs the request's start, inside its span, once it has received it.
    server
        .await_log(&["started processing request", "/dbconnections/signup"])
        .await;
    let pid = server.child.id().expect("pid").to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let (s, _) = in_flight
        .await
        .unwrap()
        .expect("the in-flight signup was answered");
    assert_eq!(s, 200);
    let exit = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("exited after SIGTERM")
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

async fn slow_requests_time_out_with_a_json_503(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let tenant = tenant_file(&dir);
    // A hash of several seconds against a one-second request timeout.
    let server = start_with(
        &url,
        &tenant,
        &[
            "--request-timeout",
            "1",
            "--argon2-m-cost",
            "19456",
            "--argon2-t-cost",
            "400",
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let (s, b) = signup(&http, &server.base, "slow@example.com")
        .await
        .unwrap();
    assert_eq!(
        (s, b),
        (
            503,
            json!({"name": "ServiceUnavailableError", "code": "temporarily_unavailable",
                "description": "The request took too long", "statusCode": 503})
        )
    );
}

/// 300 connections that connect and send nothing, against a server limited to 256 file
/// descriptors (`prlimit --nofile=256`) with the default 30 s header timeout: `/healthz` is
/// still answered at once (the silent connections longest idle give their places up), and a
/// silent connection is closed at the header timeout counted from when it opened.
async fn silent_connections_neither_stay_nor_starve_the_server(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("latchkey.db").display()),
        Backend::Postgres => fresh_postgres_database().await,
    };
    let tenant = tenant_file(&dir);
    let server = start_with_nofile(
        256,
        &url,
        &tenant,
        &["--argon2-m-cost", "256", "--argon2-t-cost", "1"],
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let http = reqwest::Client::new();
    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        http.get(format!("{}/healthz", server.base)).send(),
    )
    .await
    .expect("/healthz answered while 300 silent connections are open")
    .unwrap();
    assert_eq!(answered.status(), 200);
    drop(silent);

    // Silence alone is cut at the header timeout (1 s here), counted from the connect.
    let quick = start_with(
        &url,
        &tenant,
        &[
            "--header-read-timeout",
            "1",
            "--argon2-m-cost",
            "256",
            "--argon2-t-cost",
            "1",
        ],
    )
    .await;
    let mut quiet = tokio::net::TcpStream::connect(quick.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut quiet, &mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "a connection that sent nothing is still open"
    );
}

crate::both_stores!(
    an_oversize_record_is_refused_while_it_is_read,
    silent_connections_neither_stay_nor_starve_the_server,
    kill_9_loses_no_acknowledged_signup,
    sigterm_finishes_in_flight_requests_then_exits_0,
    slow_requests_time_out_with_a_json_503,
    the_users_commands_import_and_export,
);

mod readiness {
    mod postgres {
        use serde_json::json;

        /// `/readyz` follows the database: 200 while it answers, 503 once it is gone, while
        /// `/healthz` (liveness) stays 200.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn readyz_fails_when_the_database_is_gone() {
            let url = crate::helpers::fresh_postgres_database().await;
            let dir = tempfile::tempdir().unwrap();
            let app = crate::helpers::spawn_on(&url, dir, Default::default()).await;
            let get = |path: &str| app.http.get(app.url(path)).send();
            assert_eq!(
                crate::helpers::parts(get("/readyz").await.unwrap()).await,
                (200, json!({"status": "ok"}))
            );
            crate::helpers::drop_postgres_database(&url).await;
            assert_eq!(
                crate::helpers::parts(get("/readyz").await.unwrap()).await,
                (503, json!({"status": "unavailable"}))
            );
            assert_eq!(
                crate::helpers::parts(get("/healthz").await.unwrap()).await,
                (200, json!({"status": "ok"}))
            );
        }
    }
}

mod scale_out {
    mod postgres {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_instances_share_one_database() {
            super::super::scale_out_two_instances_share_one_database(
                crate::helpers::Backend::Postgres,
            )
            .await
        }
    }
}

/// Runs `latchkey serve` to completion with `args`; returns (exit code, stderr).
async fn failed_start(args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .arg("serve")
            .args(args)
            .output(),
    )
    .await
    .expect("latchkey gave up in time")
    .expect("latchkey ran");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn unreachable_database_fails_start_clearly_and_redacted() {
    let (code, stderr) = failed_start(&[
        "--listen",
        "127.0.0.1:0",
        "--db-acquire-timeout",
        "2",
        "--database-url",
        "postgres://app:hunter2@127.0.0.1:1/latchkey",
    ])
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("latchkey: cannot start: cannot connect to database postgres://app:***@127.0.0.1:1/latchkey: "), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("panicked"),
        "{stderr}"
    );

    let (code, stderr) = failed_start(&[
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "mysql://x:hunter2@db/x",
    ])
    .await;
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr.trim(),
        "latchkey: cannot start: unsupported database URL mysql://x:***@db/x (expected sqlite://PATH or postgres://…)"
    );
}

mod misconfigured {
    mod postgres {
        /// A live server, a database that does not exist.
        #[tokio::test]
        async fn unknown_database_fails_start_with_the_servers_reason() {
            let url = format!("{}/lk_missing_database", crate::helpers::postgres_base());
            let (code, stderr) =
                super::super::failed_start(&["--listen", "127.0.0.1:0", "--database-url", &url])
                    .await;
            assert_eq!(code, Some(1), "{stderr}");
            assert!(stderr.contains("cannot connect to database"), "{stderr}");
            assert!(
                stderr.contains("\"lk_missing_database\" does not exist"),
                "{stderr}"
            );
        }
    }
}

/// Runs `latchkey ARGS` to completion: (exit code, stdout, stderr).
async fn command(args: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .output(),
    )
    .await
    .expect("latchkey gave up in time")
    .expect("latchkey ran");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A 150 KB gzip holding one NDJSON record with a 150 MB `user_metadata` string, imported by
/// `latchkey users import` limited to 256 MiB of data (`prlimit --data`): the record is
/// refused by itself while it is read (never held), and the next one is imported.
async fn an_oversize_record_is_refused_while_it_is_read(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let mut server = start(&url, &tenant_file(&dir)).await;
    let _ = server.child.kill().await;
    let _ = server.child.wait().await;
    let file = dir.path().join("huge.ndjson.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::best(),
    );
    use std::io::Write as _;
    gz.write_all(br#"{"email":"huge@example.com","user_metadata":{"blob":""#)
        .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..150 {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(b"\"}}\n{\"email\":\"small@example.com\"}\n")
        .unwrap();
    gz.finish().unwrap();
    assert!(std::fs::metadata(&file).unwrap().len() < 400_000);
    let errors = dir.path().join("errors.json");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new("prlimit")
            .arg(format!("--data={}", 256u64 << 20))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_latchkey"))
            .args(["users", "import", "--database-url", &url, "--connection"])
            .arg(crate::helpers::CONN)
            .arg("--errors")
            .arg(&errors)
            .arg(&file)
            .output(),
    )
    .await
    .expect("the import finished in time")
    .expect("latchkey ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("inserted 1, updated 0, failed 1"),
        "{stdout}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&errors).unwrap()).unwrap();
    assert_eq!(
        written,
        json!([{"user": {}, "errors": [{"code": "INVALID_FORMAT",
            "message": format!("The user is {} bytes, over the limit of 65536 bytes per user", 150 * (1 << 20) + 56)}]}])
    );
}

/// `latchkey users import` and `export` as a user runs them: counts on stdout, the errors file,
/// plain progress lines when not on a terminal, exit 1 with the file and line of a broken file.
async fn the_users_commands_import_and_export(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    // The tenant (its connection) from a server started once.
    let mut server = start(&url, &tenant_file(&dir)).await;
    let _ = server.child.kill().await;
    let _ = server.child.wait().await;
    let file = dir.path().join("users.ndjson");
    std::fs::write(
        &file,
        "{\"email\":\"a@example.com\",\"password_hash\":\"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K\"}\n\
         {\"email\":\"b@example.com\",\"colour\":\"red\"}\n",
    )
    .unwrap();
    let errors = dir.path().join("errors.json");
    let (code, out, err) = command(&[
        "users",
        "import",
        "--database-url",
        &url,
        "--connection",
        crate::helpers::CONN,
        "--errors",
        errors.to_str().unwrap(),
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("imported 2 users in ")
            && out.trim_end().ends_with(&format!(
                "inserted 1, updated 0, failed 1 (errors in {})",
                errors.display()
            )),
        "{out}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&errors).unwrap()).unwrap();
    assert_eq!(
        written[0]["errors"][0]["code"],
        "OBJECT_ADDITIONAL_PROPERTIES"
    );
    // A broken file: nothing imported, the file named.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[{\"email\":\"c@example.com\"},\n{").unwrap();
    let (code, _, err) = command(&[
        "users",
        "import",
        "--database-url",
        &url,
        "--connection",
        crate::helpers::CONN,
        "--errors",
        errors.to_str().unwrap(),
        broken.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(&format!("latchkey users import: {}: ", broken.display())),
        "{err}"
    );
    let (code, _, err) = command(&[
        "users",
        "import",
        "--database-url",
        &url,
        "--connection",
        "nope",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            "latchkey users import: no database connection named \"nope\""
        )
    );
    // Export to stdout, CSV.
    let (code, out, err) =
        command(&["users", "export", "--database-url", &url, "--format", "csv"]).await;
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("user_id,email,"));
    assert!(lines[1].contains(",a@example.com,"));
}
