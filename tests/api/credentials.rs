//! What an account's credentials and links may still do after they change, attacked as an
//! adversarial review did: guesses split between email and username, a verification link
//! opened after the address changed, a password set through the Management API while
//! sessions and refresh tokens are alive, one reset link posted 20 times at once, and the
//! other reset links after a reset.

use reqwest::Method;
use serde_json::{Value, json};

use crate::change_password::{Browser, change_password, emails, queued, reset_link};
use crate::helpers::{Backend, CLIENT, CONN, PASSWORD, TestApp, parts, raw, spawn_app};
use crate::management::{patch, urlencode};

const BLOCKED: &str = r#"{"error":"too_many_attempts","error_description":"Your account has been blocked after multiple consecutive login attempts."}"#;

async fn guess(app: &TestApp, username: &str, realm: &str) -> (u16, String) {
    raw(app
        .token(
            &json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": CLIENT, "client_secret": "app-secret", "realm": realm,
            "username": username, "password": "wrong"}),
        )
        .await)
    .await
}

/// Ten wrong guesses by email, then by username, for one account from one IP: the account is
/// blocked after ten in all, whichever identifier was typed.
async fn email_and_username_count_as_one_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = parts(
        app.signup(&json!({"client_id": CLIENT, "connection": "usernames",
            "email": "both@example.com", "username": "bothways", "password": PASSWORD}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for i in 0..10 {
        let who = if i % 2 == 0 {
            "both@example.com"
        } else {
            "bothways"
        };
        let (status, _) = guess(&app, who, "usernames").await;
        assert_eq!(status, 403, "guess {i}");
    }
    for who in ["bothways", "both@example.com", "BOTH@example.com"] {
        assert_eq!(
            guess(&app, who, "usernames").await,
            (429, BLOCKED.to_owned()),
            "{who}"
        );
    }
    // The block is the account's: the Management API shows it and lifts it.
    let admin = app.admin_token().await;
    let id = format!("auth0|{}", body["_id"].as_str().unwrap());
    let path = format!("/user-blocks/{}", urlencode(&id));
    let blocked = json!({"blocked_for": [{"identifier": "both@example.com", "ip": "127.0.0.1"}]});
    let (status, seen) = parts(app.api(Method::GET, &path, &admin).send().await.unwrap()).await;
    assert_eq!((status, seen), (200, blocked.clone()));
    let (status, seen) = parts(
        app.api(Method::GET, "/user-blocks?identifier=bothways", &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, seen),
        (
            200,
            json!({"blocked_for": [{"identifier": "bothways", "ip": "127.0.0.1"}]})
        )
    );
    let (status, _) = raw(app.api(Method::DELETE, &path, &admin).send().await.unwrap()).await;
    assert_eq!(status, 204);
    let (status, _) = guess(&app, "bothways", "usernames").await;
    assert_eq!(status, 403);
    // Unknown identifiers are still counted as typed.
    for _ in 0..10 {
        guess(&app, "ghost@example.com", CONN).await;
    }
    assert_eq!(
        guess(&app, "ghost@example.com", CONN).await,
        (429, BLOCKED.to_owned())
    );
}

fn link(mail: &Value, path: &str, base: &str) -> String {
    mail["body_text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains(path))
        .unwrap()
        .strip_prefix(base)
        .unwrap()
        .trim_end_matches('#')
        .to_owned()
}

/// Sign up (verification mail to A), PATCH the email to B, open A's link: B is not verified,
/// and A's reset link no longer works either.
async fn a_link_acts_only_on_the_address_it_was_sent_to(backend: Backend) {
    let tenant = format!(
        "{}emails:\n  verify_email:\n    enabled: true\n",
        crate::helpers::TENANT
    );
    let app = crate::helpers::spawn_with(backend, crate::helpers::Options::tenant(tenant)).await;
    let id = format!("auth0|{}", app.signed_up("a@example.com").await);
    change_password(&app, "a@example.com", CONN).await;
    queued(&app).await;
    let mails = emails(&app, "a@example.com").await;
    let verify = link(
        mails
            .iter()
            .find(|m| m["kind"] == "email_verification")
            .unwrap(),
        "/u/email-verification?ticket=",
        &app.base,
    );
    let reset = link(
        mails
            .iter()
            .find(|m| {
                m["body_text"]
                    .as_str()
                    .unwrap()
                    .contains("/u/reset-password?")
            })
            .unwrap(),
        "/u/reset-password?ticket=",
        &app.base,
    );
    let admin = app.admin_token().await;
    let (status, body) = patch(&app, &admin, &id, json!({"email": "b@example.com"})).await;
    assert_eq!(status, 200, "{body}");
    let b = Browser::new(&app);
    let (status, page) = b.open(&verify).await;
    assert_eq!(status, 400);
    assert!(page.contains("Your email address could not be verified"));
    let (_, user) = parts(
        app.api(Method::GET, &format!("/users/{}", urlencode(&id)), &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (user["email"].as_str(), user["email_verified"].as_bool()),
        (Some("b@example.com"), Some(false))
    );
    let (status, page) = b.open(&reset).await;
    assert_eq!(status, 400);
    assert!(page.contains("This link has expired"));
}

/// `PATCH /api/v2/users/{id}` with a password ends what a reset ends.
async fn a_password_set_through_the_api_ends_sessions_and_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = format!("auth0|{}", app.signed_up("p@example.com").await);
    let refresh = app
        .refresh_token("p@example.com", "openid offline_access")
        .await;
    // A block from ten wrong guesses.
    for _ in 0..10 {
        guess(&app, "p@example.com", CONN).await;
    }
    assert_eq!(
        guess(&app, "p@example.com", CONN).await,
        (429, BLOCKED.to_owned())
    );
    let admin = app.admin_token().await;
    let (status, body) = patch(&app, &admin, &id, json!({"password": "N3w-Passw0rd!"})).await;
    assert_eq!(status, 200, "{body}");
    let again = app
        .token(&json!({"grant_type": "refresh_token", "client_id": CLIENT,
            "client_secret": "app-secret", "refresh_token": refresh}))
        .await;
    assert_eq!(again.status(), 403, "the refresh token ended");
    let mut db = app.db().await;
    let bare = id.trim_start_matches("auth0|");
    for table in ["sessions", "refresh_tokens", "authorization_codes"] {
        let left: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1"))
                .bind(bare)
                .fetch_one(&mut db)
                .await
                .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    // The block was lifted with the new password.
    let (status, _) = parts(
        app.token(&json!({"grant_type": "password", "client_id": CLIENT,
            "client_secret": "app-secret", "username": "p@example.com",
            "password": "N3w-Passw0rd!"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
}

/// One reset link posted 20 times at once with 20 different passwords: exactly one is
/// answered "Password changed", and it is that one's password that is stored. Then the
/// user's other reset links have ended.
async fn one_reset_link_posted_in_parallel_wins_once(backend: Backend) {
    // A hashing queue deep enough that no post is refused for overload instead.
    let app = crate::helpers::spawn_with(
        backend,
        crate::helpers::Options::args(&["--hash-queue", "100"]),
    )
    .await;
    app.signed_up("race@example.com").await;
    change_password(&app, "race@example.com", CONN).await;
    queued(&app).await;
    let first = reset_link(&app, "race@example.com").await;
    // A later email (the outbox lists the newest first), past the per-address rate limit.
    app.clock.advance(std::time::Duration::from_secs(120));
    change_password(&app, "race@example.com", CONN).await;
    queued(&app).await;
    let second = reset_link(&app, "race@example.com").await;
    assert_ne!(first, second);
    let b = Browser::new(&app);
    let (status, html) = b.open(&second).await;
    assert_eq!(status, 200);
    let passwords: Vec<String> = (0..20).map(|i| format!("Race-Passw0rd-{i}!")).collect();
    let answers =
        futures::future::join_all(passwords.iter().map(|p| b.submit(&second, &html, p, p))).await;
    let winners: Vec<&String> = answers
        .iter()
        .zip(&passwords)
        .filter(|((status, page), _)| *status == 200 && page.contains("Password changed"))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (status, page) in &answers {
        assert!(
            *status == 200 || (*status == 400 && page.contains("This link has expired")),
            "{status} {page}"
        );
    }
    let app = &app;
    let login = |p: String| async move {
        app.token(&json!({"grant_type": "password", "client_id": CLIENT,
            "client_secret": "app-secret", "username": "race@example.com", "password": p}))
            .await
            .status()
            .as_u16()
    };
    // The winner's password logs in; every other one is wrong (the winner logs in again after
    // each few, so that the wrong ones never reach the brute-force block).
    for (i, p) in passwords.iter().filter(|p| *p != winners[0]).enumerate() {
        if i % 5 == 0 {
            assert_eq!(login(winners[0].clone()).await, 200);
        }
        assert_eq!(login(p.clone()).await, 403, "{p}");
    }
    // The first link, sent before the reset, has ended with it.
    let (status, page) = b.open(&first).await;
    assert_eq!(status, 400);
    assert!(page.contains("This link has expired"));
}

crate::both_stores!(
    email_and_username_count_as_one_account,
    a_link_acts_only_on_the_address_it_was_sent_to,
    a_password_set_through_the_api_ends_sessions_and_tokens,
    one_reset_link_posted_in_parallel_wins_once,
);
