//! The edge's part of the tenant log: each request's IP and user agent, left in the domain's
//! task-local for the events recorded while serving it, and a `sapi`/`fapi` event for every
//! Management API write by a verified client (method, path and status; never a body).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;
use super::input;
use crate::domain::audit::{REQUEST, RequestMeta};

/// User agents are kept to this many characters.
const MAX_USER_AGENT: usize = 256;

pub async fn around(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let meta = RequestMeta {
        ip: peer.map(|p| input::client_ip(state.trust_forwarded_for, req.headers(), p)),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
    };
    let write = req.uri().path().starts_with("/api/v2/")
        && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !write {
        return REQUEST.scope(meta, next.run(req)).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let token = input::bearer(req.headers()).map(str::to_owned);
    let response = REQUEST.scope(meta.clone(), next.run(req)).await;
    // Only verified callers' writes are logged: anonymous noise would crowd out the rest.
    // Verified tokens are cached by their text, so this costs no second verification.
    let services = &state.services;
    let Some(token) = token else {
        return response;
    };
    let Ok(claims) = services
        .signer
        .verify(&token, services.management_audience())
        .await
    else {
        return response;
    };
    // A machine token's `sub` is `<client_id>@clients`.
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let client_id = sub.strip_suffix("@clients").unwrap_or(sub);
    let status = response.status();
    let kind = if status.is_success() { "sapi" } else { "fapi" };
    let client = services.store.client(client_id).await.ok().flatten();
    // Described inside the request's scope, so it carries its IP and user agent.
    REQUEST.sync_scope(meta, || {
        let event = services
            .event(kind)
            .description(format!("{method} {path}"))
            .details(json!({
                "request": {"method": method.as_str(), "path": path},
                "response": {"statusCode": status.as_u16()},
            }));
        match &client {
            Some(c) => event.client(c),
            None => event.client_id(client_id),
        }
        .record()
    });
    response
}
