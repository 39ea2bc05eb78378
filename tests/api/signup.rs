//! `POST /dbconnections/signup`: every success and error case of the spec, exact bodies.

use latchkey::domain::store::TenantStore;
use latchkey::domain::tenant::{Connection, TenantConfig};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, CLIENT, CONN, Options, PASSWORD, TestApp, parts, raw, spawn_app, spawn_with,
};

fn body(email: &str) -> Value {
    json!({"client_id": CLIENT, "connection": CONN, "email": email, "password": PASSWORD})
}

fn with(mut b: Value, key: &str, v: Value) -> Value {
    b[key] = v;
    b
}

fn bad(code: &str, description: &str) -> Value {
    json!({"name": "BadRequestError", "code": code, "description": description, "statusCode": 400})
}

async fn expect_error(app: &TestApp, req: Value, status: u16, expected: Value) {
    let (s, b) = parts(app.signup(&req).await).await;
    assert_eq!((s, &b), (status, &expected), "request {req}");
}

async fn full_profile_is_stored_and_echoed(backend: Backend) {
    let app = spawn_app(backend).await;
    // The curl body from Auth0's documentation, on a username connection.
    let req = json!({"client_id": CLIENT, "email": "Test.Account@Signup.com", "password": "Passw0rd!",
        "connection": "usernames", "username": "JohnDoe", "given_name": "John", "family_name": "Doe",
        "name": "John Doe", "nickname": "johnny", "picture": "http://example.org/jdoe.png",
        "user_metadata": {"plan": "silver", "team_id": "a111"}});
    let resp = app.signup(&req).await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().contains_key("x-request-id"));
    let (status, text) = raw(resp).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let id = v["_id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let expected = format!(
        r#"{{"_id":"{id}","email":"test.account@signup.com","username":"johndoe","email_verified":false,"given_name":"John","family_name":"Doe","name":"John Doe","nickname":"johnny","picture":"http://example.org/jdoe.png","user_metadata":{{"plan":"silver","team_id":"a111"}}}}"#
    );
    assert_eq!(text, expected, "exact body, key order included");
    assert!(!text.contains("Passw0rd") && !text.contains("argon2"));
    assert_eq!(app.users("usernames").await, 1);
    // Stored as an Argon2id PHC string (OWASP parameters unless configured), kept in history.
    let history = app.store.password_history(id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(
        history[0].starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
        "{}",
        history[0]
    );
}

async fn minimal_signup_and_form_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let (s, b) = parts(app.signup(&body("a@example.com")).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        b.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["_id", "email", "email_verified"]
    );
    let form = format!(
        "client_id={CLIENT}&connection={CONN}&email=B%40example.com&password=Passw0rd%21&state=xyz"
    );
    let (s, b) = parts(app.signup_form(form).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["email"], "b@example.com");
    assert_eq!(app.users(CONN).await, 2);
}

async fn nulls_unknown_keys_and_telemetry_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut req = body("c@example.com");
    for (k, v) in [
        ("username", Value::Null),
        ("given_name", Value::Null),
        ("user_metadata", Value::Null),
        ("picture", Value::Null),
        ("state", json!("s")),
        ("captcha", json!("x")),
        ("scope", json!("openid")),
        ("whatever", json!({"nested": [1, 2]})),
    ] {
        req[k] = v;
    }
    for telemetry in [
        "eyJuYW1lIjoiYXV0aDAuanMiLCJ2ZXJzaW9uIjoiOS4zMi4wIn0=",
        "eyJuYW1lIjoiYXV0aDAuanMiLCJ2ZXJzaW9uIjoiOS4zMi4wIn0",
        "not base64 at all!!",
    ] {
        req["email"] = json!(format!("{}@example.com", telemetry.len()));
        let resp = app
            .http
            .post(app.url("/dbconnections/signup"))
            .header("Auth0-Client", telemetry)
            .json(&req)
            .send()
            .await
            .unwrap();
        let (s, b) = parts(resp).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b.as_object().unwrap().len(),
            3,
            "nulls are absent, unknown keys ignored: {b}"
        );
    }
}

async fn duplicate_email_is_user_exists_case_insensitively(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        parts(app.signup(&body("dup@example.com")).await).await.0,
        200
    );
    expect_error(
        &app,
        body(" DUP@Example.COM "),
        400,
        bad("user_exists", "The user already exists."),
    )
    .await;
    assert_eq!(app.users(CONN).await, 1);
}

async fn duplicate_username(backend: Backend) {
    let app = spawn_app(backend).await;
    let req = |email: &str, user: &str| json!({"client_id": CLIENT, "connection": "usernames", "email": email, "password": "secret", "username": user});
    assert_eq!(
        parts(app.signup(&req("u1@example.com", "Alice")).await)
            .await
            .0,
        200
    );
    expect_error(
        &app,
        req("u2@example.com", "aLiCe"),
        400,
        bad("username_exists", "The username already exists."),
    )
    .await;
    expect_error(
        &app,
        req("u1@example.com", "bob"),
        400,
        bad("user_exists", "The user already exists."),
    )
    .await;
    assert_eq!(app.users("usernames").await, 1);
}

async fn username_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let req = |user: Value| json!({"client_id": CLIENT, "connection": "usernames", "email": "u@example.com", "password": "secret", "username": user});
    expect_error(
        &app,
        req(Value::Null),
        400,
        bad("invalid_body", "Missing required property: username"),
    )
    .await;
    expect_error(
        &app,
        req(json!(5)),
        400,
        bad(
            "invalid_body",
            "Invalid type for property username: expected string but found number",
        ),
    )
    .await;
    expect_error(
        &app,
        req(json!("ab")),
        400,
        bad(
            "invalid_username",
            "The username must have between 3 and 15 characters.",
        ),
    )
    .await;
    expect_error(
        &app,
        req(json!("a".repeat(16))),
        400,
        bad(
            "invalid_username",
            "The username must have between 3 and 15 characters.",
        ),
    )
    .await;
    expect_error(
        &app,
        req(json!("a@b.com")),
        400,
        bad(
            "invalid_username",
            "The username cannot be an email address.",
        ),
    )
    .await;
    expect_error(
        &app,
        req(json!("john doe")),
        400,
        bad(
            "invalid_username",
            "The username can only contain letters, digits and these characters: _+-.!#$^`~@'",
        ),
    )
    .await;
    assert_eq!(app.users("usernames").await, 0);
    // Every allowed special character.
    assert_eq!(
        parts(app.signup(&req(json!("a_+-.!#$^`~@'"))).await)
            .await
            .0,
        200
    );
}

async fn username_is_ignored_without_requires_username(backend: Backend) {
    let app = spawn_app(backend).await;
    let (s, b) = parts(
        app.signup(&with(body("n@example.com"), "username", json!("not used")))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert!(b.get("username").is_none());
}

async fn missing_and_mistyped_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    for field in ["client_id", "connection", "email", "password"] {
        let mut req = body("m@example.com");
        req.as_object_mut().unwrap().remove(field);
        expect_error(
            &app,
            req,
            400,
            bad(
                "invalid_body",
                &format!("Missing required property: {field}"),
            ),
        )
        .await;
        expect_error(
            &app,
            with(body("m@example.com"), field, json!("")),
            400,
            bad(
                "invalid_body",
                &format!("Missing required property: {field}"),
            ),
        )
        .await;
        expect_error(
            &app,
            with(body("m@example.com"), field, json!(["x"])),
            400,
            bad(
                "invalid_body",
                &format!("Invalid type for property {field}: expected string but found array"),
            ),
        )
        .await;
    }
    expect_error(
        &app,
        with(body("m@example.com"), "given_name", json!(true)),
        400,
        bad(
            "invalid_body",
            "Invalid type for property given_name: expected string but found boolean",
        ),
    )
    .await;
    assert_eq!(app.users(CONN).await, 0);
}

async fn email_picture_and_profile_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    expect_error(
        &app,
        body("not-an-email"),
        400,
        bad("invalid_body", "email is not a valid email address"),
    )
    .await;
    expect_error(
        &app,
        body(&format!("{}@example.com", "a".repeat(243))),
        400,
        bad("invalid_body", "email must be at most 254 characters"),
    )
    .await;
    expect_error(
        &app,
        with(
            body("p@example.com"),
            "picture",
            json!("javascript:alert(1)"),
        ),
        400,
        bad(
            "invalid_body",
            "picture must be an absolute http or https URI",
        ),
    )
    .await;
    expect_error(
        &app,
        with(body("p@example.com"), "family_name", json!("x".repeat(151))),
        400,
        bad("invalid_body", "family_name must be at most 150 characters"),
    )
    .await;
    expect_error(
        &app,
        with(body("p@example.com"), "name", json!("x".repeat(301))),
        400,
        bad("invalid_body", "name must be at most 300 characters"),
    )
    .await;
    // Limits count UTF-16 units like JavaScript: 75 emoji = 150 units is fine, 76 is not.
    assert_eq!(
        parts(
            app.signup(&with(
                body("e1@example.com"),
                "given_name",
                json!("😀".repeat(75))
            ))
            .await
        )
        .await
        .0,
        200
    );
    expect_error(
        &app,
        with(body("e2@example.com"), "given_name", json!("😀".repeat(76))),
        400,
        bad("invalid_body", "given_name must be at most 150 characters"),
    )
    .await;
    assert_eq!(app.users(CONN).await, 1);
}

async fn user_metadata_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let md = |v: Value| with(body("md@example.com"), "user_metadata", v);
    let eleven: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    expect_error(
        &app,
        md(Value::Object(eleven)),
        400,
        bad(
            "invalid_body",
            "user_metadata must have at most 10 properties",
        ),
    )
    .await;
    expect_error(
        &app,
        md(json!({"plan": 3})),
        400,
        bad(
            "invalid_body",
            "invalid user_metadata.plan type (only strings are allowed)",
        ),
    )
    .await;
    expect_error(
        &app,
        md(json!({"plan": {"a": "b"}})),
        400,
        bad(
            "invalid_body",
            "invalid user_metadata.plan type (only strings are allowed)",
        ),
    )
    .await;
    expect_error(
        &app,
        md(json!({"plan": "x".repeat(501)})),
        400,
        bad(
            "invalid_body",
            "user_metadata.plan must be at most 500 characters",
        ),
    )
    .await;
    expect_error(
        &app,
        md(json!({"k".repeat(101): "v"})),
        400,
        bad(
            "invalid_body",
            "user_metadata property names must be at most 100 characters",
        ),
    )
    .await;
    expect_error(
        &app,
        md(json!([])),
        400,
        bad(
            "invalid_body",
            "Invalid type for property user_metadata: expected object but found array",
        ),
    )
    .await;
    // A form body can only carry it as a string, which is invalid.
    let form = format!(
        "client_id={CLIENT}&connection={CONN}&email=f%40example.com&password=Passw0rd%21&user_metadata=%7B%7D"
    );
    let (s, b) = parts(app.signup_form(form).await).await;
    assert_eq!(
        (s, b),
        (
            400,
            bad(
                "invalid_body",
                "Invalid type for property user_metadata: expected object but found string"
            )
        )
    );
    let ten: serde_json::Map<String, Value> = (0..10)
        .map(|i| (format!("K{i}"), json!("v".repeat(500))))
        .collect();
    let (s, b) = parts(app.signup(&md(Value::Object(ten.clone()))).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        b["user_metadata"],
        Value::Object(ten),
        "keys keep their case"
    );
    assert_eq!(app.users(CONN).await, 1);
}

async fn malformed_bodies_answer_the_envelope(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases: Vec<(Option<&str>, Vec<u8>, u16, Value)> = vec![
        (
            Some("application/json"),
            b"{not json".to_vec(),
            400,
            bad(
                "invalid_body",
                "Malformed JSON body: key must be a string at line 1 column 2",
            ),
        ),
        (
            Some("application/json"),
            b"".to_vec(),
            400,
            bad(
                "invalid_body",
                "Malformed JSON body: EOF while parsing a value at line 1 column 0",
            ),
        ),
        (
            Some("application/json"),
            b"[1,2]".to_vec(),
            400,
            bad("invalid_body", "The request body must be a JSON object"),
        ),
        (
            Some("application/json; charset=utf-8"),
            b"\"str\"".to_vec(),
            400,
            bad("invalid_body", "The request body must be a JSON object"),
        ),
        (
            Some("text/plain"),
            b"{}".to_vec(),
            415,
            json!({"name": "UnsupportedMediaTypeError", "code": "invalid_body", "description": "Content-Type must be application/json or application/x-www-form-urlencoded", "statusCode": 415}),
        ),
        (
            None,
            b"{}".to_vec(),
            415,
            json!({"name": "UnsupportedMediaTypeError", "code": "invalid_body", "description": "Content-Type must be application/json or application/x-www-form-urlencoded", "statusCode": 415}),
        ),
        (
            Some("application/json"),
            vec![0xff, 0xfe, 0x00],
            400,
            bad(
                "invalid_body",
                "Malformed JSON body: expected value at line 1 column 1",
            ),
        ),
    ];
    for (ct, bytes, status, expected) in cases {
        let (s, b) = parts(
            app.post_raw("/dbconnections/signup", ct, bytes.clone())
                .await,
        )
        .await;
        assert_eq!(
            (s, &b),
            (status, &expected),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
    // Over the 64 KiB default limit: 413 in the same envelope.
    let mut big = body("big@example.com");
    big["padding"] = json!("x".repeat(70 * 1024));
    let (s, b) = parts(app.signup(&big).await).await;
    assert_eq!(
        (s, b),
        (
            413,
            json!({"name": "PayloadTooLargeError", "code": "invalid_body", "description": "Request body too large", "statusCode": 413})
        )
    );
    assert_eq!(app.users(CONN).await, 0);
}

async fn client_and_connection_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    expect_error(&app, with(body("x@example.com"), "client_id", json!("nope")), 401, json!({"name": "UnauthorizedError", "code": "invalid_client", "description": "Unknown client", "statusCode": 401})).await;
    expect_error(
        &app,
        with(body("x@example.com"), "connection", json!("nope")),
        400,
        bad("invalid_connection", "The connection does not exist"),
    )
    .await;
    expect_error(
        &app,
        with(body("x@example.com"), "connection", json!("others-only")),
        400,
        bad(
            "invalid_connection",
            "The connection is not enabled for this client",
        ),
    )
    .await;
    expect_error(&app, with(body("x@example.com"), "connection", json!("closed")), 403, json!({"name": "ForbiddenError", "code": "operation_not_allowed", "description": "Public signup is disabled", "statusCode": 403})).await;
    // A non-database connection can only come from the store (the tenant file refuses them).
    app.store
        .apply_tenant(&TenantConfig {
            connections: vec![Connection {
                name: "google-oauth2".into(),
                strategy: "google-oauth2".into(),
                enabled_clients: vec![CLIENT.into()],
                options: Default::default(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    expect_error(
        &app,
        with(body("x@example.com"), "connection", json!("google-oauth2")),
        400,
        bad(
            "invalid_connection",
            "The connection is not a database connection",
        ),
    )
    .await;
    assert_eq!(app.users(CONN).await, 0);
}

async fn password_strength_is_byte_exact(backend: Backend) {
    let app = spawn_app(backend).await;
    let (s, text) = raw(app
        .signup(&with(body("w@example.com"), "password", json!("abcdefg!")))
        .await)
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        text,
        r#"{"name":"PasswordStrengthError","message":"Password is too weak","code":"invalid_password","description":{"rules":[{"message":"At least %d characters in length","format":[8],"code":"lengthAtLeast","verified":true},{"message":"Contain at least %d of the following %d types of characters:","code":"containsAtLeast","format":[3,4],"items":[{"message":"lower case letters (a-z)","code":"lowerCase","verified":true},{"message":"upper case letters (A-Z)","code":"upperCase","verified":false},{"message":"numbers (i.e. 0-9)","code":"numbers","verified":false},{"message":"special characters (e.g. !@#$%^&*)","code":"specialCharacters","verified":true}],"verified":false}],"verified":false},"policy":"* At least 8 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)","statusCode":400}"#
    );
    let (s, text) = raw(app.signup(&json!({"client_id": CLIENT, "connection": "excellent", "email": "x@example.com", "password": "aaaBcdefg12"})).await).await;
    assert_eq!(s, 400);
    assert_eq!(
        text,
        r#"{"name":"PasswordStrengthError","message":"Password is too weak","code":"invalid_password","description":{"rules":[{"message":"At least %d characters in length","format":[10],"code":"lengthAtLeast","verified":true},{"message":"Contain at least %d of the following %d types of characters:","code":"containsAtLeast","format":[3,4],"items":[{"message":"lower case letters (a-z)","code":"lowerCase","verified":true},{"message":"upper case letters (A-Z)","code":"upperCase","verified":true},{"message":"numbers (i.e. 0-9)","code":"numbers","verified":true},{"message":"special characters (e.g. !@#$%^&*)","code":"specialCharacters","verified":false}],"verified":true},{"message":"No more than %d identical characters in a row (e.g., \"%s\" not allowed)","code":"identicalChars","format":[2,"aaa"],"verified":false}],"verified":false},"policy":"* At least 10 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)\n* No more than 2 identical characters in a row (e.g., \"aaa\" not allowed)","statusCode":400}"#
    );
    let (s, b) = parts(app.signup(&json!({"client_id": CLIENT, "connection": "minlen", "email": "x@example.com", "password": "elevenchars"})).await).await;
    assert_eq!(s, 400);
    assert_eq!(b["policy"], "* At least 12 characters in length");
    assert_eq!(b["description"]["rules"][0]["format"], json!([12]));
    assert_eq!(parts(app.signup(&json!({"client_id": CLIENT, "connection": "minlen", "email": "x@example.com", "password": "twelve chars"})).await).await.0, 200);
}

async fn dictionary_and_personal_info(backend: Backend) {
    let app = spawn_app(backend).await;
    let req = |email: &str, pw: &str| json!({"client_id": CLIENT, "connection": "strict", "email": email, "password": pw, "name": "Grace Hopper", "user_metadata": {"first": "Grace", "last": "Hopper"}});
    let dictionary = r#"{"name":"PasswordDictionaryError","message":"Password is too common","code":"invalid_password","description":"Password is not allowed, it might be too common.","statusCode":400}"#;
    let personal = r#"{"name":"PasswordNoUserInfoError","message":"Password contains user information","code":"invalid_password","description":"Password contains user information","statusCode":400}"#;
    for pw in ["PASSWORD", "qwerty", "LATCHKEY"] {
        assert_eq!(
            raw(app.signup(&req("g@example.com", pw)).await).await,
            (400, dictionary.to_owned()),
            "{pw}"
        );
    }
    for pw in ["xxhopperxx", "my-GRACE-pw", "ghopper!!", "Grace Hopper1"] {
        assert_eq!(
            raw(app.signup(&req("ghopper@example.com", pw)).await).await,
            (400, personal.to_owned()),
            "{pw}"
        );
    }
    assert_eq!(app.users("strict").await, 0);
    assert_eq!(
        parts(
            app.signup(&req("ghopper@example.com", "correct horse battery"))
                .await
        )
        .await
        .0,
        200
    );
}

async fn concurrent_identical_signups_store_one_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let req = body("race@example.com");
    let results =
        futures::future::join_all((0..20).map(|_| async { parts(app.signup(&req).await).await }))
            .await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let exists = results
        .iter()
        .filter(|(s, b)| *s == 400 && *b == bad("user_exists", "The user already exists."))
        .count();
    assert_eq!((ok, exists), (1, 19), "{results:?}");
    assert_eq!(app.users(CONN).await, 1);
}

async fn enumeration_protection_hides_duplicates(backend: Backend) {
    let tenant = crate::helpers::TENANT.replace(
        "friendly_name: Test",
        "friendly_name: Test\n  signup_enumeration_protection: true",
    );
    let app = spawn_with(backend, Options::tenant(tenant)).await;
    assert_eq!(parts(app.signup(&body("e@example.com")).await).await.0, 200);
    expect_error(
        &app,
        body("e@example.com"),
        400,
        bad("invalid_signup", "Invalid sign up"),
    )
    .await;
}

async fn overload_is_refused_at_once(backend: Backend) {
    // One hashing worker, no queue, a deliberately slow hash: concurrent signups beyond the
    // first are answered 429 without waiting for it.
    let app = spawn_with(
        backend,
        Options {
            extra_args: [
                "--hash-workers",
                "1",
                "--hash-queue",
                "0",
                "--argon2-m-cost",
                "19456",
                "--argon2-t-cost",
                "20",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        },
    )
    .await;
    let results = futures::future::join_all((0..8).map(|i| {
        let app = &app;
        async move {
            let resp = app.signup(&body(&format!("o{i}@example.com"))).await;
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let (s, b) = parts(resp).await;
            (s, b, retry)
        }
    }))
    .await;
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 429).collect();
    assert!(ok >= 1, "{results:?}");
    assert!(!refused.is_empty(), "{results:?}");
    assert_eq!(ok + refused.len(), 8);
    for r in refused {
        assert_eq!(
            r.1,
            json!({"name": "TooManyRequestsError", "code": "too_many_requests", "description": "Too many requests, please try again later", "statusCode": 429})
        );
        assert_eq!(r.2.as_deref(), Some("1"));
    }
    assert_eq!(app.users(CONN).await, ok as i64);
}

async fn cors_follows_the_clients_web_origins(backend: Backend) {
    let app = spawn_app(backend).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/dbconnections/signup"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "auth0-client,content-type",
            )
            .send()
    };
    let resp = preflight("http://allowed.example").await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "http://allowed.example");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for needed in ["content-type", "auth0-client", "authorization"] {
        assert!(headers.contains(needed), "{headers}");
    }
    let resp = preflight("http://evil.example").await.unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));

    let post = |origin: &'static str, email: &'static str| {
        app.http
            .post(app.url("/dbconnections/signup"))
            .header("Origin", origin)
            .json(&body(email))
            .send()
    };
    let resp = post("http://allowed.example", "cors1@example.com")
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://allowed.example"
    );
    assert_eq!(resp.status(), 200);
    // Listed by another client only, or by no client: refused, and nothing is created.
    let forbidden = json!({"name": "ForbiddenError", "code": "unauthorized", "description": "Origin not allowed for this client", "statusCode": 403});
    for origin in ["http://other.example", "http://evil.example"] {
        let (s, b) = parts(post(origin, "cors2@example.com").await.unwrap()).await;
        assert_eq!((s, b), (403, forbidden.clone()));
    }
    assert_eq!(app.users(CONN).await, 1);
}

async fn unknown_routes_and_methods_answer_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let (s, b) = parts(app.http.get(app.url("/nope")).send().await.unwrap()).await;
    assert_eq!(
        (s, b),
        (
            404,
            json!({"error": "not_found", "error_description": "Not Found"})
        )
    );
    let (s, b) = parts(
        app.http
            .get(app.url("/dbconnections/signup"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b),
        (
            405,
            json!({"error": "method_not_allowed", "error_description": "Method Not Allowed"})
        )
    );
}

crate::both_stores!(
    full_profile_is_stored_and_echoed,
    minimal_signup_and_form_body,
    nulls_unknown_keys_and_telemetry_are_accepted,
    duplicate_email_is_user_exists_case_insensitively,
    duplicate_username,
    username_rules,
    username_is_ignored_without_requires_username,
    missing_and_mistyped_fields,
    email_picture_and_profile_rules,
    user_metadata_rules,
    malformed_bodies_answer_the_envelope,
    client_and_connection_errors,
    password_strength_is_byte_exact,
    dictionary_and_personal_info,
    concurrent_identical_signups_store_one_user,
    enumeration_protection_hides_duplicates,
    overload_is_refused_at_once,
    cors_follows_the_clients_web_origins,
    unknown_routes_and_methods_answer_json,
);
