//! `GET /.well-known/jwks.json`: the public signing keys, for any instance and any origin.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::DbConnectionsError;
use crate::domain::keys::published;
use crate::domain::user::now_millis;

pub async fn jwks_handler(State(state): State<AppState>) -> Result<Response, DbConnectionsError> {
    let keys = state
        .store
        .signing_keys()
        .await
        .map_err(|e| DbConnectionsError(e.into()))?;
    let mut response = Json(json!({"keys": published(&keys, now_millis())})).into_response();
    // Short enough that a rotation reaches verifiers quickly; they re-fetch on an unknown kid.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
