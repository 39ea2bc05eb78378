//! `POST /oauth/token`, `POST /oauth/revoke`, `GET|POST /userinfo` and
//! `GET /.well-known/openid-configuration`.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, ORIGIN, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::body::Fields;
use super::error::{DbConnectionsError, OAuthError};
use crate::domain::oauth::{self, OAuthContext, OAuthRequest};

/// Sent by a backend calling `/oauth/token` for its user (node-auth0's `auth0ForwardedFor`,
/// auth0-python's `forwarded_for`).
const AUTH0_FORWARDED_FOR: axum::http::HeaderName =
    axum::http::HeaderName::from_static("auth0-forwarded-for");

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn context(state: &AppState) -> OAuthContext<'_> {
    OAuthContext {
        store: state.store.as_ref(),
        hasher: &state.hasher,
        tokens: &state.tokens,
        own_origin: &state.own_origin,
    }
}

/// The client's IP: the TCP peer, or behind a trusted proxy the last `X-Forwarded-For` entry
/// (the address the proxy saw; earlier entries are the client's to write).
fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if state.trust_forwarded_for
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    peer.ip()
}

/// What `/oauth/token` and `/oauth/revoke` read from a request.
fn oauth_request<'r>(
    state: &AppState,
    body: &'r Fields,
    headers: &'r HeaderMap,
    peer: SocketAddr,
) -> OAuthRequest<'r> {
    OAuthRequest {
        body: &body.0,
        authorization: header(headers, AUTHORIZATION),
        origin: header(headers, ORIGIN),
        ip: client_ip(state, headers, peer).to_string(),
        forwarded_for: header(headers, AUTH0_FORWARDED_FOR),
    }
}

pub async fn token_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Fields, DbConnectionsError>,
) -> Result<Response, OAuthError> {
    let body = body?;
    let tokens = oauth::token(
        &context(&state),
        &oauth_request(&state, &body, &headers, peer),
    )
    .await?;
    let mut response = Json(tokens).into_response();
    // RFC 6749 §5.1: token responses must not be cached.
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

pub async fn revoke_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Fields, DbConnectionsError>,
) -> Result<StatusCode, OAuthError> {
    let body = body?;
    oauth::revoke(
        &context(&state),
        &oauth_request(&state, &body, &headers, peer),
    )
    .await?;
    Ok(StatusCode::OK)
}

pub async fn userinfo_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let claims = oauth::userinfo(
        state.store.as_ref(),
        &state.tokens,
        header(&headers, AUTHORIZATION),
    )
    .await?;
    Ok(Json(Value::Object(claims)))
}

pub async fn discovery_handler(State(state): State<AppState>) -> Response {
    let issuer = state.tokens.issuer();
    let url = |path: &str| format!("{issuer}{path}");
    let mut response = Json(json!({
        "issuer": issuer,
        "authorization_endpoint": url("authorize"),
        "token_endpoint": url("oauth/token"),
        "userinfo_endpoint": url("userinfo"),
        "jwks_uri": url(".well-known/jwks.json"),
        "revocation_endpoint": url("oauth/revoke"),
        "end_session_endpoint": url("oidc/logout"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": [
            oauth::GRANT_PASSWORD,
            oauth::GRANT_PASSWORD_REALM,
            oauth::GRANT_REFRESH_TOKEN,
            oauth::GRANT_CLIENT_CREDENTIALS,
            "authorization_code",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": [
            "aud", "auth_time", "email", "email_verified", "exp", "family_name", "given_name",
            "iat", "iss", "name", "nickname", "picture", "sub", "updated_at", "username"
        ],
        "request_uri_parameter_supported": false,
    }))
    .into_response();
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
