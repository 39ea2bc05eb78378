//! `POST /oauth/token` and `POST /oauth/revoke`: client authentication, the password,
//! password-realm, refresh_token and client_credentials grants, brute-force protection, and the
//! token response; `GET /userinfo`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::Error;
use super::hasher::{Hasher, Password};
use super::signup::usable_connection;
use super::store::{AttemptKey, RefreshToken, Store};
use super::tenant::{Client, TenantSettings};
use super::tokens::{
    ACCESS_TOKEN_TTL_SECS, ID_TOKEN_TTL_SECS, REFRESH_TOKEN_TTL_MS, Tokens, has_scope,
    opaque_token, parse_scope, profile_claims, token_hash,
};
use super::user::{User, now_millis};

pub const GRANT_PASSWORD: &str = "password";
pub const GRANT_PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// Consecutive failed logins per (connection, identifier, IP) before that pair is blocked.
pub const MAX_FAILED_LOGINS: i64 = 10;

/// Failed-attempt counters that block nobody are forgotten after a day without attempts, so
/// that guesses at random identifiers do not pile up.
pub const ATTEMPTS_IDLE_MS: i64 = 24 * 3600 * 1000;

/// Deletes expired refresh tokens and idle attempt counters; run periodically by every
/// instance (the deletes are idempotent).
pub async fn housekeeping(store: &dyn Store) -> Result<(u64, u64), Error> {
    let now = now_millis();
    Ok(store
        .purge(now, now - ATTEMPTS_IDLE_MS, MAX_FAILED_LOGINS)
        .await?)
}

/// Scopes of a password login that names none: enough for an id_token with the profile.
pub const DEFAULT_LOGIN_SCOPE: &str = "openid profile email";

/// What the token and revoke endpoints need from the running server.
pub struct OAuthContext<'a> {
    pub store: &'a dyn Store,
    pub hasher: &'a Hasher,
    pub tokens: &'a Tokens,
    pub own_origin: &'a str,
}

/// One request to `/oauth/token` or `/oauth/revoke`, as the HTTP layer received it.
pub struct OAuthRequest<'a> {
    pub body: &'a Map<String, Value>,
    /// The `Authorization` header, if any (client_secret_basic).
    pub authorization: Option<&'a str>,
    pub origin: Option<&'a str>,
    /// The peer's address, for brute-force protection and `last_ip`.
    pub ip: String,
    /// The `auth0-forwarded-for` header, if any: the end user's IP as a trusted backend
    /// reports it (see `Client::token_endpoint_ip_header_trusted`).
    pub forwarded_for: Option<&'a str>,
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

/// An optional string parameter: absent, `null` and `""` are the same.
fn param<'b>(body: &'b Map<String, Value>, name: &str) -> Result<Option<&'b str>, Error> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::InvalidRequest(format!("{name} must be a string"))),
    }
}

fn required<'b>(body: &'b Map<String, Value>, name: &str) -> Result<&'b str, Error> {
    param(body, name)?.ok_or_else(|| Error::InvalidRequest(format!("missing {name} parameter")))
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
pub fn basic_credentials(header: &str) -> Result<Option<(String, String)>, Error> {
    let Some(encoded) = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let malformed = || Error::InvalidClient("malformed Basic credentials");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// The client's id and the secret it presented (HTTP Basic wins over the body).
fn presented_client(req: &OAuthRequest<'_>) -> Result<(String, Option<String>), Error> {
    if let Some((id, secret)) = req
        .authorization
        .map(basic_credentials)
        .transpose()?
        .flatten()
    {
        return Ok((id, Some(secret)));
    }
    let id = required(req.body, "client_id")?.to_owned();
    let secret = param(req.body, "client_secret")?.map(str::to_owned);
    Ok((id, secret))
}

/// A confidential client must present its secret; public clients have none to present.
fn authenticate(client: &Client, secret: Option<&str>) -> Result<(), Error> {
    let Some(expected) = &client.secret_hash else {
        return Ok(());
    };
    let secret = secret.ok_or(Error::InvalidClient("client authentication is required"))?;
    let presented = token_hash(secret);
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(Error::InvalidClient("client authentication failed"))
    }
}

/// The end user's IP: the peer's, or, for a client trusted to report it (it has a secret, which
/// `authenticate` checked), the address in `auth0-forwarded-for`. A header that is not one IP
/// address is ignored, as it is for clients not trusted with it.
fn end_user_ip(client: &Client, req: &OAuthRequest<'_>) -> String {
    if client.token_endpoint_ip_header_trusted
        && client.secret_hash.is_some()
        && let Some(ip) = req
            .forwarded_for
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
    {
        return ip.to_string();
    }
    req.ip.clone()
}

fn check_origin(
    ctx: &OAuthContext<'_>,
    client: &Client,
    origin: Option<&str>,
) -> Result<(), Error> {
    match origin {
        Some(o) if !o.eq_ignore_ascii_case(ctx.own_origin) && !client.allows_origin(o) => {
            Err(Error::OriginNotAllowed)
        }
        _ => Ok(()),
    }
}

/// Which audiences latchkey issues access tokens for.
fn known_audience(ctx: &OAuthContext<'_>, settings: &TenantSettings, audience: &str) -> bool {
    audience == ctx.tokens.management_audience()
        || settings.default_audience.as_deref() == Some(audience)
        || settings.audiences.iter().any(|a| a == audience)
}

/// Runs `/oauth/token`.
pub async fn token(ctx: &OAuthContext<'_>, req: &OAuthRequest<'_>) -> Result<TokenResponse, Error> {
    let grant = required(req.body, "grant_type")?;
    if ![
        GRANT_PASSWORD,
        GRANT_PASSWORD_REALM,
        GRANT_REFRESH_TOKEN,
        GRANT_CLIENT_CREDENTIALS,
    ]
    .contains(&grant)
    {
        return Err(Error::UnsupportedGrantType(grant.to_owned()));
    }
    let (client_id, secret) = presented_client(req)?;
    let settings = ctx.store.tenant_settings().await?;
    let password_grant = grant == GRANT_PASSWORD || grant == GRANT_PASSWORD_REALM;
    let (client, connection) = if password_grant {
        // The plain grant and a null realm both mean the tenant's default directory.
        let realm = match grant {
            GRANT_PASSWORD_REALM => param(req.body, "realm")?,
            _ => None,
        }
        .or(settings.default_directory.as_deref())
        .ok_or_else(|| {
            Error::InvalidRequest(
                "Authorization server not configured with default connection.".into(),
            )
        })?
        .to_owned();
        let (client, connection) = ctx
            .store
            .client_with_connection(&client_id, &realm)
            .await?
            .ok_or(Error::UnknownClient)?;
        (client, Some(connection))
    } else {
        let client = ctx
            .store
            .client(&client_id)
            .await?
            .ok_or(Error::UnknownClient)?;
        (client, None)
    };
    check_origin(ctx, &client, req.origin)?;
    authenticate(&client, secret.as_deref())?;
    if !client.allows_grant(grant) {
        return Err(Error::GrantNotAllowed(grant.to_owned()));
    }
    match (grant, connection) {
        (GRANT_REFRESH_TOKEN, _) => refresh_grant(ctx, req, &client).await,
        (GRANT_CLIENT_CREDENTIALS, _) => {
            client_credentials_grant(ctx, req, &client, &settings).await
        }
        (_, Some(connection)) => {
            let connection = usable_connection(&client, connection)?;
            let username = required(req.body, "username")?;
            let password = Password(required(req.body, "password")?.to_owned());
            let scopes = parse_scope(param(req.body, "scope")?.unwrap_or(DEFAULT_LOGIN_SCOPE));
            let audience =
                match param(req.body, "audience")?.or(settings.default_audience.as_deref()) {
                    Some(a) if !known_audience(ctx, &settings, a) => {
                        return Err(Error::UnknownAudience(a.to_owned()));
                    }
                    a => a.map(str::to_owned),
                };
            let attempts = AttemptKey {
                connection: connection.name.clone(),
                identifier: username.trim().to_lowercase(),
                ip: end_user_ip(&client, req),
            };
            let user = match login(
                ctx,
                &attempts,
                password,
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
                    if !matches!(e, Error::Internal(_) | Error::Overloaded) {
                        tracing::info!(client_id = %client.client_id, connection = %connection.name, ip = %attempts.ip, reason = %e, "login failed");
                    }
                    return Err(e);
                }
            };
            let nonce = param(req.body, "nonce")?;
            issue(
                ctx,
                &client,
                &user,
                &scopes,
                audience,
                nonce,
                Refresh::NewFamily,
            )
            .await
        }
        _ => Err(Error::Internal(
            "password grant without a connection".into(),
        )),
    }
}

/// Checks a password for `attempts.identifier` in `attempts.connection`, under brute-force
/// protection; returns the user. Unknown users cost the same (a dummy hash is verified) and
/// fail the same way as wrong passwords.
pub async fn login(
    ctx: &OAuthContext<'_>,
    attempts: &AttemptKey,
    password: Password,
    brute_force_protection: bool,
) -> Result<User, Error> {
    // Reserve hashing capacity first, so an overloaded server refuses before writing anything.
    let ticket = ctx.hasher.admit()?;
    let now = now_millis();
    // Counted before the password is checked: parallel guesses each take a number, and those
    // past the limit are refused without being evaluated.
    if brute_force_protection
        && ctx.store.count_login_attempt(attempts, now).await? > MAX_FAILED_LOGINS
    {
        return Err(Error::TooManyAttempts);
    }
    let user = ctx
        .store
        .user_by_identifier(&attempts.connection, &attempts.identifier)
        .await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = ticket.verify(password, hash).await?;
    let user = match user {
        Some(user) if ok => user,
        _ => return Err(Error::WrongCredentials),
    };
    if user.blocked {
        return Err(Error::UserBlocked);
    }
    ctx.store
        .record_login(&user.id, &attempts.ip, now, attempts)
        .await?;
    Ok(user)
}

/// What to do about a refresh token when issuing.
enum Refresh {
    /// A login: start a new family if `offline_access` was asked for and the client may refresh.
    NewFamily,
    /// A refresh grant already stored this rotated token.
    Rotated(String),
}

fn audience_claim(audiences: Vec<String>) -> Value {
    match <[String; 1]>::try_from(audiences) {
        Ok([one]) => json!(one),
        Err(many) => json!(many),
    }
}

async fn issue(
    ctx: &OAuthContext<'_>,
    client: &Client,
    user: &User,
    scopes: &[String],
    audience: Option<String>,
    nonce: Option<&str>,
    refresh: Refresh,
) -> Result<TokenResponse, Error> {
    let now = now_millis() / 1000;
    let openid = has_scope(scopes, "openid");
    let scope = scopes.join(" ");
    let mut aud: Vec<String> = audience.iter().cloned().collect();
    if openid || aud.is_empty() {
        aud.push(ctx.tokens.userinfo_audience());
    }
    let access = json!({
        "iss": ctx.tokens.issuer(),
        "sub": user.subject(),
        "aud": audience_claim(aud),
        "iat": now,
        "exp": now + ACCESS_TOKEN_TTL_SECS,
        "scope": scope,
        "azp": client.client_id,
        "gty": "password",
    });
    let id_claims = openid.then(|| {
        let mut c = Map::new();
        c.insert("iss".into(), json!(ctx.tokens.issuer()));
        c.insert("aud".into(), json!(client.client_id));
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(now + ID_TOKEN_TTL_SECS));
        if let Some(n) = nonce {
            c.insert("nonce".into(), json!(n));
        }
        c.extend(profile_claims(user, scopes));
        Value::Object(c)
    });
    let access_token = ctx.tokens.sign(access).await;
    let id_token = match id_claims {
        Some(c) => ctx.tokens.sign(c).await.map(Some),
        None => Ok(None),
    };
    let refresh_token = match refresh {
        Refresh::Rotated(t) => Some(t),
        Refresh::NewFamily
            if has_scope(scopes, "offline_access") && client.allows_grant(GRANT_REFRESH_TOKEN) =>
        {
            let token = opaque_token();
            let now_ms = now_millis();
            ctx.store
                .insert_refresh_token(&RefreshToken {
                    token_hash: token_hash(&token),
                    family_id: opaque_token(),
                    client_id: client.client_id.clone(),
                    user_id: user.id.clone(),
                    scope: scope.clone(),
                    audience,
                    created_at: now_ms,
                    expires_at: now_ms + REFRESH_TOKEN_TTL_MS,
                    used_at: None,
                })
                .await?;
            Some(token)
        }
        Refresh::NewFamily => None,
    };
    Ok(TokenResponse {
        access_token: access_token?,
        id_token: id_token?,
        refresh_token,
        scope: Some(scope),
        expires_in: ACCESS_TOKEN_TTL_SECS,
        token_type: "Bearer",
    })
}

async fn refresh_grant(
    ctx: &OAuthContext<'_>,
    req: &OAuthRequest<'_>,
    client: &Client,
) -> Result<TokenResponse, Error> {
    let presented = required(req.body, "refresh_token")?;
    let hash = token_hash(presented);
    let (stored, user) = ctx
        .store
        .refresh_token(&hash)
        .await?
        .filter(|(t, _)| t.client_id == client.client_id)
        .ok_or(Error::InvalidRefreshToken)?;
    if stored.used_at.is_some() {
        // A rotated token came back: whoever holds the family may be an attacker.
        tracing::warn!(client_id = %client.client_id, user_id = %stored.user_id, "refresh token re-used; revoking its family");
        ctx.store.revoke_refresh_family(&stored.family_id).await?;
        return Err(Error::InvalidRefreshToken);
    }
    if stored.expires_at <= now_millis() {
        return Err(Error::InvalidRefreshToken);
    }
    let granted = parse_scope(&stored.scope);
    let scopes = match param(req.body, "scope")? {
        Some(s) => {
            let asked = parse_scope(s);
            if let Some(extra) = asked.iter().find(|s| !has_scope(&granted, s)) {
                return Err(Error::InvalidScope(extra.clone()));
            }
            asked
        }
        None => granted,
    };
    if user.blocked {
        return Err(Error::UserBlocked);
    }
    let next = opaque_token();
    if !ctx
        .store
        .rotate_refresh_token(&hash, &token_hash(&next), now_millis())
        .await?
    {
        // Another request rotated it first: two holders of one token.
        tracing::warn!(client_id = %client.client_id, user_id = %stored.user_id, "refresh token used concurrently; revoking its family");
        ctx.store.revoke_refresh_family(&stored.family_id).await?;
        return Err(Error::InvalidRefreshToken);
    }
    issue(
        ctx,
        client,
        &user,
        &scopes,
        stored.audience,
        None,
        Refresh::Rotated(next),
    )
    .await
}

async fn client_credentials_grant(
    ctx: &OAuthContext<'_>,
    req: &OAuthRequest<'_>,
    client: &Client,
    settings: &TenantSettings,
) -> Result<TokenResponse, Error> {
    // A public client has nothing to prove who it is with.
    if client.secret_hash.is_none() {
        return Err(Error::GrantNotAllowed(GRANT_CLIENT_CREDENTIALS.into()));
    }
    let audience = param(req.body, "audience")?
        .or(settings.default_audience.as_deref())
        .ok_or(Error::MissingAudience)?;
    if !known_audience(ctx, settings, audience) {
        return Err(Error::UnknownAudience(audience.to_owned()));
    }
    let scope = parse_scope(param(req.body, "scope")?.unwrap_or_default()).join(" ");
    let now = now_millis() / 1000;
    let access_token = ctx
        .tokens
        .sign(json!({
            "iss": ctx.tokens.issuer(),
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
pub async fn revoke(ctx: &OAuthContext<'_>, req: &OAuthRequest<'_>) -> Result<(), Error> {
    let (client_id, secret) = presented_client(req)?;
    let token = required(req.body, "token")?;
    let client = ctx
        .store
        .client(&client_id)
        .await?
        .ok_or(Error::UnknownClient)?;
    check_origin(ctx, &client, req.origin)?;
    authenticate(&client, secret.as_deref())?;
    if let Some((stored, _)) = ctx.store.refresh_token(&token_hash(token)).await?
        && stored.client_id == client.client_id
    {
        ctx.store.revoke_refresh_family(&stored.family_id).await?;
    }
    Ok(())
}

/// Runs `/userinfo` for a bearer token: the user's current profile claims, per the token's
/// scope.
pub async fn userinfo(
    store: &dyn Store,
    tokens: &Tokens,
    authorization: Option<&str>,
) -> Result<Map<String, Value>, Error> {
    let token = authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(Error::InvalidToken("missing bearer token"))?;
    let claims = tokens.verify_access_token(token).await?;
    let id = claims
        .get("sub")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("auth0|"))
        .ok_or(Error::InvalidToken("the token is not a user's"))?;
    let user = store
        .user_by_id(id)
        .await?
        .filter(|u| !u.blocked)
        .ok_or(Error::InvalidToken("the user is gone or blocked"))?;
    let scopes = parse_scope(
        claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    Ok(profile_claims(&user, &scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        assert_eq!(
            basic_credentials(&h).unwrap(),
            Some(("my app".into(), "s:cret x".into()))
        );
        assert_eq!(basic_credentials("Bearer abc").unwrap(), None);
        assert!(matches!(
            basic_credentials("Basic !!!"),
            Err(Error::InvalidClient(_))
        ));
        assert!(matches!(
            basic_credentials(&format!("Basic {}", STANDARD.encode("nocolon"))),
            Err(Error::InvalidClient(_))
        ));
    }

    #[test]
    fn parameters_treat_null_and_empty_as_absent() {
        let body = json!({"a": null, "b": "", "c": "x", "d": 1});
        let body = body.as_object().unwrap();
        assert_eq!(param(body, "a").unwrap(), None);
        assert_eq!(param(body, "b").unwrap(), None);
        assert_eq!(param(body, "c").unwrap(), Some("x"));
        assert!(matches!(param(body, "d"), Err(Error::InvalidRequest(_))));
        assert!(
            matches!(required(body, "b"), Err(Error::InvalidRequest(m)) if m == "missing b parameter")
        );
    }

    #[test]
    fn a_single_audience_is_a_string() {
        assert_eq!(audience_claim(vec!["a".into()]), json!("a"));
        assert_eq!(
            audience_claim(vec!["a".into(), "b".into()]),
            json!(["a", "b"])
        );
    }
}
