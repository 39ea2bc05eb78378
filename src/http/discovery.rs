//! `GET /.well-known/openid-configuration` and `GET /.well-known/jwks.json`: what this server
//! serves, and its public signing keys, for any instance and any origin. Discovery advertises
//! only endpoints, grants and methods that are served.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::OAuthError;
use crate::domain::authorize::{ResponseMode, ResponseType};
use crate::domain::keys::published;
use crate::domain::token::{GRANT_IMPLICIT, GRANTS};

/// Short enough that a rotation reaches verifiers quickly; they re-fetch on an unknown kid.
const PUBLIC_MAX_AGE: HeaderValue = HeaderValue::from_static("public, max-age=300");

pub async fn jwks_handler(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let keys = state.services.store.signing_keys().await?;
    let now = state.services.clock.now_millis();
    let mut response = Json(json!({"keys": published(&keys, now)})).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, PUBLIC_MAX_AGE);
    Ok(response)
}

pub async fn discovery_handler(State(state): State<AppState>) -> Response {
    let issuer = &state.services.issuer;
    let url = |path: &str| format!("{issuer}{path}");
    let mut grants: Vec<&str> = GRANTS.to_vec();
    grants.push(GRANT_IMPLICIT);
    let mut response = Json(json!({
        "issuer": issuer,
        "authorization_endpoint": url("authorize"),
        "token_endpoint": url("oauth/token"),
        "userinfo_endpoint": url("userinfo"),
        "jwks_uri": url(".well-known/jwks.json"),
        "revocation_endpoint": url("oauth/revoke"),
        "end_session_endpoint": url("oidc/logout"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ResponseType::ALL,
        "response_modes_supported": ResponseMode::ALL,
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": [
            "aud", "auth_time", "email", "email_verified", "exp", "family_name", "given_name",
            "iat", "iss", "name", "nickname", "nonce", "picture", "sid", "sub", "updated_at",
            "username"
        ],
        "request_uri_parameter_supported": false,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, PUBLIC_MAX_AGE);
    response
}
