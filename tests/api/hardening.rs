//! What an adversarial review found, kept fixed: control characters in stored strings, unbounded
//! identifiers in the brute-force counters, oversize bodies announced up front, parallel correct
//! logins taken for guesses.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, CLIENT, CONN, Options, PASSWORD, parts, raw, spawn_app, spawn_with};

async fn attempt_rows(app: &crate::helpers::TestApp) -> Vec<(String, i64)> {
    let mut db = app.db().await;
    sqlx::query_as("SELECT identifier, attempts FROM login_attempts ORDER BY identifier")
        .fetch_all(&mut db)
        .await
        .unwrap()
}

async fn control_characters_are_refused_before_the_store_on_both_stores(backend: Backend) {
    let app = spawn_app(backend).await;
    let signup = |field: &str| {
        let mut b = json!({"client_id": CLIENT, "connection": CONN,
            "email": "nul@example.com", "password": PASSWORD});
        b[field] = json!("a\u{0}b");
        b
    };
    for field in [
        "given_name",
        "name",
        "nickname",
        "picture",
        "client_id",
        "connection",
    ] {
        let (status, body) = raw(app.signup(&signup(field)).await).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert_eq!(
            body,
            format!(
                r#"{{"name":"BadRequestError","code":"invalid_body","description":"{field} must not contain control characters","statusCode":400}}"#
            )
        );
    }
    // A form body spells it %00.
    let (status, body) = raw(
        app.signup_form(format!(
            "client_id={CLIENT}&connection={CONN}&email=nul%40example.com&password=Passw0rd%21&name=a%00b"
        ))
        .await,
    )
    .await;
    assert_eq!(
        (
            status,
            body.contains("name must not contain control characters")
        ),
        (400, true)
    );
    assert_eq!(app.users(CONN).await, 0, "nothing was stored");

    let token = |field: &str| {
        let mut b = json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": CLIENT, "client_secret": "app-secret", "realm": CONN,
            "username": "nul@example.com", "password": PASSWORD});
        b[field] = json!("a\u{0}b");
        b
    };
    for field in ["username", "client_id", "realm"] {
        let (status, body) = raw(app.token(&token(field)).await).await;
        assert_eq!(
            (status, body),
            (
                400,
                format!(
                    r#"{{"error":"invalid_request","error_description":"{field} must not contain control characters"}}"#
                )
            )
        );
    }
    let (status, body) = raw(app
        .token_form(&[
            ("grant_type", "password"),
            ("client_id", CLIENT),
            ("client_secret", "app-secret"),
            ("username", "a\u{0}b"),
            ("password", PASSWORD),
        ])
        .await)
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = raw(app
        .post_raw(
            "/oauth/revoke",
            Some("application/json"),
            json!({"client_id": "a\u{0}", "token": "x"}).to_string(),
        )
        .await)
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            r#"{"error":"invalid_request","error_description":"client_id must not contain control characters"}"#
        )
    );
    assert!(
        attempt_rows(&app).await.is_empty(),
        "no attempt was counted"
    );
}

async fn brute_force_counters_keep_a_fixed_size_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let login = |username: String| {
        json!({"grant_type": "password", "client_id": CLIENT, "client_secret": "app-secret",
            "username": username, "password": "wrong"})
    };
    // Longer than any email or username: refused before it is counted.
    let (status, body) = raw(app.token(&login("a".repeat(60_000))).await).await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            r#"{"error":"invalid_request","error_description":"username must be at most 254 characters"}"#
        )
    );
    assert!(attempt_rows(&app).await.is_empty());
    // The longest allowed one is counted under a 64-character key, not as typed.
    let long = format!("{}@example.com", "a".repeat(242));
    assert_eq!(long.len(), 254);
    let (status, _) = raw(app.token(&login(long.clone())).await).await;
    assert_eq!(status, 403);
    let rows = attempt_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, latchkey::domain::claims::token_hash(&long));
    assert_eq!(rows[0].1, 1);
}

/// Sends `head` as a raw request and returns the status line and body of the answer, which
/// must come within the deadline although the announced body is never sent.
async fn raw_exchange(base: &str, head: &str) -> (String, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((headers, body)) = text.split_once("\r\n\r\n")
                && let Some(len) = headers.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                && body.len() >= len.trim().parse::<usize>().unwrap()
            {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("answered at once, not after the request timeout");
    let text = String::from_utf8_lossy(&answer).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    (headers.lines().next().unwrap().to_owned(), body.to_owned())
}

async fn an_oversize_body_announced_up_front_is_refused_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let head = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{{\"a\":1}}"
        )
    };
    let (status, body) = raw_exchange(&app.base, &head("/dbconnections/signup")).await;
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(
        body,
        r#"{"name":"PayloadTooLargeError","code":"invalid_body","description":"Request body too large","statusCode":413}"#
    );
    let (status, body) = raw_exchange(&app.base, &head("/oauth/token")).await;
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(
        body,
        r#"{"error":"invalid_request","error_description":"Request body too large"}"#
    );
}

async fn parallel_correct_logins_are_never_taken_for_guesses(backend: Backend) {
    // A hashing queue deep enough that no login is refused for overload instead.
    let app = spawn_with(backend, Options::args(&["--hash-queue", "100"])).await;
    app.signed_up("busy@example.com").await;
    let body = json!({"grant_type": "password", "client_id": CLIENT, "client_secret": "app-secret",
        "username": "busy@example.com", "password": PASSWORD, "scope": "openid"});
    let results = futures::future::join_all((0..50).map(|_| app.token(&body))).await;
    for r in results {
        let (status, body) = parts(r).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        attempt_rows(&app).await.is_empty(),
        "successes leave no counter"
    );
}

async fn stalled_headers_are_cut_off_and_connections_are_capped(backend: Backend) {
    let app = spawn_with(
        backend,
        Options::args(&["--header-read-timeout", "1", "--max-connections", "2"]),
    )
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Two connections that send half a request and go silent take both places.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stalled.push(s);
    }
    // A third waits to be accepted until the header timeout frees a place, then is answered.
    let answered = tokio::time::timeout(
        Duration::from_secs(15),
        app.http.get(app.url("/healthz")).send(),
    )
    .await
    .expect("answered once a stalled connection was cut off")
    .unwrap();
    assert_eq!(answered.status(), 200);
    // The stalled connections were closed by the server.
    for mut s in stalled {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a stalled connection is still open");
    }
}

async fn a_cost_change_rehashes_at_login_and_the_dummy_keeps_the_old_cost(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let costly = || Options::args(&["--argon2-m-cost", "512"]);
    let before = crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), costly()).await;
    let id = before.signed_up("old-cost@example.com").await;
    before.stop().await;
    // The operator lowers the cost (the suite's default is m=256).
    let app = crate::helpers::spawn_on(&url, dir, Options::default()).await;
    assert_eq!(
        app.hasher.dummy_params().m_cost,
        512,
        "unknown users cost what the costliest stored hash costs"
    );
    let stored = app.store.password_history(&id).await.unwrap();
    assert!(
        stored[0].starts_with("$argon2id$v=19$m=512,t=1,p=1$"),
        "{stored:?}"
    );
    app.login("old-cost@example.com", "openid").await;
    let history = app.store.password_history(&id).await.unwrap();
    assert_eq!(history.len(), 1, "one entry per password: {history:?}");
    assert!(
        history[0].starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
        "{history:?}"
    );
    let mut db = app.db().await;
    let current: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(current, history[0]);
    // The new hash works, and a wrong password still fails.
    app.login("old-cost@example.com", "openid").await;
    let (status, _) = raw(app
        .token(
            &json!({"grant_type": "password", "client_id": CLIENT, "client_secret": "app-secret",
            "username": "old-cost@example.com", "password": "wrong"}),
        )
        .await)
    .await;
    assert_eq!(status, 403);
}

async fn user_tokens_carry_only_scopes_their_api_defines(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("scoped@example.com").await;
    let mgmt = format!("{}/api/v2/", app.base);
    let login = |audience: Option<&str>, scope: &str| {
        let mut b = json!({"grant_type": "password", "client_id": CLIENT,
            "client_secret": "app-secret", "username": "scoped@example.com",
            "password": PASSWORD, "scope": scope});
        if let Some(a) = audience {
            b["audience"] = json!(a);
        }
        b
    };
    for (audience, asked, granted) in [
        (
            Some("https://billing.example.com/"),
            "openid read:invoices admin:all delete:everything",
            "openid read:invoices",
        ),
        (
            Some("https://api.example.com/"),
            "openid read:things",
            "openid",
        ),
        (
            Some(mgmt.as_str()),
            "openid read:users delete:users",
            "openid",
        ),
        (None, "openid email admin:all", "openid email"),
    ] {
        let (status, body) = parts(app.token(&login(audience, asked)).await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], granted, "{audience:?} {asked}");
        let access = body["access_token"].as_str().unwrap();
        let payload = access.split('.').nth(1).unwrap();
        use base64::Engine as _;
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["scope"], granted);
    }
}

async fn two_unicode_spellings_of_one_email_are_one_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let composed = "jos\u{e9}@example.com";
    let decomposed = "jose\u{301}@example.com";
    app.signed_up(composed).await;
    let (status, body) = parts(
        app.signup(
            &json!({"client_id": CLIENT, "connection": CONN, "email": decomposed,
            "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("user_exists")),
        "{body}"
    );
    // Either spelling logs in.
    app.login(decomposed, "openid").await;
    app.login(composed, "openid").await;
    assert_eq!(app.users(CONN).await, 1);
}

async fn not_ready_while_writes_fail(backend: Backend) {
    let app = spawn_app(backend).await;
    let ready = || async { parts(app.http.get(app.url("/readyz")).send().await.unwrap()).await };
    assert_eq!(ready().await.0, 200);
    // Every write to the probe's table now fails, as on a full disk or read-only files.
    match backend {
        Backend::Sqlite => {
            for event in ["INSERT", "UPDATE"] {
                app.sql(&format!(
                    "CREATE TRIGGER refuse_{event} BEFORE {event} ON health \
                     BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                ))
                .await;
            }
        }
        Backend::Postgres => {
            app.sql("ALTER TABLE health ADD CONSTRAINT refuse CHECK (checked_at < 0) NOT VALID")
                .await;
        }
    }
    let (status, body) = ready().await;
    assert_eq!((status, body), (503, json!({"status": "unavailable"})));
    // Healthy again once writes go through.
    match backend {
        Backend::Sqlite => {
            app.sql("DROP TRIGGER refuse_INSERT").await;
            app.sql("DROP TRIGGER refuse_UPDATE").await;
        }
        Backend::Postgres => app.sql("ALTER TABLE health DROP CONSTRAINT refuse").await,
    }
    assert_eq!(ready().await.0, 200);
}

async fn a_plain_options_request_is_routed_not_answered_as_a_preflight(backend: Backend) {
    let app = spawn_app(backend).await;
    let options = |path: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url(path))
            .send()
    };
    let (status, body) = raw(options("/oauth/token").await.unwrap()).await;
    assert_eq!(
        (status, body.as_str()),
        (
            405,
            r#"{"error":"method_not_allowed","error_description":"Method Not Allowed"}"#
        )
    );
    let (status, _) = raw(options("/nowhere").await.unwrap()).await;
    assert_eq!(status, 404);
    // A preflight still is one.
    let pre = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/oauth/token"))
        .header("Origin", "http://allowed.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 200);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://allowed.example"
    );
}

/// The database disappears under a running server: on SQLite its directory is deleted (the
/// open file lives on, unlinked), on PostgreSQL the database is dropped. Readiness and writes
/// must fail from then on: a signup must not be acknowledged and then lost.
async fn nothing_is_acknowledged_once_the_database_is_gone(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let app =
        crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), Options::default()).await;
    let ready = || async { parts(app.http.get(app.url("/readyz")).send().await.unwrap()).await };
    assert_eq!(ready().await.0, 200);
    app.signed_up("before@example.com").await;
    match backend {
        Backend::Sqlite => std::fs::remove_dir_all(dir.path()).unwrap(),
        Backend::Postgres => crate::helpers::drop_postgres_database(&url).await,
    }
    assert_eq!(ready().await, (503, json!({"status": "unavailable"})));
    let (status, body) = raw(app
        .signup(&json!({"client_id": CLIENT, "connection": CONN,
            "email": "after@example.com", "password": PASSWORD}))
        .await)
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            500,
            r#"{"name":"InternalServerError","code":"internal_error","description":"Internal error","statusCode":500}"#
        )
    );
}

crate::both_stores!(
    nothing_is_acknowledged_once_the_database_is_gone,
    not_ready_while_writes_fail,
    a_plain_options_request_is_routed_not_answered_as_a_preflight,
    two_unicode_spellings_of_one_email_are_one_account,
    user_tokens_carry_only_scopes_their_api_defines,
    a_cost_change_rehashes_at_login_and_the_dummy_keeps_the_old_cost,
    stalled_headers_are_cut_off_and_connections_are_capped,
    control_characters_are_refused_before_the_store_on_both_stores,
    brute_force_counters_keep_a_fixed_size_key,
    an_oversize_body_announced_up_front_is_refused_at_once,
    parallel_correct_logins_are_never_taken_for_guesses,
);
