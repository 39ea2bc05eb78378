//! `POST /oauth/token`, `POST /oauth/revoke` and `GET|POST /userinfo`: read the typed inputs,
//! call the domain, answer in the OAuth envelope.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::body::{BodyError, Fields};
use super::error::OAuthError;
use super::input;
use crate::domain::{token, userinfo};

pub async fn token_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Fields, BodyError>,
) -> Result<Response, OAuthError> {
    let body = body?;
    let (auth, request) = input::token_request(&headers, &body.0)?;
    let caller = input::caller(state.trust_forwarded_for, &headers, peer);
    let tokens = token::token(&state.services, auth, &caller, request).await?;
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
    body: Result<Fields, BodyError>,
) -> Result<StatusCode, OAuthError> {
    let body = body?;
    let auth = input::client_auth(&headers, &body.0)?;
    let presented = input::required(&body.0, "token").map_err(token::TokenError::from)?;
    let caller = input::caller(state.trust_forwarded_for, &headers, peer);
    token::revoke(&state.services, auth, &caller, presented).await?;
    Ok(StatusCode::OK)
}

pub async fn userinfo_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let claims = userinfo::userinfo(&state.services, input::bearer(&headers)).await?;
    Ok(Json(Value::Object(claims)))
}
