//! Management API client grants (CRUD, and what they let a client obtain), roles and their
//! holders, and the tenant log: the events each flow writes, their search and both paging
//! styles, and retention; exact envelopes for each refusal.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, CONN, PASSWORD, TestApp, parts, raw, spawn_app};

fn envelope(status: u16, error: &str, message: &str, code: &str) -> Value {
    json!({"statusCode": status, "error": error, "message": message, "errorCode": code})
}

/// Status and JSON body (`null` when empty: 204s, and Auth0's bodiless 200s).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.api(method, path, token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let (status, text) = raw(r.send().await.unwrap()).await;
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text:?}"));
    (status, body)
}

async fn web_client_token(app: &TestApp, scope: Option<&str>) -> (u16, Value) {
    let mut body = json!({"grant_type": "client_credentials", "client_id": "web-client",
        "client_secret": "web-secret", "audience": format!("{}/api/v2/", app.base)});
    if let Some(s) = scope {
        body["scope"] = json!(s);
    }
    parts(app.token(&body).await).await
}

async fn client_grants_are_managed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let management = format!("{}/api/v2/", app.base);
    // No grant yet: the client cannot get a Management token.
    let (status, _) = web_client_token(&app, None).await;
    assert_eq!(status, 403);

    let (status, grant) = call(
        &app,
        Method::POST,
        "/client-grants",
        &admin,
        Some(json!({"client_id": "web-client", "audience": management, "scope": ["read:users"]})),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    let id = grant["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cgr_"));
    assert_eq!(
        grant,
        json!({"id": id, "client_id": "web-client", "audience": management, "scope": ["read:users"]})
    );
    let (status, body) = web_client_token(&app, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read:users");

    // The same pair again; unknown client, API and scope.
    let refusals = [
        (
            json!({"client_id": "web-client", "audience": management, "scope": []}),
            409,
            envelope(
                409,
                "Conflict",
                "client_grant already exists",
                "client_grant_conflict",
            ),
        ),
        (
            json!({"client_id": "nobody", "audience": management, "scope": []}),
            404,
            envelope(
                404,
                "Not Found",
                "The client does not exist.",
                "inexistent_client",
            ),
        ),
        (
            json!({"client_id": "web-client", "audience": "https://nowhere/", "scope": []}),
            404,
            envelope(
                404,
                "Not Found",
                "No resource with identifier https://nowhere/",
                "inexistent_resource_server",
            ),
        ),
        (
            json!({"client_id": "web-client", "audience": "https://billing.example.com/", "scope": ["drop:tables"]}),
            400,
            envelope(
                400,
                "Bad Request",
                "Payload validation error: 'The scope drop:tables is not defined by the API' on property scope.",
                "invalid_body",
            ),
        ),
        (
            json!({"client_id": "web-client", "audience": management}),
            400,
            envelope(
                400,
                "Bad Request",
                "Payload validation error: 'Missing required property: scope'.",
                "invalid_body",
            ),
        ),
        (
            json!({"client_id": "web-client", "audience": management, "scope": "read:users"}),
            400,
            envelope(
                400,
                "Bad Request",
                "Payload validation error: 'Expected type array but found type string' on property scope.",
                "invalid_body",
            ),
        ),
        (
            json!({"client_id": "web-client", "audience": management, "scope": [], "extra": 1}),
            400,
            envelope(
                400,
                "Bad Request",
                "Payload validation error: 'Additional properties not allowed: extra'.",
                "invalid_body",
            ),
        ),
    ];
    for (body, status, expected) in refusals {
        assert_eq!(
            call(
                &app,
                Method::POST,
                "/client-grants",
                &admin,
                Some(body.clone())
            )
            .await,
            (status, expected),
            "{body}"
        );
    }

    // Filters.
    let (_, mine) = call(
        &app,
        Method::GET,
        "/client-grants?client_id=web-client",
        &admin,
        None,
    )
    .await;
    assert_eq!(mine, json!([grant]));
    let (_, billing) = call(
        &app,
        Method::GET,
        "/client-grants?audience=https%3A%2F%2Fbilling.example.com%2F",
        &admin,
        None,
    )
    .await;
    assert_eq!(billing, json!([]));

    // Checkpoint paging, as the SDKs page grants: every grant once.
    let (_, all) = call(&app, Method::GET, "/client-grants", &admin, None).await;
    let mut seen = Vec::new();
    let mut from = String::new();
    loop {
        let (status, page) = call(
            &app,
            Method::GET,
            &format!("/client-grants?take=2&from={from}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["client_grants"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(n) => from = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), all.as_array().unwrap().len());

    // Scopes replaced: the next token carries the new ones.
    let path = format!("/client-grants/{id}");
    let (status, patched) = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"scope": ["read:users", "create:users"]})),
    )
    .await;
    assert_eq!(
        (status, patched["scope"].clone()),
        (200, json!(["read:users", "create:users"]))
    );
    let (_, body) = web_client_token(&app, None).await;
    assert_eq!(body["scope"], "read:users create:users");
    assert_eq!(
        call(
            &app,
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"audience": "x"}))
        )
        .await,
        (
            400,
            envelope(
                400,
                "Bad Request",
                "Payload validation error: 'Additional properties not allowed: audience'.",
                "invalid_body"
            )
        )
    );

    // Writes need their scopes.
    let reader = app.management_token("read:users").await;
    assert_eq!(
        call(&app, Method::DELETE, &path, &reader, None).await,
        (
            403,
            envelope(
                403,
                "Forbidden",
                "Insufficient scope, expected any of: delete:client_grants",
                "insufficient_scope"
            )
        )
    );

    let (status, _) = call(&app, Method::DELETE, &path, &admin, None).await;
    assert_eq!(status, 204);
    let (status, _) = web_client_token(&app, None).await;
    assert_eq!(status, 403);
    assert_eq!(
        call(&app, Method::DELETE, &path, &admin, None).await,
        (
            404,
            envelope(
                404,
                "Not Found",
                "The client grant does not exist.",
                "inexistent_client_grant"
            )
        )
    );
    app.stop().await;
}

async fn roles_and_their_holders(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let (status, role) = call(
        &app,
        Method::POST,
        "/roles",
        &admin,
        Some(json!({"name": "Editor", "description": "Edits things"})),
    )
    .await;
    assert_eq!(status, 200, "{role}");
    let rid = role["id"].as_str().unwrap().to_owned();
    assert!(rid.starts_with("rol_") && rid.len() == 20, "{rid}");
    assert_eq!(
        role,
        json!({"id": rid, "name": "Editor", "description": "Edits things"})
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/roles",
            &admin,
            Some(json!({"name": "Editor"}))
        )
        .await,
        (
            409,
            envelope(409, "Conflict", "Role name already exists", "conflict")
        )
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/roles",
            &admin,
            Some(json!({"description": "x"}))
        )
        .await,
        (
            400,
            envelope(
                400,
                "Bad Request",
                "Payload validation error: 'Missing required property: name'.",
                "invalid_body"
            )
        )
    );
    let (_, viewer) = call(
        &app,
        Method::POST,
        "/roles",
        &admin,
        Some(json!({"name": "Viewer"})),
    )
    .await;
    let vid = viewer["id"].as_str().unwrap().to_owned();

    let (_, all) = call(
        &app,
        Method::GET,
        "/roles?include_totals=true",
        &admin,
        None,
    )
    .await;
    assert_eq!(all["total"], 2);
    assert_eq!(all["roles"][0]["name"], "Editor");
    let (_, filtered) = call(&app, Method::GET, "/roles?name_filter=VIEW", &admin, None).await;
    assert_eq!(filtered, json!([viewer]));

    let (status, renamed) = call(
        &app,
        Method::PATCH,
        &format!("/roles/{rid}"),
        &admin,
        Some(json!({"name": "Writer", "description": null})),
    )
    .await;
    assert_eq!(
        (status, renamed),
        (
            200,
            json!({"id": rid, "name": "Writer", "description": null})
        )
    );
    assert_eq!(
        call(
            &app,
            Method::PATCH,
            &format!("/roles/{rid}"),
            &admin,
            Some(json!({"name": "Viewer"}))
        )
        .await
        .0,
        409
    );

    // Holders.
    let alice = app.signed_up("alice@example.com").await;
    let bob = app.signed_up("bob@example.com").await;
    let alice_id = format!("auth0|{alice}");
    let bob_id = format!("auth0|{bob}");
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/users/{alice_id}/roles"),
        &admin,
        Some(json!({"roles": [rid, vid]})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/roles/{rid}/users"),
        &admin,
        Some(json!({"users": [bob_id]})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, roles) = call(
        &app,
        Method::GET,
        &format!("/users/{alice_id}/roles"),
        &admin,
        None,
    )
    .await;
    assert_eq!(roles.as_array().unwrap().len(), 2);
    let (_, holders) = call(
        &app,
        Method::GET,
        &format!("/roles/{rid}/users?include_totals=true"),
        &admin,
        None,
    )
    .await;
    assert_eq!(holders["total"], 2);
    let emails: Vec<&str> = holders["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"alice@example.com") && emails.contains(&"bob@example.com"));

    // Checkpoint paging, as the SDKs page holders.
    let (_, first) = call(
        &app,
        Method::GET,
        &format!("/roles/{rid}/users?take=1"),
        &admin,
        None,
    )
    .await;
    assert_eq!(first["users"].as_array().unwrap().len(), 1, "{first}");
    let next = first["next"].as_str().unwrap();
    let (_, second) = call(
        &app,
        Method::GET,
        &format!("/roles/{rid}/users?take=1&from={}", urlencode(next)),
        &admin,
        None,
    )
    .await;
    assert_eq!(second["users"].as_array().unwrap().len(), 1, "{second}");
    assert!(second.get("next").is_none(), "{second}");
    assert_ne!(first["users"][0]["email"], second["users"][0]["email"]);

    // Unknown roles and users: 404, nothing given.
    assert_eq!(
        call(
            &app,
            Method::POST,
            &format!("/users/{bob_id}/roles"),
            &admin,
            Some(json!({"roles": [vid, "rol_nope"]}))
        )
        .await,
        (
            404,
            envelope(
                404,
                "Not Found",
                "The role does not exist.",
                "inexistent_role"
            )
        )
    );
    let (_, bobs) = call(
        &app,
        Method::GET,
        &format!("/users/{bob_id}/roles"),
        &admin,
        None,
    )
    .await;
    assert_eq!(bobs.as_array().unwrap().len(), 1);
    assert_eq!(
        call(
            &app,
            Method::POST,
            &format!("/roles/{rid}/users"),
            &admin,
            Some(json!({"users": ["auth0|nobody"]}))
        )
        .await,
        (
            404,
            envelope(
                404,
                "Not Found",
                "The user does not exist.",
                "inexistent_user"
            )
        )
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            &format!("/users/{bob_id}/roles"),
            &admin,
            Some(json!({"roles": []}))
        )
        .await
        .0,
        400
    );

    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/users/{alice_id}/roles"),
        &admin,
        Some(json!({"roles": [vid]})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, roles) = call(
        &app,
        Method::GET,
        &format!("/users/{alice_id}/roles"),
        &admin,
        None,
    )
    .await;
    assert_eq!(roles, json!([renamed_view(&rid)]));

    // A deleted user no longer holds anything; a deleted role is gone from everyone.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/users/{bob_id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, holders) = call(
        &app,
        Method::GET,
        &format!("/roles/{rid}/users"),
        &admin,
        None,
    )
    .await;
    assert_eq!(holders.as_array().unwrap().len(), 1);
    assert_eq!(
        call(&app, Method::DELETE, &format!("/roles/{rid}"), &admin, None).await,
        (200, json!({}))
    );
    assert_eq!(
        call(&app, Method::GET, &format!("/roles/{rid}"), &admin, None).await,
        (
            404,
            envelope(
                404,
                "Not Found",
                "The role does not exist.",
                "inexistent_role"
            )
        )
    );
    let (_, roles) = call(
        &app,
        Method::GET,
        &format!("/users/{alice_id}/roles"),
        &admin,
        None,
    )
    .await;
    assert_eq!(roles, json!([]));

    let reader = app.management_token("read:users").await;
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/roles",
            &reader,
            Some(json!({"name": "x"}))
        )
        .await,
        (
            403,
            envelope(
                403,
                "Forbidden",
                "Insufficient scope, expected any of: create:roles",
                "insufficient_scope"
            )
        )
    );
    app.stop().await;
}

fn renamed_view(rid: &str) -> Value {
    json!({"id": rid, "name": "Writer", "description": null})
}

fn types(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn password_login(app: &TestApp, email: &str, password: &str) -> u16 {
    app.token(
        &json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
        "client_id": "app-client", "client_secret": "app-secret", "username": email,
        "password": password, "realm": CONN}),
    )
    .await
    .status()
    .as_u16()
}

async fn the_log_records_each_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await; // seccft
    let r = app
        .signup(&json!({"client_id": "app-client", "connection": CONN, "email": "dora@example.com", "password": PASSWORD}))
        .await; // ss
    assert_eq!(r.status(), 200);
    let r = app
        .signup(&json!({"client_id": "app-client", "connection": CONN, "email": "dora@example.com", "password": PASSWORD}))
        .await; // fs
    assert_eq!(r.status(), 400);
    assert_eq!(
        password_login(&app, "dora@example.com", "Wrong-Passw0rd!").await,
        403
    ); // fp
    assert_eq!(
        password_login(&app, "nobody@example.com", PASSWORD).await,
        403
    ); // fu
    assert_eq!(
        password_login(&app, "dora@example.com", PASSWORD).await,
        200
    ); // s
    let (status, _) = parts(
        app.token(
            &json!({"grant_type": "client_credentials", "client_id": "admin-client",
        "client_secret": "wrong", "audience": format!("{}/api/v2/", app.base)}),
        )
        .await,
    )
    .await; // feccft
    assert_eq!(status, 401);
    let (status, _) = call(
        &app,
        Method::POST,
        "/roles",
        &admin,
        Some(json!({"name": "Ops"})),
    )
    .await; // sapi
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::POST,
        "/roles",
        &admin,
        Some(json!({"name": "Ops"})),
    )
    .await; // fapi
    assert_eq!(status, 409);

    let (status, events) = call(&app, Method::GET, "/logs", &admin, None).await;
    assert_eq!(status, 200, "{events}");
    assert_eq!(
        types(&events),
        [
            "fapi", "sapi", "feccft", "s", "fu", "fp", "fs", "ss", "seccft"
        ]
    );
    // Never a password or a secret in any event.
    let text = events.to_string();
    for secret in [
        PASSWORD,
        "Wrong-Passw0rd!",
        "admin-secret",
        "app-secret",
        admin.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} in the log");
    }
    let ss = &events[7];
    assert_eq!(ss["client_id"], "app-client");
    assert_eq!(ss["client_name"], "App");
    assert_eq!(ss["connection"], CONN);
    assert!(ss["connection_id"].as_str().unwrap().starts_with("con_"));
    assert_eq!(ss["user_name"], "dora@example.com");
    assert_eq!(ss["ip"], "127.0.0.1");
    assert!(ss["date"].as_str().unwrap().ends_with('Z'));
    let dora = ss["user_id"].as_str().unwrap().to_owned();
    assert!(dora.starts_with("auth0|"));
    assert_eq!(events[5]["user_id"], dora.as_str(), "fp names the user");
    assert_eq!(events[4]["user_name"], "nobody@example.com");
    assert!(events[4].get("user_id").is_none(), "fu has no user");
    assert_eq!(
        events[1]["details"],
        json!({"request": {"method": "POST", "path": "/api/v2/roles"}, "response": {"statusCode": 200}})
    );
    assert_eq!(events[1]["client_id"], "admin-client");

    // Search, totals, order, one event, a user's events.
    let (_, fails) = call(
        &app,
        Method::GET,
        "/logs?q=type:fp%20OR%20type:fu&include_totals=true",
        &admin,
        None,
    )
    .await;
    assert_eq!(fails["total"], 2);
    assert_eq!(types(&fails["logs"]), ["fu", "fp"]);
    let (_, legacy) = call(&app, Method::GET, "/logs?search=type:s", &admin, None).await;
    assert_eq!(types(&legacy), ["s"]);
    let (_, oldest) = call(
        &app,
        Method::GET,
        "/logs?sort=date:1&per_page=2",
        &admin,
        None,
    )
    .await;
    assert_eq!(types(&oldest), ["seccft", "ss"]);
    let (_, second) = call(
        &app,
        Method::GET,
        "/logs?sort=date:1&per_page=2&page=1",
        &admin,
        None,
    )
    .await;
    assert_eq!(types(&second), ["fs", "fp"]);
    let first_id = oldest[0]["log_id"].as_str().unwrap().to_owned();
    let (status, one) = call(
        &app,
        Method::GET,
        &format!("/logs/{first_id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!((status, one), (200, oldest[0].clone()));
    assert_eq!(
        call(&app, Method::GET, "/logs/nope", &admin, None).await,
        (
            404,
            envelope(
                404,
                "Not Found",
                "The log event does not exist.",
                "inexistent_log"
            )
        )
    );
    let (_, mine) = call(
        &app,
        Method::GET,
        &format!("/users/{dora}/logs"),
        &admin,
        None,
    )
    .await;
    assert_eq!(types(&mine), ["s", "fp", "ss"]);

    // Checkpoint paging: after an event, oldest first.
    let (_, page) = call(
        &app,
        Method::GET,
        &format!("/logs?from={first_id}&take=3"),
        &admin,
        None,
    )
    .await;
    assert_eq!(types(&page), ["ss", "fs", "fp"]);
    let last = page[2]["log_id"].as_str().unwrap();
    let (_, rest) = call(
        &app,
        Method::GET,
        &format!("/logs?from={last}&take=100"),
        &admin,
        None,
    )
    .await;
    // fu, s, feccft, sapi, fapi: the reads between logged nothing.
    assert_eq!(rest.as_array().unwrap().len(), 5, "{rest}");
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/logs?from={last}&take=101"),
            &admin,
            None
        )
        .await,
        (
            400,
            envelope(
                400,
                "Bad Request",
                "Query validation error: 'take' must be 1 to 100.",
                "invalid_query_string"
            )
        )
    );

    // Bad searches are the Management envelope's 400.
    for (q, message) in [
        (
            "password:x",
            "'password' is not a searchable field of a log event",
        ),
        (
            "bare",
            "a log search names a field (type, date, user_id, client_id, ip, …)",
        ),
        ("(type:s", "a '(' is not closed"),
    ] {
        let (status, body) = call(
            &app,
            Method::GET,
            &format!("/logs?q={}", urlencode(q)),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            (status, body["errorCode"].clone()),
            (400, json!("invalid_query_string")),
            "{q}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{q}: {body}"
        );
    }
    assert_eq!(
        call(&app, Method::GET, "/logs?sort=type:1", &admin, None).await,
        (
            400,
            envelope(
                400,
                "Bad Request",
                "Query validation error: 'sort' must be date:1 or date:-1.",
                "invalid_query_string"
            )
        )
    );
    let reader = app.management_token("read:users").await;
    assert_eq!(
        call(&app, Method::GET, "/logs", &reader, None).await,
        (
            403,
            envelope(
                403,
                "Forbidden",
                "Insufficient scope, expected any of: read:logs",
                "insufficient_scope"
            )
        )
    );

    // A deleted user's events stay, with a `du`.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/users/{dora}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, mine) = call(
        &app,
        Method::GET,
        &format!("/users/{dora}/logs"),
        &admin,
        None,
    )
    .await;
    assert_eq!(types(&mine), ["du", "s", "fp", "ss"]);

    // Past the retention (30 days by default), events are no longer served.
    app.clock
        .advance(std::time::Duration::from_secs(31 * 86_400));
    let admin = app.admin_token().await;
    let (_, events) = call(&app, Method::GET, "/logs?include_totals=true", &admin, None).await;
    assert_eq!(events["total"], 1, "{events}");
    assert_eq!(types(&events["logs"]), ["seccft"]);
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/logs/{first_id}"),
            &admin,
            None
        )
        .await
        .0,
        404
    );
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn logouts_resets_and_verifications_are_logged(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let (status, user) = call(&app, Method::POST, "/users", &admin,
        Some(json!({"connection": CONN, "email": "eve@example.com", "password": PASSWORD, "verify_email": false}))).await;
    assert_eq!(status, 201);
    let id = user["user_id"].as_str().unwrap().to_owned();
    let (status, ticket) = call(
        &app,
        Method::POST,
        "/tickets/email-verification",
        &admin,
        Some(json!({"user_id": id})),
    )
    .await;
    assert_eq!(status, 201, "{ticket}");
    let link = ticket["ticket"]
        .as_str()
        .unwrap()
        .trim_end_matches('#')
        .to_owned();
    let r = reqwest::get(&link).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(&link).await.unwrap(); // used: fv
    assert_eq!(r.status(), 400);
    let r = app
        .post_raw(
            "/dbconnections/change_password",
            Some("application/json"),
            json!({"client_id": "app-client", "connection": CONN, "email": "eve@example.com"})
                .to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post_raw(
            "/dbconnections/change_password",
            Some("application/json"),
            json!({"client_id": "app-client", "connection": CONN, "email": "ghost@example.com"})
                .to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    // The requests' emails are queued after their answers; the log is read once they are.
    app.services.background.close();
    app.services.background.wait().await;
    app.services.background.reopen();
    let (_, events) = call(
        &app,
        Method::GET,
        "/logs?q=type:scpr%20OR%20type:fcpr%20OR%20type:sv%20OR%20type:fv&sort=date:1",
        &admin,
        None,
    )
    .await;
    let kinds = types(&events);
    assert_eq!(&kinds[..2], ["sv", "fv"], "{events}");
    assert!(
        kinds.contains(&"scpr".to_owned()) && kinds.contains(&"fcpr".to_owned()),
        "{events}"
    );
    let fcpr = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "fcpr")
        .unwrap();
    assert_eq!(fcpr["user_name"], "ghost@example.com");
    app.stop().await;
}

async fn the_openapi_document_lists_what_is_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .http
        .get(app.url("/api/v2/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], app.base.as_str());
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 25, "{}", paths.len());
    // Every documented operation is routed: without a token it answers 401 in the Management
    // envelope (a path or method not served would answer 404 or 405).
    let mut operations = 0;
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "x");
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app
                .http
                .request(m, app.url(&concrete))
                .send()
                .await
                .unwrap();
            let (status, body) = parts(r).await;
            assert_eq!(
                (status, body["errorCode"].clone()),
                (401, json!("invalid_token")),
                "{method} {path}: {body}"
            );
            operations += 1;
        }
    }
    assert!(operations >= 38, "{operations}");
    app.stop().await;
}

/// For every documented operation and each scope its `security` lists (any of them is
/// enough), a token holding exactly that scope is not refused with 403: the document says what
/// each handler checks.
async fn each_operation_takes_a_token_with_exactly_its_documented_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .http
        .get(app.url("/api/v2/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let scopes: Vec<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["management"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect();
            operations.push((path.clone(), method.clone(), scopes));
        }
    }
    app.stop().await;
    let mut every: Vec<String> = operations.iter().flat_map(|o| o.2.clone()).collect();
    every.sort();
    every.dedup();
    // A client granted every documented scope, to mint one-scope tokens from.
    let tenant = crate::helpers::TENANT.replace(
        "client_grants:\n",
        &format!(
            "  - name: Scopes\n    client_id: scopes-client\n    client_secret: scopes-secret\n    grant_types: [client_credentials]\nclient_grants:\n  - client_id: Scopes\n    audience: management\n    scope: [{}]\n",
            every.join(", ")
        ),
    );
    let app = crate::helpers::spawn_with(backend, crate::helpers::Options::tenant(tenant)).await;
    let mut checked = 0;
    for (path, method, scopes) in &operations {
        assert!(!scopes.is_empty(), "{method} {path} documents no scope");
        for scope in scopes {
            let (status, minted) = parts(
                app.token(
                    &json!({"grant_type": "client_credentials", "client_id": "scopes-client",
                    "client_secret": "scopes-secret", "audience": format!("{}/api/v2/", app.base),
                    "scope": scope}),
                )
                .await,
            )
            .await;
            assert_eq!(status, 200, "{scope}: {minted}");
            assert_eq!(minted["scope"], json!(scope));
            let token = minted["access_token"].as_str().unwrap();
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = app
                .http
                .request(m.clone(), app.url(&path.replace("{id}", "auth0|x")))
                .bearer_auth(token);
            if m != Method::GET && m != Method::DELETE && !path.ends_with("users-imports") {
                req = req.json(&json!({}));
            }
            let (status, body) = raw(req.send().await.unwrap()).await;
            assert!(
                status != 403 && status != 401,
                "{method} {path} with exactly {scope}: {status} {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked}");
    app.stop().await;
}

async fn indexed_metadata_paths_search_through_their_index(backend: Backend) {
    let tenant = crate::helpers::TENANT.replace(
        "  default_directory: Username-Password-Authentication\n",
        "  default_directory: Username-Password-Authentication\n  indexed_app_metadata: [plan, org.id]\n",
    );
    let app = crate::helpers::spawn_with(backend, crate::helpers::Options::tenant(tenant)).await;
    let admin = app.admin_token().await;
    for (email, app_metadata) in [
        ("a@example.com", json!({"plan": "pro", "org": {"id": "o1"}})),
        (
            "b@example.com",
            json!({"plan": "free", "org": {"id": "o2"}}),
        ),
        ("c@example.com", json!({"plan": true})),
    ] {
        let (status, _) = call(&app, Method::POST, "/users", &admin, Some(json!({"connection": CONN,
            "email": email, "password": PASSWORD, "app_metadata": app_metadata, "verify_email": false}))).await;
        assert_eq!(status, 201);
    }
    for (q, expected) in [
        (r#"app_metadata.plan:"pro""#, vec!["a@example.com"]),
        ("app_metadata.plan:true", vec!["c@example.com"]),
        ("app_metadata.org.id:o2", vec!["b@example.com"]),
        ("app_metadata.plan:pr*", vec!["a@example.com"]),
        (
            "NOT app_metadata.plan:pro",
            vec!["b@example.com", "c@example.com"],
        ),
    ] {
        let (status, users) = call(
            &app,
            Method::GET,
            &format!("/users?sort=email:1&q={}", urlencode(q)),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{q}: {users}");
        let emails: Vec<&str> = users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap())
            .collect();
        assert_eq!(emails, expected, "{q}");
    }
    // The indexes exist, one per path.
    let mut db = app.db().await;
    let names: Vec<String> = match backend {
        Backend::Sqlite => sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'users_app_metadata_%'")
            .fetch_all(&mut db).await.unwrap(),
        Backend::Postgres => sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE indexname LIKE 'users_app_metadata_%'")
            .fetch_all(&mut db).await.unwrap(),
    };
    assert_eq!(names.len(), 2, "{names:?}");
    app.stop().await;
}

async fn instances_share_the_rate_limit_through_redis(backend: Backend) {
    let Some(redis) = crate::helpers::test_redis() else {
        return;
    };
    // One deployment (one issuer) of two instances over one database and one Redis.
    let issuer = format!("http://shared-{}.example/", uuid::Uuid::new_v4().simple());
    let opts = || {
        crate::helpers::Options::args(&[
            "--issuer",
            &issuer,
            "--management-rate-limit",
            "2",
            "--management-rate-limit-redis",
            &redis,
        ])
    };
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let a = crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), opts()).await;
    let b = crate::helpers::spawn_on(&url, dir, opts()).await;
    let (status, body) = parts(
        a.token(
            &json!({"grant_type": "client_credentials", "client_id": "admin-client",
            "client_secret": "admin-secret", "audience": format!("{issuer}api/v2/")}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    // A budget of 4 per two-second window, counted across both instances: B's answer counts
    // A's request (unless a window ended in between; then the next pair is in one window).
    let header = |r: &reqwest::Response, h: &str| -> u64 {
        r.headers()[h].to_str().unwrap().parse().unwrap()
    };
    let mut shared = false;
    for _ in 0..3 {
        let ra = a.api(Method::GET, "/roles", &token).send().await.unwrap();
        let rb = b.api(Method::GET, "/roles", &token).send().await.unwrap();
        if ra.status() != 200 || rb.status() != 200 {
            continue;
        }
        assert_eq!(header(&ra, "x-ratelimit-limit"), 4);
        if header(&ra, "x-ratelimit-reset") == header(&rb, "x-ratelimit-reset") {
            assert_eq!(
                header(&rb, "x-ratelimit-remaining") + 1,
                header(&ra, "x-ratelimit-remaining")
            );
            shared = true;
            break;
        }
    }
    assert!(shared, "the instances never counted into one budget");
    // Spending it on both ends in the Management 429 within a window or two.
    let mut refused = None;
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = app.api(Method::GET, "/roles", &token).send().await.unwrap();
        if r.status() == 429 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("a 429 within 12 requests");
    assert!(header(&r, "retry-after") >= 1);
    assert_eq!(
        parts(r).await,
        (
            429,
            envelope(
                429,
                "Too Many Requests",
                "Global limit has been reached",
                "too_many_requests"
            )
        )
    );
    a.stop().await;
    b.stop().await;
}

crate::both_stores!(
    instances_share_the_rate_limit_through_redis,
    indexed_metadata_paths_search_through_their_index,
    the_openapi_document_lists_what_is_served,
    each_operation_takes_a_token_with_exactly_its_documented_scope,
    client_grants_are_managed,
    roles_and_their_holders,
    the_log_records_each_flow,
    logouts_resets_and_verifications_are_logged,
);
