//! `/api/v2` client grants (read and written), roles and their holders, a user's roles, and
//! the tenant log: bodies and query strings parsed into the domain's typed inputs with the
//! Management edge's readers, answered in its envelope.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ManagementApiError;
use super::input;
use super::manage_input::{Body, Params, invalid, no_store, object, params, project, project_list};
use super::{AppState, schemas};
use crate::domain::management::authorize_any;
use crate::domain::{manage_logs, manage_roles, manage_tenant};

fn ok(v: serde_json::Value) -> Response {
    no_store(axum::Json(v).into_response())
}

/// The token first: an unauthorized caller learns nothing about its body.
async fn body_for<T: utoipa::ToSchema>(
    state: &AppState,
    headers: &HeaderMap,
    scopes: &'static [&'static str],
    body: Result<Bytes, BytesRejection>,
) -> Result<Body, ManagementApiError> {
    authorize_any(&state.services, input::bearer(headers), scopes).await?;
    Body(object(body)?).accepting::<T>()
}

fn required_list(b: &Body, k: &str) -> Result<Vec<String>, ManagementApiError> {
    b.strings(k)?.ok_or_else(|| {
        invalid(format!(
            "Payload validation error: 'Missing required property: {k}'."
        ))
    })
}

// ---- client grants ----

fn take(q: &Params) -> Result<Option<i64>, ManagementApiError> {
    Ok(match q.get("take") {
        None | Some("") => None,
        Some(_) => Some(q.number("take", 0)?),
    })
}

/// `GET /api/v2/client-grants?client_id=&audience=`.
#[utoipa::path(
    get,
    path = "/api/v2/client-grants",
    tag = "client-grants",
    summary = "List client grants",
    params(crate::http::schemas::PageParams, crate::http::schemas::GrantFilter, crate::http::schemas::CheckpointParams, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Client grants"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:client_grants"]))
)]
pub async fn list_client_grants(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let filter = manage_tenant::GrantFilter {
        client_id: q
            .get("client_id")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        audience: q
            .get("audience")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        from: q.get("from").filter(|s| !s.is_empty()).map(str::to_owned),
        take: take(&q)?,
    };
    let body =
        manage_tenant::client_grants(&state.services, input::bearer(&headers), &filter, q.page()?)
            .await?;
    Ok(ok(project_list(body, "client_grants", &q)?))
}

/// `POST /api/v2/client-grants`: 201.
#[utoipa::path(
    post,
    path = "/api/v2/client-grants",
    tag = "client-grants",
    summary = "Create a client grant",
    request_body = crate::http::schemas::CreateClientGrantBody,
    responses((status = 201, description = "The grant", body = crate::http::schemas::ClientGrantView), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "Unknown client or API", body = crate::http::schemas::ErrorBody), (status = 409, description = "The client has a grant for this audience", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["create:client_grants"]))
)]
pub async fn create_client_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    let b = body_for::<schemas::CreateClientGrantBody>(
        &state,
        &headers,
        manage_tenant::CREATE_CLIENT_GRANTS,
        body,
    )
    .await?;
    let g = manage_tenant::create_client_grant(
        &state.services,
        input::bearer(&headers),
        &b.required("client_id")?,
        &b.required("audience")?,
        required_list(&b, "scope")?,
    )
    .await?;
    Ok(no_store(
        (StatusCode::CREATED, axum::Json(g)).into_response(),
    ))
}

/// `PATCH /api/v2/client-grants/{id}`: `{scope}`.
#[utoipa::path(
    patch,
    path = "/api/v2/client-grants/{id}",
    tag = "client-grants",
    summary = "Replace a grant's scopes",
    params(("id" = String, Path)),
    request_body = crate::http::schemas::PatchClientGrantBody,
    responses((status = 200, description = "The grant", body = crate::http::schemas::ClientGrantView), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The grant does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:client_grants"]))
)]
pub async fn update_client_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    let b = body_for::<schemas::PatchClientGrantBody>(
        &state,
        &headers,
        manage_tenant::UPDATE_CLIENT_GRANTS,
        body,
    )
    .await?;
    let g = manage_tenant::update_client_grant(
        &state.services,
        input::bearer(&headers),
        &id,
        b.strings("scope")?,
    )
    .await?;
    Ok(ok(g))
}

/// `DELETE /api/v2/client-grants/{id}`: 204.
#[utoipa::path(
    delete,
    path = "/api/v2/client-grants/{id}",
    tag = "client-grants",
    summary = "Delete a client grant",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The grant does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["delete:client_grants"]))
)]
pub async fn delete_client_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    manage_tenant::delete_client_grant(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

// ---- roles ----

/// `GET /api/v2/roles?name_filter=`.
#[utoipa::path(
    get,
    path = "/api/v2/roles",
    tag = "roles",
    summary = "List roles",
    params(crate::http::schemas::PageParams, crate::http::schemas::RoleFilter, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Roles"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:roles"]))
)]
pub async fn list_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let body = manage_roles::list(
        &state.services,
        input::bearer(&headers),
        q.get("name_filter").filter(|s| !s.is_empty()),
        q.page()?,
    )
    .await?;
    Ok(ok(project_list(body, "roles", &q)?))
}

/// `POST /api/v2/roles`: 200 with the role, as Auth0 answers.
#[utoipa::path(
    post,
    path = "/api/v2/roles",
    tag = "roles",
    summary = "Create a role",
    request_body = crate::http::schemas::RoleBody,
    responses((status = 200, description = "The role", body = crate::http::schemas::RoleView), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 409, description = "The name is taken", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["create:roles"]))
)]
pub async fn create_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    let b = body_for::<schemas::RoleBody>(&state, &headers, manage_roles::CREATE, body).await?;
    let r = manage_roles::create(
        &state.services,
        input::bearer(&headers),
        b.required("name")?,
        b.string("description")?,
    )
    .await?;
    Ok(ok(r))
}

#[utoipa::path(
    get,
    path = "/api/v2/roles/{id}",
    tag = "roles",
    summary = "Get a role",
    params(("id" = String, Path), crate::http::schemas::FieldsParams),
    responses((status = 200, description = "The role", body = crate::http::schemas::RoleView), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The role does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:roles"]))
)]
pub async fn get_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let r = manage_roles::get(&state.services, input::bearer(&headers), &id).await?;
    Ok(ok(project(r, &q)?))
}

/// `PATCH /api/v2/roles/{id}`: `{name?, description?}`.
#[utoipa::path(
    patch,
    path = "/api/v2/roles/{id}",
    tag = "roles",
    summary = "Rename or redescribe a role",
    params(("id" = String, Path)),
    request_body = crate::http::schemas::RoleBody,
    responses((status = 200, description = "The role", body = crate::http::schemas::RoleView), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The role does not exist", body = crate::http::schemas::ErrorBody), (status = 409, description = "The name is taken", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:roles"]))
)]
pub async fn update_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    let b = body_for::<schemas::RoleBody>(&state, &headers, manage_roles::UPDATE, body).await?;
    let name = match b.string("name")? {
        Some(n) if n.is_empty() => {
            return Err(invalid(
                "Payload validation error: 'String is too short (0 chars), minimum 1' on property name.",
            ));
        }
        n => n,
    };
    let r = manage_roles::update(
        &state.services,
        input::bearer(&headers),
        &id,
        name,
        b.clearable("description")?,
    )
    .await?;
    Ok(ok(r))
}

/// `DELETE /api/v2/roles/{id}`: 200 `{}`.
#[utoipa::path(
    delete,
    path = "/api/v2/roles/{id}",
    tag = "roles",
    summary = "Delete a role (its holders lose it)",
    params(("id" = String, Path)),
    responses((status = 200, description = "{}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The role does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["delete:roles"]))
)]
pub async fn delete_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    manage_roles::delete(&state.services, input::bearer(&headers), &id).await?;
    Ok(ok(json!({})))
}

/// `GET /api/v2/roles/{id}/users`.
#[utoipa::path(
    get,
    path = "/api/v2/roles/{id}/users",
    tag = "roles",
    summary = "The holders of a role",
    params(("id" = String, Path), crate::http::schemas::PageParams, crate::http::schemas::CheckpointParams, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "{user_id,email,picture,name} each"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The role does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users", "read:role_members"]))
)]
pub async fn role_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let from = q.get("from").filter(|s| !s.is_empty());
    let body = manage_roles::members(
        &state.services,
        input::bearer(&headers),
        &id,
        q.page()?,
        from,
        take(&q)?,
    )
    .await?;
    Ok(ok(project_list(body, "users", &q)?))
}

/// `POST /api/v2/roles/{id}/users`: `{users:[…]}`, 200.
#[utoipa::path(
    post,
    path = "/api/v2/roles/{id}/users",
    tag = "roles",
    summary = "Give users a role",
    params(("id" = String, Path)),
    request_body = crate::http::schemas::RoleUsersBody,
    responses((status = 200, description = "Given (no body)"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "Unknown role or user", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:users", "create:role_members"]))
)]
pub async fn assign_role_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    let b =
        body_for::<schemas::RoleUsersBody>(&state, &headers, manage_roles::ASSIGN, body).await?;
    manage_roles::assign_users(
        &state.services,
        input::bearer(&headers),
        &id,
        required_list(&b, "users")?,
    )
    .await?;
    Ok(no_store(StatusCode::OK.into_response()))
}

/// `GET /api/v2/users/{id}/roles`.
#[utoipa::path(
    get,
    path = "/api/v2/users/{id}/roles",
    tag = "users",
    summary = "A user's roles",
    params(("id" = String, Path), crate::http::schemas::PageParams, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Roles"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users", "read:roles"]))
)]
pub async fn user_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let body =
        manage_roles::of_user(&state.services, input::bearer(&headers), &id, q.page()?).await?;
    Ok(ok(project_list(body, "roles", &q)?))
}

/// `POST /api/v2/users/{id}/roles`: `{roles:[…]}`, 204.
#[utoipa::path(
    post,
    path = "/api/v2/users/{id}/roles",
    tag = "users",
    summary = "Give a user roles",
    params(("id" = String, Path)),
    request_body = crate::http::schemas::UserRolesBody,
    responses((status = 204, description = "Given"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "Unknown user or role", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:users", "create:role_members"]))
)]
pub async fn give_user_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    let b =
        body_for::<schemas::UserRolesBody>(&state, &headers, manage_roles::ASSIGN, body).await?;
    manage_roles::give(
        &state.services,
        input::bearer(&headers),
        &id,
        required_list(&b, "roles")?,
    )
    .await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `DELETE /api/v2/users/{id}/roles`: `{roles:[…]}`, 204.
#[utoipa::path(
    delete,
    path = "/api/v2/users/{id}/roles",
    tag = "users",
    summary = "Take roles from a user",
    params(("id" = String, Path)),
    request_body = crate::http::schemas::UserRolesBody,
    responses((status = 204, description = "Taken"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:users", "delete:role_members"]))
)]
pub async fn take_user_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    let b = body_for::<schemas::UserRolesBody>(&state, &headers, manage_roles::TAKE, body).await?;
    manage_roles::take(
        &state.services,
        input::bearer(&headers),
        &id,
        required_list(&b, "roles")?,
    )
    .await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

// ---- logs ----

fn list_logs(q: &Params) -> Result<manage_logs::ListLogs, ManagementApiError> {
    let page = q.page()?;
    let take = match q.get("take") {
        None | Some("") => None,
        Some(_) => Some(q.number("take", 0)?),
    };
    let oldest_first = match q.get("sort").filter(|s| !s.is_empty()) {
        Some(s) => manage_logs::oldest_first(s)?,
        None => false,
    };
    Ok(manage_logs::ListLogs {
        q: q.get("q").or_else(|| q.get("search")).map(str::to_owned),
        oldest_first,
        page: page.page,
        per_page: page.per_page,
        include_totals: page.include_totals,
        from: q.get("from").filter(|s| !s.is_empty()).map(str::to_owned),
        take,
    })
}

/// `GET /api/v2/logs`.
#[utoipa::path(
    get,
    path = "/api/v2/logs",
    tag = "logs",
    summary = "Search the tenant log",
    params(crate::http::schemas::PageParams, crate::http::schemas::LogParams, crate::http::schemas::CheckpointParams, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Events: an array, or {start,limit,length,total,logs}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:logs"]))
)]
pub async fn list_log_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    authorize_any(&state.services, input::bearer(&headers), manage_logs::READ).await?;
    let l = list_logs(&q)?;
    let body = manage_logs::list(&state.services, input::bearer(&headers), &l).await?;
    Ok(ok(project_list(body, "logs", &q)?))
}

/// `GET /api/v2/logs/{id}`.
#[utoipa::path(
    get,
    path = "/api/v2/logs/{id}",
    tag = "logs",
    summary = "One log event",
    params(("id" = String, Path), crate::http::schemas::FieldsParams),
    responses((status = 200, description = "The event", body = crate::http::schemas::LogEventView), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The event does not exist or is past the retention", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:logs"]))
)]
pub async fn get_log_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let e = manage_logs::get(&state.services, input::bearer(&headers), &id).await?;
    Ok(ok(project(e, &q)?))
}

/// `GET /api/v2/users/{id}/logs`.
#[utoipa::path(
    get,
    path = "/api/v2/users/{id}/logs",
    tag = "users",
    summary = "A user's log events",
    params(("id" = String, Path), crate::http::schemas::PageParams, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Events"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:logs", "read:logs_users"]))
)]
pub async fn user_log_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_logs::READ_USER,
    )
    .await?;
    let l = list_logs(&q)?;
    let body = manage_logs::of_user(&state.services, input::bearer(&headers), &id, &l).await?;
    Ok(ok(project_list(body, "logs", &q)?))
}
