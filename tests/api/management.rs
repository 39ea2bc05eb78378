//! Management API users: CRUD with Auth0's exact errors, search semantics (one table, both
//! stores), paging shapes and limits, and bad input that must never store anything or 500.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, CONN, PASSWORD, TestApp, parts, spawn_app};

pub(crate) fn envelope(status: u16, error: &str, message: &str, code: &str) -> Value {
    json!({"statusCode": status, "error": error, "message": message, "errorCode": code})
}

pub(crate) async fn create(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    parts(
        app.api(Method::POST, "/users", token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub(crate) async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    parts(app.api(Method::GET, path, token).send().await.unwrap()).await
}

pub(crate) async fn patch(app: &TestApp, token: &str, id: &str, body: Value) -> (u16, Value) {
    let path = format!("/users/{}", urlencode(id));
    parts(
        app.api(Method::PATCH, &path, token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub(crate) async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.token(
        &json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
        "client_id": "app-client", "client_secret": "app-secret", "username": email,
        "password": password, "realm": CONN}),
    )
    .await
    .status()
    .as_u16()
}

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn users_crud_and_what_follows(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let (status, user) = create(
        &app,
        &admin,
        json!({"connection": CONN, "email": "Chuck@Example.com", "password": PASSWORD,
               "user_metadata": {"color": "red", "size": 1}, "app_metadata": {"plan": "pro"},
               "given_name": "Chuck", "verify_email": false}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let id = user["user_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("auth0|"));
    assert_eq!(user["email"], "chuck@example.com");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["name"], "chuck@example.com");
    assert_eq!(user["nickname"], "chuck");
    assert_eq!(user["given_name"], "Chuck");
    assert_eq!(
        user["identities"],
        json!([{"connection": CONN, "user_id": id.strip_prefix("auth0|").unwrap(), "provider": "auth0", "isSocial": false}])
    );
    assert_eq!(user["app_metadata"], json!({"plan": "pro"}));
    assert_eq!(user["logins_count"], 0);
    assert_eq!(user["blocked"], false);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());

    // The same user again (auth0-python retries a 409 twice: each answers 409).
    for _ in 0..3 {
        let (status, body) = create(
            &app,
            &admin,
            json!({"connection": CONN, "email": "chuck@example.com", "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                409,
                envelope(
                    409,
                    "Conflict",
                    "The user already exists.",
                    "auth0_idp_error"
                )
            )
        );
    }
    let (status, body) = create(
        &app,
        &admin,
        json!({"connection": CONN, "email": "weak@example.com", "password": "abc"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            envelope(
                400,
                "Bad Request",
                "PasswordStrengthError: Password is too weak",
                "invalid_password"
            )
        )
    );

    // Reads, with field selection.
    let path = format!("/users/{}", urlencode(&id));
    let (status, read) = get(&app, &admin, &path).await;
    assert_eq!((status, &read), (200, &user));
    let (_, some) = get(
        &app,
        &admin,
        &format!("{path}?fields=email,user_id&include_fields=true"),
    )
    .await;
    assert_eq!(some, json!({"user_id": id, "email": "chuck@example.com"}));
    let (_, rest) = get(
        &app,
        &admin,
        &format!("{path}?fields=identities&include_fields=false"),
    )
    .await;
    assert!(rest.get("identities").is_none() && rest.get("email").is_some());
    let (status, body) = get(&app, &admin, "/users/auth0%7Cnobody").await;
    assert_eq!(
        (status, body),
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
    let (status, list) = get(&app, &admin, "/users-by-email?email=CHUCK%40example.com").await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([user]));

    // Patch: top-level merge, null removes a key.
    let (status, patched) = patch(
        &app,
        &admin,
        &id,
        json!({"user_metadata": {"size": null, "shoe": 42}, "app_metadata": {"plan": {"tier": "gold"}}, "family_name": "Norris"}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        patched["user_metadata"],
        json!({"color": "red", "shoe": 42})
    );
    assert_eq!(patched["app_metadata"], json!({"plan": {"tier": "gold"}}));
    assert_eq!(patched["family_name"], "Norris");

    // A new password: policy, then history; it logs in with it and last_password_reset is set.
    let (status, body) = patch(&app, &admin, &id, json!({"password": "short"})).await;
    assert_eq!(
        (status, body),
        (
            400,
            envelope(
                400,
                "Bad Request",
                "PasswordStrengthError: Password is too weak",
                "invalid_password"
            )
        )
    );
    let refresh = app
        .refresh_token("chuck@example.com", "openid offline_access")
        .await;
    let (status, changed) = patch(&app, &admin, &id, json!({"password": "N3w-Passw0rd!"})).await;
    assert_eq!(status, 200, "{changed}");
    assert!(changed["last_password_reset"].is_string());
    let (status, _) = parts(
        app.token(&json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": "app-client", "client_secret": "app-secret", "username": "chuck@example.com",
            "password": "N3w-Passw0rd!", "realm": CONN}))
            .await,
    )
    .await;
    assert_eq!(status, 200);

    // Blocked: refused at login, and its refresh tokens end.
    let (status, blocked) = patch(&app, &admin, &id, json!({"blocked": true})).await;
    assert_eq!((status, blocked["blocked"].clone()), (200, json!(true)));
    let (status, body) = parts(
        app.token(
            &json!({"grant_type": "refresh_token", "client_id": "app-client",
            "client_secret": "app-secret", "refresh_token": refresh}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = patch(&app, &admin, &id, json!({"blocked": false})).await;
    assert_eq!(status, 200);

    // Delete: 204, also when gone; the user and its tokens are gone everywhere.
    let refresh = parts(
        app.token(&json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": "app-client", "client_secret": "app-secret", "username": "chuck@example.com",
            "password": "N3w-Passw0rd!", "realm": CONN, "scope": "openid offline_access"}))
            .await,
    )
    .await
    .1["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let resp = app.api(Method::DELETE, &path, &admin).send().await.unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(resp.text().await.unwrap(), "");
    }
    let (status, _) = get(&app, &admin, &path).await;
    assert_eq!(status, 404);
    let (status, _) = parts(
        app.token(
            &json!({"grant_type": "refresh_token", "client_id": "app-client",
            "client_secret": "app-secret", "refresh_token": refresh}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    let (_, list) = get(&app, &admin, "/users-by-email?email=chuck%40example.com").await;
    assert_eq!(list, json!([]));
    app.stop().await;
}

async fn scopes_and_tokens_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = parts(app.http.get(app.url("/api/v2/users")).send().await.unwrap()).await;
    assert_eq!(
        (status, body),
        (
            401,
            envelope(
                401,
                "Unauthorized",
                "Missing authentication",
                "invalid_token"
            )
        )
    );
    let reader = app.management_token("read:users").await;
    let (status, body) = create(
        &app,
        &reader,
        json!({"connection": CONN, "email": "a@b.co", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            403,
            envelope(
                403,
                "Forbidden",
                "Insufficient scope, expected any of: create:users",
                "insufficient_scope"
            )
        )
    );
    let resp = app
        .api(Method::DELETE, "/users/auth0%7Cx", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let (status, body) = get(&app, &reader, "/no-such-thing").await;
    assert_eq!(
        (status, body),
        (404, envelope(404, "Not Found", "Not Found", "not_found"))
    );
    app.stop().await;
}

async fn bad_input_is_refused_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let raw = |body: &'static str| {
        app.api(Method::POST, "/users", &admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let bad = |m: &str| envelope(400, "Bad Request", m, "invalid_body");
    assert_eq!(
        parts(raw("{").await.unwrap()).await,
        (400, bad("Payload validation error: 'Invalid JSON'."))
    );
    assert_eq!(
        parts(raw("[1]").await.unwrap()).await,
        (
            400,
            bad("Payload validation error: 'Expected type object but found type array'.")
        )
    );
    let cases = [
        (
            json!({"email": "a@b.co", "password": PASSWORD}),
            "Payload validation error: 'Missing required property: connection'.",
        ),
        (
            json!({"connection": CONN, "password": PASSWORD}),
            "Payload validation error: 'Missing required property: email'.",
        ),
        (
            json!({"connection": CONN, "email": 5, "password": PASSWORD}),
            "Payload validation error: 'Expected type string but found type number' on property email.",
        ),
        (
            json!({"connection": CONN, "email": "a@b.co", "password": PASSWORD, "blocked": "yes"}),
            "Payload validation error: 'Expected type boolean but found type string' on property blocked.",
        ),
        (
            json!({"connection": CONN, "email": "a@b.co", "password": PASSWORD, "app_metadata": []}),
            "Payload validation error: 'Expected type object but found type array' on property app_metadata.",
        ),
        (
            json!({"connection": CONN, "email": "a@b.co", "password": PASSWORD, "admin": true}),
            "Payload validation error: 'Additional properties not allowed: admin'.",
        ),
        (
            json!({"connection": CONN, "email": "a@b.co"}),
            "Payload validation error: 'Missing required property: password'.",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            create(&app, &admin, body.clone()).await,
            (400, bad(message)),
            "{body}"
        );
    }
    let (status, body) = create(
        &app,
        &admin,
        json!({"connection": "nope", "email": "a@b.co", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            404,
            envelope(
                404,
                "Not Found",
                "The connection does not exist.",
                "inexistent_connection"
            )
        )
    );
    let (status, body) = patch(&app, &admin, "auth0|x", json!({"email_verified": "no"})).await;
    assert_eq!(
        (status, body),
        (
            400,
            bad(
                "Payload validation error: 'Expected type boolean but found type string' on property email_verified."
            )
        )
    );

    // Queries: parse errors, limits and injection attempts are 400s in this envelope.
    let q = |m: &str| envelope(400, "Bad Request", m, "invalid_query_string");
    let huge = "a".repeat(5000);
    for query in [
        "q=email%3A%22x".to_owned(),
        "q=(".to_owned(),
        "q=password_hash%3Ax".to_owned(),
        format!("q={huge}"),
        "q=name%3A%22x%22%3B%20DROP%20TABLE%20users%3B%20--%20%3Ax%3Ay)".to_owned(),
        "sort=email%3B%20DROP%20TABLE%20users%3A1".to_owned(),
        "sort=created_at%3A2".to_owned(),
        "per_page=x".to_owned(),
        "include_totals=maybe".to_owned(),
    ] {
        let (status, body) = get(&app, &admin, &format!("/users?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errorCode"], "invalid_query_string", "{query}");
    }
    assert_eq!(
        get(&app, &admin, "/users?per_page=101").await,
        (
            400,
            q("Query validation error: 'per_page' must be at most 100.")
        )
    );
    assert_eq!(
        get(&app, &admin, "/users?page=10&per_page=100").await,
        (400, q("You can only page through the first 1000 records."))
    );
    // An injection attempt inside a quoted value is only a value.
    let (status, body) = get(
        &app,
        &admin,
        "/users?q=email%3A%22x%27%20OR%20%271%27%3D%271%22",
    )
    .await;
    assert_eq!((status, body), (200, json!([])));
    // Fields that name nothing select nothing; they never reach SQL.
    let (status, _) = get(
        &app,
        &admin,
        "/users?fields=email%3B%20DROP%20TABLE%20users",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.users(CONN).await, 0);
    app.stop().await;
}

/// Creates `users` (email, extra JSON) through the API; returns their ids in order.
async fn seed(app: &TestApp, token: &str, users: &[(&str, Value)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (email, extra) in users {
        let mut body = json!({"connection": CONN, "email": email, "password": PASSWORD, "verify_email": false});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, user) = create(app, token, body).await;
        assert_eq!(status, 201, "{user}");
        app.clock.advance(std::time::Duration::from_secs(1));
        ids.push(user["user_id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn search_semantics_are_the_same_on_both_stores(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let ids = seed(
        &app,
        &admin,
        &[
            ("jane@example.com", json!({"name": "Jane Doe", "app_metadata": {"uuid": "u-1", "plan": {"tier": "pro"}, "beta": true}, "user_metadata": {"lang": "fr"}})),
            ("john@example.com", json!({"name": "John Smith", "email_verified": true, "app_metadata": {"uuid": "u-2", "plan": {"tier": "free"}}})),
            ("joan@other.org", json!({"name": "Joan Jett", "blocked": true, "app_metadata": {"uuid": "U-3"}})),
            ("zed@example.com", json!({"nickname": "Zed", "given_name": "Zed"})),
        ],
    )
    .await;
    // John logs in once: logins_count 1.
    let _ = app.login("john@example.com", "openid").await;
    let jane_id = ids[0].clone();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (r#"email:"jane@example.com""#.into(), vec!["jane"]),
        (r#"email:"JANE@example.com""#.into(), vec!["jane"]),
        (format!(r#"user_id:"{jane_id}""#), vec!["jane"]),
        (r#"user_id:"google-oauth2|1""#.into(), vec![]),
        (
            format!(
                r#"identities.user_id:"{}""#,
                jane_id.trim_start_matches("auth0|")
            ),
            vec!["jane"],
        ),
        (
            format!(r#"email:"jane@example.com" AND identities.connection:"{CONN}""#),
            vec!["jane"],
        ),
        (
            r#"email:*@example.com AND NOT name:"jane doe""#.into(),
            vec!["john", "zed"],
        ),
        (
            r#"(name:"jane doe" OR name:"john smith") AND email_verified:true"#.into(),
            vec!["john"],
        ),
        ("name:jo*".into(), vec!["joan", "john"]),
        ("email:*@example.com".into(), vec!["jane", "john", "zed"]),
        (r#"app_metadata.uuid:"u-1""#.into(), vec!["jane"]),
        ("app_metadata.uuid:U-3".into(), vec!["joan"]),
        ("app_metadata.uuid:u-3".into(), vec![]),
        ("app_metadata.plan.tier:pro".into(), vec!["jane"]),
        ("app_metadata.beta:true".into(), vec!["jane"]),
        ("app_metadata.uuid:u-*".into(), vec!["jane", "john"]),
        ("user_metadata.lang:fr".into(), vec!["jane"]),
        ("blocked:true".into(), vec!["joan"]),
        ("email_verified:false".into(), vec!["jane", "joan", "zed"]),
        ("logins_count:{0 TO *]".into(), vec!["john"]),
        ("logins_count:0".into(), vec!["jane", "joan", "zed"]),
        (
            "created_at:[2020-01-01 TO *]".into(),
            vec!["jane", "joan", "john", "zed"],
        ),
        ("created_at:[* TO 2020-01-01]".into(), vec![]),
        ("last_login:[2020-01-01 TO *]".into(), vec!["john"]),
        ("jane".into(), vec!["jane"]),
        ("zed".into(), vec!["zed"]),
        (
            r#"NOT app_metadata.uuid:"u-1""#.into(),
            vec!["joan", "john", "zed"],
        ),
        (
            r#"name:"jane doe" name:"John Smith""#.into(),
            vec!["jane", "john"],
        ),
    ];
    for (q, want) in cases {
        let path = format!("/users?q={}&sort=email:1&search_engine=v3", urlencode(&q));
        let (status, body) = get(&app, &admin, &path).await;
        assert_eq!(status, 200, "{q}: {body}");
        let got: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                u["email"]
                    .as_str()
                    .unwrap()
                    .split('@')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(got, want, "{q}");
    }
    app.stop().await;
}

async fn paging_shapes_and_sorting(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let emails: Vec<String> = (0..7).map(|i| format!("user{i}@example.com")).collect();
    let seeded: Vec<(&str, Value)> = emails.iter().map(|e| (e.as_str(), json!({}))).collect();
    seed(&app, &admin, &seeded).await;
    let (status, body) = get(
        &app,
        &admin,
        "/users?include_totals=true&page=1&per_page=3&sort=email:1",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["start"], 3);
    assert_eq!(body["limit"], 3);
    assert_eq!(body["length"], 3);
    assert_eq!(body["total"], 7);
    let got: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "user3@example.com",
            "user4@example.com",
            "user5@example.com"
        ]
    );
    let (_, body) = get(&app, &admin, "/users?per_page=2&sort=email:-1").await;
    let got: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["user6@example.com", "user5@example.com"]);
    // Count only.
    let (_, body) = get(
        &app,
        &admin,
        "/users?per_page=0&include_totals=true&q=email%3Auser1*",
    )
    .await;
    assert_eq!(
        body,
        json!({"start": 0, "limit": 0, "length": 0, "total": 1, "users": []})
    );
    // Sorted by creation time, both ways.
    let (_, asc) = get(&app, &admin, "/users?sort=created_at:1&fields=email").await;
    let (_, desc) = get(&app, &admin, "/users?sort=created_at:-1&fields=email").await;
    let mut reversed = desc.as_array().unwrap().clone();
    reversed.reverse();
    assert_eq!(asc.as_array().unwrap(), &reversed);
    assert_eq!(asc[0], json!({"email": "user0@example.com"}));
    app.stop().await;
}

async fn tickets_are_single_use_links_consumed_by_the_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let ids = seed(&app, &admin, &[("tess@example.com", json!({}))]).await;
    let id = ids[0].clone();
    let post = |path: &'static str, body: Value| {
        let req = app.api(Method::POST, path, &admin).json(&body);
        async move { parts(req.send().await.unwrap()).await }
    };
    let (status, body) = post("/tickets/password-change", json!({"user_id": id})).await;
    assert_eq!(status, 201, "{body}");
    let ticket = body["ticket"].as_str().unwrap();
    let value = ticket
        .strip_prefix(&format!("{}/u/reset-password?ticket=", app.base))
        .and_then(|t| t.strip_suffix('#'))
        .unwrap_or_else(|| panic!("{ticket}"));
    assert!(value.len() == 32 && value.chars().all(|c| c.is_ascii_alphanumeric()));
    let link = format!("/u/reset-password?ticket={value}");
    let b = crate::change_password::Browser::new(&app);
    let (status, html) = b.open(&link).await;
    assert_eq!(status, 200);
    let (status, page) = b
        .submit(&link, &html, "N3w-Passw0rd!", "N3w-Passw0rd!")
        .await;
    assert_eq!(status, 200, "{page}");
    let (status, _) = b.open(&link).await;
    assert_eq!(status, 400, "single use");
    let login = |password: &'static str| login_status(&app, "tess@example.com", password);
    assert_eq!(login("N3w-Passw0rd!").await, 200);

    // By connection and email; refusals.
    let connection_id = latchkey::domain::tenant::connection_id(CONN);
    let (status, _) = post(
        "/tickets/password-change",
        json!({"connection_id": connection_id, "email": "TESS@example.com", "ttl_sec": 60}),
    )
    .await;
    assert_eq!(status, 201);
    let bad = |m: &str| envelope(400, "Bad Request", m, "invalid_body");
    // A Management client holding create:user_tickets is trusted with any result_url, as
    // Auth0 trusts it (node-auth0's tickets.changePassword with an app's own URL); only a URL
    // that is not an absolute http(s) one is refused.
    let (status, body) = post(
        "/tickets/password-change",
        json!({"user_id": id, "result_url": "https://unlisted.example/after-reset"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        post(
            "/tickets/password-change",
            json!({"user_id": id, "result_url": "javascript:alert(1)"})
        )
        .await,
        (
            400,
            bad(
                "Payload validation error: 'Object didn't pass validation for format absolute-https-uri-or-empty: javascript:alert(1)' on property result_url."
            )
        )
    );
    assert_eq!(
        post(
            "/tickets/password-change",
            json!({"user_id": "auth0|nobody"})
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
        post("/tickets/password-change", json!({"user_id": id, "ttl": 5})).await,
        (
            400,
            bad("Payload validation error: 'Additional properties not allowed: ttl'.")
        )
    );

    // Email verification: the link verifies once.
    let (status, body) = post("/tickets/email-verification", json!({"user_id": id})).await;
    assert_eq!(status, 201, "{body}");
    let link = body["ticket"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .trim_end_matches('#')
        .to_owned();
    assert!(link.starts_with("/u/email-verification?ticket="));
    let (status, _) = b.open(&link).await;
    assert_eq!(status, 200);
    let (_, user) = get(&app, &admin, &format!("/users/{}", urlencode(&id))).await;
    assert_eq!(user["email_verified"], true);

    // jobs/verification-email queues the email; the job reads completed afterwards.
    let (status, job) = post("/jobs/verification-email", json!({"user_id": id})).await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["type"], "verification_email");
    assert_eq!(job["status"], "pending");
    let job_id = job["id"].as_str().unwrap();
    assert!(job_id.starts_with("job_"));
    let (status, read) = get(&app, &admin, &format!("/jobs/{job_id}")).await;
    assert_eq!((status, read["status"].clone()), (200, json!("completed")));
    app.services.background.close();
    app.services.background.wait().await;
    let (_, mail) = get(&app, &admin, "/emails?to=tess%40example.com").await;
    assert!(
        mail.as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "email_verification"),
        "{mail}"
    );
    app.stop().await;
}

async fn brute_force_blocks_are_read_and_lifted(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let ids = seed(&app, &admin, &[("bob@example.com", json!({}))]).await;
    let login = |password: &'static str| login_status(&app, "bob@example.com", password);
    for _ in 0..10 {
        assert_eq!(login("wrong").await, 403);
    }
    assert_eq!(login(PASSWORD).await, 429);
    let blocked = json!({"blocked_for": [{"identifier": "bob@example.com", "ip": "127.0.0.1"}]});
    let path = format!("/user-blocks/{}", urlencode(&ids[0]));
    assert_eq!(get(&app, &admin, &path).await, (200, blocked.clone()));
    assert_eq!(
        get(&app, &admin, "/user-blocks?identifier=Bob%40example.com").await,
        (200, blocked)
    );
    let resp = app
        .api(
            Method::DELETE,
            "/user-blocks?identifier=bob%40example.com",
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        get(&app, &admin, &path).await,
        (200, json!({"blocked_for": []}))
    );
    assert_eq!(login(PASSWORD).await, 200);
    for _ in 0..10 {
        login("wrong").await;
    }
    let resp = app.api(Method::DELETE, &path, &admin).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(login(PASSWORD).await, 200);
    let (status, body) = get(&app, &admin, "/user-blocks").await;
    assert_eq!(
        (status, body),
        (
            400,
            envelope(
                400,
                "Bad Request",
                "Query validation error: 'Missing required property: identifier'.",
                "invalid_query_string"
            )
        )
    );
    app.stop().await;
}

async fn the_tenant_reads_show_no_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let (status, body) = get(
        &app,
        &admin,
        "/clients?include_totals=true&per_page=2&page=0",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["length"], 2);
    let (_, all) = get(&app, &admin, "/clients").await;
    let text = all.to_string();
    for secret in [
        "app-secret",
        "admin-secret",
        "web-secret",
        "secret_hash",
        "client_secret\"",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let (status, admin_client) =
        get(&app, &admin, "/clients/admin-client?fields=client_id,name").await;
    assert_eq!(
        (status, admin_client),
        (200, json!({"client_id": "admin-client", "name": "Admin"}))
    );
    let (status, body) = get(&app, &admin, "/clients/nope").await;
    assert_eq!(
        (status, body),
        (
            404,
            envelope(
                404,
                "Not Found",
                "The client does not exist.",
                "inexistent_client"
            )
        )
    );

    let id = latchkey::domain::tenant::connection_id(CONN);
    let (status, conns) = get(&app, &admin, &format!("/connections?name={CONN}")).await;
    assert_eq!(status, 200);
    assert_eq!(conns.as_array().unwrap().len(), 1);
    assert_eq!(conns[0]["id"], id);
    assert_eq!(conns[0]["strategy"], "auth0");
    assert_eq!(conns[0]["realms"], json!([CONN]));
    let (_, one) = get(&app, &admin, &format!("/connections/{id}")).await;
    assert_eq!(one, conns[0]);
    // Checkpoint paging walks every connection once.
    let (_, all) = get(&app, &admin, "/connections").await;
    let mut seen = Vec::new();
    let mut from = String::new();
    loop {
        let (status, page) = get(&app, &admin, &format!("/connections?take=3&from={from}")).await;
        assert_eq!(status, 200, "{page}");
        for c in page["connections"].as_array().unwrap() {
            seen.push(c["id"].clone());
        }
        match page["next"].as_str() {
            Some(n) => from = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        Value::Array(seen),
        Value::Array(
            all.as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone())
                .collect()
        )
    );
    let (status, _) = get(&app, &admin, "/connections/con_0000000000000000").await;
    assert_eq!(status, 404);

    let (status, grants) = get(&app, &admin, "/client-grants?include_totals=true").await;
    assert_eq!(status, 200);
    let admin_grant = grants["client_grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["client_id"] == "admin-client")
        .unwrap()
        .clone();
    assert_eq!(admin_grant["audience"], format!("{}/api/v2/", app.base));
    assert!(admin_grant["id"].as_str().unwrap().starts_with("cgr_"));
    let reader = app.management_token("read:users").await;
    let (status, _) = get(&app, &reader, "/clients").await;
    assert_eq!(status, 403);
    app.stop().await;
}

async fn the_management_api_is_rate_limited_per_client(backend: Backend) {
    let app = crate::helpers::spawn_with(
        backend,
        crate::helpers::Options::args(&["--management-rate-limit", "1"]),
    )
    .await;
    let admin = app.admin_token().await;
    // Without a valid token nothing is counted (and no headers: the caller is unknown).
    let resp = app.http.get(app.url("/api/v2/users")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("x-ratelimit-limit").is_none());
    let first = app.api(Method::GET, "/users", &admin).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let h = first.headers();
    assert_eq!(h["x-ratelimit-limit"], "2");
    assert_eq!(h["x-ratelimit-remaining"], "1");
    let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset >= now && reset <= now + 3, "{reset} vs {now}");
    // A burst of two, then one a second: ten at once meet the limit.
    let mut refused = None;
    for _ in 0..10 {
        let r = app.api(Method::GET, "/users", &admin).send().await.unwrap();
        if r.status() == 429 {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("the limit was reached");
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(
        parts(refused).await,
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
    // Another client has its own budget.
    let other = app.management_token("read:users").await;
    let r = app.api(Method::GET, "/users", &other).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

crate::both_stores!(
    the_management_api_is_rate_limited_per_client,
    the_tenant_reads_show_no_secrets,
    tickets_are_single_use_links_consumed_by_the_pages,
    brute_force_blocks_are_read_and_lifted,
    users_crud_and_what_follows,
    scopes_and_tokens_are_checked,
    bad_input_is_refused_and_stores_nothing,
    search_semantics_are_the_same_on_both_stores,
    paging_shapes_and_sorting,
);
