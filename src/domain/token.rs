//! `POST /oauth/token` and `POST /oauth/revoke` rules, on requests the edge has parsed: client
//! authentication, the password, password-realm, refresh_token, client_credentials (client
//! grants decide what a machine token may carry) and authorization_code grants (the password
//! check itself is `password_check`'s), issuing tokens, and the periodic purge of what expired.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::Services;
use super::claims::{
    ACCESS_TOKEN_TTL_SECS, ID_TOKEN_TTL_SECS, REFRESH_TOKEN_TTL_MS, has_scope, opaque_token,
    parse_scope, profile_claims, token_hash,
};
use super::error::{Failure, Invalid};
use super::password_check::CheckError;
use super::signup::{ConnectionError, usable_connection};
use super::store::{AttemptKey, Redeemed, RefreshToken, StoreError};
use super::tenant::{Client, MANAGEMENT_AUDIENCE, OIDC_SCOPES, TenantSettings};
use super::user::{Password, User};

pub const GRANT_PASSWORD: &str = "password";
pub const GRANT_PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// Not a grant of `/oauth/token`: a client's permission to get tokens straight from
/// `/authorize` (`response_type` with `token` or `id_token`).
pub const GRANT_IMPLICIT: &str = "implicit";

/// The grants `/oauth/token` serves.
pub const GRANTS: [&str; 5] = [
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_AUTHORIZATION_CODE,
];

use super::password_check::{MAX_FAILED_LOGINS, verify_login};

/// Failed-attempt counters that block nobody are forgotten after a day without attempts, so
/// that guesses at random identifiers do not pile up.
pub const ATTEMPTS_IDLE_MS: i64 = 24 * 3600 * 1000;

/// Scopes of a password login that names none: enough for an id_token with the profile.
pub const DEFAULT_LOGIN_SCOPE: &str = "openid profile email";

/// Every way a token or revoke request can fail.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A parameter is missing or of the wrong type.
    #[error("invalid parameter")]
    Invalid(#[from] Invalid),
    #[error("no realm and no default connection")]
    NoDefaultConnection,
    #[error("unsupported grant type {0}")]
    UnsupportedGrantType(String),
    /// The client may not use this grant (its `grant_types`).
    #[error("grant type {0} not allowed for the client")]
    GrantNotAllowed(&'static str),
    #[error("unknown client")]
    UnknownClient,
    /// Client authentication failed (wrong, missing or malformed secret); the text says which.
    #[error("{0}")]
    InvalidClient(&'static str),
    #[error("origin not allowed for this client")]
    OriginNotAllowed,
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// Wrong password or unknown user: one error, so the answer does not reveal which.
    #[error("wrong email or password")]
    WrongCredentials,
    /// Brute-force protection blocked this (identifier, IP).
    #[error("too many failed login attempts")]
    TooManyAttempts,
    #[error("user is blocked")]
    UserBlocked,
    #[error("unknown or invalid refresh token")]
    InvalidRefreshToken,
    #[error("unknown audience {0}")]
    UnknownAudience(String),
    #[error("no audience requested and no default audience")]
    MissingAudience,
    /// The client has no client grant for this audience.
    #[error("no client grant for {0}")]
    AccessDenied(String),
    #[error("scope not granted: {0}")]
    InvalidScope(String),
    /// Unknown, expired, replayed, or bound to another client or redirect_uri.
    #[error("invalid authorization code")]
    InvalidCode,
    #[error("code verifier does not match the challenge")]
    CodeVerifier,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<CheckError> for TokenError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::WrongCredentials => TokenError::WrongCredentials,
            CheckError::TooManyAttempts => TokenError::TooManyAttempts,
            CheckError::UserBlocked => TokenError::UserBlocked,
            CheckError::Failure(f) => TokenError::Failure(f),
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Failure(e.into())
    }
}

/// The client's credentials as presented (HTTP Basic or the body).
#[derive(Debug)]
pub struct ClientAuth {
    pub client_id: String,
    pub secret: Option<String>,
}

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The peer's address (behind a trusted proxy, the proxy's view of it).
    pub ip: IpAddr,
    pub origin: Option<String>,
    /// `auth0-forwarded-for`, when it is one IP address: the end user's IP as a backend
    /// reports it (taken only from clients trusted with it).
    pub forwarded_for: Option<IpAddr>,
}

/// A password login's parameters.
#[derive(Debug)]
pub struct PasswordLogin {
    pub username: String,
    pub password: Password,
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub nonce: Option<String>,
}

/// A grant's own parameters as the edge parsed them. A parse failure is reported only after
/// the client has been checked: who is asking comes before what they ask for.
pub type Params<T> = Result<T, Invalid>;

#[derive(Debug)]
pub struct RefreshParams {
    pub refresh_token: String,
    pub scope: Option<String>,
}

#[derive(Debug)]
pub struct MachineParams {
    pub audience: Option<String>,
    pub scope: Option<String>,
}

#[derive(Debug)]
pub struct CodeParams {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// One `/oauth/token` request, by grant.
#[derive(Debug)]
pub enum TokenRequest {
    /// `password`: the tenant's default directory.
    Password(Params<PasswordLogin>),
    /// `password-realm`: the connection named by `realm` (`None`: the default directory).
    PasswordRealm {
        realm: Option<String>,
        login: Params<PasswordLogin>,
    },
    RefreshToken(Params<RefreshParams>),
    ClientCredentials(Params<MachineParams>),
    AuthorizationCode(Params<CodeParams>),
}

impl TokenRequest {
    pub fn grant_type(&self) -> &'static str {
        match self {
            TokenRequest::Password(_) => GRANT_PASSWORD,
            TokenRequest::PasswordRealm { .. } => GRANT_PASSWORD_REALM,
            TokenRequest::RefreshToken { .. } => GRANT_REFRESH_TOKEN,
            TokenRequest::ClientCredentials { .. } => GRANT_CLIENT_CREDENTIALS,
            TokenRequest::AuthorizationCode(_) => GRANT_AUTHORIZATION_CODE,
        }
    }
}

/// The 200 body of `/oauth/token`.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub expires_in: i64,
    pub token_type: &'static str,
}

/// Deletes expired refresh tokens, idle attempt counters, ended sessions with expired
/// login transactions and codes, and log events past their retention; run periodically by every instance (the deletes are
/// idempotent). Returns how many of each went.
pub async fn housekeeping(ctx: &Services) -> Result<(u64, u64, u64, u64), Failure> {
    let now = ctx.clock.now_millis();
    let tokens = ctx.store.purge_refresh_tokens(now).await?;
    let attempts = ctx
        .store
        .purge_attempts(now - ATTEMPTS_IDLE_MS, MAX_FAILED_LOGINS)
        .await?;
    let settings = ctx.store.tenant_settings().await?;
    let sessions = ctx
        .store
        .purge_sessions(
            now - settings.session_lifetime_ms(),
            now - settings.idle_session_lifetime_ms(),
            now,
        )
        .await?;
    let logs = ctx.store.expire_logs(now - ctx.log_retention_ms).await?;
    Ok((tokens, attempts, sessions, logs))
}

/// A confidential client must present its secret; public clients have none to present.
fn authenticate(client: &Client, secret: Option<&str>) -> Result<(), TokenError> {
    let Some(expected) = &client.secret_hash else {
        return Ok(());
    };
    let secret = secret.ok_or(TokenError::InvalidClient(
        "client authentication is required",
    ))?;
    let presented = token_hash(secret);
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(TokenError::InvalidClient("client authentication failed"))
    }
}

/// The end user's IP: the caller's, or, for a client trusted to report it (it has a secret,
/// which `authenticate` checked), the address in `auth0-forwarded-for`.
fn end_user_ip(client: &Client, caller: &Caller) -> String {
    match caller.forwarded_for {
        Some(ip) if client.token_endpoint_ip_header_trusted && client.secret_hash.is_some() => {
            ip.to_string()
        }
        _ => caller.ip.to_string(),
    }
}

/// Which audiences latchkey issues access tokens for.
pub(super) fn known_audience(ctx: &Services, settings: &TenantSettings, audience: &str) -> bool {
    audience == ctx.management_audience() || settings.api_scopes(audience).is_some()
}

/// The scopes a user's token may carry: OpenID Connect's, and those its API defines. Others
/// asked for are dropped, as Auth0 drops scopes an API does not define. The Management API's
/// scopes are administrators' and go to machine tokens only, through client grants.
pub(super) fn user_scopes(
    ctx: &Services,
    settings: &TenantSettings,
    audience: Option<&str>,
    asked: &str,
) -> Vec<String> {
    let api: &[String] = match audience {
        Some(a) if a == ctx.management_audience() => &[],
        Some(a) => settings.api_scopes(a).unwrap_or_default(),
        None => &[],
    };
    parse_scope(asked)
        .into_iter()
        .filter(|s| OIDC_SCOPES.contains(&s.as_str()) || api.contains(s))
        .collect()
}

/// A client, checked: known, calling from an allowed origin, authenticated.
async fn authenticated_client(
    ctx: &Services,
    auth: &ClientAuth,
    caller: &Caller,
    connection: Option<&str>,
) -> Result<(Arc<Client>, Option<Arc<super::tenant::Connection>>), TokenError> {
    let (client, connection) = match connection {
        Some(realm) => {
            let (client, connection) = ctx
                .store
                .client_with_connection(&auth.client_id, realm)
                .await?
                .ok_or(TokenError::UnknownClient)?;
            (client, connection)
        }
        None => (
            ctx.store
                .client(&auth.client_id)
                .await?
                .ok_or(TokenError::UnknownClient)?,
            None,
        ),
    };
    if !ctx.origin_allowed(&client, caller.origin.as_deref()) {
        return Err(TokenError::OriginNotAllowed);
    }
    authenticate(&client, auth.secret.as_deref())?;
    Ok((client, connection))
}

/// Runs `/oauth/token`.
pub async fn token(
    ctx: &Services,
    auth: ClientAuth,
    caller: &Caller,
    request: TokenRequest,
) -> Result<TokenResponse, TokenError> {
    let settings = ctx.store.tenant_settings().await?;
    let grant = request.grant_type();
    // The password grants log their logins in `verify_login`; the exchanges are logged here.
    let kinds = match &request {
        TokenRequest::RefreshToken(_) => Some(("sertft", "fertft")),
        TokenRequest::ClientCredentials(_) => Some(("seccft", "feccft")),
        TokenRequest::AuthorizationCode(_) => Some(("seacft", "feacft")),
        _ => None,
    };
    let answer = match request {
        TokenRequest::Password(login) => {
            password_grant(ctx, &settings, &auth, caller, grant, None, login).await
        }
        TokenRequest::PasswordRealm { realm, login } => {
            password_grant(ctx, &settings, &auth, caller, grant, realm, login).await
        }
        TokenRequest::RefreshToken(params) => {
            async {
                let (client, _) = authenticated_client(ctx, &auth, caller, None).await?;
                allow(&client, grant)?;
                let p = params?;
                refresh_grant(ctx, &client, &p.refresh_token, p.scope.as_deref()).await
            }
            .await
        }
        TokenRequest::ClientCredentials(params) => {
            async {
                let (client, _) = authenticated_client(ctx, &auth, caller, None).await?;
                allow(&client, grant)?;
                let p = params?;
                client_credentials_grant(ctx, &client, &settings, p.audience, p.scope.as_deref())
                    .await
            }
            .await
        }
        TokenRequest::AuthorizationCode(params) => {
            async {
                let (client, _) = authenticated_client(ctx, &auth, caller, None).await?;
                allow(&client, grant)?;
                code_grant(ctx, &client, params?).await
            }
            .await
        }
    };
    if let Some((ok, failed)) = kinds {
        let event = match &answer {
            Ok(_) => Some(ctx.event(ok)),
            // A failure of ours is in the service log, not the tenant's.
            Err(TokenError::Failure(_)) => None,
            Err(e) => Some(ctx.event(failed).description(e.to_string())),
        };
        if let Some(event) = event {
            let event = match ctx.store.client(&auth.client_id).await.ok().flatten() {
                Some(c) => event.client(&c),
                None => event.client_id(&auth.client_id),
            };
            event.record();
        }
    }
    answer
}

/// `authorization_code`: a code from `/authorize`, once, by the client it was issued to, with
/// the same redirect_uri and the verifier of its PKCE challenge. A second use revokes the
/// refresh tokens the first one issued (RFC 6749 §4.1.2).
async fn code_grant(
    ctx: &Services,
    client: &Client,
    p: CodeParams,
) -> Result<TokenResponse, TokenError> {
    let now = ctx.clock.now_millis();
    let (code, user) = match ctx.store.redeem_code(&token_hash(&p.code), now).await? {
        Redeemed::First(found) => *found,
        Redeemed::Replayed(code) => {
            tracing::warn!(client_id = %code.client_id, user_id = %code.user_id, "authorization code replayed; revoking what it issued");
            ctx.store.revoke_refresh_family(&code.family_id).await?;
            return Err(TokenError::InvalidCode);
        }
        Redeemed::Invalid => return Err(TokenError::InvalidCode),
    };
    if code.client_id != client.client_id
        || p.redirect_uri
            .as_deref()
            .is_some_and(|r| r != code.redirect_uri)
    {
        return Err(TokenError::InvalidCode);
    }
    if let Some(challenge) = &code.code_challenge {
        let verifier = p.code_verifier.as_deref().ok_or(TokenError::CodeVerifier)?;
        if !bool::from(
            pkce_challenge(verifier)
                .as_bytes()
                .ct_eq(challenge.as_bytes()),
        ) {
            return Err(TokenError::CodeVerifier);
        }
    } else if client.secret_hash.is_none() {
        // A public client's code without PKCE cannot be issued; refuse it all the same.
        return Err(TokenError::CodeVerifier);
    }
    // A session ended since (logout, a blocked user) takes its codes with it.
    if ctx.store.session(&code.session_hash).await?.is_none() {
        return Err(TokenError::InvalidCode);
    }
    if user.blocked {
        return Err(TokenError::UserBlocked);
    }
    let scopes = parse_scope(&code.scope);
    issue(
        ctx,
        Issue {
            client,
            user: &user,
            scopes: &scopes,
            audience: code.audience.clone(),
            nonce: code.nonce.as_deref(),
            refresh: Refresh::NewFamily(Some(code.family_id.clone())),
            session: Some(SessionAuth {
                auth_time: code.auth_time / 1000,
                sid: code.sid.clone(),
            }),
            gty: None,
        },
    )
    .await
}

/// PKCE S256: base64url(SHA-256(verifier)), no padding.
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn allow(client: &Client, grant: &'static str) -> Result<(), TokenError> {
    if client.allows_grant(grant) {
        Ok(())
    } else {
        Err(TokenError::GrantNotAllowed(grant))
    }
}

async fn password_grant(
    ctx: &Services,
    settings: &TenantSettings,
    auth: &ClientAuth,
    caller: &Caller,
    grant: &'static str,
    realm: Option<String>,
    login: Params<PasswordLogin>,
) -> Result<TokenResponse, TokenError> {
    // The plain grant and a null realm both mean the tenant's default directory.
    let realm = realm
        .or_else(|| settings.default_directory.clone())
        .ok_or(TokenError::NoDefaultConnection)?;
    let (client, connection) = authenticated_client(ctx, auth, caller, Some(&realm)).await?;
    allow(&client, grant)?;
    let connection = usable_connection(&client, connection)?;
    let login = login?;
    let audience = match login.audience.or_else(|| settings.default_audience.clone()) {
        Some(a) if !known_audience(ctx, settings, &a) => {
            return Err(TokenError::UnknownAudience(a));
        }
        a => a,
    };
    let scopes = user_scopes(
        ctx,
        settings,
        audience.as_deref(),
        login.scope.as_deref().unwrap_or(DEFAULT_LOGIN_SCOPE),
    );
    let identifier = super::user::normalize_identifier(&login.username);
    let attempts = AttemptKey {
        connection: connection.name.clone(),
        identifier: token_hash(&identifier),
        ip: end_user_ip(&client, caller),
    };
    let user = match verify_login(
        ctx,
        &client,
        &identifier,
        &attempts,
        login.password,
        connection.options.brute_force_protection,
    )
    .await
    {
        Ok(user) => {
            tracing::info!(user_id = %user.id, client_id = %client.client_id, connection = %connection.name, "login");
            user
        }
        Err(e) => {
            // Who was guessed at stays out of the log; the reason and the source stay in.
            if !matches!(e, CheckError::Failure(_)) {
                tracing::info!(client_id = %client.client_id, connection = %connection.name, ip = %attempts.ip, reason = %e, "login failed");
            }
            return Err(e.into());
        }
    };
    issue(
        ctx,
        Issue {
            client: &client,
            user: &user,
            scopes: &scopes,
            audience,
            nonce: login.nonce.as_deref(),
            refresh: Refresh::NewFamily(None),
            session: None,
            gty: Some("password"),
        },
    )
    .await
}

/// What to do about a refresh token when issuing.
pub(super) enum Refresh {
    /// A login: start a family (with this id, when one was reserved) if `offline_access` was
    /// asked for and the client may refresh.
    NewFamily(Option<String>),
    /// A refresh grant already stored this rotated token.
    Rotated(String),
}

/// The session a hosted login's tokens come from (`auth_time` in seconds).
#[derive(Debug, Clone)]
pub(super) struct SessionAuth {
    pub auth_time: i64,
    pub sid: String,
}

/// What a user's tokens are issued from.
pub(super) struct Issue<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub scopes: &'a [String],
    pub audience: Option<String>,
    pub nonce: Option<&'a str>,
    pub refresh: Refresh,
    pub session: Option<SessionAuth>,
    /// Auth0's `gty` claim, set by the password grants.
    pub gty: Option<&'static str>,
}

fn audience_claim(audiences: Vec<String>) -> Value {
    match <[String; 1]>::try_from(audiences) {
        Ok([one]) => json!(one),
        Err(many) => json!(many),
    }
}

/// OpenID Connect's `at_hash` / `c_hash`: base64url of the left half of SHA-256 of the value.
pub(super) fn half_hash(value: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The id_token's claims, when `openid` was asked for; `hashes` are `at_hash`/`c_hash`.
pub(super) fn id_token_claims(
    ctx: &Services,
    i: &Issue<'_>,
    now: i64,
    hashes: &[(&str, String)],
) -> Option<Value> {
    has_scope(i.scopes, "openid").then(|| {
        let mut c = Map::new();
        c.insert("iss".into(), json!(ctx.issuer));
        c.insert("aud".into(), json!(i.client.client_id));
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(now + ID_TOKEN_TTL_SECS));
        if let Some(n) = i.nonce {
            c.insert("nonce".into(), json!(n));
        }
        if let Some(s) = &i.session {
            c.insert("auth_time".into(), json!(s.auth_time));
            c.insert("sid".into(), json!(s.sid));
        }
        for (name, value) in hashes {
            c.insert((*name).into(), json!(value));
        }
        c.extend(profile_claims(i.user, i.scopes));
        Value::Object(c)
    })
}

/// A user's access token.
pub(super) async fn access_token(
    ctx: &Services,
    i: &Issue<'_>,
    now: i64,
) -> Result<String, Failure> {
    let mut aud: Vec<String> = i.audience.iter().cloned().collect();
    if has_scope(i.scopes, "openid") || aud.is_empty() {
        aud.push(ctx.userinfo_audience().to_owned());
    }
    let mut access = json!({
        "iss": ctx.issuer,
        "sub": i.user.subject(),
        "aud": audience_claim(aud),
        "iat": now,
        "exp": now + ACCESS_TOKEN_TTL_SECS,
        "scope": i.scopes.join(" "),
        "azp": i.client.client_id,
    });
    if let Some(gty) = i.gty {
        access["gty"] = json!(gty);
    }
    ctx.signer.sign(&access).await
}

pub(super) async fn issue(ctx: &Services, i: Issue<'_>) -> Result<TokenResponse, TokenError> {
    let now = ctx.clock.now_secs();
    let scope = i.scopes.join(" ");
    let access_token = access_token(ctx, &i, now).await?;
    let id_token = match id_token_claims(ctx, &i, now, &[]) {
        Some(c) => Some(ctx.signer.sign(&c).await?),
        None => None,
    };
    let refresh_token = match i.refresh {
        Refresh::Rotated(t) => Some(t),
        Refresh::NewFamily(family)
            if has_scope(i.scopes, "offline_access")
                && i.client.allows_grant(GRANT_REFRESH_TOKEN) =>
        {
            let token = opaque_token();
            let now_ms = ctx.clock.now_millis();
            ctx.store
                .insert_refresh_token(&RefreshToken {
                    token_hash: token_hash(&token),
                    family_id: family.unwrap_or_else(opaque_token),
                    client_id: i.client.client_id.clone(),
                    user_id: i.user.id.clone(),
                    scope: scope.clone(),
                    audience: i.audience,
                    created_at: now_ms,
                    expires_at: now_ms + REFRESH_TOKEN_TTL_MS,
                    used_at: None,
                })
                .await?;
            Some(token)
        }
        Refresh::NewFamily(_) => None,
    };
    Ok(TokenResponse {
        access_token,
        id_token,
        refresh_token,
        scope: Some(scope),
        expires_in: ACCESS_TOKEN_TTL_SECS,
        token_type: "Bearer",
    })
}

async fn refresh_grant(
    ctx: &Services,
    client: &Client,
    presented: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let hash = token_hash(presented);
    let (stored, user) = ctx
        .store
        .refresh_token(&hash)
        .await?
        .filter(|(t, _)| t.client_id == client.client_id)
        .ok_or(TokenError::InvalidRefreshToken)?;
    if stored.used_at.is_some() {
        // A rotated token came back: whoever holds the family may be an attacker.
        tracing::warn!(client_id = %client.client_id, user_id = %stored.user_id, "refresh token re-used; revoking its family");
        ctx.store.revoke_refresh_family(&stored.family_id).await?;
        return Err(TokenError::InvalidRefreshToken);
    }
    if stored.expires_at <= ctx.clock.now_millis() {
        return Err(TokenError::InvalidRefreshToken);
    }
    let granted = parse_scope(&stored.scope);
    let scopes = match scope {
        Some(s) => {
            let asked = parse_scope(s);
            if let Some(extra) = asked.iter().find(|s| !has_scope(&granted, s)) {
                return Err(TokenError::InvalidScope(extra.clone()));
            }
            asked
        }
        None => granted,
    };
    if user.blocked {
        return Err(TokenError::UserBlocked);
    }
    let next = opaque_token();
    if !ctx
        .store
        .rotate_refresh_token(&hash, &token_hash(&next), ctx.clock.now_millis())
        .await?
    {
        // Another request rotated it first: two holders of one token.
        tracing::warn!(client_id = %client.client_id, user_id = %stored.user_id, "refresh token used concurrently; revoking its family");
        ctx.store.revoke_refresh_family(&stored.family_id).await?;
        return Err(TokenError::InvalidRefreshToken);
    }
    issue(
        ctx,
        Issue {
            client,
            user: &user,
            scopes: &scopes,
            audience: stored.audience,
            nonce: None,
            refresh: Refresh::Rotated(next),
            session: None,
            gty: None,
        },
    )
    .await
}

/// The scopes of a machine token: those asked for that the grant allows, in the order asked
/// (unknown ones dropped); all granted ones when none are asked for.
fn granted_scopes(granted: &[String], asked: Option<&str>) -> Vec<String> {
    match asked {
        None => granted.to_vec(),
        Some(s) => parse_scope(s)
            .into_iter()
            .filter(|s| has_scope(granted, s))
            .collect(),
    }
}

async fn client_credentials_grant(
    ctx: &Services,
    client: &Client,
    settings: &TenantSettings,
    audience: Option<String>,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    // A public client has nothing to prove who it is with.
    if client.secret_hash.is_none() {
        return Err(TokenError::GrantNotAllowed(GRANT_CLIENT_CREDENTIALS));
    }
    let audience = audience
        .or_else(|| settings.default_audience.clone())
        .ok_or(TokenError::MissingAudience)?;
    if !known_audience(ctx, settings, &audience) {
        return Err(TokenError::UnknownAudience(audience));
    }
    let grant_audience = if audience == ctx.management_audience() {
        MANAGEMENT_AUDIENCE
    } else {
        &audience
    };
    let grant = ctx
        .store
        .client_grant(&client.client_id, grant_audience)
        .await?
        .ok_or_else(|| TokenError::AccessDenied(audience.clone()))?;
    let scope = granted_scopes(&grant.scope, scope).join(" ");
    let now = ctx.clock.now_secs();
    let access_token = ctx
        .signer
        .sign(&json!({
            "iss": ctx.issuer,
            "sub": format!("{}@clients", client.client_id),
            "aud": audience,
            "iat": now,
            "exp": now + ACCESS_TOKEN_TTL_SECS,
            "scope": scope,
            "azp": client.client_id,
            "gty": "client-credentials",
        }))
        .await?;
    Ok(TokenResponse {
        access_token,
        id_token: None,
        refresh_token: None,
        scope: (!scope.is_empty()).then_some(scope),
        expires_in: ACCESS_TOKEN_TTL_SECS,
        token_type: "Bearer",
    })
}

/// Runs `/oauth/revoke`: revokes the refresh token's whole family. Unknown tokens, and tokens of
/// other clients, are answered the same (RFC 7009).
pub async fn revoke(
    ctx: &Services,
    auth: ClientAuth,
    caller: &Caller,
    token: &str,
) -> Result<(), TokenError> {
    let (client, _) = authenticated_client(ctx, &auth, caller, None).await?;
    if let Some((stored, _)) = ctx.store.refresh_token(&token_hash(token)).await?
        && stored.client_id == client.client_id
    {
        ctx.store.revoke_refresh_family(&stored.family_id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_audience_is_a_string() {
        assert_eq!(audience_claim(vec!["a".into()]), json!("a"));
        assert_eq!(
            audience_claim(vec!["a".into(), "b".into()]),
            json!(["a", "b"])
        );
    }

    #[test]
    fn machine_tokens_carry_only_granted_scopes() {
        let granted = parse_scope("read:users create:users");
        assert_eq!(granted_scopes(&granted, None), granted);
        assert_eq!(
            granted_scopes(&granted, Some("create:users delete:users read:users")),
            ["create:users", "read:users"]
        );
        assert!(granted_scopes(&granted, Some("admin:all")).is_empty());
        assert!(granted_scopes(&[], None).is_empty());
    }
}
