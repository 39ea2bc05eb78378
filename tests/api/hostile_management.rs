//! Control characters and oversize expressions through the Management API, on both stores:
//! a NUL in a body, a metadata key or value, a path or `q` is the family's 400 and never
//! reaches the store (on PostgreSQL it was a 500, and one stored NUL broke every metadata
//! search of the tenant); CR/LF in names as signup refuses them; 500 chained NOTs.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, CONN, PASSWORD, parts, raw, spawn_app};
use crate::management::{create, envelope, get, patch, urlencode};

async fn control_characters_never_reach_the_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let (status, user) = create(
        &app,
        &admin,
        json!({"connection": CONN, "email": "meta@example.com", "password": PASSWORD,
            "app_metadata": {"plan": "pro"}}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let id = user["user_id"].as_str().unwrap().to_owned();
    let body = |at: &str| {
        envelope(
            400,
            "Bad Request",
            &format!(
                "Payload validation error: 'Control characters are not allowed' on property {at}."
            ),
            "invalid_body",
        )
    };
    for (patched, at) in [
        (json!({"name": "x\u{0}y"}), "name"),
        (json!({"name": "x\r\ny"}), "name"),
        (json!({"nickname": "a\u{7}"}), "nickname"),
        (
            json!({"user_metadata": {"k": "x\u{0}y"}}),
            "user_metadata.k",
        ),
        (json!({"user_metadata": {"k\u{0}": "v"}}), "user_metadata"),
        (
            json!({"app_metadata": {"a": {"b": ["ok", "x\u{0}"]}}}),
            "app_metadata.a.b",
        ),
    ] {
        assert_eq!(
            patch(&app, &admin, &id, patched.clone()).await,
            (400, body(at)),
            "{patched}"
        );
    }
    // Free text in metadata may hold line breaks and tabs.
    let (status, _) = patch(
        &app,
        &admin,
        &id,
        json!({"user_metadata": {"note": "line\none\ttab"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, created) = create(
        &app,
        &admin,
        json!({"connection": CONN, "email": "crlf@example.com", "password": PASSWORD,
            "given_name": "a\nb"}),
    )
    .await;
    assert_eq!((status, created), (400, body("given_name")));

    // Paths and query strings.
    let path = envelope(
        400,
        "Bad Request",
        "Path validation error: 'Control characters are not allowed'.",
        "invalid_uri",
    );
    for p in [
        "/users/auth0%7C%00",
        "/jobs/%00",
        "/roles/%0a",
        "/users/%00/roles",
    ] {
        assert_eq!(get(&app, &admin, p).await, (400, path.clone()), "{p}");
    }
    let query = |on: &str| {
        envelope(
            400,
            "Bad Request",
            &format!(
                "Query validation error: 'Control characters are not allowed' on property {on}."
            ),
            "invalid_query_string",
        )
    };
    for (p, on) in [
        ("/users?q=%00", "q"),
        ("/users?q=email:%22%00%22", "q"),
        ("/users?q=app_metadata.plan:%22a%00%22", "q"),
        ("/users-by-email?email=a%00%40example.com", "email"),
        ("/logs?q=%00", "q"),
    ] {
        assert_eq!(get(&app, &admin, p).await, (400, query(on)), "{p}");
    }
    // Metadata searches still work on both stores: nothing stored breaks them.
    let (status, found) = get(&app, &admin, "/users?q=app_metadata.plan:%22pro%22").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (status, fetched) = get(&app, &admin, &format!("/users/{}", urlencode(&id))).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["user_metadata"], json!({"note": "line\none\ttab"}));
    assert!(
        fetched.get("name").is_none_or(|n| n == "meta@example.com"),
        "{fetched}"
    );
}

async fn chained_nots_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    for (nots, message) in [
        (
            500,
            "Invalid query string: the query has more than 256 terms and operators.",
        ),
        (
            17,
            "Invalid query string: groups and NOTs are nested deeper than 16.",
        ),
    ] {
        let q = format!("{}email:x", "NOT ".repeat(nots));
        let (status, body) = raw(app
            .api(Method::GET, "/users", &admin)
            .query(&[("q", q.as_str())])
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            (
                status,
                serde_json::from_str::<serde_json::Value>(&body).unwrap()
            ),
            (
                400,
                envelope(400, "Bad Request", message, "invalid_query_string")
            ),
            "{nots}"
        );
    }
    // A few are fine.
    let (status, _) = parts(
        app.api(Method::GET, "/users", &admin)
            .query(&[("q", "NOT NOT email:x")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}

/// A valid token of another audience is told it is not for the Management API (it was told
/// "not valid for /userinfo").
async fn a_token_of_another_audience_is_named_as_such(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("aud@example.com").await;
    let login = app.login("aud@example.com", "openid").await;
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(
        get(&app, access, "/users").await,
        (
            401,
            envelope(
                401,
                "Unauthorized",
                "the token is not valid for the Management API",
                "invalid_token"
            )
        )
    );
}

/// A tenant upgraded with a NUL already in some user's metadata (stored before control
/// characters were refused): on PostgreSQL every metadata search answered 500. Migration 0015
/// repairs the stored values; applied here to such a row, searches answer again.
async fn a_stored_nul_in_metadata_is_repaired_by_the_upgrade(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let (status, user) = create(
        &app,
        &admin,
        json!({"connection": CONN, "email": "old@example.com", "password": PASSWORD,
            "app_metadata": {"plan": "pro"}}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    // As an earlier version stored it: the escape in the JSON text, in a value and a key.
    app.sql(
        r#"UPDATE users SET user_metadata = '{"k":"a\u0000b","x\u0000":"v","plan":"old"}' WHERE email = 'old@example.com'"#,
    )
    .await;
    let search = || get(&app, &admin, "/users?q=user_metadata.plan:%22old%22");
    if backend == Backend::Postgres {
        assert_eq!(search().await.0, 500, "the defect, before the repair");
    }
    let migration = match backend {
        Backend::Sqlite => include_str!("../../migrations/sqlite/0015_metadata_nul.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/0015_metadata_nul.sql"),
    };
    for statement in migration.split(';').filter(|s| s.contains("UPDATE")) {
        app.sql(statement).await;
    }
    let (status, found) = search().await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(
        found[0]["user_metadata"],
        json!({"k": "a\u{fffd}b", "x\u{fffd}": "v", "plan": "old"})
    );
}

crate::both_stores!(
    a_stored_nul_in_metadata_is_repaired_by_the_upgrade,
    a_token_of_another_audience_is_named_as_such,
    control_characters_never_reach_the_store,
    chained_nots_are_bounded,
);
