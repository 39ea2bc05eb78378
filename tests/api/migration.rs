//! `users import` / `users export` through `latchkey::migration` (what the commands run), on
//! the test app's store: every hash algorithm logs in through `/oauth/token` and is Argon2id
//! afterwards, upsert rules field by field, malformed files, the hash export joined with its
//! profiles, and export → import into a fresh server.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::helpers::{Backend, CLIENT, CONN, TestApp, parts, spawn_app};
use latchkey::domain::migration::Summary;
use latchkey::domain::store::UserStore;
use latchkey::migration::{ExportRun, ImportRun, MigrationError, Progress};

pub(crate) async fn import(
    app: &TestApp,
    files: &[&Path],
    profiles: Option<&Path>,
    upsert: bool,
) -> (Result<Summary, MigrationError>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let errors = dir.path().join("errors.json");
    let run = ImportRun {
        connection: CONN.into(),
        upsert,
        files: files.iter().map(|p| p.to_path_buf()).collect(),
        profiles: profiles.map(Path::to_path_buf),
        errors: errors.clone(),
        progress: Progress::Quiet,
    };
    let result = latchkey::migration::import(app.store.clone(), app.clock.clone(), run).await;
    let written = std::fs::read_to_string(&errors)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (result, written)
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    parts(
        app.token(&json!({
            "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": CLIENT, "client_secret": "app-secret",
            "username": email, "password": password, "realm": CONN, "scope": "openid email",
        }))
        .await,
    )
    .await
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    app.store
        .user_by_id(id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
}

fn sub(body: &Value) -> String {
    let token = body["id_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One user per algorithm of migration.md, with its password (vectors from the spec and from
/// Python's hashlib, bcrypt and passlib).
fn every_algorithm() -> Vec<(Value, &'static str)> {
    let c = |id: &str, hash: Value| json!({"email": format!("{id}@example.com"), "user_id": id, "custom_password_hash": hash});
    vec![
        (
            json!({"email": "bcrypt@example.com", "user_id": "bcrypt", "password_hash": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}),
            "hello",
        ),
        (
            c(
                "bcrypt-2y",
                json!({"algorithm": "bcrypt", "hash": {"value": "$2y$04$UZwPTPrEZi5cTpArCU0VC.ONWYRML2MmgRFiB1rx/UzEwGLFam0Z2"}}),
            ),
            "correct horse",
        ),
        (
            c(
                "argon2i",
                json!({"algorithm": "argon2", "hash": {"value": "$argon2i$v=19$m=1024,t=2,p=4$e++d816rNYYwxlirNQYgZA$P3YSuL6s2/d+qRzpefJTib24depFImTgl3qsdGbAbWQ", "encoding": "utf8"}}),
            ),
            "correct horse",
        ),
        (
            c(
                "md5",
                json!({"algorithm": "md5", "hash": {"value": "67A1E09BB1F83F5007DC119C14D663AA", "encoding": "hex"}, "salt": {"value": "salt", "position": "prefix"}}),
            ),
            "password",
        ),
        (
            c(
                "md4",
                json!({"algorithm": "md4", "hash": {"value": "a448017aaf21d8525fc10ae87aa6729d", "encoding": "hex"}}),
            ),
            "abc",
        ),
        (
            c(
                "sha1",
                json!({"algorithm": "sha1", "hash": {"value": "YjOxnlnw8lITpqjG3t-XV9jV7os=", "encoding": "base64"}, "salt": {"value": "pepper", "position": "suffix"}}),
            ),
            "correct horse",
        ),
        (
            c(
                "sha256",
                json!({"algorithm": "sha256", "hash": {"value": "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631", "encoding": "hex"}}),
            ),
            "correct horse",
        ),
        (
            c(
                "sha512",
                json!({"algorithm": "sha512", "hash": {"value": "+VkZ76DO/i1TdDytmbdbAfRSM5YxApBTUpA1cECinSh/onR+DHQs8h/VNZCAJfj4yGmwyanaSsnSQxSknO7j3w==", "encoding": "base64"}, "salt": {"value": "pepper", "position": "prefix"}}),
            ),
            "correct horse",
        ),
        (
            c(
                "hmac",
                json!({"algorithm": "hmac", "hash": {"value": "cg7f42jH39/2EaAU4wNd4s2lKIk=", "encoding": "base64", "digest": "sha1", "key": {"value": "736868", "encoding": "hex"}}}),
            ),
            "test",
        ),
        (
            c(
                "ldap",
                json!({"algorithm": "ldap", "hash": {"value": "{SSHA}N5AvglyQgpuw+E6FIPXO/4H4ClROYUNsMTIzNA==", "encoding": "utf8"}}),
            ),
            "correct horse",
        ),
        (
            c(
                "pbkdf2",
                json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha512$i=1000,l=64$MDEyMzQ1Njc4OWFiY2RlZg$OM0FAoIqCVK1sWtxDiffVlBejtLa+ks4TP71JiecwuSZCG8iLbnlIEPOMoVX+i2B2wkSxjQ8CRGR9OkNGuIPMQ", "encoding": "utf8"}}),
            ),
            "correct horse",
        ),
        (
            c(
                "utf16",
                json!({"algorithm": "md5", "hash": {"value": "5635299b0882ffccd11e311d65a7ccf1", "encoding": "hex"}, "password": {"encoding": "utf16le"}}),
            ),
            "pässwörd",
        ),
    ]
}

async fn every_algorithm_logs_in_and_is_rehashed(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let users = every_algorithm();
    let file = write(
        dir.path(),
        "users.json",
        &serde_json::to_string(&users.iter().map(|(u, _)| u).collect::<Vec<_>>()).unwrap(),
    );
    let (result, errors) = import(&app, &[&file], None, false).await;
    assert_eq!(
        result.unwrap(),
        Summary {
            failed: 0,
            updated: 0,
            inserted: users.len() as u64,
            total: users.len() as u64
        },
        "{errors}"
    );
    app.signed_up("native@example.com").await;
    let (_, native_wrong) = login(&app, "native@example.com", "wrong-password").await;
    for (user, password) in &users {
        let id = user["user_id"].as_str().unwrap();
        let email = user["email"].as_str().unwrap();
        // A wrong password fails exactly as for a native user.
        assert_eq!(
            login(&app, email, "wrong-password").await,
            (403, native_wrong.clone()),
            "{id}"
        );
        assert!(
            !stored_hash(&app, id).await.starts_with("$argon2id$"),
            "{id}"
        );
        let (status, body) = login(&app, email, password).await;
        assert_eq!(status, 200, "{id}: {body}");
        assert_eq!(
            sub(&body),
            format!("auth0|{id}"),
            "the sub keeps the imported user_id"
        );
        assert!(
            stored_hash(&app, id).await.starts_with("$argon2id$"),
            "{id} re-hashed at login"
        );
        assert_eq!(
            login(&app, email, password).await.0,
            200,
            "{id} after re-hashing"
        );
    }

    // The same users on another server, each logging in first through the hosted login page.
    let paged = spawn_app(backend).await;
    assert_eq!(
        import(&paged, &[&file], None, false)
            .await
            .0
            .unwrap()
            .inserted,
        users.len() as u64
    );
    let browser = crate::authorize::Browser::new(&paged);
    let challenge =
        latchkey::domain::token::pkce_challenge("a-verifier-of-at-least-43-characters-0123456789");
    let params = [
        ("client_id", "spa-client"),
        ("response_type", "code"),
        ("redirect_uri", "http://app.example/callback"),
        ("scope", "openid"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (user, password) in &users {
        let id = user["user_id"].as_str().unwrap();
        let to = browser
            .login_as(&params, user["email"].as_str().unwrap(), password)
            .await;
        assert!(
            to.starts_with("http://app.example/callback?code="),
            "{id}: {to}"
        );
        assert!(
            stored_hash(&paged, id).await.starts_with("$argon2id$"),
            "{id} re-hashed by the page login"
        );
    }
}

async fn malformed_files_import_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"email":"a@example.com"}"#;
    // Good users, then a line that is not JSON: the file is refused before anything is written.
    let bad_json = write(
        dir.path(),
        "bad.ndjson",
        &format!("{good}\n{{\"email\": \"b@example.com\"\n"),
    );
    let (result, _) = import(&app, &[&bad_json], None, false).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: ", bad_json.display())),
        "{err}"
    );
    assert_eq!(app.users(CONN).await, 0);
    // A truncated gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, format!("[{good}, {good}]").repeat(200).as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let truncated = dir.path().join("cut.json.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (result, _) = import(&app, &[&truncated], None, false).await;
    assert!(result.is_err());
    assert_eq!(app.users(CONN).await, 0);
    // A good file and a bad one together: nothing either.
    let fine = write(dir.path(), "fine.json", &format!("[{good}]"));
    let (result, _) = import(&app, &[&fine, &bad_json], None, false).await;
    assert!(result.is_err());
    assert_eq!(app.users(CONN).await, 0);
    // Per-user problems: those users are refused with Auth0's codes, the rest imported.
    let mixed = write(dir.path(), "mixed.json", &json!([
        {"email": "ok@example.com"},
        {"email": "x@example.com", "favourite_colour": "blue"},
        {"email": "y@example.com", "custom_password_hash": {"algorithm": "crc32", "hash": {"value": "00"}}},
        {"email": "z@example.com", "password_hash": "$2x$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
        {"email": "not-an-email"},
        "a string",
    ]).to_string());
    let (result, errors) = import(&app, &[&mixed], None, false).await;
    assert_eq!(
        result.unwrap(),
        Summary {
            failed: 5,
            updated: 0,
            inserted: 1,
            total: 6
        }
    );
    assert_eq!(
        errors,
        json!([
            {"user": {"email": "x@example.com", "favourite_colour": "blue"}, "errors": [{"code": "OBJECT_ADDITIONAL_PROPERTIES", "message": "Additional properties not allowed: favourite_colour"}]},
            {"user": {"email": "y@example.com"}, "errors": [{"code": "INVALID_FORMAT", "message": "Error in custom_password_hash property - unsupported algorithm \"crc32\"", "path": "custom_password_hash"}]},
            {"user": {"email": "z@example.com"}, "errors": [{"code": "INVALID_FORMAT", "message": "Error in password_hash property - unsupported bcrypt version $2x$", "path": "password_hash"}]},
            {"user": {"email": "not-an-email"}, "errors": [{"code": "INVALID_FORMAT", "message": "Error in email property - Invalid format", "path": "email"}]},
            {"user": "a string", "errors": [{"code": "INVALID_TYPE", "message": "Expected type object"}]},
        ])
    );
    // An unknown connection.
    let run = ImportRun {
        connection: "nope".into(),
        upsert: false,
        files: vec![fine],
        profiles: None,
        errors: dir.path().join("e.json"),
        progress: Progress::Quiet,
    };
    let err = latchkey::migration::import(app.store.clone(), app.clock.clone(), run)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "no database connection named \"nope\"");
}

async fn upsert_follows_auth0s_field_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let md5 = |hex: &str| json!({"algorithm": "md5", "hash": {"value": hex, "encoding": "hex"}});
    // md5("abc") and md5("abcd").
    let first = json!([{"email": "u@example.com", "user_id": "u1", "name": "First", "nickname": "f",
        "username": "first", "blocked": false, "app_metadata": {"plan": "free"}, "user_metadata": {"lang": "en"},
        "custom_password_hash": md5("900150983cd24fb0d6963f7d28e17f72")}]);
    let f = write(dir.path(), "1.json", &first.to_string());
    assert_eq!(
        import(&app, &[&f], None, false).await.0.unwrap().inserted,
        1
    );
    // Again without upsert: refused as Auth0 words it.
    let (result, errors) = import(&app, &[&f], None, false).await;
    assert_eq!(
        result.unwrap(),
        Summary {
            failed: 1,
            updated: 0,
            inserted: 0,
            total: 1
        }
    );
    assert_eq!(
        errors[0]["errors"],
        json!([{"code": "DUPLICATED_USER", "message": "The user already exist and upsert parameter is false"}])
    );
    // With upsert: metadata, names and the custom hash change; blocked, user_id, username do not.
    let second = json!([{"email": "u@example.com", "user_id": "other-id", "name": "Second", "username": "second",
        "blocked": true, "email_verified": true, "app_metadata": {"plan": "pro"},
        "custom_password_hash": md5("e2fc714c4727ee9395f324cd2e7f331f")}]);
    let s = write(dir.path(), "2.json", &second.to_string());
    assert_eq!(
        import(&app, &[&s], None, true).await.0.unwrap(),
        Summary {
            failed: 0,
            updated: 1,
            inserted: 0,
            total: 1
        }
    );
    let mut db = app.db().await;
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        i64,
        String,
        String,
    );
    let row: Row = sqlx::query_as(
        "SELECT id, name, nickname, username, CAST(CASE WHEN blocked THEN 1 ELSE 0 END AS BIGINT), \
         CAST(CASE WHEN email_verified THEN 1 ELSE 0 END AS BIGINT), app_metadata, user_metadata \
         FROM users WHERE email = 'u@example.com'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "u1".into(),
            Some("Second".into()),
            Some("f".into()),
            Some("first".into()),
            0,
            1,
            r#"{"plan":"pro"}"#.into(),
            r#"{"lang":"en"}"#.into()
        )
    );
    assert_eq!(login(&app, "u@example.com", "abc").await.0, 403);
    assert_eq!(
        login(&app, "u@example.com", "abcd").await.0,
        200,
        "the new custom hash"
    );
    // Logged in with it (re-hashed): a later upsert leaves the password alone.
    let third = json!([{"email": "u@example.com", "custom_password_hash": md5("900150983cd24fb0d6963f7d28e17f72")}]);
    let t = write(dir.path(), "3.json", &third.to_string());
    assert_eq!(import(&app, &[&t], None, true).await.0.unwrap().updated, 1);
    assert_eq!(login(&app, "u@example.com", "abcd").await.0, 200);
    // Two records of one email in one file: the second is a duplicate (or, with upsert, an update).
    let twice = write(
        dir.path(),
        "twice.json",
        &json!([{"email": "t@example.com", "name": "A"}, {"email": "t@example.com", "name": "B"}])
            .to_string(),
    );
    assert_eq!(
        import(&app, &[&twice], None, false).await.0.unwrap(),
        Summary {
            failed: 1,
            updated: 0,
            inserted: 1,
            total: 2
        }
    );
    // A user_id another user has, with a new email: refused.
    let taken = write(
        dir.path(),
        "taken.json",
        &json!([{"email": "new@example.com", "user_id": "u1"}]).to_string(),
    );
    let (result, errors) = import(&app, &[&taken], None, true).await;
    assert_eq!(result.unwrap().failed, 1);
    assert_eq!(
        errors[0]["errors"][0]["message"],
        "The user_id or username already belongs to another user"
    );
}

async fn the_hash_export_joins_profiles_and_exports_round_trip(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    // Auth0's password-hash export (one with alt_id, one with only an ObjectId and the email in
    // identifiers), gzipped, and a profile export for the first.
    let hashes = [
        json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec93"}, "email_verified": false, "email": "euclid@example.com",
            "passwordHash": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K",
            "password_set_date": {"$date": "2019-12-06T18:36:12.412Z"}, "tenant": "t", "connection": CONN,
            "identifiers": [{"type": "email", "value": "euclid@example.com", "verified": false}], "alt_id": "euclid"}),
        json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec94"}, "email_verified": true,
            "passwordHash": "$2b$04$UZwPTPrEZi5cTpArCU0VC.ONWYRML2MmgRFiB1rx/UzEwGLFam0Z2",
            "identifiers": [{"type": "email", "value": "oid@example.com", "verified": true}]}),
    ];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for h in &hashes {
        std::io::Write::write_all(&mut gz, format!("{h}\n").as_bytes()).unwrap();
    }
    let hash_file = dir.path().join("hashes.ndjson.gz");
    std::fs::write(&hash_file, gz.finish().unwrap()).unwrap();
    let profiles = write(
        dir.path(),
        "profiles.ndjson",
        &format!(
            "{}\n",
            json!({"user_id": "auth0|euclid", "email": "euclid@example.com", "name": "Euclid of Alexandria",
               "user_metadata": {"field": "geometry"}, "created_at": "2019-12-06T18:36:12.412Z", "logins_count": 7,
               "identities": [{"provider": "auth0", "user_id": "euclid"}]})
        ),
    );
    let (result, errors) = import(&app, &[&hash_file], Some(&profiles), false).await;
    assert_eq!(
        result.unwrap(),
        Summary {
            failed: 0,
            updated: 0,
            inserted: 2,
            total: 2
        },
        "{errors}"
    );
    let (status, body) = login(&app, "euclid@example.com", "hello").await;
    assert_eq!((status, sub(&body)), (200, "auth0|euclid".to_owned()));
    let (status, body) = login(&app, "oid@example.com", "correct horse").await;
    assert_eq!(
        (status, sub(&body)),
        (200, "auth0|5dea9f9c82dd7c0e76e4ec94".to_owned())
    );

    // Every algorithm too, then export with hashes and import into a fresh server.
    let users = every_algorithm();
    let file = write(
        dir.path(),
        "all.json",
        &serde_json::to_string(&users.iter().map(|(u, _)| u).collect::<Vec<_>>()).unwrap(),
    );
    import(&app, &[&file], None, false).await.0.unwrap();
    app.signed_up("native@example.com").await;
    for (format, name) in [
        (latchkey::cli::ExportFormat::Ndjson, "users.ndjson"),
        (latchkey::cli::ExportFormat::Json, "users.json"),
        (latchkey::cli::ExportFormat::Csv, "users.csv"),
    ] {
        let n = latchkey::migration::export(
            app.store.clone(),
            ExportRun {
                connection: Some(CONN.into()),
                format,
                output: Some(dir.path().join(name)),
                with_hashes: Some(dir.path().join(format!("{name}.hashes"))),
                fields: None,
                limit: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(n, 2 + users.len() as u64 + 1);
        // The hashes are readable by their owner only, as `umask 022` would not make them.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(format!("{name}.hashes")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}.hashes");
    }
    let csv = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
    assert!(
        csv.starts_with("user_id,email,email_verified,username,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2 + users.len() + 1 + 1);
    let json_export: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("users.json")).unwrap())
            .unwrap();
    let euclid = json_export
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "euclid@example.com")
        .unwrap();
    assert_eq!(euclid["user_id"], "auth0|euclid");
    assert_eq!(euclid["name"], "Euclid of Alexandria");
    assert_eq!(euclid["user_metadata"], json!({"field": "geometry"}));
    assert_eq!(euclid["identities"][0]["provider"], "auth0");
    let hashes_text = std::fs::read_to_string(dir.path().join("users.ndjson.hashes")).unwrap();
    assert!(!hashes_text.contains("correct horse"));

    let fresh = spawn_app(backend).await;
    let (result, errors) = import(
        &fresh,
        &[&dir.path().join("users.ndjson.hashes")],
        Some(&dir.path().join("users.ndjson")),
        false,
    )
    .await;
    assert_eq!(
        result.unwrap().inserted,
        2 + users.len() as u64 + 1,
        "{errors}"
    );
    for (email, password, id) in [
        ("euclid@example.com", "hello", "euclid".to_owned()),
        (
            "native@example.com",
            crate::helpers::PASSWORD,
            String::new(),
        ),
    ] {
        let (status, body) = login(&fresh, email, password).await;
        assert_eq!(status, 200, "{email}: {body}");
        if !id.is_empty() {
            assert_eq!(sub(&body), format!("auth0|{id}"));
        }
    }
    for (user, password) in &users {
        let (status, body) = login(&fresh, user["email"].as_str().unwrap(), password).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(
            sub(&body),
            format!("auth0|{}", user["user_id"].as_str().unwrap())
        );
    }
}

async fn the_tenant_files_users_are_created_once(backend: Backend) {
    let seeds = format!(
        "{}users:\n  - email: ci@example.com\n    connection: {CONN}\n    password: \"Ci-Passw0rd!\"\n    email_verified: true\n    user_metadata: {{ plan: pro }}\n  - email: legacy@example.com\n    connection: {CONN}\n    user_id: legacy-1\n    password_hash: \"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K\"\n",
        crate::helpers::TENANT
    );
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let app = crate::helpers::spawn_on(
        &url,
        tempfile::tempdir().unwrap(),
        crate::helpers::Options::tenant(seeds.clone()),
    )
    .await;
    let (status, body) = login(&app, "ci@example.com", "Ci-Passw0rd!").await;
    assert_eq!(status, 200, "{body}");
    let (_, info) = parts(app.userinfo(body["access_token"].as_str().unwrap()).await).await;
    assert_eq!(info["email_verified"], true);
    let (status, body) = login(&app, "legacy@example.com", "hello").await;
    assert_eq!((status, sub(&body)), (200, "auth0|legacy-1".to_owned()));
    app.stop().await;
    // A restart with the same file creates nothing and changes nothing.
    let again = crate::helpers::spawn_on(&url, dir, crate::helpers::Options::tenant(seeds)).await;
    assert_eq!(again.users(CONN).await, 2);
    assert_eq!(login(&again, "ci@example.com", "Ci-Passw0rd!").await.0, 200);
    assert!(
        stored_hash(&again, "legacy-1")
            .await
            .starts_with("$argon2id$"),
        "the login re-hashed it; the restart kept that"
    );

    // Seeds that break a rule stop start-up with the file's line.
    for (seed, expected) in [
        (
            format!("  - email: weak@example.com\n    connection: {CONN}\n    password: short\n"),
            "users[0] (weak@example.com): the password does not meet the connection's password policy",
        ),
        (
            "  - email: where@example.com\n    connection: nowhere\n    password: \"Passw0rd!\"\n"
                .to_owned(),
            "users[0] (where@example.com): unknown connection \"nowhere\"",
        ),
        (
            format!("  - email: odd@example.com\n    connection: {CONN}\n    colour: blue\n"),
            "users[0] (odd@example.com): Additional properties not allowed: colour",
        ),
    ] {
        let err = crate::helpers::start_error(
            backend,
            &format!("{}users:\n{seed}", crate::helpers::TENANT),
        )
        .await;
        assert!(err.ends_with(expected), "{err}");
        assert!(err.contains("t.yaml:"), "{err}");
    }
}

fn users_form(file: &str, connection_id: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "users",
            reqwest::multipart::Part::bytes(file.as_bytes().to_vec())
                .file_name("users.json")
                .mime_str("application/json")
                .unwrap(),
        )
        .text("connection_id", connection_id.to_owned())
}

async fn post_import(
    app: &TestApp,
    token: Option<&str>,
    form: reqwest::multipart::Form,
) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/api/v2/jobs/users-imports"))
        .multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    parts(req.send().await.unwrap()).await
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    parts(
        app.http
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Runs pending jobs here (the app's own runner may take one first), then waits (bounded) for
/// `id` to finish.
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    while latchkey::migration::run_job(&app.services).await.unwrap() {}
    for _ in 0..200 {
        let (_, job) = get_json(app, token, &format!("/api/v2/jobs/{id}")).await;
        if job["status"] == "completed" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

async fn import_and_export_jobs(backend: Backend) {
    let app = spawn_app(backend).await;
    let con = latchkey::domain::tenant::connection_id(CONN);
    let token = app.management_token("create:users read:users").await;
    let file = json!([
        {"email": "job1@example.com", "user_id": "job-1", "app_metadata": {"plan": "pro"},
         "password_hash": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
        {"email": "job2@example.com", "app_metadata": {"plan": "free"}},
        {"email": "job1@example.com"},
    ])
    .to_string();
    // Who may.
    let (status, body) = post_import(&app, None, users_form(&file, &con)).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"statusCode": 401, "error": "Unauthorized", "message": "Missing authentication", "errorCode": "invalid_token"})
        )
    );
    let emails_only = app.management_token("read:emails").await;
    let (status, body) = post_import(&app, Some(&emails_only), users_form(&file, &con)).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"statusCode": 403, "error": "Forbidden",
        "message": "Insufficient scope, expected any of: create:users, create:users_imports", "errorCode": "insufficient_scope"})
        )
    );
    // Bad requests, in the Management envelope; nothing queued.
    let (status, body) = post_import(
        &app,
        Some(&token),
        reqwest::multipart::Form::new().text("connection_id", con.clone()),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"statusCode": 400, "error": "Bad Request",
        "message": "Payload validation error: 'Missing required property: users'.", "errorCode": "invalid_body"})
        )
    );
    let (status, body) = post_import(
        &app,
        Some(&token),
        users_form(&file, "con_0000000000000000"),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"statusCode": 404, "error": "Not Found",
        "message": "The connection does not exist.", "errorCode": "inexistent_connection"})
        )
    );
    let (status, body) = post_import(
        &app,
        Some(&token),
        users_form(&file, &con).text("upsert", "maybe"),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].clone()),
        (400, json!("invalid_body"))
    );
    let (status, body) = parts(
        app.http
            .post(app.url("/api/v2/jobs/users-imports"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            400,
            json!("Payload validation error: 'the body must be multipart/form-data'.")
        )
    );

    // An import: 202 pending, then completed with its summary and errors.
    let (status, job) = post_import(
        &app,
        Some(&token),
        users_form(&file, &con)
            .text("external_id", "ext-1")
            .text("upsert", "false"),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("job_") && id.len() == 20, "{id}");
    assert_eq!(
        job,
        json!({"type": "users_import", "status": "pending", "connection_id": con, "connection": CONN,
        "external_id": "ext-1", "upsert": false, "created_at": job["created_at"], "id": id})
    );
    let done = finished(&app, &token, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["summary"],
        json!({"failed": 1, "updated": 0, "inserted": 2, "total": 3})
    );
    let (status, errors) = get_json(&app, &token, &format!("/api/v2/jobs/{id}/errors")).await;
    assert_eq!(
        (status, errors),
        (
            200,
            json!([{"user": {"email": "job1@example.com"},
        "errors": [{"code": "DUPLICATED_USER", "message": "The user already exist and upsert parameter is false"}]}])
        )
    );
    assert_eq!(login(&app, "job1@example.com", "hello").await.0, 200);
    // Unknown jobs.
    let (status, body) = get_json(&app, &token, "/api/v2/jobs/job_nope").await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"statusCode": 404, "error": "Not Found", "message": "The job does not exist.", "errorCode": "inexistent_job"})
        )
    );
    // A file that does not parse: the job fails, nothing is imported.
    let (_, bad) = post_import(
        &app,
        Some(&token),
        users_form("[{\"email\": \"bad@example.com\"}, {", &con),
    )
    .await;
    let failed = finished(&app, &token, bad["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with("the users file cannot be read: "),
        "{failed}"
    );
    assert_eq!(app.users(CONN).await, 2);

    // An export with fields and a limit; the file downloads with the token.
    let (status, job) = parts(
        app.http
            .post(app.url("/api/v2/jobs/users-exports"))
            .bearer_auth(&token)
            .json(&json!({"connection_id": con, "format": "json", "limit": 1,
            "fields": [{"name": "email"}, {"name": "app_metadata.plan", "export_as": "plan"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(
        (
            job["type"].clone(),
            job["status"].clone(),
            job["format"].clone()
        ),
        (json!("users_export"), json!("pending"), json!("json"))
    );
    let done = finished(&app, &token, job["id"].as_str().unwrap()).await;
    let location = done["location"].as_str().unwrap();
    assert_eq!(
        location,
        format!(
            "{}/api/v2/jobs/{}/download",
            app.base,
            job["id"].as_str().unwrap()
        )
    );
    let resp = app
        .http
        .get(location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/gzip");
    let gz = resp.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["email", "plan"]
    );
    assert_eq!(app.http.get(location).send().await.unwrap().status(), 401);
    // Oversized bodies, announced or chunked: 413 in the Management envelope.
    let big = json!({"format": "json", "pad": "x".repeat(100_000)}).to_string();
    let exports = app.url("/api/v2/jobs/users-exports");
    let (status, got) = parts(
        app.http
            .post(&exports)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, got["statusCode"].clone(), got["errorCode"].clone()),
        (413, json!(413), json!("invalid_request")),
        "{got}"
    );
    let chunked = reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(
        big.into_bytes(),
    )]));
    let (status, got) = parts(
        app.http
            .post(&exports)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(chunked)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, got["statusCode"].clone(), got["errorCode"].clone()),
        (413, json!(413), json!("invalid_request")),
        "{got}"
    );
    let (status, got) = parts(
        app.http
            .post(&exports)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, got["message"].clone()),
        (400, json!("Payload validation error: 'Invalid JSON'."))
    );
    for (body, message) in [
        (
            json!({"format": "xml"}),
            "Payload validation error: 'No enum match for: \"xml\"' on property format (The format of the file. Must be json or csv.).",
        ),
        (
            json!({"colour": "blue"}),
            "Payload validation error: 'Additional properties not allowed: colour'.",
        ),
        (
            json!({"limit": -1}),
            "Payload validation error: 'limit must be a positive integer'.",
        ),
    ] {
        let (status, got) = parts(
            app.http
                .post(app.url("/api/v2/jobs/users-exports"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, got["message"].clone()),
            (400, json!(message)),
            "{body}"
        );
    }
}

/// A job queued on one instance runs after it stops, on another one sharing the store.
async fn jobs_survive_a_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let first =
        crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), Default::default()).await;
    let token = first.management_token("create:users").await;
    let con = latchkey::domain::tenant::connection_id(CONN);
    let (status, job) = post_import(
        &first,
        Some(&token),
        users_form(&json!([{"email": "later@example.com"}]).to_string(), &con),
    )
    .await;
    assert_eq!(status, 202);
    first.stop().await;
    let second = crate::helpers::spawn_on(&url, dir, Default::default()).await;
    let token = second.management_token("create:users").await;
    let done = finished(&second, &token, job["id"].as_str().unwrap()).await;
    assert_eq!(done["summary"]["inserted"], 1, "{done}");
}

crate::both_stores!(
    import_and_export_jobs,
    jobs_survive_a_restart,
    the_tenant_files_users_are_created_once,
    every_algorithm_logs_in_and_is_rehashed,
    malformed_files_import_nothing,
    upsert_follows_auth0s_field_rules,
    the_hash_export_joins_profiles_and_exports_round_trip,
);
