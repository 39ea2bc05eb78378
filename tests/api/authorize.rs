//! The hosted login: `/authorize` in every response type and mode, the login and signup pages,
//! sessions, the authorization_code grant, logout; exact error bodies, open-redirect cases,
//! CSRF, replays, and two instances on one database.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{
    Backend, Options, PASSWORD, TestApp, database_url, parts, spawn_app, spawn_on,
};
use latchkey::domain::token::pkce_challenge;

const SPA: &str = "spa-client";
const CALLBACK: &str = "http://app.example/callback";
const VERIFIER: &str = "a-verifier-of-at-least-43-characters-0123456789";

/// A browser: its own cookies, no automatic redirects.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.http.get(url).send().await.unwrap()
    }

    async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        let q = serde_urlencoded(params);
        self.get(&format!("/authorize?{q}")).await
    }

    /// `/authorize` that must lead to a page: the page's URL and HTML.
    async fn page(&self, params: &[(&str, &str)]) -> (String, String) {
        let resp = self.authorize(params).await;
        assert_eq!(resp.status(), 302, "{:?}", resp.text().await);
        let page = location(&resp);
        assert!(page.starts_with("/u/"), "{page}");
        let resp = self.get(&page).await;
        assert_eq!(resp.status(), 200);
        (page, resp.text().await.map(|t| unescape(&t)).unwrap())
    }

    /// Posts a page's form with its CSRF token and `fields`.
    async fn submit(&self, page: &str, html: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf_of(html)), ("action", "default")];
        form.extend_from_slice(fields);
        self.http
            .post(format!("{}{page}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Logs `email` in through the page (`prompt=login`: even with a session); the answer's
    /// redirect location.
    async fn login(&self, params: &[(&str, &str)], email: &str) -> String {
        self.login_as(params, email, PASSWORD).await
    }

    /// As `login`, with another password.
    pub(crate) async fn login_as(
        &self,
        params: &[(&str, &str)],
        email: &str,
        password: &str,
    ) -> String {
        let mut params = params.to_vec();
        params.push(("prompt", "login"));
        let (page, html) = self.page(&params).await;
        let resp = self
            .submit(&page, &html, &[("username", email), ("password", password)])
            .await;
        assert_eq!(resp.status(), 302, "{:?}", resp.text().await);
        location(&resp)
    }
}

fn serde_urlencoded(params: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// What a browser reads: minijinja escapes `/`, `'` and the rest in text and attributes.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn csrf_of(html: &str) -> &str {
    let at =
        html.find(r#"name="_csrf" value=""#).expect("csrf field") + r#"name="_csrf" value=""#.len();
    &html[at..at + html[at..].find('"').unwrap()]
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The parameters of a URL's query (or, with `fragment`, its fragment).
fn answer_params(url: &str, fragment: bool) -> HashMap<String, String> {
    let u = url::Url::parse(url).unwrap();
    let raw = if fragment {
        u.fragment().unwrap_or_default().to_owned()
    } else {
        u.query().unwrap_or_default().to_owned()
    };
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

fn claims(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

/// A request's parameters, owned.
type Params = Vec<(&'static str, String)>;

/// A public client's code request with PKCE.
fn code_params(state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", SPA.into()),
        ("response_type", "code".into()),
        ("redirect_uri", CALLBACK.into()),
        ("scope", "openid profile email offline_access".into()),
        ("state", state.into()),
        ("nonce", "n-0S6_WzA2Mj".into()),
        ("code_challenge", pkce_challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

fn refs<'a>(p: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    p.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn with(
    mut p: Vec<(&'static str, String)>,
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    p.retain(|(k, _)| *k != key);
    p.push((key, value.into()));
    p
}

async fn exchange(app: &TestApp, code: &str, verifier: &str) -> (u16, Value) {
    parts(
        app.token(
            &json!({"grant_type": "authorization_code", "client_id": SPA, "code": code,
            "redirect_uri": CALLBACK, "code_verifier": verifier}),
        )
        .await,
    )
    .await
}

async fn code_flow_logs_in_once_per_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    let (page, html) = b.page(&refs(&code_params("st-1"))).await;
    // Auth0's field names and ids, a label for each, the button E2E tests click.
    for needle in [
        r#"<input id="username" name="username""#,
        r#"<input id="password" name="password" type="password""#,
        r#"<label for="username">Email address</label>"#,
        r#"<label for="password">Password</label>"#,
        r#"<button type="submit" name="action" value="default">"#,
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    let resp = b.get(&page).await;
    let h = resp.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'nonce-")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' http://app.example"),
        "{csp}"
    );

    // A wrong password: the page again, Auth0's text in the password's error element.
    let resp = b
        .submit(
            &page,
            &html,
            &[("username", "jane@example.com"), ("password", "wrong")],
        )
        .await;
    assert_eq!(resp.status(), 403);
    let again = resp.text().await.map(|t| unescape(&t)).unwrap();
    assert!(again.contains(r#"<p class="error" id="error-element-password" role="alert">Wrong email or password.</p>"#), "{again}");
    assert!(again.contains(r#"value="jane@example.com""#));
    // An unknown user reads the same.
    let resp = b
        .submit(
            &page,
            &again,
            &[("username", "nobody@example.com"), ("password", "wrong")],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert!(
        resp.text()
            .await
            .map(|t| unescape(&t))
            .unwrap()
            .contains("Wrong email or password.")
    );

    let resp = b
        .submit(
            &page,
            &again,
            &[("username", "Jane@Example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 302);
    let cookies: Vec<_> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("auth0=") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    let to = location(&resp);
    assert!(to.starts_with("http://app.example/callback?code="), "{to}");
    let answer = answer_params(&to, false);
    assert_eq!(answer["state"], "st-1");
    let code = &answer["code"];

    // The transaction is used up: the page is stale now.
    let stale = b.get(&page).await;
    assert_eq!(stale.status(), 400);
    assert!(
        stale
            .text()
            .await
            .map(|t| unescape(&t))
            .unwrap()
            .contains("This login page has expired or was already used.")
    );

    let (status, tokens) = exchange(&app, code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], format!("auth0|{id}"));
    assert_eq!(id_token["aud"], SPA);
    assert_eq!(id_token["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id_token["email"], "jane@example.com");
    assert!(
        id_token["auth_time"].is_i64() && id_token["sid"].is_string(),
        "{id_token}"
    );
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["azp"], SPA);
    assert!(access.get("gty").is_none());
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // A replay fails, and revokes the refresh token the first use issued.
    let (status, body) = exchange(&app, code, VERIFIER).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "invalid_grant", "error_description": "Invalid authorization code"})
        )
    );
    let (status, body) = parts(
        app.token(
            &json!({"grant_type": "refresh_token", "client_id": SPA, "refresh_token": refresh}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
        )
    );

    // The page login counted as a login, as at /oauth/token.
    let mut db = app.db().await;
    let count: i64 = sqlx::query_scalar("SELECT logins_count FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(count, 1);
    // Nothing secret is stored in the clear.
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM authorization_codes")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(!stored.iter().any(|h| h == code) && stored.len() == 1);
}

async fn codes_are_bound_to_verifier_client_and_redirect_uri(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    let mismatch =
        json!({"error": "invalid_grant", "error_description": "Failed to verify code verifier"});
    let invalid =
        json!({"error": "invalid_grant", "error_description": "Invalid authorization code"});

    let to = b.login(&refs(&code_params("s")), "jane@example.com").await;
    let code = answer_params(&to, false)["code"].clone();
    assert_eq!(
        exchange(
            &app,
            &code,
            "another-verifier-of-at-least-43-characters-xyz"
        )
        .await,
        (403, mismatch.clone())
    );
    // A failed verification used the code up.
    assert_eq!(
        exchange(&app, &code, VERIFIER).await,
        (403, invalid.clone())
    );

    let to = b.login(&refs(&code_params("s")), "jane@example.com").await;
    let code = answer_params(&to, false)["code"].clone();
    let (status, body) = parts(
        app.token(
            &json!({"grant_type": "authorization_code", "client_id": SPA, "code": code,
        "redirect_uri": "http://app.example/other", "code_verifier": VERIFIER}),
        )
        .await,
    )
    .await;
    assert_eq!((status, body), (403, invalid.clone()));

    let to = b.login(&refs(&code_params("s")), "jane@example.com").await;
    let code = answer_params(&to, false)["code"].clone();
    let (status, body) = parts(app.token(&json!({"grant_type": "authorization_code", "client_id": "web-client",
        "client_secret": "web-secret", "code": code, "redirect_uri": CALLBACK, "code_verifier": VERIFIER})).await).await;
    assert_eq!((status, body), (403, invalid.clone()));

    assert_eq!(
        exchange(&app, "forged-code", VERIFIER).await,
        (403, invalid.clone())
    );
    let (status, body) = parts(
        app.token(&json!({"grant_type": "authorization_code", "client_id": SPA}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "invalid_request", "error_description": "missing code parameter"})
        )
    );

    // Codes live ten minutes.
    let to = b.login(&refs(&code_params("s")), "jane@example.com").await;
    let code = answer_params(&to, false)["code"].clone();
    app.clock.advance(std::time::Duration::from_secs(601));
    assert_eq!(exchange(&app, &code, VERIFIER).await, (403, invalid));
}

async fn a_confidential_client_exchanges_with_basic_auth(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    let params = [
        ("client_id", "web-client"),
        ("response_type", "code"),
        ("redirect_uri", "http://web.example/callback"),
        ("scope", "openid email"),
    ];
    let to = b.login(&params, "jane@example.com").await;
    let code = answer_params(&to, false)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://web.example/callback"),
    ];
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("web-client", Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let to = b.login(&params, "jane@example.com").await;
    let code = answer_params(&to, false)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://web.example/callback"),
    ];
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("web-client", Some("web-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, body) = parts(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["email"],
        "jane@example.com"
    );
}

async fn requests_that_cannot_be_answered_get_an_error_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = Browser::new(&app);
    let base = code_params("s");
    for (params, text) in [
        (with(base.clone(), "client_id", "nope"), "Unknown client."),
        (
            with(
                base.clone(),
                "redirect_uri",
                "https://evil.example/callback",
            ),
            "The redirect_uri https://evil.example/callback is not in the application's list of allowed callback URLs.",
        ),
        (
            with(
                base.clone(),
                "redirect_uri",
                "http://app.example/callback/../evil",
            ),
            "is not in the application",
        ),
        (
            with(
                base.clone(),
                "redirect_uri",
                "https://a.b.tenants.example/cb",
            ),
            "is not in the application",
        ),
        (
            with(
                with(base.clone(), "response_mode", "web_message"),
                "redirect_uri",
                "https://x.tenants.example/cb",
            ),
            "The origin https://x.tenants.example is not in the application's list of allowed web origins.",
        ),
        (
            base.iter()
                .filter(|(k, _)| *k != "client_id")
                .cloned()
                .collect(),
            "missing client_id parameter",
        ),
    ] {
        let resp = b.authorize(&refs(&params)).await;
        assert_eq!(resp.status(), 400, "{params:?}");
        assert!(resp.headers().get("location").is_none());
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let html = resp.text().await.map(|t| unescape(&t)).unwrap();
        assert!(html.contains(text), "{text} in {html}");
        assert!(html.contains("<code>invalid_request</code>"));
    }
    // A parameter given twice is refused before anything is trusted.
    let resp = b
        .get(&format!(
            "/authorize?client_id={SPA}&client_id=other&response_type=code"
        ))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .map(|t| unescape(&t))
            .unwrap()
            .contains("client_id must not be given more than once")
    );
    // A wildcard callback admits one subdomain label.
    let ok = with(
        with(base, "redirect_uri", "https://tenant-7.tenants.example/cb"),
        "prompt",
        "none",
    );
    let resp = b.authorize(&refs(&ok)).await;
    assert_eq!(resp.status(), 302);
    assert!(
        location(&resp).starts_with("https://tenant-7.tenants.example/cb?error=login_required")
    );
}

async fn client_errors_go_back_to_the_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = Browser::new(&app);
    let base = code_params("st");
    let cases: Vec<(Params, bool, &str, &str)> = vec![
        (
            base.iter()
                .filter(|(k, _)| !k.starts_with("code_challenge"))
                .cloned()
                .collect(),
            false,
            "invalid_request",
            "code_challenge is required for public clients (PKCE, S256)",
        ),
        (
            with(base.clone(), "code_challenge_method", "plain"),
            false,
            "invalid_request",
            "Unsupported code_challenge_method: plain; use S256",
        ),
        (
            with(base.clone(), "response_type", "device_code"),
            false,
            "unsupported_response_type",
            "Unsupported response type: device_code",
        ),
        (
            base.iter()
                .filter(|(k, _)| *k != "response_type")
                .cloned()
                .collect(),
            false,
            "invalid_request",
            "missing response_type parameter",
        ),
        (
            with(base.clone(), "response_mode", "telepathy"),
            false,
            "invalid_request",
            "Unsupported response_mode: telepathy",
        ),
        (
            with(base.clone(), "prompt", "none"),
            false,
            "login_required",
            "Login required",
        ),
        (
            with(base.clone(), "prompt", "maybe"),
            false,
            "invalid_request",
            "Unsupported prompt: maybe",
        ),
        (
            with(base.clone(), "max_age", "-1"),
            false,
            "invalid_request",
            "max_age must be a non-negative integer",
        ),
        (
            with(base.clone(), "audience", "https://unknown.example/"),
            false,
            "access_denied",
            "Service not found: https://unknown.example/",
        ),
        (
            with(base.clone(), "connection", "nope"),
            false,
            "invalid_request",
            "the connection was not found",
        ),
        (
            with(base.clone(), "connection", "others-only"),
            false,
            "invalid_request",
            "the connection was disabled",
        ),
        (
            with(with(base.clone(), "response_type", "id_token"), "nonce", ""),
            true,
            "invalid_request",
            "nonce is required when the response_type returns an id_token",
        ),
        (
            with(
                with(base.clone(), "response_type", "id_token"),
                "scope",
                "email",
            ),
            true,
            "invalid_scope",
            "response_type id_token requires the openid scope",
        ),
        (
            with(
                with(base.clone(), "response_type", "token"),
                "response_mode",
                "query",
            ),
            true,
            "invalid_request",
            "response_mode query is not allowed with tokens in the response_type",
        ),
    ];
    for (params, fragment, error, description) in cases {
        let resp = b.authorize(&refs(&params)).await;
        assert_eq!(resp.status(), 302, "{params:?}");
        let to = location(&resp);
        assert!(to.starts_with(CALLBACK), "{to}");
        let got = answer_params(&to, fragment);
        assert_eq!(
            got.get("error").map(String::as_str),
            Some(error),
            "{params:?} -> {to}"
        );
        assert_eq!(
            got.get("error_description").map(String::as_str),
            Some(description),
            "{to}"
        );
        assert_eq!(got.get("state").map(String::as_str), Some("st"), "{to}");
    }
    // A client without the implicit grant cannot get tokens from /authorize.
    let params = [
        ("client_id", "limited-client"),
        ("response_type", "token"),
        ("redirect_uri", "http://nowhere.example/"),
    ];
    assert_eq!(
        b.authorize(&params).await.status(),
        400,
        "limited-client lists no callbacks"
    );
}

async fn sessions_answer_without_a_page_until_logout(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    b.login(&refs(&code_params("s")), "jane@example.com").await;

    let silent = with(
        with(code_params("silent"), "prompt", "none"),
        "response_mode",
        "web_message",
    );
    let resp = b.authorize(&refs(&silent)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-frame-options").is_none());
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors http://app.example") && csp.contains("script-src 'nonce-"),
        "{csp}"
    );
    let html = resp.text().await.map(|t| unescape(&t)).unwrap();
    assert!(
        html.contains(r#"{"type":"authorization_response","response":{"code":""#),
        "{html}"
    );
    assert!(
        html.contains(r#"target.postMessage(message, "http://app.example");"#),
        "{html}"
    );
    let code = html
        .split(r#""code":""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, tokens) = exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");

    // Without prompt, the session answers at once too.
    let resp = b.authorize(&refs(&code_params("again"))).await;
    assert!(location(&resp).starts_with("http://app.example/callback?code="));
    // prompt=login shows the page all the same.
    let resp = b
        .authorize(&refs(&with(code_params("x"), "prompt", "login")))
        .await;
    assert!(location(&resp).starts_with("/u/login?state="));
    // max_age: a session older than asked for needs the page (and prompt=none fails).
    app.clock.advance(std::time::Duration::from_secs(120));
    let resp = b
        .authorize(&refs(&with(
            with(code_params("x"), "max_age", "60"),
            "prompt",
            "none",
        )))
        .await;
    assert!(location(&resp).contains("error=login_required"));
    let resp = b
        .authorize(&refs(&with(code_params("x"), "max_age", "600")))
        .await;
    assert!(location(&resp).starts_with("http://app.example/callback?code="));

    // Logout: an unlisted returnTo is refused and ends nothing.
    let resp = b
        .get(&format!(
            "/v2/logout?client_id={SPA}&returnTo=https%3A%2F%2Fevil.example%2F"
        ))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert!(
        resp.text()
            .await
            .map(|t| unescape(&t))
            .unwrap()
            .contains("The URL https://evil.example/ is not in the list of allowed logout URLs.")
    );
    let resp = b
        .authorize(&refs(&with(code_params("x"), "prompt", "none")))
        .await;
    assert!(location(&resp).contains("code="));
    let resp = b
        .get(&format!(
            "/v2/logout?client_id={SPA}&returnTo=http%3A%2F%2Fapp.example"
        ))
        .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), "http://app.example");
    // The tenant log has the page's login and the logout, by the browser's client.
    let admin = app.admin_token().await;
    let (status, events) = parts(
        app.api(
            reqwest::Method::GET,
            "/logs?q=type:slo%20OR%20type:s&sort=date:1",
            &admin,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{events}");
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.last(), Some(&"slo"), "{events}");
    assert!(kinds.contains(&"s"), "{events}");
    let slo = events.as_array().unwrap().last().unwrap();
    assert_eq!(slo["client_id"], SPA);
    assert!(slo["user_id"].as_str().unwrap().starts_with("auth0|"));
    let resp = b.authorize(&refs(&silent)).await;
    let html = resp.text().await.map(|t| unescape(&t)).unwrap();
    assert!(html.contains(r#""response":{"error":"login_required","error_description":"Login required","state":"silent"}"#), "{html}");
}

async fn sessions_expire_when_idle(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    b.login(&refs(&code_params("s")), "jane@example.com").await;
    let silent = with(code_params("s"), "prompt", "none");
    // Used within the idle lifetime (3 days), the session lives on...
    for _ in 0..3 {
        app.clock
            .advance(std::time::Duration::from_secs(2 * 86_400));
        assert!(location(&b.authorize(&refs(&silent)).await).contains("code="));
    }
    // ...until its absolute lifetime (7 days) ends it.
    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));
    assert!(location(&b.authorize(&refs(&silent)).await).contains("error=login_required"));

    b.login(&refs(&code_params("s")), "jane@example.com").await;
    app.clock
        .advance(std::time::Duration::from_secs(3 * 86_400 + 1));
    assert!(location(&b.authorize(&refs(&silent)).await).contains("error=login_required"));
    let purged = latchkey::domain::token::housekeeping(&app.services)
        .await
        .unwrap();
    assert!(purged.2 >= 2, "{purged:?}");
}

async fn implicit_and_hybrid_answers_carry_their_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    let implicit = [
        ("client_id", SPA),
        ("response_type", "id_token token"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("nonce", "abc"),
        ("state", "st"),
    ];
    let to = b.login(&implicit, "jane@example.com").await;
    assert!(to.starts_with("http://app.example/callback#"), "{to}");
    let got = answer_params(&to, true);
    assert_eq!(got["token_type"], "Bearer");
    assert_eq!(got["expires_in"], "86400");
    assert_eq!(got["state"], "st");
    let id = claims(&got["id_token"]);
    assert_eq!(id["nonce"], "abc");
    let digest = <sha2::Sha256 as sha2::Digest>::digest(got["access_token"].as_bytes());
    assert_eq!(
        id["at_hash"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    );
    let resp = app.userinfo(&got["access_token"]).await;
    assert_eq!(parts(resp).await.1["email"], "jane@example.com");

    let hybrid = [
        ("client_id", "web-client"),
        ("response_type", "code id_token"),
        ("redirect_uri", "http://web.example/callback"),
        ("response_mode", "form_post"),
        ("nonce", "n"),
        ("state", "st"),
    ];
    let resp = b.authorize(&hybrid).await;
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action http://web.example"), "{csp}");
    let html = resp.text().await.map(|t| unescape(&t)).unwrap();
    assert!(
        html.contains(r#"<form method="post" action="http://web.example/callback">"#),
        "{html}"
    );
    for field in ["code", "id_token", "state"] {
        assert!(
            html.contains(&format!(r#"<input type="hidden" name="{field}" value=""#)),
            "{field}: {html}"
        );
    }
    let id_token = html
        .split(r#"name="id_token" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(claims(id_token)["c_hash"].is_string());
}

async fn forms_need_their_csrf_token_and_a_live_transaction(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    let (page, html) = b.page(&refs(&code_params("s"))).await;
    let login = [("username", "jane@example.com"), ("password", PASSWORD)];
    // No token, a forged one, or a token from another browser.
    for token in [
        "",
        "forged",
        csrf_of(&Browser::new(&app).page(&refs(&code_params("s"))).await.1),
    ] {
        let resp = b
            .http
            .post(format!("{}{page}", b.base))
            .form(&[("_csrf", token), login[0], login[1]])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{token}");
        assert!(
            resp.text()
                .await
                .map(|t| unescape(&t))
                .unwrap()
                .contains("The form could not be verified.")
        );
    }
    // Another browser posting with this page's token lacks the cookie.
    let other = Browser::new(&app);
    let resp = other.submit(&page, &html, &login).await;
    assert_eq!(resp.status(), 403);
    // A forged state, or a hidden state naming another transaction.
    let resp = b.submit("/u/login?state=forged", &html, &login).await;
    assert_eq!(resp.status(), 400);
    let (other_page, _) = b.page(&refs(&code_params("t"))).await;
    let other_state = other_page.trim_start_matches("/u/login?state=");
    let resp = b
        .submit(&page, &html, &[("state", other_state), login[0], login[1]])
        .await;
    assert_eq!(resp.status(), 400);
    // A stale transaction (an hour old).
    app.clock.advance(std::time::Duration::from_secs(3601));
    let resp = b.submit(&page, &html, &login).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .map(|t| unescape(&t))
            .unwrap()
            .contains("This login page has expired or was already used.")
    );
    assert_eq!(app.users(crate::helpers::CONN).await, 1);
}

async fn the_signup_page_applies_signup_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("taken@example.com").await;
    let b = Browser::new(&app);
    let (page, html) = b
        .page(&refs(&with(code_params("s"), "screen_hint", "signup")))
        .await;
    assert!(page.starts_with("/u/signup?state="));
    for needle in [
        r#"<input id="email" name="email" type="email""#,
        r#"<input id="password" name="password" type="password""#,
        r#"<button type="submit" name="action" value="default">"#,
        "<li class=\"\">At least 8 characters in length</li>",
        "Contain at least 3 of the following 4 types of characters:",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    for (fields, status, element, text) in [
        (
            vec![("email", "new@example.com"), ("password", "short")],
            400,
            "error-element-password",
            "Password is too weak",
        ),
        (
            vec![("email", "not-an-email"), ("password", PASSWORD)],
            400,
            "error-element-email",
            "Please enter a valid email address.",
        ),
        (
            vec![("email", "taken@example.com"), ("password", PASSWORD)],
            400,
            "error-element-email",
            "The user already exists.",
        ),
        (
            vec![("email", ""), ("password", PASSWORD)],
            400,
            "error-element-email",
            "Please enter your email address.",
        ),
    ] {
        let resp = b.submit(&page, &html, &fields).await;
        assert_eq!(resp.status(), status, "{fields:?}");
        let body = resp.text().await.map(|t| unescape(&t)).unwrap();
        assert!(
            body.contains(&format!(r#"id="{element}" role="alert">{text}</p>"#)),
            "{text} in {body}"
        );
    }
    let resp = b
        .submit(
            &page,
            &html,
            &[("email", "short@example.com"), ("password", "short")],
        )
        .await;
    let body = resp.text().await.map(|t| unescape(&t)).unwrap();
    assert!(
        body.contains(r#"<li class="unmet">At least 8 characters in length</li>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<li class="met">lower case letters (a-z)</li>"#),
        "{body}"
    );
    assert_eq!(app.users(crate::helpers::CONN).await, 1);

    let resp = b
        .submit(
            &page,
            &html,
            &[("email", "New@Example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 302);
    let code = answer_params(&location(&resp), false)["code"].clone();
    let (_, tokens) = exchange(&app, &code, VERIFIER).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["email"],
        "new@example.com"
    );
    // The new user logs in with the API too.
    app.login("new@example.com", "openid").await;
}

async fn the_page_has_brute_force_protection(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    let (page, mut html) = b.page(&refs(&code_params("s"))).await;
    for _ in 0..10 {
        let resp = b
            .submit(
                &page,
                &html,
                &[("username", "jane@example.com"), ("password", "wrong")],
            )
            .await;
        assert_eq!(resp.status(), 403);
        html = resp.text().await.map(|t| unescape(&t)).unwrap();
    }
    let resp = b
        .submit(
            &page,
            &html,
            &[("username", "jane@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 429);
    assert!(
        resp.text()
            .await
            .map(|t| unescape(&t))
            .unwrap()
            .contains("Your account has been blocked after multiple consecutive login attempts.")
    );
    // Shared with the API: the same pair is blocked at /oauth/token too.
    let (status, body) = parts(app.token(&json!({"grant_type": "password", "client_id": "app-client", "client_secret": "app-secret",
        "username": "jane@example.com", "password": PASSWORD})).await).await;
    assert_eq!(
        (status, body["error"].clone()),
        (429, json!("too_many_attempts"))
    );
}

async fn oidc_logout_returns_to_a_listed_url_with_state(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("jane@example.com").await;
    let b = Browser::new(&app);
    let params = [
        ("client_id", "web-client"),
        ("response_type", "id_token"),
        ("redirect_uri", "http://web.example/callback"),
        ("nonce", "n"),
        ("response_mode", "form_post"),
    ];
    let (page, html) = b.page(&params).await;
    let resp = b
        .submit(
            &page,
            &html,
            &[("username", "jane@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.map(|t| unescape(&t)).unwrap();
    let id_token = html
        .split(r#"name="id_token" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let q = serde_urlencoded(&[
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", "https://evil.example/"),
        ("state", "bye"),
    ]);
    let resp = b.get(&format!("/oidc/logout?{q}")).await;
    assert_eq!(resp.status(), 400);
    let q = serde_urlencoded(&[
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", "http://web.example/bye"),
        ("state", "bye"),
    ]);
    let resp = b.get(&format!("/oidc/logout?{q}")).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), "http://web.example/bye?state=bye");
    let silent = [
        ("client_id", "web-client"),
        ("response_type", "id_token"),
        ("redirect_uri", "http://web.example/callback"),
        ("nonce", "n"),
        ("prompt", "none"),
    ];
    assert!(location(&b.authorize(&silent).await).contains("error=login_required"));
    // Without a return URL: the logged-out page.
    let resp = b.get("/v2/logout").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .map(|t| unescape(&t))
            .unwrap()
            .contains("You are logged out")
    );
}

async fn two_instances_share_sessions(backend: Backend) {
    if backend == Backend::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let a = spawn_on(&url, tempfile::tempdir().unwrap(), Options::default()).await;
    let b_app = spawn_on(&url, dir, Options::default()).await;
    a.signed_up("jane@example.com").await;
    let browser = Browser::new(&a);
    browser
        .login(&refs(&code_params("s")), "jane@example.com")
        .await;
    // The same browser (cookies are per host, and both listen on 127.0.0.1) at instance B.
    let on_b = Browser {
        http: browser.http.clone(),
        base: b_app.base.clone(),
    };
    let silent = with(code_params("s"), "prompt", "none");
    let to = location(&on_b.authorize(&refs(&silent)).await);
    let code = answer_params(&to, false)["code"].clone();
    assert_eq!(exchange(&a, &code, VERIFIER).await.0, 200);
    let resp = on_b
        .get(&format!(
            "/v2/logout?client_id={SPA}&returnTo=http%3A%2F%2Fapp.example%2F"
        ))
        .await;
    assert_eq!(resp.status(), 302);
    assert!(location(&browser.authorize(&refs(&silent)).await).contains("error=login_required"));
}

async fn pages_carry_the_tenants_branding(backend: Backend) {
    let tenant = crate::helpers::TENANT.replace(
        "  friendly_name: Test\n",
        "  friendly_name: Acme\n  logo_url: https://cdn.acme.example/logo.png\n  primary_color: \"#ffd43b\"\n  page_background: \"#101820\"\n",
    );
    let app = crate::helpers::spawn_with(backend, Options::tenant(tenant)).await;
    let b = Browser::new(&app);
    let (page, html) = b.page(&refs(&code_params("s"))).await;
    assert!(
        html.contains(r#"<img class="logo" src="https://cdn.acme.example/logo.png" alt="Acme">"#),
        "{html}"
    );
    assert!(html.contains("--primary: #ffd43b;") && html.contains("--page: #101820;"));
    // Dark text on a light primary colour.
    assert!(html.contains("--on-primary: #000000;"));
    assert!(html.contains("<title>Log in | Acme</title>"));
    let csp = b.get(&page).await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' data: https://cdn.acme.example;"),
        "{csp}"
    );
    // A colour that is not one is refused at start, with the file's line.
    let bad = crate::helpers::TENANT.replace(
        "  friendly_name: Test\n",
        "  friendly_name: Test\n  primary_color: red;}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.yaml");
    std::fs::write(&path, bad).unwrap();
    let url = database_url(backend, &dir).await;
    let args = latchkey::cli::ServeArgs::parse_from_args([
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--tenant-file",
        path.to_str().unwrap(),
    ])
    .unwrap();
    let err = latchkey::startup::Application::build(
        args.config(),
        latchkey::startup::Dependencies::default(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.ends_with("tenant.primary_color must be #rgb or #rrggbb, got \"red;}\""),
        "{err}"
    );
}

both_stores!(
    pages_carry_the_tenants_branding,
    code_flow_logs_in_once_per_code,
    codes_are_bound_to_verifier_client_and_redirect_uri,
    a_confidential_client_exchanges_with_basic_auth,
    requests_that_cannot_be_answered_get_an_error_page,
    client_errors_go_back_to_the_client,
    sessions_answer_without_a_page_until_logout,
    sessions_expire_when_idle,
    implicit_and_hybrid_answers_carry_their_tokens,
    forms_need_their_csrf_token_and_a_live_transaction,
    the_signup_page_applies_signup_rules,
    the_page_has_brute_force_protection,
    oidc_logout_returns_to_a_listed_url_with_state,
    two_instances_share_sessions,
);
