//! Password reset: `POST /dbconnections/change_password` (same answer for known and unknown
//! emails, the dbconnections envelope, the rate limit), the ticket and its email in the outbox
//! (read through `GET /api/v2/emails`), and the reset page (policy, history, CSRF, single use,
//! expiry, what a reset ends).

use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, CLIENT, CONN, PASSWORD, TestApp, parts, raw, spawn_app};

const SENT: &str = "We've just sent you an email to reset your password.";

pub(crate) async fn change_password(
    app: &TestApp,
    email: &str,
    connection: &str,
) -> reqwest::Response {
    app.http
        .post(app.url("/dbconnections/change_password"))
        .json(&json!({"client_id": CLIENT, "email": email, "connection": connection}))
        .send()
        .await
        .unwrap()
}

/// Waits for the emails queued after their requests' answers.
pub(crate) async fn queued(app: &TestApp) {
    app.services.background.close();
    app.services.background.wait().await;
    app.services.background.reopen();
}

pub(crate) async fn emails(app: &TestApp, to: &str) -> Vec<Value> {
    let token = app.management_token("read:emails").await;
    let resp = app
        .http
        .get(app.url(&format!("/api/v2/emails?to={to}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, body) = parts(resp).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// The reset link of the newest email to `to`, as a path.
pub(crate) async fn reset_link(app: &TestApp, to: &str) -> String {
    let mail = emails(app, to).await;
    let text = mail[0]["body_text"].as_str().unwrap();
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/u/reset-password?ticket="))
        .unwrap();
    url.strip_prefix(&app.base)
        .unwrap()
        .trim_end_matches('#')
        .to_owned()
}

pub(crate) struct Browser(pub(crate) reqwest::Client, String);

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Self {
        Browser(
            reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            app.base.clone(),
        )
    }

    pub(crate) async fn open(&self, path: &str) -> (u16, String) {
        raw(self
            .0
            .get(format!("{}{path}", self.1))
            .send()
            .await
            .unwrap())
        .await
    }

    pub(crate) async fn submit(
        &self,
        path: &str,
        html: &str,
        password: &str,
        confirmation: &str,
    ) -> (u16, String) {
        let at = html
            .find(r#"name="_csrf" value=""#)
            .unwrap_or_else(|| panic!("no form: {html}"))
            + r#"name="_csrf" value=""#.len();
        let csrf = html[at..at + html[at..].find('"').unwrap()].replace("&#x2f;", "/");
        let form = [
            ("_csrf", csrf.as_str()),
            ("password", password),
            ("password-confirmation", confirmation),
        ];
        raw(self
            .0
            .post(format!("{}{path}", self.1))
            .form(&form)
            .send()
            .await
            .unwrap())
        .await
    }
}

fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'").replace("&#x2f;", "/")
}

async fn the_answer_is_the_same_for_unknown_emails(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    for email in ["Jane@Example.com", "nobody@example.com"] {
        let resp = change_password(&app, email, CONN).await;
        assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(raw(resp).await, (200, SENT.to_owned()));
    }
    queued(&app).await;
    assert_eq!(emails(&app, "jane@example.com").await.len(), 1);
    assert!(emails(&app, "nobody@example.com").await.is_empty());
    let mail = &emails(&app, "jane@example.com").await[0];
    assert_eq!(mail["subject"], "Reset your Test password");
    assert!(
        mail["body_html"]
            .as_str()
            .unwrap()
            .contains(&format!("href=\"{}/u/reset-password?ticket=", app.base))
    );
    // The ticket is stored hashed.
    let link = reset_link(&app, "jane@example.com").await;
    let ticket = link.split("ticket=").nth(1).unwrap().to_owned();
    assert_eq!(ticket.len(), 32);
    let mut db = app.db().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM tickets")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], ticket);
}

async fn bad_requests_use_the_dbconnections_envelope(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = |body: Value| {
        let app = &app;
        async move {
            parts(
                app.http
                    .post(app.url("/dbconnections/change_password"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(
        post(json!({"client_id": CLIENT, "connection": CONN})).await,
        (
            400,
            json!({"name": "BadRequestError", "code": "invalid_body", "description": "Missing required property: email", "statusCode": 400})
        )
    );
    assert_eq!(
        post(json!({"client_id": "nope", "connection": CONN, "email": "a@example.com"})).await,
        (
            401,
            json!({"name": "UnauthorizedError", "code": "invalid_client", "description": "Unknown client", "statusCode": 401})
        )
    );
    assert_eq!(
        post(json!({"client_id": CLIENT, "connection": "nope", "email": "a@example.com"})).await,
        (
            400,
            json!({"name": "BadRequestError", "code": "invalid_connection", "description": "The connection does not exist", "statusCode": 400})
        )
    );
    assert_eq!(
        post(json!({"client_id": CLIENT, "connection": CONN, "email": "not-an-email"})).await,
        (
            400,
            json!({"name": "BadRequestError", "code": "invalid_body", "description": "email is not a valid email address", "statusCode": 400})
        )
    );
    // Auth0's limit: ten in a burst per IP and email, then one a minute.
    for _ in 0..10 {
        assert_eq!(
            change_password(&app, "burst@example.com", CONN)
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        parts(change_password(&app, "burst@example.com", CONN).await).await,
        (
            429,
            json!({"name": "TooManyRequestsError", "code": "too_many_requests", "description": "Too many requests, please try again later", "statusCode": 429})
        )
    );
    assert_eq!(
        change_password(&app, "other@example.com", CONN)
            .await
            .status(),
        200
    );
}

async fn the_outbox_needs_a_management_token_with_its_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .http
        .get(app.url("/api/v2/emails"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(resp).await,
        (
            401,
            json!({"statusCode": 401, "error": "Unauthorized", "message": "Missing authentication", "errorCode": "invalid_token"})
        )
    );
    let token = app.management_token("read:users").await;
    let resp = app
        .http
        .get(app.url("/api/v2/emails"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(resp).await,
        (
            403,
            json!({"statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: read:emails", "errorCode": "insufficient_scope"})
        )
    );
    // A user's access token is not a management token.
    app.signed_up("jane@example.com").await;
    let user = app.login("jane@example.com", "openid").await;
    let resp = app
        .http
        .get(app.url("/api/v2/emails"))
        .bearer_auth(user["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

async fn the_reset_page_sets_a_new_password_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let refresh = app
        .refresh_token("jane@example.com", "openid offline_access")
        .await;
    change_password(&app, "jane@example.com", CONN).await;
    queued(&app).await;
    let link = reset_link(&app, "jane@example.com").await;
    let b = Browser::new(&app);
    let (status, html) = b.open(&link).await;
    assert_eq!(status, 200);
    for needle in [
        r#"<input id="password" name="password" type="password""#,
        r#"<input id="password-confirmation" name="password-confirmation" type="password""#,
        "At least 8 characters in length",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let (status, page) = b.submit(&link, &html, "weak", "weak").await;
    assert_eq!(status, 400);
    assert!(
        page.contains(r#"id="error-element-password" role="alert">Password is too weak</p>"#),
        "{page}"
    );
    assert!(page.contains(r#"<li class="unmet">At least 8 characters in length</li>"#));
    let (status, page) = b
        .submit(&link, &html, "N3w-Passw0rd!", "N3w-Passw0rd?")
        .await;
    assert_eq!(status, 400);
    assert!(page.contains(r#"id="error-element-password-confirmation" role="alert">The passwords do not match.</p>"#), "{page}");
    // Without the CSRF cookie (another browser), nothing changes.
    let (status, _) = Browser::new(&app)
        .submit(&link, &html, "N3w-Passw0rd!", "N3w-Passw0rd!")
        .await;
    assert_eq!(status, 403);

    let (status, page) = b
        .submit(&link, &html, "N3w-Passw0rd!", "N3w-Passw0rd!")
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Password changed"));
    // The old password fails, the new one logs in; the refresh token and sessions ended.
    let old = app
        .token(
            &json!({"grant_type": "password", "client_id": CLIENT, "client_secret": "app-secret",
        "username": "jane@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status(), 403);
    let new = app
        .token(
            &json!({"grant_type": "password", "client_id": CLIENT, "client_secret": "app-secret",
        "username": "jane@example.com", "password": "N3w-Passw0rd!"}),
        )
        .await;
    assert_eq!(new.status(), 200);
    let again = app.token(&json!({"grant_type": "refresh_token", "client_id": CLIENT, "client_secret": "app-secret", "refresh_token": refresh})).await;
    assert_eq!(again.status(), 403);
    let mut db = app.db().await;
    let reset: Option<i64> = sqlx::query_scalar(
        "SELECT last_password_reset FROM users WHERE email = 'jane@example.com'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(reset.is_some());

    // The link is single-use.
    let (status, page) = b.open(&link).await;
    assert_eq!(status, 400);
    assert!(page.contains("This link has expired"));
    let (status, _) = b
        .submit(&link, &html, "An0ther-Passw0rd!", "An0ther-Passw0rd!")
        .await;
    assert_eq!(status, 400);
    // Forged and truncated tickets read the same.
    for bad in [
        "/u/reset-password?ticket=forged",
        "/u/reset-password",
        &link[..link.len() - 3],
    ] {
        let (status, page) = b.open(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(page.contains("This link has expired"));
    }
}

async fn resets_clear_brute_force_blocks_and_respect_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = {
        let (status, body) = parts(
            app.signup(&json!({"client_id": CLIENT, "connection": "history",
            "email": "h@example.com", "password": "first-pass"}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["_id"].as_str().unwrap().to_owned()
    };
    let login = |pw: &'static str| {
        let app = &app;
        async move {
            app.token(&json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "client_id": CLIENT,
                "client_secret": "app-secret", "username": "h@example.com", "password": pw, "realm": "history"}))
                .await
                .status()
                .as_u16()
        }
    };
    for _ in 0..10 {
        assert_eq!(login("wrong-pass").await, 403);
    }
    assert_eq!(login("first-pass").await, 429);

    let b = Browser::new(&app);
    change_password(&app, "h@example.com", "history").await;
    queued(&app).await;
    let link = reset_link(&app, "h@example.com").await;
    let (_, html) = b.open(&link).await;
    let (status, page) = b.submit(&link, &html, "first-pass", "first-pass").await;
    assert_eq!(status, 400);
    assert!(
        unescape(&page).contains(
            r#"id="error-element-password" role="alert">Password has previously been used</p>"#
        ),
        "{page}"
    );
    let (status, _) = b.submit(&link, &html, "second-pass", "second-pass").await;
    assert_eq!(status, 200);
    assert_eq!(
        login("second-pass").await,
        200,
        "the reset cleared the block"
    );
    assert_eq!(app.store.password_history(&id).await.unwrap().len(), 2);

    // An expired link (five days) changes nothing. (A second later: the outbox lists the
    // newest email first.)
    app.clock.advance(std::time::Duration::from_secs(1));
    change_password(&app, "h@example.com", "history").await;
    queued(&app).await;
    let link = reset_link(&app, "h@example.com").await;
    let (_, html) = b.open(&link).await;
    app.clock.advance(std::time::Duration::from_secs(432_001));
    let (status, page) = b.submit(&link, &html, "third-pass", "third-pass").await;
    assert_eq!(status, 400);
    assert!(page.contains("This link has expired"));
    assert_eq!(login("second-pass").await, 200);
}

/// A mailer that records what it delivers, failing the first `fail` attempts.
#[derive(Default)]
struct Recorder {
    fail: std::sync::atomic::AtomicUsize,
    /// Failures are permanent (a 5xx) instead of transient.
    refuse: std::sync::atomic::AtomicBool,
    sent: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl latchkey::domain::ports::Mailer for Recorder {
    async fn send(
        &self,
        m: &latchkey::domain::store::OutboxMessage,
    ) -> Result<(), latchkey::domain::ports::MailError> {
        use std::sync::atomic::Ordering;
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            if self.refuse.load(Ordering::SeqCst) {
                return Err(latchkey::domain::ports::MailError::Permanent(
                    "550 no such mailbox".into(),
                ));
            }
            return Err(latchkey::domain::ports::MailError::Transient(
                "421 try later".into(),
            ));
        }
        self.sent.lock().unwrap().push(m.id.clone());
        Ok(())
    }
}

async fn the_outbox_is_delivered_once_with_retries(backend: Backend) {
    use latchkey::domain::outbox::deliver_due;
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    change_password(&app, "jane@example.com", CONN).await;
    queued(&app).await;
    let mailer = Recorder::default();
    mailer.fail.store(2, std::sync::atomic::Ordering::SeqCst);
    // Two failures: the second try waits 10 s, the third 20 s more.
    assert_eq!(deliver_due(&app.services, &mailer).await.unwrap(), 0);
    assert_eq!(
        deliver_due(&app.services, &mailer).await.unwrap(),
        0,
        "not due yet"
    );
    let mail = &emails(&app, "jane@example.com").await[0];
    assert_eq!(mail["attempts"], 1);
    assert_eq!(mail["last_error"], "temporary failure: 421 try later");
    assert_eq!(mail["sent_at"], Value::Null);
    app.clock.advance(std::time::Duration::from_secs(10));
    assert_eq!(deliver_due(&app.services, &mailer).await.unwrap(), 0);
    app.clock.advance(std::time::Duration::from_secs(19));
    assert_eq!(
        deliver_due(&app.services, &mailer).await.unwrap(),
        0,
        "backoff doubled"
    );
    app.clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(deliver_due(&app.services, &mailer).await.unwrap(), 1);
    assert_eq!(
        deliver_due(&app.services, &mailer).await.unwrap(),
        0,
        "sent once"
    );
    assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    let mail = &emails(&app, "jane@example.com").await[0];
    assert_eq!(mail["attempts"], 2);
    assert!(mail["sent_at"].is_i64());

    // A permanent refusal (5xx) is not retried; transient ones stop after MAX_ATTEMPTS.
    app.signed_up("gone@example.com").await;
    change_password(&app, "gone@example.com", CONN).await;
    queued(&app).await;
    let refusing = Recorder::default();
    refusing
        .refuse
        .store(true, std::sync::atomic::Ordering::SeqCst);
    refusing
        .fail
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..30 {
        deliver_due(&app.services, &refusing).await.unwrap();
        app.clock.advance(std::time::Duration::from_secs(3600));
    }
    let gone = &emails(&app, "gone@example.com").await[0];
    assert_eq!(gone["attempts"], 1);
    assert_eq!(gone["last_error"], "permanent failure: 550 no such mailbox");
    let retrying = Recorder::default();
    retrying
        .fail
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    app.signed_up("later@example.com").await;
    change_password(&app, "later@example.com", CONN).await;
    queued(&app).await;
    for _ in 0..30 {
        deliver_due(&app.services, &retrying).await.unwrap();
        app.clock.advance(std::time::Duration::from_secs(3600));
    }
    let later = &emails(&app, "later@example.com").await[0];
    assert_eq!(
        later["attempts"].as_i64(),
        Some(latchkey::domain::outbox::MAX_ATTEMPTS)
    );
    assert_eq!(later["sent_at"], Value::Null);

    // Many messages, two senders at once: each message goes out once.
    for i in 0..20 {
        app.signed_up(&format!("u{i}@example.com")).await;
        change_password(&app, &format!("u{i}@example.com"), CONN).await;
    }
    queued(&app).await;
    let (a, b) = (Recorder::default(), Recorder::default());
    let (x, y) = tokio::join!(
        deliver_due(&app.services, &a),
        deliver_due(&app.services, &b)
    );
    assert_eq!(x.unwrap() + y.unwrap(), 20);
    let mut all: Vec<String> = a
        .sent
        .lock()
        .unwrap()
        .iter()
        .chain(b.sent.lock().unwrap().iter())
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20);
}

async fn the_tenant_file_sets_the_email_and_the_link(backend: Backend) {
    let tenant = format!(
        "{}emails:\n  reset_email:\n    from: \"Acme <no-reply@acme.example>\"\n    subject: \"{{{{ friendly_name }}}}: new password for {{{{ user.email }}}}\"\n    body_text: \"Go to {{{{ url }}}}\"\n    body_html: \"<a href='{{{{ url }}}}'>{{{{ user.name }}}}</a>\"\n    url_lifetime_in_seconds: 3600\n    result_url: https://app.example/after-reset\n",
        crate::helpers::TENANT
    );
    let app = crate::helpers::spawn_with(backend, crate::helpers::Options::tenant(tenant)).await;
    let (status, _) = parts(
        app.signup(&json!({"client_id": CLIENT, "connection": CONN,
        "email": "t@example.com", "password": PASSWORD, "name": "<b>Tom</b>"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    change_password(&app, "t@example.com", CONN).await;
    queued(&app).await;
    let mail = &emails(&app, "t@example.com").await[0];
    assert_eq!(mail["subject"], "Test: new password for t@example.com");
    assert_eq!(mail["from"], "Acme <no-reply@acme.example>");
    assert!(
        mail["body_text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Go to {}/u/reset-password?ticket=", app.base))
    );
    // Variables are escaped in the HTML body.
    assert!(
        mail["body_html"]
            .as_str()
            .unwrap()
            .ends_with(">&lt;b&gt;Tom&lt;&#x2f;b&gt;</a>"),
        "{mail}"
    );
    let link = reset_link(&app, "t@example.com").await;
    let b = Browser::new(&app);
    let (_, html) = b.open(&link).await;
    let resp =
        b.0.post(format!("{}{link}", app.base))
            .form(&[
                (
                    "_csrf",
                    html.split(r#"name="_csrf" value=""#)
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap()
                        .replace("&#x2f;", "/")
                        .as_str(),
                ),
                ("password", "N3w-Passw0rd!"),
                ("password-confirmation", "N3w-Passw0rd!"),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"],
        "https://app.example/after-reset"
    );
    // The link's lifetime is the template's: an hour.
    app.clock.advance(std::time::Duration::from_secs(1));
    change_password(&app, "t@example.com", CONN).await;
    queued(&app).await;
    app.clock.advance(std::time::Duration::from_secs(3601));
    let (status, _) = b.open(&reset_link(&app, "t@example.com").await).await;
    assert_eq!(status, 400);
    // A template that does not parse, or a sender that is no address, stops start-up with
    // the file's line.
    for (part, expected) in [
        (
            "subject: \"{{ url \"",
            "emails.reset_email.subject does not parse",
        ),
        (
            "from: \"Acme <no-reply>\"",
            "emails.reset_email.from must be an address like",
        ),
    ] {
        let bad = format!(
            "{}emails:\n  reset_email:\n    {part}\n",
            crate::helpers::TENANT
        );
        let err = crate::helpers::start_error(backend, &bad).await;
        assert!(err.contains(expected), "{err}");
    }
}

async fn signup_sends_a_verification_link_that_works_once(backend: Backend) {
    let tenant = format!(
        "{}emails:\n  verify_email:\n    enabled: true\n    subject: \"Welcome to {{{{ friendly_name }}}}\"\n",
        crate::helpers::TENANT
    );
    let app = crate::helpers::spawn_with(backend, crate::helpers::Options::tenant(tenant)).await;
    app.signed_up("v@example.com").await;
    queued(&app).await;
    let mail = &emails(&app, "v@example.com").await[0];
    assert_eq!(mail["subject"], "Welcome to Test");
    assert_eq!(mail["kind"], "email_verification");
    let text = mail["body_text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/u/email-verification?ticket="))
        .unwrap();
    let path = link
        .strip_prefix(&app.base)
        .unwrap()
        .trim_end_matches('#')
        .to_owned();
    let before = app.login("v@example.com", "openid email").await;
    let claims = |jwt: &str| -> Value {
        use base64::Engine as _;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        claims(before["id_token"].as_str().unwrap())["email_verified"],
        false
    );
    let b = Browser::new(&app);
    let (status, page) = b.open(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your email was verified"));
    let after = app.login("v@example.com", "openid email").await;
    assert_eq!(
        claims(after["id_token"].as_str().unwrap())["email_verified"],
        true
    );
    let (_, info) = parts(app.userinfo(after["access_token"].as_str().unwrap()).await).await;
    assert_eq!(info["email_verified"], true);
    // Once only; forged links fail the same way.
    for bad in [
        path.as_str(),
        "/u/email-verification?ticket=forged",
        "/u/email-verification",
    ] {
        let (status, page) = b.open(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(page.contains("Your email address could not be verified"));
    }
    // With a result_url, success and failure both go there.
    let tenant = format!(
        "{}emails:\n  verify_email:\n    enabled: true\n    result_url: https://app.example/verified\n",
        crate::helpers::TENANT
    );
    let app = crate::helpers::spawn_with(backend, crate::helpers::Options::tenant(tenant)).await;
    app.signed_up("r@example.com").await;
    queued(&app).await;
    let mail = &emails(&app, "r@example.com").await[0];
    let link = mail["body_text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains("/u/email-verification?ticket="))
        .unwrap();
    let path = link
        .strip_prefix(&app.base)
        .unwrap()
        .trim_end_matches('#')
        .to_owned();
    let b = Browser::new(&app);
    for expected in [
        "https://app.example/verified?success=true",
        "https://app.example/verified?success=false&error_description=Access%20expired",
    ] {
        let resp = b.0.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(resp.status(), 302);
        assert_eq!(resp.headers()["location"], expected);
    }
    // Without the setting (and without SMTP), no verification email is sent.
    let plain = spawn_app(backend).await;
    plain.signed_up("n@example.com").await;
    queued(&plain).await;
    assert!(emails(&plain, "n@example.com").await.is_empty());
}

both_stores!(
    signup_sends_a_verification_link_that_works_once,
    the_tenant_file_sets_the_email_and_the_link,
    the_outbox_is_delivered_once_with_retries,
    the_answer_is_the_same_for_unknown_emails,
    bad_requests_use_the_dbconnections_envelope,
    the_outbox_needs_a_management_token_with_its_scope,
    the_reset_page_sets_a_new_password_once,
    resets_clear_brute_force_blocks_and_respect_history,
);
