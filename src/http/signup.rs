//! `POST /dbconnections/signup`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;
use serde::Serialize;
use serde_json::{Map, Value};

use super::AppState;
use super::body::Fields;
use super::error::DbConnectionsError;
use crate::domain::signup::{SignupContext, signup};
use crate::domain::user::NewUser;

/// The 200 body: id, identifiers, verification flag, and the profile fields that were stored.
#[derive(Debug, Serialize)]
pub struct SignupResponse {
    #[serde(rename = "_id")]
    id: String,
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_metadata: Option<Map<String, Value>>,
}

impl From<NewUser> for SignupResponse {
    fn from(u: NewUser) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            email_verified: u.email_verified,
            given_name: u.profile.given_name,
            family_name: u.profile.family_name,
            name: u.profile.name,
            nickname: u.profile.nickname,
            picture: u.profile.picture,
            user_metadata: (!u.user_metadata.is_empty()).then_some(u.user_metadata),
        }
    }
}

pub async fn signup_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Fields, DbConnectionsError>,
) -> Result<Json<SignupResponse>, DbConnectionsError> {
    let Fields(body) = body?;
    let ctx = SignupContext {
        store: state.store.as_ref(),
        hasher: &state.hasher,
        own_origin: &state.own_origin,
    };
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let user = signup(&ctx, &body, origin).await?;
    tracing::info!(user_id = %user.id, connection = %user.connection, "signup");
    Ok(Json(user.into()))
}
