//! `GET /authorize` and the hosted login rules: request validation (which errors may go back to
//! the client and which may not), redirect rules, login transactions, sessions, authorization
//! codes, the answer in each response type, the login and signup forms (through the same
//! `password_check::verify_login` and `signup::signup` as the API), and logout.

use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Services;
use super::claims::{has_scope, opaque_token, token_hash};
use super::error::{Failure, Invalid, Rule};
use super::password_check::CheckError;
use super::signup::{ConnectionError, SignupError, SignupInput, usable_connection, valid_email};
use super::store::{AttemptKey, AuthorizationCode, RecordedLogin, Session, StoreError};
use super::tenant::{Client, Connection, TenantSettings};
use super::token::{
    self, Caller, DEFAULT_LOGIN_SCOPE, GRANT_AUTHORIZATION_CODE, GRANT_IMPLICIT, Issue, Refresh,
    SessionAuth, TokenError,
};
use super::user::{Password, Profile, User, normalize_identifier};

/// Authorization codes live ten minutes, as Auth0's.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// A login page may be left open this long before its transaction is stale.
pub const TRANSACTION_TTL_MS: i64 = 60 * 60 * 1000;
/// A session's activity is written at most this often (idle expiry is counted in hours).
const TOUCH_EVERY_MS: i64 = 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
    WebMessage,
}

impl ResponseMode {
    pub const ALL: [&'static str; 4] = ["query", "fragment", "form_post", "web_message"];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "query" => Self::Query,
            "fragment" => Self::Fragment,
            "form_post" => Self::FormPost,
            "web_message" => Self::WebMessage,
            _ => return None,
        })
    }
}

/// Which of a code, an id_token and an access token `/authorize` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseType {
    pub code: bool,
    pub id_token: bool,
    pub token: bool,
}

impl ResponseType {
    /// Every combination served, as discovery lists them.
    pub const ALL: [&'static str; 7] = [
        "code",
        "token",
        "id_token",
        "id_token token",
        "code id_token",
        "code token",
        "code id_token token",
    ];

    fn parse(s: &str) -> Option<Self> {
        let mut t = ResponseType {
            code: false,
            id_token: false,
            token: false,
        };
        for part in s.split(' ') {
            let slot = match part {
                "code" => &mut t.code,
                "id_token" => &mut t.id_token,
                "token" => &mut t.token,
                _ => return None,
            };
            if *slot {
                return None;
            }
            *slot = true;
        }
        Some(t)
    }

    /// Tokens straight from `/authorize` (the client needs the `implicit` grant).
    fn implicit(self) -> bool {
        self.id_token || self.token
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Screen {
    Login,
    Signup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    None,
    Login,
    /// `consent`, `select_account`: first-party clients have nothing to ask; a page as usual.
    Other,
}

/// `/authorize`'s parameters as sent (each at most once; the edge checks that).
#[derive(Debug, Default, Clone)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub screen_hint: Option<String>,
    pub login_hint: Option<String>,
    pub connection: Option<String>,
    pub max_age: Option<String>,
}

/// Where and how an answer goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// A validated authorization request; a login transaction stores it until the user has logged
/// in or signed up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub reply: Reply,
    pub response_type: ResponseType,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub screen: Screen,
    pub login_hint: Option<String>,
    pub connection: String,
}

/// An OAuth error for the client's redirect_uri.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    pub error: &'static str,
    pub description: String,
}

impl ReplyError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

/// Why a request gets an error page rather than an answer at the client's redirect_uri.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("invalid parameter")]
    Invalid(Invalid),
    #[error("unknown client")]
    UnknownClient,
    /// Not in the client's `callbacks`.
    #[error("redirect_uri not allowed")]
    RedirectUri(String),
    /// `web_message` to an origin not in the client's `web_origins`.
    #[error("web_message origin not allowed")]
    WebOrigin(String),
    /// The page's `state` names no live login transaction (stale, finished or forged).
    #[error("login transaction not found")]
    Transaction,
    /// The form's CSRF token does not match the browser's.
    #[error("CSRF token mismatch")]
    Csrf,
    /// The client has no database connection to log in with.
    #[error("no connection enabled for the client")]
    NoConnection,
    /// Not in `allowed_logout_urls`.
    #[error("logout URL not allowed")]
    LogoutUrl(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("{}: {}", .1.error, .1.description)]
    Reply(Box<Reply>, ReplyError),
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        AuthorizeError::Failure(e.into())
    }
}

/// What `/authorize` does next.
#[derive(Debug)]
pub enum Authorized {
    /// Answer the client now (a live session, or `prompt=none`).
    Answer(Answer),
    /// Show a hosted page for the login transaction `state`.
    Page { state: String, screen: Screen },
}

/// An answer for the client's redirect_uri.
#[derive(Debug)]
pub struct Answer {
    pub reply: Reply,
    pub params: Vec<(&'static str, String)>,
    /// The value of a session cookie to set (after a login on a page).
    pub new_session: Option<String>,
}

impl Answer {
    fn error(reply: Reply, e: &ReplyError) -> Self {
        let mut params = vec![
            ("error", e.error.to_owned()),
            ("error_description", e.description.clone()),
        ];
        if let Some(s) = &reply.state {
            params.push(("state", s.clone()));
        }
        Answer {
            reply,
            params,
            new_session: None,
        }
    }
}

impl AuthorizeError {
    /// An error that goes back to the client as an answer.
    pub fn into_answer(self) -> Result<Answer, AuthorizeError> {
        match self {
            AuthorizeError::Reply(reply, e) => Ok(Answer::error(*reply, &e)),
            other => Err(other),
        }
    }
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    match u.origin() {
        url::Origin::Tuple(..) => Some(u.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// Whether `uri` is one of the client's `callbacks`: exactly, or with a `*` standing for one
/// subdomain label (`https://*.example.com/cb`), as Auth0 allows.
pub fn callback_allowed(client: &Client, uri: &str) -> bool {
    client.callbacks.iter().any(|c| url_matches(c, uri))
}

fn url_matches(pattern: &str, uri: &str) -> bool {
    if pattern == uri {
        return true;
    }
    let Some((before, after)) = pattern.split_once("*.") else {
        return false;
    };
    let Some(rest) = uri.strip_prefix(before) else {
        return false;
    };
    match rest.split_once('.') {
        Some((label, tail)) => {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && tail == after
        }
        None => false,
    }
}

/// A logout URL compared as Auth0 does: exactly, and an origin with or without its slash.
fn logout_url_matches(listed: &str, url: &str) -> bool {
    listed == url || listed.trim_end_matches('/') == url.trim_end_matches('/') && !url.contains('?')
}

fn reply_err(reply: &Reply, error: &'static str, description: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Reply(Box::new(reply.clone()), ReplyError::new(error, description))
}

/// Validates an `/authorize` request: an unknown client or an unlisted redirect_uri is a page
/// error (never a redirect); everything after that goes back to the client.
async fn validate(
    ctx: &Services,
    settings: &TenantSettings,
    p: AuthorizeParams,
) -> Result<(AuthRequest, Arc<Client>, Prompt, Option<i64>), AuthorizeError> {
    let client_id = p
        .client_id
        .ok_or_else(|| PageError::Invalid(Invalid::new("client_id", Rule::Required)))?;
    let client = ctx
        .store
        .client(&client_id)
        .await?
        .ok_or(PageError::UnknownClient)?;
    let redirect_uri = match p.redirect_uri {
        Some(r) => r,
        // As Auth0: without one, the first callback.
        None => client
            .callbacks
            .first()
            .cloned()
            .ok_or_else(|| PageError::Invalid(Invalid::new("redirect_uri", Rule::Required)))?,
    };
    if !callback_allowed(&client, &redirect_uri) {
        return Err(PageError::RedirectUri(redirect_uri).into());
    }
    let response_type = p.response_type.as_deref().map(ResponseType::parse);
    let default_mode = match response_type {
        Some(Some(t)) if t.implicit() => ResponseMode::Fragment,
        _ => ResponseMode::Query,
    };
    let mut reply = Reply {
        redirect_uri,
        mode: default_mode,
        state: p.state,
    };
    if let Some(m) = p.response_mode.as_deref() {
        match ResponseMode::parse(m) {
            Some(m) => reply.mode = m,
            None => {
                return Err(reply_err(
                    &reply,
                    "invalid_request",
                    format!("Unsupported response_mode: {m}"),
                ));
            }
        }
    }
    if reply.mode == ResponseMode::WebMessage {
        let origin = origin_of(&reply.redirect_uri).unwrap_or_default();
        if !client.allows_origin(&origin) {
            return Err(PageError::WebOrigin(origin).into());
        }
    }
    let response_type = match response_type {
        None => {
            return Err(reply_err(
                &reply,
                "invalid_request",
                "missing response_type parameter",
            ));
        }
        Some(None) => {
            return Err(reply_err(
                &reply,
                "unsupported_response_type",
                format!(
                    "Unsupported response type: {}",
                    p.response_type.unwrap_or_default()
                ),
            ));
        }
        Some(Some(t)) => t,
    };
    if response_type.implicit() && reply.mode == ResponseMode::Query {
        // Tokens never travel in a query string (OAuth 2.0 Multiple Response Types §2.1).
        reply.mode = ResponseMode::Fragment;
        return Err(reply_err(
            &reply,
            "invalid_request",
            "response_mode query is not allowed with tokens in the response_type",
        ));
    }
    for (needed, grant) in [
        (response_type.code, GRANT_AUTHORIZATION_CODE),
        (response_type.implicit(), GRANT_IMPLICIT),
    ] {
        if needed && !client.allows_grant(grant) {
            return Err(reply_err(
                &reply,
                "unauthorized_client",
                format!("Grant type '{grant}' not allowed for the client."),
            ));
        }
    }
    let code_challenge = match (p.code_challenge, p.code_challenge_method.as_deref()) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(reply_err(
                &reply,
                "invalid_request",
                "missing code_challenge parameter",
            ));
        }
        (Some(c), Some("S256")) => {
            if c.len() != 43
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return Err(reply_err(
                    &reply,
                    "invalid_request",
                    "code_challenge must be a base64url-encoded SHA-256 hash",
                ));
            }
            Some(c)
        }
        (Some(_), method) => {
            return Err(reply_err(
                &reply,
                "invalid_request",
                format!(
                    "Unsupported code_challenge_method: {}; use S256",
                    method.unwrap_or("plain")
                ),
            ));
        }
    };
    if response_type.code && client.secret_hash.is_none() && code_challenge.is_none() {
        return Err(reply_err(
            &reply,
            "invalid_request",
            "code_challenge is required for public clients (PKCE, S256)",
        ));
    }
    let audience = match p.audience.or_else(|| settings.default_audience.clone()) {
        Some(a) if !token::known_audience(ctx, settings, &a) => {
            return Err(reply_err(
                &reply,
                "access_denied",
                format!("Service not found: {a}"),
            ));
        }
        a => a,
    };
    let scopes = token::user_scopes(
        ctx,
        settings,
        audience.as_deref(),
        p.scope.as_deref().unwrap_or(DEFAULT_LOGIN_SCOPE),
    );
    if response_type.id_token && !has_scope(&scopes, "openid") {
        return Err(reply_err(
            &reply,
            "invalid_scope",
            "response_type id_token requires the openid scope",
        ));
    }
    if response_type.id_token && !response_type.code && p.nonce.is_none() {
        return Err(reply_err(
            &reply,
            "invalid_request",
            "nonce is required when the response_type returns an id_token",
        ));
    }
    let prompt = match p.prompt.as_deref() {
        None => Prompt::Other,
        Some("none") => Prompt::None,
        Some("login") => Prompt::Login,
        Some("consent" | "select_account") => Prompt::Other,
        Some(other) => {
            return Err(reply_err(
                &reply,
                "invalid_request",
                format!("Unsupported prompt: {other}"),
            ));
        }
    };
    let max_age = match p.max_age.as_deref() {
        None => None,
        Some(m) => match m.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(reply_err(
                    &reply,
                    "invalid_request",
                    "max_age must be a non-negative integer",
                ));
            }
        },
    };
    let connection = match p.connection {
        Some(name) => {
            let (_, found) = ctx
                .store
                .client_with_connection(&client.client_id, &name)
                .await?
                .ok_or(PageError::UnknownClient)?;
            match usable_connection(&client, found) {
                Ok(c) => c.name.clone(),
                Err(e) => {
                    return Err(reply_err(
                        &reply,
                        "invalid_request",
                        match e {
                            ConnectionError::NotFound => "the connection was not found",
                            ConnectionError::NotEnabled => "the connection was disabled",
                            ConnectionError::NotDatabase => {
                                "the connection is not a database connection"
                            }
                        },
                    ));
                }
            }
        }
        None => String::new(),
    };
    let screen = match p.screen_hint.as_deref() {
        Some("signup") => Screen::Signup,
        _ => Screen::Login,
    };
    Ok((
        AuthRequest {
            client_id: client.client_id.clone(),
            reply,
            response_type,
            scopes,
            audience,
            nonce: p.nonce,
            code_challenge,
            screen,
            login_hint: p.login_hint,
            connection,
        },
        client,
        prompt,
        max_age,
    ))
}

/// The connection the pages use for `client`: the tenant's default directory when the client
/// may use it, else the first database connection (by name) enabled for it.
async fn default_connection(
    ctx: &Services,
    settings: &TenantSettings,
    client: &Client,
) -> Result<String, AuthorizeError> {
    let usable = |c: &Connection| c.is_database() && c.enabled_clients.contains(&client.client_id);
    if let Some(dir) = &settings.default_directory
        && let Some((_, Some(c))) = ctx
            .store
            .client_with_connection(&client.client_id, dir)
            .await?
        && usable(&c)
    {
        return Ok(dir.clone());
    }
    let all = ctx.store.connections().await?;
    all.iter()
        .find(|c| usable(c))
        .map(|c| c.name.clone())
        .ok_or_else(|| PageError::NoConnection.into())
}

/// The browser's session, if it is live: within both lifetimes, its user not blocked. Activity
/// is recorded (at most once a minute).
async fn live_session(
    ctx: &Services,
    settings: &TenantSettings,
    cookie: Option<&str>,
) -> Result<Option<(Session, User)>, AuthorizeError> {
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    let Some((session, user)) = ctx.store.session(&token_hash(cookie)).await? else {
        return Ok(None);
    };
    let now = ctx.clock.now_millis();
    if now >= session.created_at + settings.session_lifetime_ms()
        || now >= session.last_seen + settings.idle_session_lifetime_ms()
        || user.blocked
    {
        return Ok(None);
    }
    if now - session.last_seen >= TOUCH_EVERY_MS {
        ctx.store.touch_session(&session.id_hash, now).await?;
    }
    Ok(Some((session, user)))
}

/// Runs `GET /authorize`.
pub async fn authorize(
    ctx: &Services,
    params: AuthorizeParams,
    session_cookie: Option<&str>,
) -> Result<Authorized, AuthorizeError> {
    let settings = ctx.store.tenant_settings().await?;
    let (mut request, client, prompt, max_age) = validate(ctx, &settings, params).await?;
    if prompt != Prompt::Login
        && let Some((session, user)) = live_session(ctx, &settings, session_cookie).await?
    {
        let fresh = max_age.is_none_or(|m| ctx.clock.now_secs() - session.auth_time / 1000 <= m);
        // Single sign-on reaches the clients the user's connection is enabled for.
        let enabled = ctx
            .store
            .client_with_connection(&client.client_id, &user.connection)
            .await?
            .and_then(|(_, c)| c)
            .is_some_and(|c| c.enabled_clients.contains(&client.client_id));
        if fresh && enabled {
            let code = new_code(ctx, &request, &session, &user);
            if let Some((_, stored)) = &code {
                ctx.store.insert_code(stored).await?;
            }
            let code = code.map(|(value, _)| value);
            return Ok(Authorized::Answer(
                answer(ctx, &request, &client, &session, &user, code).await?,
            ));
        }
    }
    if prompt == Prompt::None {
        return Err(reply_err(
            &request.reply,
            "login_required",
            "Login required",
        ));
    }
    if request.connection.is_empty() {
        request.connection = default_connection(ctx, &settings, &client).await?;
    }
    let state = opaque_token();
    let stored = serde_json::to_string(&request)
        .map_err(|_| Failure::Bug("a login transaction does not encode"))?;
    ctx.store
        .insert_transaction(
            &token_hash(&state),
            &stored,
            ctx.clock.now_millis() + TRANSACTION_TTL_MS,
        )
        .await?;
    Ok(Authorized::Page {
        state,
        screen: request.screen,
    })
}

/// A new authorization code for the answer to `req` (when its response type asks for one):
/// the value for the client and the stored form.
fn new_code(
    ctx: &Services,
    req: &AuthRequest,
    session: &Session,
    user: &User,
) -> Option<(String, AuthorizationCode)> {
    req.response_type.code.then(|| {
        let code = opaque_token();
        let stored = AuthorizationCode {
            code_hash: token_hash(&code),
            client_id: req.client_id.clone(),
            user_id: user.id.clone(),
            session_hash: session.id_hash.clone(),
            redirect_uri: req.reply.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            scope: req.scopes.join(" "),
            audience: req.audience.clone(),
            nonce: req.nonce.clone(),
            auth_time: session.auth_time,
            sid: session.sid.clone(),
            family_id: opaque_token(),
            expires_at: ctx.clock.now_millis() + CODE_TTL_MS,
        };
        (code, stored)
    })
}

/// The answer for a logged-in user: the code (already stored), tokens, or both, as the
/// response type asks.
async fn answer(
    ctx: &Services,
    req: &AuthRequest,
    client: &Client,
    session: &Session,
    user: &User,
    code: Option<String>,
) -> Result<Answer, AuthorizeError> {
    let now = ctx.clock.now_secs();
    let issue = Issue {
        client,
        user,
        scopes: &req.scopes,
        audience: req.audience.clone(),
        nonce: req.nonce.as_deref(),
        refresh: Refresh::NewFamily(None),
        session: Some(SessionAuth {
            auth_time: session.auth_time / 1000,
            sid: session.sid.clone(),
        }),
        gty: None,
    };
    let mut params = Vec::new();
    let mut hashes = Vec::new();
    if let Some(code) = code {
        hashes.push(("c_hash", token::half_hash(&code)));
        params.push(("code", code));
    }
    if req.response_type.token {
        let at = token::access_token(ctx, &issue, now).await?;
        hashes.push(("at_hash", token::half_hash(&at)));
        params.push(("access_token", at));
        params.push(("scope", req.scopes.join(" ")));
        params.push((
            "expires_in",
            super::claims::ACCESS_TOKEN_TTL_SECS.to_string(),
        ));
        params.push(("token_type", "Bearer".to_owned()));
    }
    if req.response_type.id_token
        && let Some(claims) = token::id_token_claims(ctx, &issue, now, &hashes)
    {
        params.push(("id_token", ctx.signer.sign(&claims).await?));
    }
    if let Some(s) = &req.reply.state {
        params.push(("state", s.clone()));
    }
    Ok(Answer {
        reply: req.reply.clone(),
        params,
        new_session: None,
    })
}

/// A login transaction opened by a hosted page, with what the page shows.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub state: String,
    pub request: AuthRequest,
    pub client: Arc<Client>,
    pub connection: Arc<Connection>,
    pub settings: Arc<TenantSettings>,
}

/// The live login transaction a page's `state` names.
pub async fn transaction(
    ctx: &Services,
    state: Option<&str>,
) -> Result<Transaction, AuthorizeError> {
    let state = state.ok_or(PageError::Transaction)?;
    let stored = ctx
        .store
        .transaction(&token_hash(state), ctx.clock.now_millis())
        .await?
        .ok_or(PageError::Transaction)?;
    let request: AuthRequest =
        serde_json::from_str(&stored).map_err(|e| StoreError::Corrupt(Arc::new(e)))?;
    let (client, connection) = ctx
        .store
        .client_with_connection(&request.client_id, &request.connection)
        .await?
        .ok_or(PageError::Transaction)?;
    let connection = usable_connection(&client, connection)
        .map_err(|_| PageError::NoConnection)?
        .clone();
    Ok(Transaction {
        state: state.to_owned(),
        request,
        client,
        connection,
        settings: ctx.store.tenant_settings().await?,
    })
}

/// A login form as posted.
#[derive(Debug)]
pub struct LoginForm {
    pub username: String,
    pub password: Password,
}

/// A signup form as posted.
#[derive(Debug)]
pub struct SignupForm {
    pub email: String,
    pub username: Option<String>,
    pub password: Password,
}

/// Why a form was refused: the page is shown again with the error.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("invalid field")]
    Invalid(Invalid),
    #[error(transparent)]
    Login(TokenError),
    #[error(transparent)]
    Signup(SignupError),
}

#[derive(Debug, thiserror::Error)]
pub enum PageFailure {
    #[error(transparent)]
    Form(FormError),
    #[error(transparent)]
    Authorize(#[from] AuthorizeError),
}

impl From<Failure> for PageFailure {
    fn from(f: Failure) -> Self {
        PageFailure::Authorize(f.into())
    }
}

impl From<StoreError> for PageFailure {
    fn from(e: StoreError) -> Self {
        PageFailure::Authorize(e.into())
    }
}

/// Ends the transaction and answers the client for the user now logged in, with a new
/// session replacing the browser's previous one (one write for the session, the transaction
/// and the code).
async fn finish(
    ctx: &Services,
    tx: &Transaction,
    user: &User,
    previous_session: Option<&str>,
) -> Result<Answer, PageFailure> {
    let cookie = opaque_token();
    let now = ctx.clock.now_millis();
    let session = Session {
        id_hash: token_hash(&cookie),
        sid: opaque_token(),
        user_id: user.id.clone(),
        auth_time: now,
        created_at: now,
        last_seen: now,
    };
    let code = new_code(ctx, &tx.request, &session, user);
    ctx.store
        .complete_login(
            &session,
            previous_session.map(token_hash).as_deref(),
            &token_hash(&tx.state),
            code.as_ref().map(|(_, stored)| stored),
        )
        .await?;
    let code = code.map(|(value, _)| value);
    let mut answer = answer(ctx, &tx.request, &tx.client, &session, user, code).await?;
    answer.new_session = Some(cookie);
    Ok(answer)
}

fn attempt_key(tx: &Transaction, identifier: &str, caller: &Caller) -> AttemptKey {
    AttemptKey {
        connection: tx.connection.name.clone(),
        identifier: token_hash(identifier),
        ip: caller.ip.to_string(),
    }
}

/// The login page's form: the same password check, brute-force protection and login record
/// as the password grants.
pub async fn login(
    ctx: &Services,
    tx: &Transaction,
    form: LoginForm,
    caller: &Caller,
    previous_session: Option<&str>,
) -> Result<Answer, PageFailure> {
    if form.username.trim().is_empty() {
        return Err(PageFailure::Form(FormError::Invalid(Invalid::new(
            "username",
            Rule::Required,
        ))));
    }
    if form.password.0.is_empty() {
        return Err(PageFailure::Form(FormError::Invalid(Invalid::new(
            "password",
            Rule::Required,
        ))));
    }
    let identifier = normalize_identifier(&form.username);
    let attempts = attempt_key(tx, &identifier, caller);
    let user = match super::password_check::verify_login(
        ctx,
        &tx.client,
        &identifier,
        &attempts,
        form.password,
        tx.connection.options.brute_force_protection,
    )
    .await
    {
        Ok(user) => user,
        Err(CheckError::Failure(f)) => return Err(f.into()),
        Err(e) => {
            tracing::info!(client_id = %tx.client.client_id, connection = %tx.connection.name, ip = %attempts.ip, reason = %e, "login failed");
            return Err(PageFailure::Form(FormError::Login(e.into())));
        }
    };
    tracing::info!(user_id = %user.id, client_id = %tx.client.client_id, connection = %tx.connection.name, "login");
    finish(ctx, tx, &user, previous_session).await
}

/// The signup page's form: the same rules as `/dbconnections/signup`, then a login.
pub async fn signup(
    ctx: &Services,
    tx: &Transaction,
    form: SignupForm,
    caller: &Caller,
    previous_session: Option<&str>,
) -> Result<Answer, PageFailure> {
    let form_error = |e| PageFailure::Form(FormError::Invalid(e));
    let email = normalize_identifier(&form.email);
    if email.is_empty() {
        return Err(form_error(Invalid::new("email", Rule::Required)));
    }
    if !valid_email(&email) {
        return Err(form_error(Invalid::new("email", Rule::Email)));
    }
    if form.password.0.is_empty() {
        return Err(form_error(Invalid::new("password", Rule::Required)));
    }
    let input = SignupInput {
        client_id: tx.client.client_id.clone(),
        connection: tx.connection.name.clone(),
        email: email.clone(),
        password: form.password,
        username: form.username,
        profile: Profile::default(),
        user_metadata: None,
    };
    let created = match super::signup::signup(ctx, input, None).await {
        Ok(u) => u,
        Err(SignupError::Failure(f)) => return Err(f.into()),
        Err(e) => return Err(PageFailure::Form(FormError::Signup(e))),
    };
    let attempts = attempt_key(tx, &email, caller);
    let now = ctx.clock.now_millis();
    ctx.store
        .record_login(
            &RecordedLogin {
                user_id: &created.id,
                ip: &attempts.ip,
                now,
                rehash: None,
            },
            &attempts,
        )
        .await?;
    let user = ctx
        .store
        .user_by_id(&created.id)
        .await?
        .ok_or(Failure::Bug("a new user is not stored"))?;
    tracing::info!(user_id = %user.id, client_id = %tx.client.client_id, connection = %tx.connection.name, "signup and login");
    finish(ctx, tx, &user, previous_session).await
}

/// Logout parameters of `/v2/logout` and `/oidc/logout`.
#[derive(Debug, Default)]
pub struct LogoutParams {
    pub client_id: Option<String>,
    /// `returnTo` or `post_logout_redirect_uri`.
    pub return_to: Option<String>,
    pub id_token_hint: Option<String>,
    /// `/oidc/logout`'s `state`, appended to the return URL.
    pub state: Option<String>,
}

/// The `aud` of an id_token, read without verifying it: it only chooses whose
/// `allowed_logout_urls` a return URL must be in, and a redirect goes only to a listed URL.
fn hint_audience(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    match claims.get("aud")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first()?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Ends the browser's session; returns where to send it (`None`: the logged-out page). A return
/// URL no client lists is refused before anything ends.
pub async fn logout(
    ctx: &Services,
    session_cookie: Option<&str>,
    p: LogoutParams,
) -> Result<Option<String>, AuthorizeError> {
    let client_id = p
        .client_id
        .clone()
        .or_else(|| p.id_token_hint.as_deref().and_then(hint_audience));
    let client = match &client_id {
        Some(id) => Some(
            ctx.store
                .client(id)
                .await?
                .ok_or(PageError::UnknownClient)?,
        ),
        None => None,
    };
    let target = match p.return_to {
        None => None,
        Some(url) => {
            let allowed = match &client {
                Some(c) => c
                    .allowed_logout_urls
                    .iter()
                    .any(|l| logout_url_matches(l, &url)),
                None => ctx.store.logout_url_known(&url).await?,
            };
            if !allowed {
                return Err(PageError::LogoutUrl(url).into());
            }
            Some(match p.state {
                Some(state) => {
                    let mut u =
                        url::Url::parse(&url).map_err(|_| PageError::LogoutUrl(url.clone()))?;
                    u.query_pairs_mut().append_pair("state", &state);
                    u.to_string()
                }
                None => url,
            })
        }
    };
    if let Some(cookie) = session_cookie {
        let hash = token_hash(cookie);
        if let Some((_, user)) = ctx.store.session(&hash).await? {
            ctx.store.end_session(&hash).await?;
            let event = ctx
                .event("slo")
                .description("User successfully logged out")
                .connection(&user.connection)
                .user(&user.id, Some(&user.email));
            match &client {
                Some(c) => event.client(c),
                None => event,
            }
            .record();
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_types_parse_each_part_once() {
        let t = ResponseType::parse("id_token token").unwrap();
        assert!(t.id_token && t.token && !t.code);
        for s in ResponseType::ALL {
            assert!(ResponseType::parse(s).is_some(), "{s}");
        }
        assert!(ResponseType::parse("code code").is_none());
        assert!(ResponseType::parse("code  token").is_none());
        assert!(ResponseType::parse("device").is_none());
        assert!(ResponseType::parse("").is_none());
    }

    #[test]
    fn callbacks_match_exactly_or_by_one_wildcard_label() {
        assert!(url_matches("https://a.example/cb", "https://a.example/cb"));
        assert!(!url_matches(
            "https://a.example/cb",
            "https://a.example/cb/"
        ));
        assert!(!url_matches(
            "https://a.example/cb",
            "https://a.example/cb?x=1"
        ));
        assert!(url_matches(
            "https://*.example.com/cb",
            "https://tenant-1.example.com/cb"
        ));
        assert!(!url_matches(
            "https://*.example.com/cb",
            "https://a.b.example.com/cb"
        ));
        assert!(!url_matches(
            "https://*.example.com/cb",
            "https://.example.com/cb"
        ));
        assert!(!url_matches(
            "https://*.example.com/cb",
            "https://evil.com/x.example.com/cb"
        ));
    }

    #[test]
    fn logout_urls_ignore_only_a_trailing_slash() {
        assert!(logout_url_matches(
            "http://localhost:3000/",
            "http://localhost:3000"
        ));
        assert!(logout_url_matches(
            "http://localhost:3000",
            "http://localhost:3000/"
        ));
        assert!(!logout_url_matches(
            "http://localhost:3000",
            "http://localhost:3000/x"
        ));
        assert!(!logout_url_matches(
            "http://localhost:3000",
            "http://localhost:3000/?next=evil"
        ));
    }

    #[test]
    fn origins_of_urls() {
        assert_eq!(
            origin_of("http://127.0.0.1:5173/cb?x=1").as_deref(),
            Some("http://127.0.0.1:5173")
        );
        assert_eq!(origin_of("com.example.app://callback"), None);
    }

    #[test]
    fn hint_audience_reads_the_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"aud":"client-1","sub":"x"}"#);
        assert_eq!(
            hint_audience(&format!("h.{payload}.s")).as_deref(),
            Some("client-1")
        );
        assert_eq!(hint_audience("garbage"), None);
    }
}
