//! `/api/v2/jobs`: users-imports (multipart, as Auth0's: `users`, `connection_id`, `upsert`,
//! `external_id`, `send_completion_email`), users-exports (JSON), a job's status, its errors
//! and an export's download. Bad input answers the Management envelope.

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::error::ManagementApiError;
use super::input;
use super::manage_input::{invalid, no_store};
use crate::domain::jobs::{self, ExportRequest, ImportRequest};

/// The largest file a users-imports request may carry (Auth0's limit is 500 KB; the
/// `latchkey users import` command has none).
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

fn missing(property: &str) -> ManagementApiError {
    invalid(format!(
        "Payload validation error: 'Missing required property: {property}'."
    ))
}

/// `POST /api/v2/jobs/users-imports`: 202 with the pending job.
#[utoipa::path(
    post,
    path = "/api/v2/jobs/users-imports",
    tag = "jobs",
    summary = "Import users (multipart: users, connection_id, upsert, external_id, send_completion_email)",
    request_body(content_type = "multipart/form-data", description = "users: the file (JSON array or JSON lines); connection_id; upsert; external_id; send_completion_email"),
    responses((status = 202, description = "The pending job"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["create:users", "create:users_imports"]))
)]
pub async fn users_imports(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ManagementApiError> {
    // The token first: an unauthorized caller's upload is not read.
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        jobs::IMPORT_SCOPES,
    )
    .await?;
    let mut multipart = multipart.map_err(|_| {
        invalid("Payload validation error: 'the body must be multipart/form-data'.")
    })?;
    let (mut file, mut connection_id, mut upsert, mut external_id) = (None, None, false, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(invalid(format!(
                    "Payload validation error: 'the users file is larger than {} MB'.",
                    IMPORT_BODY_LIMIT / (1024 * 1024)
                )));
            }
            Err(_) => {
                return Err(invalid(
                    "Payload validation error: 'malformed multipart body'.",
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|_| invalid("Payload validation error: 'malformed multipart body'."))?;
        let text = || String::from_utf8_lossy(&bytes).trim().to_owned();
        match name.as_str() {
            "users" => file = Some(bytes.to_vec()),
            "connection_id" => connection_id = Some(text()),
            "upsert" => {
                upsert = match text().as_str() {
                    "true" => true,
                    "false" | "" => false,
                    other => {
                        return Err(invalid(format!(
                            "Payload validation error: 'Expected type boolean but found type string' on property upsert ({other:?})."
                        )));
                    }
                }
            }
            "external_id" => external_id = Some(text()).filter(|e| !e.is_empty()),
            // Accepted as Auth0 does; latchkey sends no completion email.
            "send_completion_email" => {}
            other => {
                return Err(invalid(format!(
                    "Payload validation error: 'Additional properties not allowed: {other}'."
                )));
            }
        }
    }
    let file = file.ok_or_else(|| missing("users"))?;
    let connection_id = connection_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| missing("connection_id"))?;
    let job = jobs::create_import(
        &state.services,
        input::bearer(&headers),
        ImportRequest {
            connection_id,
            upsert,
            external_id,
            file,
        },
    )
    .await?;
    Ok(no_store(
        (StatusCode::ACCEPTED, axum::Json(job)).into_response(),
    ))
}

/// `POST /api/v2/jobs/users-exports` `{connection_id?, format?, fields?, limit?}`: 200 with
/// the pending job (migration.md; Auth0 itself answers 201).
#[utoipa::path(
    post,
    path = "/api/v2/jobs/users-exports",
    tag = "jobs",
    summary = "Export users (JSON lines or CSV, gzipped)",
    request_body = crate::http::schemas::UsersExportBody,
    responses((status = 201, description = "The pending job"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users"]))
)]
pub async fn users_exports(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        jobs::EXPORT_SCOPES,
    )
    .await?;
    // A body over the limit without a Content-Length (chunked) is refused here, in the
    // Management envelope, as one with it is before the handler.
    let body = super::manage_input::bytes(body)?;
    let body: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| invalid("Payload validation error: 'Invalid JSON'."))?
    };
    let Some(obj) = body.as_object() else {
        return Err(invalid(
            "Payload validation error: 'Expected type object but found type array'.",
        ));
    };
    let known = crate::http::schemas::properties::<crate::http::schemas::UsersExportBody>();
    if let Some(k) = obj.keys().find(|k| !known.contains(k)) {
        return Err(invalid(format!(
            "Payload validation error: 'Additional properties not allowed: {k}'."
        )));
    }
    let string = |k: &str| -> Result<Option<String>, ManagementApiError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!(
                "Payload validation error: 'Expected type string' on property {k}."
            ))),
        }
    };
    let fields = match obj.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(f))
            if f.iter()
                .all(|x| x.get("name").and_then(Value::as_str).is_some()) =>
        {
            Some(f.clone())
        }
        Some(_) => {
            return Err(invalid(
                "Payload validation error: 'fields must be an array of {name, export_as?}'.",
            ));
        }
    };
    let limit = match obj.get("limit") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            invalid("Payload validation error: 'limit must be a positive integer'.")
        })?),
    };
    let job = jobs::create_export(
        &state.services,
        input::bearer(&headers),
        ExportRequest {
            connection_id: string("connection_id")?,
            format: string("format")?.unwrap_or_else(|| "json".into()),
            fields,
            limit,
        },
    )
    .await?;
    Ok(no_store((StatusCode::OK, axum::Json(job)).into_response()))
}

/// `GET /api/v2/jobs/{id}`.
#[utoipa::path(
    get,
    path = "/api/v2/jobs/{id}",
    tag = "jobs",
    summary = "A job's status",
    params(("id" = String, Path)),
    responses((status = 200, description = "The job"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The job does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users", "create:users", "create:users_imports"]))
)]
pub async fn job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    let job = jobs::get(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(axum::Json(job).into_response()))
}

/// `GET /api/v2/jobs/{id}/errors`.
#[utoipa::path(
    get,
    path = "/api/v2/jobs/{id}/errors",
    tag = "jobs",
    summary = "An import's refused records",
    params(("id" = String, Path)),
    responses((status = 200, description = "Errors"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The job does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users", "create:users", "create:users_imports"]))
)]
pub async fn job_errors(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    let errors = jobs::errors(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(axum::Json(errors).into_response()))
}

/// `GET /api/v2/jobs/{id}/download`: the export's gzipped file.
#[utoipa::path(
    get,
    path = "/api/v2/jobs/{id}/download",
    tag = "jobs",
    summary = "An export's file",
    params(("id" = String, Path)),
    responses((status = 200, description = "The gzipped file"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The job does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users"]))
)]
pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    let (job, bytes) = jobs::download(&state.services, input::bearer(&headers), &id).await?;
    let ext = if job.format.as_deref() == Some("csv") {
        "csv"
    } else {
        "json"
    };
    let disposition = format!("attachment; filename=\"{}.{ext}.gz\"", job.id);
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(no_store(r))
}
