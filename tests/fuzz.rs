//! The fuzz harness: generated and mutated requests for every endpoint, driven through the real
//! router in-process (the application built as `main` builds it), on SQLite and PostgreSQL.
//! Invariants checked on every case:
//! - no panic, and no 5xx (nothing generated here may fail the server);
//! - the family's envelope on every error: dbconnections `{name, code, description,
//!   statusCode}`, everything else `{error, error_description}`, both JSON;
//! - nothing stored by a refused signup (users stored = signups answered 200);
//! - no password or client secret from a request in any answer, and none of them nor any JWT
//!   in any log line.
//!
//! The hosted login and signup forms are also posted on a live transaction (`live_pages`), so
//! that their mutated fields reach the login and signup logic; Management paths, query strings
//! and metadata get control characters (`management_nul`); and imports read hostile files
//! (`imports`: any hash cost, any salt character, nasty strings, oversize records), checking
//! that every stored hash is within the ceilings and verifies without a 5xx.
//!
//! CI runs `LATCHKEY_FUZZ_CASES` cases per endpoint and store (default 300); for millions:
//! `LATCHKEY_FUZZ_CASES=1000000 cargo test --release --test fuzz` (each test prints its count).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use helpers::{Backend, CLIENT, CONN};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

/// Every password the generators send carries this, so that an echo is easy to find.
const PASSWORD_MARK: &str = "PwMark";
const SECRETS: [&str; 2] = ["app-secret", "limited-secret"];
/// The authorization a case sends to mean "a valid Management API token".
const VALID_BEARER: &str = "Bearer VALID-MANAGEMENT-TOKEN";

fn cases() -> u32 {
    std::env::var("LATCHKEY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Log lines of the whole process, for the no-secret check.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_writer(move || Sink(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---- generators ----

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9@._+-]{0,24}",
        2 => ".{0,16}",
        1 => "[\\x00-\\x1f\\x7f]{1,4}",
        1 => Just("x".repeat(3000)),
        1 => "\\PC{0,8}",
    ]
}

fn password() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9!]{0,12}".prop_map(|s| format!("{PASSWORD_MARK}{s}")),
        Just(format!("{PASSWORD_MARK}Passw0rd!")),
    ]
}

/// Any JSON value, shallow.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What a string mutation splices in: the characters and sizes that break parsers and stores.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\u{0}".to_owned()),
        "[\x01-\x1f\x7f]{1,3}",
        Just("x".repeat(2100)),
        Just("\u{301}\u{200b}\u{feff}".to_owned()),
        Just("'\"\\%00%;--".to_owned()),
        "\\PC{1,4}",
    ]
}

/// A mutation of a valid body: fields dropped, replaced by any value, their strings spliced
/// with something nasty, or fields added.
fn mutated(valid: Map<String, Value>) -> impl Strategy<Value = Map<String, Value>> {
    let keys: Vec<String> = valid.keys().cloned().collect();
    let n = keys.len();
    (
        prop::collection::vec(
            (
                0..n.max(1),
                0u8..5,
                value(),
                nasty(),
                any::<prop::sample::Index>(),
            ),
            0..3,
        ),
        prop::collection::vec(("[a-z_]{1,12}", value()), 0..2),
        password(),
    )
        .prop_map(move |(edits, extra, pw)| {
            let mut body = valid.clone();
            if let Some(p) = body.get_mut("password") {
                *p = json!(pw);
            }
            for (i, how, v, splice, at) in edits {
                let Some(k) = keys.get(i) else { continue };
                match how {
                    0 => {
                        body.remove(k);
                    }
                    1 => {
                        body.insert(k.clone(), v);
                    }
                    2 | 3 => {
                        if let Some(Value::String(s)) = body.get_mut(k) {
                            let chars: Vec<char> = s.chars().collect();
                            let pos = at.index(chars.len() + 1);
                            let mut out: String = chars[..pos].iter().collect();
                            out.push_str(&splice);
                            out.extend(&chars[pos..]);
                            *s = out;
                        }
                    }
                    _ => {}
                }
            }
            for (k, v) in extra {
                body.insert(k, v);
            }
            body
        })
}

#[derive(Debug, Clone)]
enum Encoding {
    Json,
    Form,
    /// Bytes that may not parse, under a JSON content type.
    Garbage(Vec<u8>),
    /// Another or no content type.
    Other(Option<String>),
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        6 => Just(Encoding::Json),
        3 => Just(Encoding::Form),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Encoding::Garbage),
        1 => prop::option::of("[a-z]{1,8}/[a-z+-]{1,12}(; charset=[a-z0-9-]{1,8})?")
            .prop_map(Encoding::Other),
    ]
}

#[derive(Debug, Clone)]
struct Headers {
    authorization: Option<String>,
    origin: Option<String>,
    forwarded_for: Option<String>,
    /// Set for the live hosted-page forms (their CSRF cookie).
    cookie: Option<String>,
}

fn headers() -> impl Strategy<Value = Headers> {
    let auth = prop_oneof![
        6 => Just(None),
        1 => "[A-Za-z0-9+/=]{0,40}".prop_map(|s| Some(format!("Basic {s}"))),
        1 => "[A-Za-z0-9._-]{0,60}".prop_map(|s| Some(format!("Bearer {s}"))),
        1 => text().prop_map(Some),
        // Replaced by a real management token (create:users read:users read:logs read:roles
        // create:roles) when sent.
        2 => Just(Some(VALID_BEARER.to_owned())),
    ];
    let origin = prop_oneof![
        6 => Just(None),
        2 => Just(Some("http://allowed.example".to_owned())),
        1 => Just(Some("http://other.example".to_owned())),
        1 => "https?://[a-z.]{1,12}(:[0-9]{1,5})?".prop_map(Some),
    ];
    let fwd = prop_oneof![
        Just(None),
        Just(Some("203.0.113.7".to_owned())),
        text().prop_map(Some),
    ];
    (auth, origin, fwd).prop_map(|(authorization, origin, forwarded_for)| Headers {
        authorization,
        origin,
        forwarded_for,
        cookie: None,
    })
}

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    path: String,
    query: Option<String>,
    body: Map<String, Value>,
    encoding: Encoding,
    headers: Headers,
}

fn method(usual: Method) -> impl Strategy<Value = Method> {
    prop_oneof![
        8 => Just(usual),
        1 => Just(Method::GET),
        1 => Just(Method::PUT),
        1 => Just(Method::OPTIONS),
        1 => Just(Method::DELETE),
    ]
}

fn case(path: &'static str, usual: Method, valid: Value) -> impl Strategy<Value = Case> {
    let valid = valid.as_object().cloned().unwrap_or_default();
    (
        method(usual),
        prop::option::of("[a-z_]{1,8}=[a-zA-Z0-9%]{0,12}"),
        mutated(valid),
        encoding(),
        headers(),
    )
        .prop_map(move |(method, query, body, encoding, headers)| Case {
            method,
            path: path.to_owned(),
            query,
            body,
            encoding,
            headers,
        })
}

fn form(body: &Map<String, Value>) -> String {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in body {
        match v {
            Value::String(s) => f.append_pair(k, s),
            other => f.append_pair(k, &other.to_string()),
        };
    }
    f.finish()
}

fn request(c: &Case) -> Request<Body> {
    let uri = match &c.query {
        Some(q) => format!("{}?{q}", c.path),
        None => c.path.clone(),
    };
    let mut b = Request::builder().method(c.method.clone()).uri(uri);
    let body = match &c.encoding {
        Encoding::Json => {
            b = b.header("content-type", "application/json");
            Body::from(Value::Object(c.body.clone()).to_string())
        }
        Encoding::Form => {
            b = b.header("content-type", "application/x-www-form-urlencoded");
            Body::from(form(&c.body))
        }
        Encoding::Garbage(bytes) => {
            b = b.header("content-type", "application/json");
            Body::from(bytes.clone())
        }
        Encoding::Other(ct) => {
            if let Some(ct) = ct {
                b = b.header("content-type", ct.as_str());
            }
            Body::from(Value::Object(c.body.clone()).to_string())
        }
    };
    for (name, value) in [
        ("authorization", &c.headers.authorization),
        ("origin", &c.headers.origin),
        ("auth0-forwarded-for", &c.headers.forwarded_for),
        ("cookie", &c.headers.cookie),
    ] {
        if let Some(v) = value
            && let Ok(v) = axum::http::HeaderValue::from_str(v)
        {
            b = b.header(name, v);
        }
    }
    let mut req = b.body(body).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    req
}

/// Paths answered with HTML pages (and redirects to listed URLs only).
fn is_page(path: &str) -> bool {
    path == "/authorize" || path.starts_with("/u/") || path.ends_with("/logout")
}

/// Where the test tenant lets redirects go: its clients' callbacks and logout URLs, and the
/// hosted pages.
const LISTED: [&str; 5] = [
    "http://app.example/callback",
    "https://tenant",
    "http://web.example/",
    "http://app.example/",
    "/u/",
];

/// Checks one answer; returns whether it was a 200 to a signup.
fn check(
    c: &Case,
    status: u16,
    location: Option<&str>,
    body: &[u8],
) -> Result<bool, TestCaseError> {
    prop_assert!(
        status < 500,
        "{status} for {c:?}: {}",
        String::from_utf8_lossy(body)
    );
    let text = String::from_utf8_lossy(body);
    prop_assert!(!text.contains(PASSWORD_MARK), "password echoed: {text}");
    for s in SECRETS {
        prop_assert!(!text.contains(s), "secret echoed: {text}");
    }
    if let Some(to) = location {
        prop_assert!(
            LISTED.iter().any(|l| to.starts_with(l))
                || to.starts_with("https://") && to.contains(".tenants.example/cb"),
            "redirect to an unlisted URL {to} for {c:?}"
        );
    }
    if is_page(&c.path) && status != 404 && status != 405 {
        if status >= 400 {
            prop_assert!(
                text.starts_with("<!doctype html>"),
                "not an HTML page: {status} {text}"
            );
        }
        // A hosted signup that answers the app has stored its user.
        return Ok(c.path == "/u/signup"
            && c.method == Method::POST
            && status == 302
            && location.is_some_and(|l| l.starts_with("http://app.example/callback")));
    }
    if status >= 400 {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| TestCaseError::fail(format!("non-JSON {status} body: {text}")))?;
        let management = v["statusCode"] == json!(status)
            && v["error"].is_string()
            && v["message"].is_string()
            && v["errorCode"].is_string();
        if c.path.starts_with("/api/v2/") {
            // The router's own 405 (an unknown method) uses the OAuth envelope.
            prop_assert!(
                management
                    || (status == 404 || status == 405) && v["error_description"].is_string(),
                "not the Management envelope: {status} {text}"
            );
        } else if c.path.starts_with("/dbconnections/") && status != 404 && status != 405 {
            prop_assert!(
                v["name"].is_string()
                    && v["code"].is_string()
                    && v.get("description").is_some()
                    && v["statusCode"] == json!(status),
                "not the dbconnections envelope: {text}"
            );
        } else {
            prop_assert!(
                v["error"].is_string() && v["error_description"].is_string(),
                "not the OAuth envelope: {text}"
            );
        }
    }
    // What stored a user: a signup, or a user created through the Management API.
    Ok(c.path == "/dbconnections/signup" && status == 200
        || c.path == "/api/v2/users" && c.method == Method::POST && status == 201)
}

async fn fuzz(backend: Backend, name: &str, strategy: impl Strategy<Value = Case>) {
    log();
    let app = helpers::spawn_with(
        backend,
        helpers::Options::args(&["--argon2-m-cost", "8", "--hash-queue", "1000"]),
    )
    .await;
    let router = app.router.clone();
    let before = app.users(CONN).await;
    let (_, minted) = helpers::parts(
        app.token(
            &json!({"grant_type": "client_credentials", "client_id": "limited-client",
            "client_secret": "limited-secret", "audience": format!("{}/api/v2/", app.base),
            "scope": "create:users read:users read:logs read:roles create:roles"}),
        )
        .await,
    )
    .await;
    let management = minted["access_token"].as_str().unwrap().to_owned();
    let accepted = std::sync::atomic::AtomicI64::new(0);
    let n = cases();
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |c| {
            let c = live_form(&router, &handle, c);
            let mut req = request(&c);
            if c.headers.authorization.as_deref() == Some(VALID_BEARER) {
                req.headers_mut().insert(
                    "authorization",
                    format!("Bearer {management}").parse().unwrap(),
                );
            }
            let response = handle.block_on(router.clone().oneshot(req)).unwrap();
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = handle
                .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
                .unwrap();
            if check(&c, status, location.as_deref(), &body)? {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    // Stored users are exactly the signups answered 200 (on this connection).
    let stored = app.users(CONN).await - before;
    let accepted = accepted.into_inner();
    assert_eq!(
        stored, accepted,
        "{name}: users stored against signups answered 200"
    );
    let logged = String::from_utf8_lossy(&log().lock().unwrap()).to_string();
    assert!(
        !logged.contains(PASSWORD_MARK),
        "{name}: a password in the log"
    );
    for s in SECRETS {
        assert!(!logged.contains(s), "{name}: a secret in the log");
    }
    assert!(!logged.contains("eyJ"), "{name}: a JWT in the log");
    println!("fuzz {name} ({backend:?}): {n} cases");
    app.stop().await;
}

/// A hosted-page form case whose `_csrf` is still `LIVE` gets a real transaction first: the
/// page is opened through `/authorize` as a browser would, and the case is posted with that
/// transaction's `state`, the page's CSRF token and its cookie, so that the mutated fields
/// reach the login and signup logic instead of the CSRF check.
fn live_form(router: &axum::Router, handle: &tokio::runtime::Handle, mut c: Case) -> Case {
    let screen = match c.path.as_str() {
        "/u/login" => "login",
        "/u/signup" => "signup",
        _ => return c,
    };
    if c.method != Method::POST || c.body.get("_csrf") != Some(&json!("LIVE")) {
        return c;
    }
    let get = |uri: String, cookie: Option<&str>| {
        let mut b = Request::builder().method(Method::GET).uri(uri);
        if let Some(cookie) = cookie {
            b = b.header("cookie", cookie);
        }
        let mut req = b.body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        handle.block_on(router.clone().oneshot(req)).unwrap()
    };
    let authorize = format!(
        "/authorize?client_id=spa-client&response_type=code&redirect_uri={}&scope=openid&state=s\
         &nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWWvrWnzCzPGg\
         &code_challenge_method=S256&connection={CONN}&screen_hint={screen}&prompt=login",
        urlencode("http://app.example/callback")
    );
    let to = get(authorize, None);
    let Some(page) = to
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
    else {
        return c;
    };
    let opened = get(page.clone(), None);
    let cookie: Vec<String> = opened
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let html = handle
        .block_on(axum::body::to_bytes(opened.into_body(), 1 << 20))
        .unwrap();
    let html = String::from_utf8_lossy(&html);
    let marker = r#"name="_csrf" value=""#;
    let Some(at) = html.find(marker).map(|i| i + marker.len()) else {
        return c;
    };
    let token = html[at..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&#x2f;", "/");
    c.body.insert("_csrf".into(), json!(token));
    c.body.remove("state");
    c.path = page.split('?').next().unwrap_or_default().to_owned();
    c.query = page.split_once('?').map(|(_, q)| q.to_owned());
    c.headers.cookie = Some(cookie.join("; "));
    c.encoding = Encoding::Form;
    c
}

/// The hosted pages' forms on a live transaction, their fields spliced with NUL, control
/// characters and oversize values.
fn live_pages() -> impl Strategy<Value = Case> {
    let path = prop_oneof![Just("/u/login"), Just("/u/signup")];
    (path, "[a-z]{4,10}").prop_flat_map(|(p, local)| {
        case(
            p,
            Method::POST,
            json!({"_csrf": "LIVE", "action": "default",
                "username": format!("{local}@example.com"), "email": format!("{local}@example.com"),
                "password": format!("{PASSWORD_MARK}-Aa1!xyzw")}),
        )
        .prop_map(|mut c| {
            // The form's own method and encoding: the mutations are in the fields.
            c.method = Method::POST;
            c.encoding = Encoding::Form;
            c
        })
    })
}

/// A GET of the Management API with a valid token.
fn managed_get(path: String, query: Option<String>) -> Case {
    Case {
        method: Method::GET,
        path,
        query,
        body: Map::new(),
        encoding: Encoding::Json,
        headers: Headers {
            authorization: Some(VALID_BEARER.to_owned()),
            origin: None,
            forwarded_for: None,
            cookie: None,
        },
    }
}

/// Management paths and queries holding control characters (percent-encoded, as a client
/// sends them), and bodies whose metadata keys and values hold them, with a valid token.
fn management_nul() -> impl Strategy<Value = Case> {
    let control = prop_oneof![
        Just("%00"),
        Just("%0A"),
        Just("%0D%0A"),
        Just("%1F"),
        Just("%7F")
    ];
    let path = (
        prop_oneof![
            Just("/api/v2/users/auth0%7C{}"),
            Just("/api/v2/jobs/{}"),
            Just("/api/v2/roles/{}"),
            Just("/api/v2/users/{}/roles"),
            Just("/api/v2/logs/{}"),
            Just("/api/v2/user-blocks/{}"),
        ],
        control.clone(),
        "[a-z0-9]{0,6}",
    )
        .prop_map(|(p, ctl, id)| (p.replace("{}", &format!("{id}{ctl}")), None));
    let query = (
        prop_oneof![
            Just("/api/v2/users"),
            Just("/api/v2/logs"),
            Just("/api/v2/users-by-email")
        ],
        prop_oneof![
            Just("q"),
            Just("email"),
            Just("search"),
            Just("sort"),
            Just("fields")
        ],
        control,
        "[a-z:\\\"]{0,8}",
    )
        .prop_map(|(p, k, ctl, v)| {
            let v = urlencode(&v);
            (p.to_owned(), Some(format!("{k}={v}{ctl}{v}")))
        });
    let get = prop_oneof![path, query].prop_map(|(path, query)| managed_get(path, query));
    let metadata = (
        prop_oneof![Just("user_metadata"), Just("app_metadata")],
        nasty(),
        nasty(),
        any::<bool>(),
        "[a-z]{4,10}",
    )
        .prop_map(|(field, key, value, in_key, local)| {
            let inner = if in_key {
                json!({ format!("k{key}"): "v" })
            } else {
                json!({ "k": { "deep": [format!("v{value}")] } })
            };
            let mut body = Map::new();
            body.insert("connection".into(), json!(CONN));
            body.insert("email".into(), json!(format!("{local}@example.com")));
            body.insert(
                "password".into(),
                json!(format!("{PASSWORD_MARK}-Aa1!xyzw")),
            );
            body.insert(field.into(), inner);
            Case {
                method: Method::POST,
                body,
                ..managed_get("/api/v2/users".into(), None)
            }
        });
    prop_oneof![get, metadata]
}

fn signup() -> impl Strategy<Value = Case> {
    case(
        "/dbconnections/signup",
        Method::POST,
        json!({"client_id": CLIENT, "connection": CONN, "email": "fuzz@example.com",
            "password": "x", "username": "fuzzer", "given_name": "F", "name": "N",
            "nickname": "n", "picture": "https://x.org/p.png", "user_metadata": {"plan": "x"}}),
    )
    .prop_flat_map(|c| {
        // Fresh emails, so that valid signups succeed and duplicates are rare.
        "[a-z]{4,10}".prop_map(move |local| {
            let mut c = c.clone();
            if c.body.get("email") == Some(&json!("fuzz@example.com")) {
                c.body
                    .insert("email".into(), json!(format!("{local}@example.com")));
            }
            c
        })
    })
}

fn token() -> impl Strategy<Value = Case> {
    let grants = prop_oneof![
        Just(
            json!({"grant_type": "password", "client_id": CLIENT, "client_secret": "app-secret",
            "username": "nobody@example.com", "password": "x", "scope": "openid", "audience": "https://api.example.com/"})
        ),
        Just(
            json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "client_id": CLIENT,
            "client_secret": "app-secret", "realm": CONN, "username": "nobody@example.com", "password": "x"})
        ),
        Just(
            json!({"grant_type": "refresh_token", "client_id": CLIENT, "client_secret": "app-secret",
            "refresh_token": "abc", "scope": "openid"})
        ),
        Just(
            json!({"grant_type": "client_credentials", "client_id": "limited-client",
            "client_secret": "limited-secret", "audience": "https://api.example.com/", "scope": "read:things"})
        ),
    ];
    grants.prop_flat_map(|valid| case("/oauth/token", Method::POST, valid))
}

fn change_password() -> impl Strategy<Value = Case> {
    case(
        "/dbconnections/change_password",
        Method::POST,
        json!({"client_id": CLIENT, "email": "a@example.com", "connection": CONN}),
    )
}

fn revoke() -> impl Strategy<Value = Case> {
    case(
        "/oauth/revoke",
        Method::POST,
        json!({"client_id": CLIENT, "client_secret": "app-secret", "token": "abc"}),
    )
}

fn userinfo() -> impl Strategy<Value = Case> {
    case("/userinfo", Method::GET, json!({}))
}

/// `/authorize` with mutated parameters in the query string.
fn authorize() -> impl Strategy<Value = Case> {
    let valid = json!({
        "client_id": "spa-client", "response_type": "code", "redirect_uri": "http://app.example/callback",
        "scope": "openid profile", "state": "st", "nonce": "n",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWWvrWnzCzPGg", "code_challenge_method": "S256",
        "response_mode": "query", "prompt": "none", "max_age": "60", "screen_hint": "signup",
        "connection": CONN, "login_hint": "a@example.com", "audience": "https://api.example.com/",
    });
    (case("/authorize", Method::GET, valid)).prop_map(|mut c| {
        c.query = Some(form(&c.body));
        c.body = Map::new();
        c
    })
}

/// The hosted pages' forms (no valid CSRF token or transaction: refusals, in HTML).
fn pages() -> impl Strategy<Value = Case> {
    let path = prop_oneof![
        Just("/u/login"),
        Just("/u/signup"),
        Just("/v2/logout"),
        Just("/oidc/logout")
    ];
    path.prop_flat_map(|p| {
        case(p, Method::POST, json!({"state": "abc", "_csrf": "x", "username": "a@example.com",
            "password": PASSWORD_MARK, "email": "a@example.com", "returnTo": "https://evil.example/",
            "post_logout_redirect_uri": "http://app.example/", "client_id": "spa-client"}))
    })
}

fn anywhere() -> impl Strategy<Value = Case> {
    let path = prop_oneof![
        Just("/.well-known/openid-configuration"),
        Just("/.well-known/jwks.json"),
        Just("/healthz"),
        Just("/readyz"),
        Just("/authorize"),
        Just("/api/v2/users"),
        Just("/dbconnections/change_password"),
        Just("/nowhere"),
    ];
    path.prop_flat_map(|p| case(p, Method::GET, json!({"a": 1})))
}

/// The Management API's jobs: exports with mutated bodies, imports with what is not a
/// multipart form, and job reads of made-up ids.
fn jobs() -> impl Strategy<Value = Case> {
    let export = case(
        "/api/v2/jobs/users-exports",
        Method::POST,
        json!({"connection_id": latchkey::domain::tenant::connection_id(CONN), "format": "json",
            "fields": [{"name": "email"}, {"name": "app_metadata.plan", "export_as": "plan"}], "limit": 5}),
    );
    let import = case(
        "/api/v2/jobs/users-imports",
        Method::POST,
        json!({"users": "[]", "connection_id": "con_x", "upsert": "false"}),
    );
    let read = (
        case("/api/v2/jobs/job_x", Method::GET, json!({})),
        "[A-Za-z0-9_.-]{1,24}",
        prop_oneof![Just(""), Just("/errors"), Just("/download")],
    )
        .prop_map(|(mut c, id, tail)| {
            c.path = format!("/api/v2/jobs/{id}{tail}");
            c
        });
    prop_oneof![export, import, read]
}

/// The rest of the Management API: user writes, roles, grants and their bodies mutated; log
/// and user searches with generated `q`, `sort`, paging and checkpoints.
fn management() -> impl Strategy<Value = Case> {
    let create = case(
        "/api/v2/users",
        Method::POST,
        json!({"connection": CONN, "email": "f@example.com", "password": PASSWORD_MARK,
            "user_metadata": {"a": 1}, "app_metadata": {"plan": "x"}, "blocked": false, "verify_email": false}),
    );
    let patch = case(
        "/api/v2/users/auth0|nobody",
        Method::PATCH,
        json!({"user_metadata": {"a": null}, "blocked": true, "password": PASSWORD_MARK}),
    );
    let role = case(
        "/api/v2/roles",
        Method::POST,
        json!({"name": "r", "description": "d"}),
    );
    let grant = case(
        "/api/v2/client-grants",
        Method::POST,
        json!({"client_id": "app-client", "audience": "https://api.example.com/", "scope": ["read:things"]}),
    );
    let assign = case(
        "/api/v2/users/auth0|nobody/roles",
        Method::POST,
        json!({"roles": ["rol_x"]}),
    );
    let search = (
        prop_oneof![
            Just("/api/v2/logs"),
            Just("/api/v2/users"),
            Just("/api/v2/roles"),
            Just("/api/v2/users/auth0|x/logs"),
            Just("/api/v2/roles/rol_x/users"),
            Just("/api/v2/client-grants"),
        ],
        "(type|date|user_id|email|app_metadata\\.plan|name|ip)?:?[\\[\\]{}()\"*?a-z0-9 :|&!-]{0,30}",
        prop_oneof![Just("date:1"), Just("date:-1"), Just("email:1"), Just("x"), Just("")],
        "[0-9-]{0,4}",
        prop::option::of("[A-Za-z0-9_|]{0,20}"),
    )
        .prop_map(|(path, q, sort, n, from)| {
            let mut query = format!(
                "q={}&search={}&sort={sort}&per_page={n}&page={n}&take={n}&include_totals=true",
                urlencode(&q),
                urlencode(&q)
            );
            if let Some(f) = from {
                query.push_str(&format!("&from={}", urlencode(&f)));
            }
            managed_get(path.to_owned(), Some(query))
        });
    prop_oneof![create, patch, role, grant, assign, search]
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---- imports ----

/// A password hash as a hostile export could hold it: any cost, any salt character.
fn hostile_hash() -> impl Strategy<Value = (String, Value)> {
    let cost = prop_oneof![4u32..=16, 17u32..=31];
    let bcrypt = (cost, "[./A-Za-z0-9]{53}").prop_map(|(c, body)| {
        (
            "password_hash".to_owned(),
            json!(format!("$2b${c:02}${body}")),
        )
    });
    let big = prop_oneof![1u32..=64, 65u32..=1 << 20, Just(u32::MAX), any::<u32>()];
    let argon = (
        prop_oneof![Just("argon2id"), Just("argon2i"), Just("argon2d")],
        big.clone(),
        big.clone(),
        1u32..=300,
    )
        .prop_map(|(alg, m, t, p)| {
            (
                "custom_password_hash".to_owned(),
                json!({"algorithm": "argon2", "hash": {"encoding": "utf8", "value": format!(
                    "${alg}$v=19$m={m},t={t},p={p}$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY"
                )}}),
            )
        });
    let pbkdf2 = big.prop_map(|i| {
        (
            "custom_password_hash".to_owned(),
            json!({"algorithm": "pbkdf2", "hash": {"encoding": "utf8", "value": format!(
                "$pbkdf2-sha256$i={i},l=32$c2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY"
            )}}),
        )
    });
    prop_oneof![bcrypt, argon, pbkdf2]
}

/// One import record: a hostile hash, nasty strings in its fields and metadata, or oversize.
fn import_record() -> impl Strategy<Value = Value> {
    (
        "[a-z]{4,10}",
        hostile_hash(),
        prop::option::of(nasty()),
        prop::option::of(nasty()),
        0u8..10,
    )
        .prop_map(|(local, (field, hash), name, meta, shape)| {
            let mut r = json!({"email": format!("{local}@example.com")});
            r[field] = hash;
            if let Some(n) = name {
                r["name"] = json!(format!("n{n}"));
            }
            if let Some(m) = meta {
                r["user_metadata"] = json!({ format!("k{m}"): format!("v{m}") });
            }
            if shape == 0 {
                r["app_metadata"] = json!({"blob": "x".repeat(70_000)});
            }
            r
        })
}

/// Imports of hostile files: every one finishes (no panic, no error for the file), every
/// stored hash is within the ceilings, and a wrong password for a cheap one is an ordinary
/// refusal, never a 5xx.
async fn fuzz_imports(backend: Backend) {
    use latchkey::domain::imported_hash::{
        Imported, MAX_ARGON2_M, MAX_ARGON2_P, MAX_ARGON2_T, MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS,
    };
    use latchkey::domain::store::UserStore as _;
    log();
    let app = helpers::spawn_with(
        backend,
        helpers::Options::args(&["--argon2-m-cost", "8", "--hash-queue", "1000"]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // An import is a file and a transaction: a tenth of the request targets' cases.
    let n = cases().div_ceil(10);
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let strategy = (prop::collection::vec(import_record(), 1..6), any::<bool>());
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(records, ndjson)| {
            let file = dir.path().join("users.json");
            let text = if ndjson {
                records.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
            } else {
                Value::Array(records.clone()).to_string()
            };
            std::fs::write(&file, text).unwrap();
            let run = latchkey::migration::ImportRun {
                connection: CONN.into(),
                upsert: true,
                files: vec![file],
                profiles: None,
                errors: dir.path().join("errors.json"),
                progress: latchkey::migration::Progress::Quiet,
            };
            let imported = handle.block_on(latchkey::migration::import(
                app.store.clone(),
                app.clock.clone(),
                run,
            ));
            prop_assert!(imported.is_ok(), "{imported:?}");
            for r in &records {
                let email = r["email"].as_str().unwrap();
                let Some(user) = handle
                    .block_on(app.store.user_by_identifier(CONN, email))
                    .unwrap()
                else {
                    continue;
                };
                let stored = &user.password_hash;
                let mut cheap = false;
                if stored.starts_with("$2") {
                    let cost: u32 = stored[4..6].parse().unwrap();
                    prop_assert!(cost <= MAX_BCRYPT_COST, "{stored}");
                    cheap = cost <= 5;
                } else if stored.starts_with("$argon2") {
                    let parsed = argon2::PasswordHash::new(stored).unwrap();
                    let p = argon2::Params::try_from(&parsed).unwrap();
                    prop_assert!(
                        p.m_cost() <= MAX_ARGON2_M
                            && p.t_cost() <= MAX_ARGON2_T
                            && p.p_cost() <= MAX_ARGON2_P,
                        "{stored}"
                    );
                    cheap = p.m_cost() <= 256 && p.t_cost() <= 2;
                } else if let Some(Imported::Pbkdf2 { iterations, .. }) =
                    Imported::from_stored(stored)
                {
                    prop_assert!(iterations <= MAX_PBKDF2_ITERATIONS, "{stored}");
                    cheap = iterations <= 10_000;
                }
                if cheap {
                    let answer = handle.block_on(
                        app.token(&json!({"grant_type": "password", "client_id": CLIENT,
                            "client_secret": "app-secret", "username": email, "password": "wrong"})),
                    );
                    let status = answer.status().as_u16();
                    prop_assert!(status == 403 || status == 429, "{status} for {stored}");
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("imports: {e}");
    }
    println!("fuzz imports ({backend:?}): {n} files");
    app.stop().await;
}

macro_rules! fuzz_tests {
    ($($name:ident => $strategy:expr),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::fuzz(super::Backend::Sqlite, stringify!($name), $strategy).await
                }
            )*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn imports() {
                super::fuzz_imports(super::Backend::Sqlite).await
            }
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::fuzz(super::Backend::Postgres, stringify!($name), $strategy).await
                }
            )*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn imports() {
                super::fuzz_imports(super::Backend::Postgres).await
            }
        }
    };
}

fuzz_tests!(
    signup => super::signup(),
    token => super::token(),
    revoke => super::revoke(),
    change_password => super::change_password(),
    userinfo => super::userinfo(),
    authorize => super::authorize(),
    pages => super::pages(),
    other_endpoints => super::anywhere(),
    jobs => super::jobs(),
    management => super::management(),
    live_pages => super::live_pages(),
    management_nul => super::management_nul(),
);
