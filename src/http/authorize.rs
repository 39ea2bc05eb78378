//! `GET /authorize`, the hosted login and signup pages (`/u/login`, `/u/signup`), `/v2/logout`
//! and `/oidc/logout`: read the typed inputs, call `domain::authorize`, and deliver the answer
//! in its response mode (a redirect with a query or fragment, an auto-posting form, or a
//! `postMessage` page), or an HTML page.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde_json::{Map, Value, json};

use super::AppState;
use super::body::{BodyError, Fields};
use super::error::{HtmlError, form_error_view};
use super::input;
use super::pages::brand;
use super::pages::{Brand, Csp, checklist, csp_source, session_cookie};
use crate::domain::authorize::{
    self, Answer, Authorized, FormError, LoginForm, PageError, PageFailure, ResponseMode, Screen,
    SignupForm, Transaction, origin_of,
};
use crate::domain::user::Password;

async fn error_page(state: &AppState, e: impl Into<HtmlError>) -> Response {
    let brand = brand(state).await;
    state.pages.error_page(&brand, &e.into())
}

/// A `302` to `location`, never cached, with no referrer.
pub fn redirect_to(location: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Sends an answer to the client's redirect_uri in its response mode.
fn deliver(state: &AppState, brand: &Brand, answer: &Answer) -> Response {
    let reply = &answer.reply;
    let encoded = || {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &answer.params {
            s.append_pair(k, v);
        }
        s.finish()
    };
    match reply.mode {
        ResponseMode::Query => {
            let sep = if reply.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            redirect_to(&format!("{}{sep}{}", reply.redirect_uri, encoded()))
        }
        ResponseMode::Fragment => {
            let base = reply.redirect_uri.split('#').next().unwrap_or_default();
            redirect_to(&format!("{base}#{}", encoded()))
        }
        ResponseMode::FormPost => {
            let csp = Csp {
                scripts: true,
                form_action: csp_source(&reply.redirect_uri).into_iter().collect(),
                ..Csp::default()
            };
            let params: Vec<(&str, &str)> = answer
                .params
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect();
            state.pages.page(
                StatusCode::OK,
                brand,
                "form_post.html",
                context! { action => reply.redirect_uri, params },
                &csp,
            )
        }
        ResponseMode::WebMessage => {
            let origin = origin_of(&reply.redirect_uri).unwrap_or_default();
            let response: Map<String, Value> = answer
                .params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            let message = json!({"type": "authorization_response", "response": response});
            // JSON in a script element: `<` escaped so no value can close the element.
            let script_json = |v: &Value| v.to_string().replace('<', "\\u003c");
            let csp = Csp {
                scripts: true,
                form_action: vec![],
                frame_ancestors: csp_source(&origin).into_iter().collect(),
                images: None,
            };
            state.pages.page(
                StatusCode::OK,
                brand,
                "web_message.html",
                context! { message => script_json(&message), origin => script_json(&json!(origin)) },
                &csp,
            )
        }
    }
}

/// `GET /authorize`.
pub async fn authorize_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    jar: CookieJar,
) -> Response {
    let params = match input::query(query.as_deref()).and_then(|q| input::authorize_params(&q)) {
        Ok(p) => p,
        Err(e) => return error_page(&state, PageError::Invalid(e)).await,
    };
    let cookie = session_cookie(&jar);
    let outcome = authorize::authorize(&state.services, params, cookie.as_deref()).await;
    let brand = brand(&state).await;
    match outcome {
        Ok(Authorized::Answer(answer)) => deliver(&state, &brand, &answer),
        Ok(Authorized::Page { state: tx, screen }) => {
            let page = match screen {
                Screen::Login => "login",
                Screen::Signup => "signup",
            };
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("state", &tx)
                .finish();
            redirect_to(&format!("/u/{page}?{q}"))
        }
        Err(e) => match e.into_answer() {
            Ok(answer) => deliver(&state, &brand, &answer),
            Err(e) => state.pages.error_page(&brand, &e.into()),
        },
    }
}

/// The `state` of a page URL.
fn page_state(query: Option<&str>) -> Result<Option<String>, HtmlError> {
    let q = input::query(query).map_err(PageError::Invalid)?;
    Ok(q.get("state").and_then(Value::as_str).map(str::to_owned))
}

async fn open(state: &AppState, query: Option<&str>) -> Result<Transaction, HtmlError> {
    let s = page_state(query)?;
    Ok(authorize::transaction(&state.services, s.as_deref()).await?)
}

/// What a form page shows: the values typed so far (never the password) and the error.
#[derive(Default)]
struct Shown {
    username: String,
    email: String,
    error: Option<super::error::FormErrorView>,
    /// The refused password, to mark the checklist (never shown).
    password: Option<String>,
}

fn form_page(
    state: &AppState,
    tx: &Transaction,
    screen: Screen,
    csrf: &CsrfToken,
    shown: Shown,
) -> Response {
    let brand = Brand::of(&tx.settings);
    let token = match csrf.authenticity_token() {
        Ok(t) => t,
        Err(_) => {
            return state.pages.error_page(
                &brand,
                &HtmlError::from(crate::domain::error::Failure::Bug("no CSRF token")),
            );
        }
    };
    let status = shown.error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let error = shown
        .error
        .as_ref()
        .map(|e| json!({"field": e.field, "text": e.text}));
    let opts = &tx.connection.options;
    let mut csp = Csp::page();
    csp.images = brand.image_source();
    // Chromium applies form-action to the redirect that follows a post: the answer goes to the
    // client's redirect_uri.
    csp.form_action
        .extend(csp_source(&tx.request.reply.redirect_uri));
    let username = if shown.username.is_empty() && shown.error.is_none() {
        tx.request.login_hint.clone().unwrap_or_default()
    } else {
        shown.username
    };
    let ctx = context! {
        state => tx.state,
        csrf => token,
        app => tx.client.name,
        username => username,
        email => shown.email,
        usernames => opts.requires_username,
        identifier_label => if opts.requires_username { "Username or email address" } else { "Email address" },
        signup_allowed => !opts.disable_signup,
        disabled => opts.disable_signup,
        policy => checklist(&tx.connection.options.policy(), shown.password.as_deref()),
        error => error,
    };
    let name = match screen {
        Screen::Login => "login.html",
        Screen::Signup => "signup.html",
    };
    let page = state.pages.page(status, &brand, name, ctx, &csp);
    (csrf.clone(), page).into_response()
}

/// `GET /u/login`.
pub async fn login_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    csrf: CsrfToken,
) -> Response {
    match open(&state, query.as_deref()).await {
        Ok(tx) => form_page(&state, &tx, Screen::Login, &csrf, Shown::default()),
        Err(e) => error_page(&state, e).await,
    }
}

/// `GET /u/signup`.
pub async fn signup_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    csrf: CsrfToken,
) -> Response {
    match open(&state, query.as_deref()).await {
        Ok(tx) => form_page(&state, &tx, Screen::Signup, &csrf, Shown::default()),
        Err(e) => error_page(&state, e).await,
    }
}

/// A posted form's fields; the transaction is the URL's (a hidden `state` field that differs
/// names another transaction, and is refused).
fn posted(
    body: Result<Fields, BodyError>,
    query: Option<&str>,
    csrf: &CsrfToken,
) -> Result<Map<String, Value>, HtmlError> {
    let fields = body?.0;
    let token = input::form_field(&fields, "_csrf")
        .map_err(PageError::Invalid)?
        .unwrap_or_default();
    if csrf.verify(&token).is_err() {
        return Err(PageError::Csrf.into());
    }
    let url_state = page_state(query)?;
    let form_state = input::form_field(&fields, "state").map_err(PageError::Invalid)?;
    if form_state.is_some() && form_state != url_state {
        return Err(PageError::Transaction.into());
    }
    Ok(fields)
}

fn field(fields: &Map<String, Value>, name: &str) -> Result<String, FormError> {
    input::form_field(fields, name)
        .map(Option::unwrap_or_default)
        .map_err(FormError::Invalid)
}

/// After a successful form: the session cookie, then the answer.
fn logged_in(state: &AppState, tx: &Transaction, jar: CookieJar, answer: Answer) -> Response {
    let brand = Brand::of(&tx.settings);
    let jar = match answer.new_session.clone() {
        Some(v) => state
            .pages
            .session_cookies(jar, v, tx.settings.session_lifetime_ms()),
        None => jar,
    };
    (jar, deliver(state, &brand, &answer)).into_response()
}

/// `POST /u/login`.
#[allow(clippy::too_many_arguments)]
pub async fn login_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    jar: CookieJar,
    csrf: CsrfToken,
    body: Result<Fields, BodyError>,
) -> Response {
    let fields = match posted(body, query.as_deref(), &csrf) {
        Ok(f) => f,
        Err(e) => return error_page(&state, e).await,
    };
    let tx = match open(&state, query.as_deref()).await {
        Ok(tx) => tx,
        Err(e) => return error_page(&state, e).await,
    };
    let username = field(&fields, "username");
    let password = field(&fields, "password");
    let shown_name = username.as_ref().cloned().unwrap_or_default();
    let result = match (username, password) {
        (Ok(username), Ok(password)) => {
            let caller = input::caller(state.trust_forwarded_for, &headers, peer);
            let form = LoginForm {
                username,
                password: Password(password),
            };
            let previous = session_cookie(&jar);
            authorize::login(&state.services, &tx, form, &caller, previous.as_deref()).await
        }
        (Err(e), _) | (_, Err(e)) => Err(PageFailure::Form(e)),
    };
    match result {
        Ok(answer) => logged_in(&state, &tx, jar, answer),
        Err(PageFailure::Form(e)) => {
            let shown = Shown {
                username: shown_name,
                error: Some(form_error_view(&e)),
                ..Shown::default()
            };
            form_page(&state, &tx, Screen::Login, &csrf, shown)
        }
        Err(PageFailure::Authorize(e)) => error_page(&state, e).await,
    }
}

/// `POST /u/signup`.
#[allow(clippy::too_many_arguments)]
pub async fn signup_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    jar: CookieJar,
    csrf: CsrfToken,
    body: Result<Fields, BodyError>,
) -> Response {
    let fields = match posted(body, query.as_deref(), &csrf) {
        Ok(f) => f,
        Err(e) => return error_page(&state, e).await,
    };
    let tx = match open(&state, query.as_deref()).await {
        Ok(tx) => tx,
        Err(e) => return error_page(&state, e).await,
    };
    let email = field(&fields, "email");
    let username = field(&fields, "username");
    let password = field(&fields, "password");
    let mut shown = Shown {
        email: email.as_ref().cloned().unwrap_or_default(),
        username: username.as_ref().cloned().unwrap_or_default(),
        ..Shown::default()
    };
    let result = match (email, username, password) {
        (Ok(email), Ok(username), Ok(password)) => {
            shown.password = Some(password.clone());
            let caller = input::caller(state.trust_forwarded_for, &headers, peer);
            let form = SignupForm {
                email,
                username: Some(username).filter(|u| !u.is_empty()),
                password: Password(password),
            };
            let previous = session_cookie(&jar);
            authorize::signup(&state.services, &tx, form, &caller, previous.as_deref()).await
        }
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => Err(PageFailure::Form(e)),
    };
    match result {
        Ok(answer) => logged_in(&state, &tx, jar, answer),
        Err(PageFailure::Form(e)) => {
            // The checklist marks what the refused password missed only for strength errors.
            if !matches!(
                e,
                FormError::Signup(crate::domain::signup::SignupError::PasswordStrength(_))
            ) {
                shown.password = None;
            }
            shown.error = Some(form_error_view(&e));
            form_page(&state, &tx, Screen::Signup, &csrf, shown)
        }
        Err(PageFailure::Authorize(e)) => error_page(&state, e).await,
    }
}

async fn logout(state: AppState, query: Option<String>, jar: CookieJar, oidc: bool) -> Response {
    let params = match input::query(query.as_deref()).and_then(|q| input::logout_params(&q, oidc)) {
        Ok(p) => p,
        Err(e) => return error_page(&state, PageError::Invalid(e)).await,
    };
    let cookie = session_cookie(&jar);
    let brand = brand(&state).await;
    match authorize::logout(&state.services, cookie.as_deref(), params).await {
        Ok(target) => {
            let jar = state.pages.clear_session(jar);
            let page = match target {
                Some(url) => redirect_to(&url),
                None => {
                    let mut csp = Csp::page();
                    csp.images = brand.image_source();
                    state
                        .pages
                        .page(StatusCode::OK, &brand, "logged_out.html", context! {}, &csp)
                }
            };
            (jar, page).into_response()
        }
        Err(e) => state.pages.error_page(&brand, &HtmlError::from(e)),
    }
}

/// `GET /v2/logout?client_id=&returnTo=`.
pub async fn logout_v2(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    jar: CookieJar,
) -> Response {
    logout(state, query, jar, false).await
}

/// `GET /oidc/logout?id_token_hint=&post_logout_redirect_uri=&client_id=&state=`.
pub async fn logout_oidc(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    jar: CookieJar,
) -> Response {
    logout(state, query, jar, true).await
}
