//! `/oauth/token`, `/oauth/revoke`, `/userinfo` and discovery: every grant, the tokens'
//! claims and signatures, refresh rotation, brute-force protection and every OAuth error body.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{
    Backend, CLIENT, CONN, Options, PASSWORD, TENANT, TestApp, parts, raw, spawn_app, spawn_with,
};

const REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

fn login_body(username: &str, password: &str) -> Value {
    json!({
        "grant_type": REALM, "client_id": CLIENT, "client_secret": "app-secret",
        "username": username, "password": password, "realm": CONN,
    })
}

/// Verifies `token` against the app's JWKS (by `kid`) and returns its claims.
async fn verify(app: &TestApp, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("kid in header");
    let jwk = app
        .jwks()
        .await
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid published in the JWKS")
        .clone();
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[format!("{}/", app.base)]);
    v.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}

async fn password_realm_login_issues_verifiable_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.signed_up("Jane.Doe@example.com").await;
    let resp = app
        .token(&json!({
            "grant_type": REALM, "client_id": CLIENT, "client_secret": "app-secret",
            "username": "jane.doe@example.com", "password": PASSWORD, "realm": CONN,
            "scope": "openid profile email offline_access", "nonce": "n-0S6",
        }))
        .await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (status, body) = parts(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "access_token",
            "id_token",
            "refresh_token",
            "scope",
            "expires_in",
            "token_type"
        ]
    );
    assert_eq!(body["scope"], "openid profile email offline_access");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["token_type"], "Bearer");

    let id_token = verify(&app, body["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(id_token["iss"], format!("{}/", app.base));
    assert_eq!(id_token["sub"], format!("auth0|{id}"));
    assert_eq!(id_token["nonce"], "n-0S6");
    assert_eq!(id_token["email"], "jane.doe@example.com");
    assert_eq!(id_token["email_verified"], false);
    assert_eq!(id_token["name"], "jane.doe@example.com");
    assert_eq!(id_token["nickname"], "jane.doe");
    assert!(id_token["updated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        id_token["exp"].as_i64().unwrap() - id_token["iat"].as_i64().unwrap(),
        36000
    );

    let userinfo_aud = format!("{}/userinfo", app.base);
    let access = verify(&app, body["access_token"].as_str().unwrap(), &userinfo_aud).await;
    assert_eq!(access["sub"], format!("auth0|{id}"));
    assert_eq!(access["azp"], CLIENT);
    assert_eq!(access["scope"], "openid profile email offline_access");
    assert_eq!(access["aud"], json!(userinfo_aud));
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        86400
    );

    // The refresh token is stored only as a hash.
    let token = body["refresh_token"].as_str().unwrap();
    let mut db = app.db().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);
}

async fn login_bookkeeping_is_updated(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("count@example.com").await;
    app.login("count@example.com", "openid").await;
    app.login("COUNT@example.com", "openid").await;
    let mut db = app.db().await;
    let row = sqlx::query("SELECT logins_count, last_login, last_ip FROM users WHERE email = $1")
        .bind("count@example.com")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>("logins_count"), 2);
    assert!(row.get::<Option<i64>, _>("last_login").is_some());
    assert_eq!(
        row.get::<Option<String>, _>("last_ip").as_deref(),
        Some("127.0.0.1")
    );
}

async fn plain_password_grant_form_and_basic_auth(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("form@example.com").await;
    // node-auth0's shape: form-encoded, secret in the body, no realm.
    let (status, body) = parts(
        app.token_form(&[
            ("grant_type", "password"),
            ("client_id", CLIENT),
            ("client_secret", "app-secret"),
            ("username", "form@example.com"),
            ("password", PASSWORD),
            ("scope", "openid"),
        ])
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string());
    assert!(body.get("refresh_token").is_none());
    // client_secret_basic; no scope means "openid profile email".
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(CLIENT, Some("app-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", "form@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = parts(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid profile email");
}

async fn null_realm_means_the_default_directory(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("py@example.com").await;
    // auth0-python's shape: JSON with explicit nulls.
    let (status, body) = parts(
        app.token(&json!({
            "client_id": CLIENT, "client_secret": "app-secret", "username": "py@example.com",
            "password": PASSWORD, "realm": null, "scope": null, "audience": null,
            "grant_type": REALM,
        }))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn username_connections_accept_username_or_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let (s, _) = parts(
        app.signup(&json!({
            "client_id": CLIENT, "connection": "usernames", "email": "u@example.com",
            "username": "JohnDoe", "password": "whatever1",
        }))
        .await,
    )
    .await;
    assert_eq!(s, 200);
    for username in ["johndoe", "JohnDoe", "u@example.com"] {
        let mut body = login_body(username, "whatever1");
        body["realm"] = json!("usernames");
        let (status, body) = parts(app.token(&body).await).await;
        assert_eq!(status, 200, "{username}: {body}");
    }
}

async fn public_clients_log_in_without_a_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    let (s, _) = parts(
        app.signup(&json!({
            "client_id": "other-client", "connection": "others-only",
            "email": "pub@example.com", "password": PASSWORD,
        }))
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let (status, body) = parts(
        app.token(&json!({
            "grant_type": REALM, "client_id": "other-client", "realm": "others-only",
            "username": "pub@example.com", "password": PASSWORD,
        }))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn expect_error(resp: reqwest::Response, status: u16, body: &str) {
    let (s, text) = raw(resp).await;
    assert_eq!((s, text.as_str()), (status, body));
}

async fn every_token_error_has_its_exact_body(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("err@example.com").await;
    let wrong = r#"{"error":"invalid_grant","error_description":"Wrong email or password."}"#;
    expect_error(
        app.token(&login_body("err@example.com", "nope")).await,
        403,
        wrong,
    )
    .await;
    expect_error(
        app.token(&login_body("nobody@example.com", PASSWORD)).await,
        403,
        wrong,
    )
    .await;
    let mut b = login_body("err@example.com", PASSWORD);
    b.as_object_mut().unwrap().remove("username");
    expect_error(
        app.token(&b).await,
        400,
        r#"{"error":"invalid_request","error_description":"missing username parameter"}"#,
    )
    .await;
    let mut b = login_body("err@example.com", PASSWORD);
    b["password"] = Value::Null;
    expect_error(
        app.token(&b).await,
        400,
        r#"{"error":"invalid_request","error_description":"missing password parameter"}"#,
    )
    .await;
    let mut b = login_body("err@example.com", PASSWORD);
    b["realm"] = json!("no-such-connection");
    expect_error(
        app.token(&b).await,
        400,
        r#"{"error":"invalid_request","error_description":"the connection was not found"}"#,
    )
    .await;
    b["realm"] = json!("others-only");
    expect_error(
        app.token(&b).await,
        400,
        r#"{"error":"invalid_request","error_description":"the connection was disabled"}"#,
    )
    .await;
    let mut b = login_body("err@example.com", PASSWORD);
    b["client_id"] = json!("no-such-client");
    expect_error(
        app.token(&b).await,
        403,
        r#"{"error":"unauthorized_client","error_description":"invalid client"}"#,
    )
    .await;
    let mut b = login_body("err@example.com", PASSWORD);
    b["client_secret"] = json!("wrong");
    expect_error(
        app.token(&b).await,
        401,
        r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
    )
    .await;
    b.as_object_mut().unwrap().remove("client_secret");
    expect_error(
        app.token(&b).await,
        401,
        r#"{"error":"invalid_client","error_description":"client authentication is required"}"#,
    )
    .await;
    expect_error(
        app.token(&json!({"grant_type": "password", "client_id": "limited-client",
            "client_secret": "limited-secret", "username": "err@example.com", "password": PASSWORD}))
            .await,
        403,
        r#"{"error":"unauthorized_client","error_description":"Grant type 'password' not allowed for the client."}"#,
    )
    .await;
    expect_error(
        app.token(&json!({"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": CLIENT}))
            .await,
        400,
        r#"{"error":"unsupported_grant_type","error_description":"Unsupported grant type: urn:ietf:params:oauth:grant-type:device_code"}"#,
    )
    .await;
    expect_error(
        app.token(&json!({"client_id": CLIENT})).await,
        400,
        r#"{"error":"invalid_request","error_description":"missing grant_type parameter"}"#,
    )
    .await;
    expect_error(
        app.token(&json!({"grant_type": "refresh_token", "client_id": CLIENT,
            "client_secret": "app-secret", "refresh_token": "not-a-token"}))
            .await,
        403,
        r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
    )
    .await;
    let mut b = login_body("err@example.com", PASSWORD);
    b["audience"] = json!("https://unknown.example.com/");
    expect_error(
        app.token(&b).await,
        403,
        r#"{"error":"access_denied","error_description":"Service not found: https://unknown.example.com/"}"#,
    )
    .await;
    // Malformed bodies stay in the OAuth envelope.
    expect_error(
        app.post_raw("/oauth/token", Some("application/json"), "{nope").await,
        400,
        r#"{"error":"invalid_request","error_description":"Malformed JSON body: key must be a string at line 1 column 2"}"#,
    )
    .await;
    expect_error(
        app.post_raw("/oauth/token", Some("text/plain"), "x").await,
        415,
        r#"{"error":"invalid_request","error_description":"Content-Type must be application/json or application/x-www-form-urlencoded"}"#,
    )
    .await;
    let mut b = login_body("err@example.com", PASSWORD);
    b["scope"] = json!(["openid"]);
    expect_error(
        app.token(&b).await,
        400,
        r#"{"error":"invalid_request","error_description":"scope must be a string"}"#,
    )
    .await;
}

async fn bad_input_is_answered_in_the_oauth_envelope_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("input@example.com").await;
    let huge = format!(
        r#"{{"grant_type":"password","client_id":"{CLIENT}","username":"input@example.com","password":"{}"}}"#,
        "x".repeat(70_000)
    );
    expect_error(
        app.post_raw("/oauth/token", Some("application/json"), huge)
            .await,
        413,
        r#"{"error":"invalid_request","error_description":"Request body too large"}"#,
    )
    .await;
    expect_error(
        app.post_raw("/oauth/revoke", Some("application/json"), "[1,2]").await,
        400,
        r#"{"error":"invalid_request","error_description":"The request body must be a JSON object"}"#,
    )
    .await;
    expect_error(
        app.post_raw(
            "/oauth/revoke",
            Some("application/json"),
            format!(r#"{{"client_id":"{CLIENT}","client_secret":"app-secret"}}"#),
        )
        .await,
        400,
        r#"{"error":"invalid_request","error_description":"missing token parameter"}"#,
    )
    .await;
    let mut b = login_body("input@example.com", PASSWORD);
    b["username"] = json!(42);
    expect_error(
        app.token(&b).await,
        400,
        r#"{"error":"invalid_request","error_description":"username must be a string"}"#,
    )
    .await;
    // None of it counted an attempt, logged anyone in or issued a token.
    let mut db = app.db().await;
    for (table, query) in [
        ("login_attempts", "SELECT COUNT(*) FROM login_attempts"),
        ("refresh_tokens", "SELECT COUNT(*) FROM refresh_tokens"),
        (
            "logins",
            "SELECT COUNT(*) FROM users WHERE logins_count > 0",
        ),
    ] {
        let n: i64 = sqlx::query_scalar(query).fetch_one(&mut db).await.unwrap();
        assert_eq!(n, 0, "{table}");
    }
}

async fn blocked_users_are_refused_after_the_password_check(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("blocked@example.com").await;
    let body = app
        .login("blocked@example.com", "openid offline_access")
        .await;
    app.sql("UPDATE users SET blocked = TRUE WHERE email = 'blocked@example.com'")
        .await;
    expect_error(
        app.token(&login_body("blocked@example.com", PASSWORD))
            .await,
        401,
        r#"{"error":"unauthorized","error_description":"user is blocked"}"#,
    )
    .await;
    // A wrong password still answers as wrong: being blocked is not revealed to guessers.
    expect_error(
        app.token(&login_body("blocked@example.com", "nope")).await,
        403,
        r#"{"error":"invalid_grant","error_description":"Wrong email or password."}"#,
    )
    .await;
    expect_error(
        app.token(&json!({"grant_type": "refresh_token", "client_id": CLIENT,
            "client_secret": "app-secret", "refresh_token": body["refresh_token"]}))
            .await,
        401,
        r#"{"error":"unauthorized","error_description":"user is blocked"}"#,
    )
    .await;
    let (status, _) = raw(app.userinfo(body["access_token"].as_str().unwrap()).await).await;
    assert_eq!(status, 401);
}

fn refresh(token: &str) -> Value {
    json!({"grant_type": "refresh_token", "client_id": CLIENT, "client_secret": "app-secret",
        "refresh_token": token, "scope": ""})
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("rot@example.com").await;
    let first = app
        .login("rot@example.com", "openid profile offline_access")
        .await;
    let t1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = parts(app.token(&refresh(&t1)).await).await;
    assert_eq!(status, 200, "{second}");
    let t2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(t1, t2);
    assert!(second["id_token"].is_string());
    assert_eq!(second["scope"], "openid profile offline_access");
    // A narrower scope is allowed, a wider one is not.
    let mut narrow = refresh(&t2);
    narrow["scope"] = json!("openid email");
    expect_error(
        app.token(&narrow).await,
        403,
        r#"{"error":"invalid_scope","error_description":"Scope email was not granted to this refresh token"}"#,
    )
    .await;
    narrow["scope"] = json!("openid");
    let (status, third) = parts(app.token(&narrow).await).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["scope"], "openid");
    let t3 = third["refresh_token"].as_str().unwrap().to_owned();
    // Re-using t1 (already rotated) revokes the family: t3 dies with it.
    let invalid =
        r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#;
    expect_error(app.token(&refresh(&t1)).await, 403, invalid).await;
    expect_error(app.token(&refresh(&t3)).await, 403, invalid).await;
    // Another client cannot use the token.
    let other = app.login("rot@example.com", "openid offline_access").await;
    let mut stolen = refresh(other["refresh_token"].as_str().unwrap());
    stolen["client_id"] = json!("other-client");
    stolen.as_object_mut().unwrap().remove("client_secret");
    expect_error(app.token(&stolen).await, 403, invalid).await;
}

async fn concurrent_refreshes_with_one_token_let_one_win(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("race@example.com").await;
    for _ in 0..5 {
        let t = app
            .refresh_token("race@example.com", "openid offline_access")
            .await;
        let body = refresh(&t);
        let results = futures::future::join_all((0..20).map(|_| app.token(&body))).await;
        let mut winners = Vec::new();
        for r in results {
            let (status, body) = parts(r).await;
            if status == 200 {
                winners.push(body["refresh_token"].as_str().unwrap().to_owned());
            }
        }
        assert!(
            winners.len() <= 1,
            "{} refreshes succeeded with one token",
            winners.len()
        );
        // The losers saw a re-use: the whole family is revoked, the winner's new token too.
        for w in winners {
            let (status, _) = raw(app.token(&refresh(&w)).await).await;
            assert_eq!(status, 403, "the family survived a detected re-use");
        }
    }
}

async fn revoke_answers_200_and_kills_the_family(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("rev@example.com").await;
    let t = app.refresh_token("rev@example.com", "offline_access").await;
    let revoke = |token: &str| {
        app.http
            .post(app.url("/oauth/revoke"))
            .json(&json!({"client_id": CLIENT, "client_secret": "app-secret", "token": token}))
            .send()
    };
    let (status, body) = raw(revoke(&t).await.unwrap()).await;
    assert_eq!((status, body.as_str()), (200, ""));
    expect_error(
        app.token(&refresh(&t)).await,
        403,
        r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
    )
    .await;
    let (status, body) = raw(revoke("unknown-token").await.unwrap()).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let resp = app
        .http
        .post(app.url("/oauth/revoke"))
        .json(&json!({"client_id": CLIENT, "client_secret": "bad", "token": t}))
        .send()
        .await
        .unwrap();
    expect_error(
        resp,
        401,
        r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
    )
    .await;
}

async fn client_credentials_issue_machine_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let mgmt = format!("{}/api/v2/", app.base);
    let (status, body) = parts(
        app.token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "limited-client"),
            ("client_secret", "limited-secret"),
            ("audience", &mgmt),
        ])
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let claims = verify(&app, body["access_token"].as_str().unwrap(), &mgmt).await;
    assert_eq!(claims["sub"], "limited-client@clients");
    assert_eq!(claims["gty"], "client-credentials");
    // No scope asked: every granted one.
    assert_eq!(
        claims["scope"],
        "read:users create:users read:emails read:logs read:roles create:roles"
    );
    assert_eq!(
        body["scope"],
        "read:users create:users read:emails read:logs read:roles create:roles"
    );
    let api = |scope: Option<&str>| {
        let mut b = json!({"grant_type": "client_credentials", "client_id": "limited-client",
            "client_secret": "limited-secret", "audience": "https://api.example.com/"});
        if let Some(s) = scope {
            b["scope"] = json!(s);
        }
        b
    };
    let (status, body) = parts(app.token(&api(None)).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "read:things");
    // Asked scopes beyond the grant are dropped; none left means no scope at all.
    let (status, body) = parts(app.token(&api(Some("admin:all read:things"))).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "read:things");
    let (status, body) = parts(app.token(&api(Some("delete:everything"))).await).await;
    assert_eq!(status, 200);
    assert!(body.get("scope").is_none(), "{body}");
    let claims = verify(
        &app,
        body["access_token"].as_str().unwrap(),
        "https://api.example.com/",
    )
    .await;
    assert_eq!(claims["scope"], "");
    // A confidential client without a grant for the audience gets nothing.
    expect_error(
        app.token(&json!({"grant_type": "client_credentials", "client_id": "app-client",
            "client_secret": "app-secret", "audience": mgmt}))
            .await,
        403,
        &format!(
            r#"{{"error":"access_denied","error_description":"Client has not been granted scopes for {mgmt}"}}"#
        ),
    )
    .await;
    expect_error(
        app.token(&json!({"grant_type": "client_credentials", "client_id": "limited-client",
            "client_secret": "limited-secret"}))
            .await,
        403,
        r#"{"error":"access_denied","error_description":"No audience parameter was provided, and no default audience has been configured"}"#,
    )
    .await;
    expect_error(
        app.token(&json!({"grant_type": "client_credentials", "client_id": "other-client",
            "audience": mgmt}))
            .await,
        403,
        r#"{"error":"unauthorized_client","error_description":"Grant type 'client_credentials' not allowed for the client."}"#,
    )
    .await;
    // A machine token is not a user's: /userinfo refuses it.
    let (status, _) = raw(app.userinfo(body["access_token"].as_str().unwrap()).await).await;
    assert_eq!(status, 401);
}

async fn userinfo_answers_the_current_profile(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.signed_up("me@example.com").await;
    let body = app.login("me@example.com", "openid profile email").await;
    let (status, info) = parts(app.userinfo(body["access_token"].as_str().unwrap()).await).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], format!("auth0|{id}"));
    assert_eq!(info["email"], "me@example.com");
    assert_eq!(info["name"], "me@example.com");
    assert_eq!(info["nickname"], "me");
    // The profile is read at request time.
    app.sql("UPDATE users SET nickname = 'changed' WHERE email = 'me@example.com'")
        .await;
    let (_, info) = parts(app.userinfo(body["access_token"].as_str().unwrap()).await).await;
    assert_eq!(info["nickname"], "changed");

    for (auth, description) in [
        (None, "missing bearer token"),
        (Some("Bearer not.a.jwt"), "malformed token"),
        (Some("Basic abc"), "missing bearer token"),
    ] {
        let mut req = app.http.get(app.url("/userinfo"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        expect_error(
            resp,
            401,
            &format!(r#"{{"error":"invalid_token","error_description":"{description}"}}"#),
        )
        .await;
    }
    // A token with a tampered payload fails its signature.
    let token = body["access_token"].as_str().unwrap();
    let mut pieces: Vec<&str> = token.split('.').collect();
    let forged = base64_url(r#"{"sub":"auth0|x","iss":"x","aud":"x","exp":9999999999}"#);
    pieces[1] = &forged;
    let (status, _) = raw(app.userinfo(&pieces.join(".")).await).await;
    assert_eq!(status, 401);
}

/// Concurrent lookups share database queries (see `store::reads`); each request must still get
/// its own user's profile, and a blocked user in the same burst must be refused alone.
async fn concurrent_userinfo_requests_each_get_their_own_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut people = Vec::new();
    for i in 0..6 {
        let email = format!("person{i}@example.com");
        let id = app.signed_up(&email).await;
        let body = app.login(&email, "openid email").await;
        people.push((email, id, body["access_token"].as_str().unwrap().to_owned()));
    }
    app.sql("UPDATE users SET blocked = TRUE WHERE email = 'person5@example.com'")
        .await;
    let requests = (0..48).map(|n| {
        let (email, id, token) = &people[n % people.len()];
        let app = &app;
        async move { (email, id, parts(app.userinfo(token).await).await) }
    });
    for (email, id, (status, info)) in futures::future::join_all(requests).await {
        if email == "person5@example.com" {
            assert_eq!(
                (status, info),
                (
                    401,
                    json!({"error":"invalid_token","error_description":"the user is gone or blocked"})
                )
            );
        } else {
            assert_eq!(status, 200, "{info}");
            assert_eq!(info["sub"], format!("auth0|{id}"));
            assert_eq!(&info["email"], email.as_str());
        }
    }
}

fn base64_url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

async fn brute_force_protection_blocks_after_ten_failures(backend: Backend) {
    // A hashing queue deep enough that no guess is refused for overload instead.
    let app = spawn_with(backend, Options::args(&["--hash-queue", "100"])).await;
    app.signed_up("victim@example.com").await;
    // 50 wrong guesses at once: only ten may be evaluated, the rest are refused unevaluated.
    let guess = login_body("victim@example.com", "guess");
    let results = futures::future::join_all((0..50).map(|_| app.token(&guess))).await;
    let mut evaluated = 0;
    let mut blocked = 0;
    for r in results {
        let (status, body) = raw(r).await;
        match status {
            403 => evaluated += 1,
            429 => {
                assert_eq!(
                    body,
                    r#"{"error":"too_many_attempts","error_description":"Your account has been blocked after multiple consecutive login attempts."}"#
                );
                blocked += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(evaluated <= 10, "{evaluated} guesses were evaluated");
    assert_eq!(evaluated + blocked, 50);
    // Now even the right password is refused from this IP…
    let (status, _) = raw(app.token(&login_body("victim@example.com", PASSWORD)).await).await;
    assert_eq!(status, 429);
    // …but not from another one.
    let elsewhere = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let resp = elsewhere
        .post(app.url("/oauth/token"))
        .json(&login_body("victim@example.com", PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn brute_force_counts_are_shared_by_instances(backend: Backend) {
    // Two instances on one database: failures on either count towards the same block.
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let a = crate::helpers::spawn_on(&url, dir, Options::default()).await;
    let b = crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), Options::default()).await;
    a.signed_up("shared@example.com").await;
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (s, _) = raw(app.token(&login_body("shared@example.com", "bad")).await).await;
        assert_eq!(s, 403);
    }
    for app in [&a, &b] {
        let (s, _) = raw(app.token(&login_body("shared@example.com", PASSWORD)).await).await;
        assert_eq!(s, 429, "blocked on every instance");
    }
    b.stop().await;
    a.stop().await;
}

async fn failures_reset_on_success_and_unknown_users_count(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("reset@example.com").await;
    for _ in 0..9 {
        let (s, _) = raw(app.token(&login_body("reset@example.com", "bad")).await).await;
        assert_eq!(s, 403);
    }
    app.login("reset@example.com", "openid").await;
    for _ in 0..10 {
        let (s, _) = raw(app.token(&login_body("reset@example.com", "bad")).await).await;
        assert_eq!(s, 403, "the counter restarted after the success");
    }
    let (s, _) = raw(app.token(&login_body("reset@example.com", "bad")).await).await;
    assert_eq!(s, 429);
    for _ in 0..10 {
        let (s, _) = raw(app.token(&login_body("ghost@example.com", "bad")).await).await;
        assert_eq!(s, 403);
    }
    let (s, _) = raw(app.token(&login_body("ghost@example.com", "bad")).await).await;
    assert_eq!(s, 429, "unknown identifiers are counted too");
}

async fn forwarded_for_is_trusted_only_when_configured(backend: Backend) {
    let from = |app: &TestApp, ip: &str, password: &str| {
        app.http
            .post(app.url("/oauth/token"))
            .header("x-forwarded-for", format!("10.9.9.9, {ip}"))
            .json(&login_body("fwd@example.com", password))
            .send()
    };
    // Not configured: the header is ignored, every attempt counts against the TCP peer.
    let app = spawn_app(backend).await;
    app.signed_up("fwd@example.com").await;
    for i in 0..10 {
        let ip = format!("203.0.113.{i}");
        assert_eq!(from(&app, &ip, "bad").await.unwrap().status(), 403);
    }
    let resp = from(&app, "198.51.100.7", PASSWORD).await.unwrap();
    assert_eq!(
        resp.status(),
        429,
        "a forged header does not escape the block"
    );
    app.stop().await;

    // Behind a trusted proxy: the last forwarded address is the client.
    let app = spawn_with(
        backend,
        Options {
            extra_args: vec!["--trust-forwarded-for".into()],
            ..Options::default()
        },
    )
    .await;
    app.signed_up("fwd@example.com").await;
    for _ in 0..10 {
        assert_eq!(
            from(&app, "203.0.113.5", "bad").await.unwrap().status(),
            403
        );
    }
    assert_eq!(
        from(&app, "203.0.113.5", PASSWORD).await.unwrap().status(),
        429
    );
    assert_eq!(
        from(&app, "198.51.100.7", PASSWORD).await.unwrap().status(),
        200
    );
    let mut db = app.db().await;
    let last_ip: Option<String> =
        sqlx::query_scalar("SELECT last_ip FROM users WHERE email = 'fwd@example.com'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(last_ip.as_deref(), Some("198.51.100.7"));
}

async fn housekeeping_drops_expired_tokens_and_idle_counters_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("old@example.com").await;
    let expired = app.refresh_token("old@example.com", "offline_access").await;
    // Rotate it once, so that its family has two rows.
    let (_, rotated) = parts(app.token(&refresh(&expired)).await).await;
    let expired_next = rotated["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        raw(app.token(&login_body("idle@example.com", "bad")).await).await;
    }
    for _ in 0..10 {
        raw(app.token(&login_body("blocked@example.com", "bad")).await).await;
    }
    // A family lives 30 days and an idle counter a day: a month later, both are due.
    app.clock
        .advance(std::time::Duration::from_secs(31 * 86_400));
    let live = app.refresh_token("old@example.com", "offline_access").await;

    let purged = latchkey::domain::token::housekeeping(&app.services)
        .await
        .unwrap();
    // SQLite does not count rows its cascade removed, so the token count is only a floor.
    assert!(purged.0 >= 1 && purged.1 == 1, "{purged:?}");
    let mut db = app.db().await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(
        left, 1,
        "the expired family is gone, both its tokens; the live one stays"
    );
    let invalid =
        r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#;
    expect_error(app.token(&refresh(&expired_next)).await, 403, invalid).await;
    let (status, _) = raw(app.token(&refresh(&live)).await).await;
    assert_eq!(status, 200, "a live family is kept");
    let (status, _) = raw(app.token(&login_body("blocked@example.com", "bad")).await).await;
    assert_eq!(status, 429, "a blocking counter is kept");
}

async fn discovery_document_points_at_the_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .header("Origin", "http://any.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://any.example"
    );
    let (status, d) = parts(resp).await;
    assert_eq!(status, 200);
    let issuer = format!("{}/", app.base);
    assert_eq!(d["issuer"], issuer);
    for (key, path) in [
        ("authorization_endpoint", "authorize"),
        ("token_endpoint", "oauth/token"),
        ("userinfo_endpoint", "userinfo"),
        ("jwks_uri", ".well-known/jwks.json"),
        ("revocation_endpoint", "oauth/revoke"),
        ("end_session_endpoint", "oidc/logout"),
    ] {
        assert_eq!(d[key], format!("{issuer}{path}"));
    }
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        d["grant_types_supported"],
        json!([
            "password",
            "http://auth0.com/oauth/grant-type/password-realm",
            "refresh_token",
            "client_credentials",
            "authorization_code",
            "implicit"
        ])
    );
    assert_eq!(
        d["response_types_supported"],
        json!([
            "code",
            "token",
            "id_token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token"
        ])
    );
    assert_eq!(
        d["response_modes_supported"],
        json!(["query", "fragment", "form_post", "web_message"])
    );
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    // Every advertised endpoint is served.
    for key in [
        "authorization_endpoint",
        "end_session_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
    ] {
        let url = d[key].as_str().unwrap();
        let resp = app.http.get(url).send().await.unwrap();
        assert_ne!(resp.status(), 404, "{key} {url}");
    }
}

async fn browsers_may_log_in_from_listed_origins_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("web@example.com").await;
    let pre = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/userinfo"))
        .header("Origin", "http://allowed.example")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "authorization,auth0-client",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://allowed.example"
    );
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .header("Origin", "http://other.example")
        .json(&login_body("web@example.com", PASSWORD))
        .send()
        .await
        .unwrap();
    expect_error(
        resp,
        403,
        r#"{"error":"access_denied","error_description":"Origin not allowed for this client"}"#,
    )
    .await;
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .header("Origin", "http://allowed.example")
        .json(&login_body("web@example.com", PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://allowed.example"
    );
    assert_eq!(resp.status(), 200);
}

/// A password-realm login as `client` (id, secret) reporting `ip` in `auth0-forwarded-for`.
async fn status_from(app: &TestApp, client: (&str, &str), user: &str, pw: &str, ip: &str) -> u16 {
    app.http
        .post(app.url("/oauth/token"))
        .header("auth0-forwarded-for", ip)
        .json(&json!({
            "grant_type": REALM, "client_id": client.0, "client_secret": client.1,
            "username": user, "password": pw, "realm": CONN,
        }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Ten wrong passwords reported from `ip`, each refused as a wrong password.
async fn ten_failures_from(app: &TestApp, client: (&str, &str), user: &str, ip: &str) {
    for _ in 0..10 {
        assert_eq!(status_from(app, client, user, "bad", ip).await, 403);
    }
}

async fn auth0_forwarded_for_is_trusted_from_configured_backends_only(backend: Backend) {
    // "Backend" is trusted to report its user's IP; "App" has a secret but is not.
    const TRUSTED: (&str, &str) = ("backend-client", "backend-secret");
    const UNTRUSTED: (&str, &str) = (CLIENT, "app-secret");
    let tenant = TENANT
        .replace(
            "clients:\n",
            "clients:\n  - name: Backend\n    client_id: backend-client\n    client_secret: backend-secret\n    token_endpoint_ip_header_trusted: true\n",
        )
        .replace(
            "    enabled_clients: [App, Browser App, Web App]\n    options:\n      passwordPolicy: good",
            "    enabled_clients: [App, Backend]\n    options:\n      passwordPolicy: good",
        );
    let app = spawn_with(backend, Options::tenant(tenant)).await;
    let (user, spoof) = ("ropg@example.com", "spoof@example.com");
    app.signed_up(user).await;
    app.signed_up(spoof).await;

    // Trusted: ten failures reported for 203.0.113.7 block that address only.
    ten_failures_from(&app, TRUSTED, user, "203.0.113.7").await;
    assert_eq!(
        status_from(&app, TRUSTED, user, PASSWORD, "203.0.113.7").await,
        429
    );
    assert_eq!(
        status_from(&app, TRUSTED, user, PASSWORD, "203.0.113.8").await,
        200
    );
    let mut db = app.db().await;
    let last_ip: Option<String> = sqlx::query_scalar("SELECT last_ip FROM users WHERE email = $1")
        .bind(user)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(last_ip.as_deref(), Some("203.0.113.8"));
    // The backend's own address was never counted.
    assert_eq!(app.login(user, "openid").await["token_type"], "Bearer");

    // A header that is not one IP address is ignored: the attempts count against the peer…
    ten_failures_from(&app, TRUSTED, spoof, "203.0.113.9, 10.0.0.1").await;
    // …so a well-formed address is a fresh pair…
    assert_eq!(
        status_from(&app, TRUSTED, spoof, PASSWORD, "203.0.113.10").await,
        200
    );
    // …while an untrusted client's header changes nothing: the peer is blocked.
    assert_eq!(
        status_from(&app, UNTRUSTED, spoof, PASSWORD, "203.0.113.10").await,
        429
    );
}

crate::both_stores!(
    password_realm_login_issues_verifiable_tokens,
    login_bookkeeping_is_updated,
    plain_password_grant_form_and_basic_auth,
    null_realm_means_the_default_directory,
    username_connections_accept_username_or_email,
    public_clients_log_in_without_a_secret,
    every_token_error_has_its_exact_body,
    bad_input_is_answered_in_the_oauth_envelope_and_stores_nothing,
    blocked_users_are_refused_after_the_password_check,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    concurrent_refreshes_with_one_token_let_one_win,
    revoke_answers_200_and_kills_the_family,
    client_credentials_issue_machine_tokens,
    userinfo_answers_the_current_profile,
    concurrent_userinfo_requests_each_get_their_own_user,
    brute_force_protection_blocks_after_ten_failures,
    failures_reset_on_success_and_unknown_users_count,
    brute_force_counts_are_shared_by_instances,
    housekeeping_drops_expired_tokens_and_idle_counters_only,
    forwarded_for_is_trusted_only_when_configured,
    auth0_forwarded_for_is_trusted_from_configured_backends_only,
    discovery_document_points_at_the_endpoints,
    browsers_may_log_in_from_listed_origins_only,
);
