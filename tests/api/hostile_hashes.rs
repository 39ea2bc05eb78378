//! Imported password hashes an attacker (or a careless export) chose: costs above the
//! ceilings, strings the verifier cannot read, a hostile hash already stored; and the dummy
//! hash after a cost raise, which must cost what most stored accounts cost.

use serde_json::json;

use crate::helpers::{Backend, CLIENT, Options, PASSWORD, raw, spawn_app};
use crate::migration::{import, write};
use latchkey::domain::migration::Summary;
use latchkey::infra::hasher::HashParams;

const BCRYPT: &str = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";

async fn imported_costs_above_the_ceilings_are_refused_per_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let argon = |params: &str| {
        json!({"algorithm": "argon2", "hash": {"value": format!(
            "$argon2id$v=19${params}$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY"
        ), "encoding": "utf8"}})
    };
    // The 22nd salt character must leave the low bits of 16 bytes clear: `.Oeu` only.
    let unreadable = BCRYPT.replacen("nFguVi9LsCAcvTZFKQlRKe", "nFguVi9LsCAcvTZFKQlRKf", 1);
    let users = json!([
        {"email": "m@example.com", "custom_password_hash": argon("m=4194304,t=1,p=1")},
        {"email": "t@example.com", "custom_password_hash": argon("m=1024,t=4294967295,p=1")},
        {"email": "p@example.com", "custom_password_hash": argon("m=1024,t=1,p=64")},
        {"email": "b31@example.com", "password_hash": BCRYPT.replace("$10$", "$31$")},
        {"email": "b15@example.com", "password_hash": BCRYPT.replace("$10$", "$15$")},
        {"email": "salt@example.com", "password_hash": unreadable},
        {"email": "pbkdf2@example.com", "custom_password_hash": {"algorithm": "pbkdf2",
            "hash": {"value": "$pbkdf2-sha256$i=10000000,l=32$c2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY", "encoding": "utf8"}}},
        {"email": "ok@example.com", "password_hash": BCRYPT.replace("$10$", "$14$")},
        {"email": "fine@example.com", "custom_password_hash": argon("m=262144,t=10,p=16")},
    ]);
    let file = write(dir.path(), "hostile.json", &users.to_string());
    let (result, errors) = import(&app, &[&file], None, false).await;
    assert_eq!(
        result.unwrap(),
        Summary {
            failed: 7,
            updated: 0,
            inserted: 2,
            total: 9
        }
    );
    let argon_ceiling = "Error in custom_password_hash property - Argon2 parameters above the ceiling (m <= 262144, t <= 10, p <= 16)";
    let messages: Vec<(&str, &str)> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"]["email"].as_str().unwrap(),
                e["errors"][0]["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            ("m@example.com", argon_ceiling),
            ("t@example.com", argon_ceiling),
            ("p@example.com", argon_ceiling),
            (
                "b31@example.com",
                "Error in password_hash property - bcrypt cost 31 is above the ceiling of 14"
            ),
            (
                "b15@example.com",
                "Error in password_hash property - bcrypt cost 15 is above the ceiling of 14"
            ),
            (
                "salt@example.com",
                "Error in password_hash property - password_hash is not a complete bcrypt hash"
            ),
            (
                "pbkdf2@example.com",
                "Error in custom_password_hash property - pbkdf2 iterations must be 1..1000000"
            ),
        ]
    );
}

/// A hash above the ceilings stored before imports were bounded: a wrong password for its
/// user is an ordinary 403 (no allocation of 4 GiB, no abort), and it never sizes the dummy.
async fn a_stored_hostile_hash_is_never_computed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let app =
        crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), Options::default()).await;
    let id = app.signed_up("huge@example.com").await;
    let bcrypt_id = app.signed_up("slow@example.com").await;
    let salt_id = app.signed_up("salt@example.com").await;
    app.sql(&format!(
        "UPDATE users SET password_hash = '$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY' WHERE id = '{id}'"
    ))
    .await;
    app.sql(&format!(
        "UPDATE users SET password_hash = '{}' WHERE id = '{bcrypt_id}'",
        BCRYPT.replace("$10$", "$31$")
    ))
    .await;
    // Unreadable by the verifier: the same answer as a wrong password, not a 500.
    app.sql(&format!(
        "UPDATE users SET password_hash = '{}' WHERE id = '{salt_id}'",
        BCRYPT.replacen("nFguVi9LsCAcvTZFKQlRKe", "nFguVi9LsCAcvTZFKQlRKf", 1)
    ))
    .await;
    for email in ["huge@example.com", "slow@example.com", "salt@example.com"] {
        let (status, body) = raw(app
            .token(&json!({"grant_type": "password", "client_id": CLIENT,
                "client_secret": "app-secret", "username": email, "password": "wrong"}))
            .await)
        .await;
        assert_eq!(
            (status, body.as_str()),
            (
                403,
                r#"{"error":"invalid_grant","error_description":"Wrong email or password."}"#
            ),
            "{email}"
        );
    }
    app.stop().await;
    // Restarted: the hostile class is not what unknown users cost.
    let app = crate::helpers::spawn_on(&url, dir, Options::default()).await;
    assert_eq!(
        app.hasher.dummy_params(),
        HashParams {
            m_cost: 256,
            t_cost: 1,
            p_cost: 1
        }
    );
}

/// The operator raises the Argon2 cost (m=512 → m=1024) while the stored accounts keep
/// m=512 until they log in again: an unknown user must cost what those accounts' wrong
/// passwords cost, not the new cost.
async fn after_a_cost_raise_the_dummy_costs_what_most_accounts_cost(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let cheap = || Options::args(&["--argon2-m-cost", "512"]);
    let before = crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), cheap()).await;
    for who in ["a", "b", "c"] {
        before.signed_up(&format!("{who}@example.com")).await;
    }
    before.stop().await;
    let raised = || Options::args(&["--argon2-m-cost", "1024"]);
    let app = crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), raised()).await;
    let stored = HashParams {
        m_cost: 512,
        t_cost: 1,
        p_cost: 1,
    };
    assert_eq!(app.hasher.dummy_params(), stored);
    // One account logs in (re-hashed at m=1024); most still hold m=512.
    app.login("a@example.com", "openid").await;
    app.stop().await;
    let app = crate::helpers::spawn_on(&url, dir, raised()).await;
    assert_eq!(app.hasher.dummy_params(), stored);
    let (status, _) = raw(app
        .token(&json!({"grant_type": "password", "client_id": CLIENT,
            "client_secret": "app-secret", "username": "nobody@example.com", "password": PASSWORD}))
        .await)
    .await;
    assert_eq!(status, 403);
}

/// Records a `POST /users` would refuse are refused at import too, one by one: control
/// characters in a field or in metadata (keys and values), ids that cannot name a user, and
/// metadata over 16 kB.
async fn hostile_import_records_are_refused_per_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let users = json!([
        {"email": "nul@example.com", "name": "a\u{0}b"},
        {"email": "key@example.com", "user_metadata": {"a\u{0}": "v"}},
        {"email": "value@example.com", "app_metadata": {"deep": ["x\u{0}"]}},
        {"email": "dots@example.com", "user_id": "../../etc"},
        {"email": "pipe@example.com", "user_id": "auth0|a|b"},
        {"email": "big@example.com", "user_metadata": {"blob": "x".repeat(17_000)}},
        {"email": "ok@example.com", "user_id": "auth0|5f0c8a1b2c3d", "user_metadata": {"note": "two\nlines"}},
    ]);
    let file = write(dir.path(), "hostile.json", &users.to_string());
    let (result, errors) = import(&app, &[&file], None, false).await;
    assert_eq!(
        result.unwrap(),
        Summary {
            failed: 6,
            updated: 0,
            inserted: 1,
            total: 7
        }
    );
    let messages: Vec<&str> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["errors"][0]["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "Error in name property - must not contain control characters",
            "Error in user_metadata property - must not contain control characters",
            "Error in app_metadata property - must not contain control characters",
            "Error in user_id property - Invalid format",
            "Error in user_id property - Invalid format",
            "Error in user_metadata property - larger than 16384 bytes",
        ]
    );
}

crate::both_stores!(
    hostile_import_records_are_refused_per_user,
    imported_costs_above_the_ceilings_are_refused_per_user,
    a_stored_hostile_hash_is_never_computed,
    after_a_cost_raise_the_dummy_costs_what_most_accounts_cost,
);
