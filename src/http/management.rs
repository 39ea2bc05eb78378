//! `/api/v2` users, tickets, user blocks and the tenant's reads (clients, connections, client
//! grants): each handler reads its body and query through `manage_input` into the domain's
//! typed inputs, and answers the `include_totals` shapes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::error::ManagementApiError;
use super::input;
use super::manage_input::{
    Body, Params, invalid, no_store, object, params, project, project_list, query_error,
};
use crate::domain::manage_tenant::{self, ConnectionQuery};
use crate::domain::manage_tickets::{self, TicketRequest};
use crate::domain::manage_users::{self, CreateUser, ListUsers, PatchUser};
use crate::domain::search;
use crate::domain::user::{Password, Profile};

const PROFILE: [&str; 5] = ["given_name", "family_name", "name", "nickname", "picture"];

/// `POST /api/v2/users`: 201 with the user.
#[utoipa::path(
    post,
    path = "/api/v2/users",
    tag = "users",
    summary = "Create a user",
    request_body = crate::http::schemas::CreateUserBody,
    responses((status = 201, description = "The user"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 409, description = "The user already exists", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["create:users"]))
)]
pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    // The token first: an unauthorized caller learns nothing about its body.
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_users::CREATE,
    )
    .await?;
    let b = Body(object(body)?).accepting::<super::schemas::CreateUserBody>()?;
    if b.0.contains_key("phone_number") || b.0.contains_key("phone_verified") {
        return Err(invalid(
            "Payload validation error: 'phone_number is only for SMS connections'.",
        ));
    }
    let mut profile = Profile::default();
    for k in PROFILE {
        let v = b.string(k)?;
        match k {
            "given_name" => profile.given_name = v,
            "family_name" => profile.family_name = v,
            "name" => profile.name = v,
            "nickname" => profile.nickname = v,
            _ => profile.picture = v,
        }
    }
    let input = CreateUser {
        connection: b.required("connection")?,
        email: b.required("email")?,
        password: b.string("password")?.map(Password),
        username: b.string("username")?,
        email_verified: b.boolean("email_verified")?.unwrap_or(false),
        verify_email: b.boolean("verify_email")?,
        user_metadata: b.map("user_metadata")?.unwrap_or_default(),
        app_metadata: b.map("app_metadata")?.unwrap_or_default(),
        blocked: b.boolean("blocked")?.unwrap_or(false),
        profile,
        user_id: b.string("user_id")?,
    };
    let user = manage_users::create(&state.services, input::bearer(&headers), input).await?;
    Ok(no_store(
        (StatusCode::CREATED, axum::Json(user)).into_response(),
    ))
}

/// `PATCH /api/v2/users/{id}`.
#[utoipa::path(
    patch,
    path = "/api/v2/users/{id}",
    tag = "users",
    summary = "Update a user",
    params(("id" = String, Path)),
    request_body = crate::http::schemas::PatchUserBody,
    responses((status = 200, description = "The user"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody), (status = 409, description = "The email or username is taken", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:users", "update:users_app_metadata"]))
)]
pub async fn patch_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_users::UPDATE,
    )
    .await?;
    let b = Body(object(body)?).accepting::<super::schemas::PatchUserBody>()?;
    let password = match b.string("password")? {
        Some(p) if p.is_empty() => {
            return Err(invalid(
                "Payload validation error: 'String is too short (0 chars), minimum 1' on property password.",
            ));
        }
        p => p.map(Password),
    };
    let p = PatchUser {
        email: b.string("email")?,
        email_verified: b.boolean("email_verified")?,
        verify_email: b.boolean("verify_email")?,
        username: b.clearable("username")?,
        password,
        given_name: b.clearable("given_name")?,
        family_name: b.clearable("family_name")?,
        name: b.clearable("name")?,
        nickname: b.clearable("nickname")?,
        picture: b.clearable("picture")?,
        user_metadata: b.map("user_metadata")?,
        app_metadata: b.map("app_metadata")?,
        blocked: b.boolean("blocked")?,
        connection: b.string("connection")?,
    };
    let user = manage_users::patch(&state.services, input::bearer(&headers), &id, p).await?;
    Ok(no_store(axum::Json(user).into_response()))
}

/// `GET /api/v2/users/{id}`.
#[utoipa::path(
    get,
    path = "/api/v2/users/{id}",
    tag = "users",
    summary = "Get a user",
    params(("id" = String, Path), crate::http::schemas::FieldsParams),
    responses((status = 200, description = "The user"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users"]))
)]
pub async fn get_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let user = manage_users::get(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(axum::Json(project(user, &q)?).into_response()))
}

/// `DELETE /api/v2/users/{id}`: 204.
#[utoipa::path(
    delete,
    path = "/api/v2/users/{id}",
    tag = "users",
    summary = "Delete a user (idempotent)",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted, or already gone"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["delete:users"]))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    manage_users::delete(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `GET /api/v2/users-by-email?email=`: a bare array.
#[utoipa::path(
    get,
    path = "/api/v2/users-by-email",
    tag = "users",
    summary = "Users with an email",
    params(crate::http::schemas::EmailParam, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "An array of users"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users"]))
)]
pub async fn users_by_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_users::READ,
    )
    .await?;
    let email = q
        .get("email")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| query_error("Query validation error: 'Missing required property: email'."))?
        .to_owned();
    let users = manage_users::by_email(&state.services, input::bearer(&headers), &email).await?;
    let users = users
        .into_iter()
        .map(|u| project(u, &q))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(no_store(axum::Json(users).into_response()))
}

/// `GET /api/v2/users`: a bare array, or with `include_totals=true`
/// `{start, limit, length, total, users}`.
#[utoipa::path(
    get,
    path = "/api/v2/users",
    tag = "users",
    summary = "List or search users",
    params(crate::http::schemas::PageParams, crate::http::schemas::SearchParams, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Users: an array, or {start,limit,length,total,users}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users"]))
)]
pub async fn list_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_users::READ,
    )
    .await?;
    let q = params(raw)?;
    let query = match q.get("q").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            search::parse(text).map_err(|e| query_error(format!("Invalid query string: {e}.")))?,
        ),
    };
    let sort = match q.get("sort").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            Some(search::parse_sort(s).map_err(|e| query_error(format!("Invalid sort: {e}.")))?)
        }
    };
    let req = ListUsers {
        query,
        sort,
        page: q.number("page", 0)?,
        per_page: q.number("per_page", manage_users::DEFAULT_PER_PAGE)?,
        include_totals: q.boolean("include_totals", false)?,
    };
    let (users, total) = manage_users::list(&state.services, input::bearer(&headers), &req).await?;
    let users = users
        .into_iter()
        .map(|u| project(u, &q))
        .collect::<Result<Vec<_>, _>>()?;
    let body = if req.include_totals {
        json!({
            "start": req.page * req.per_page,
            "limit": req.per_page,
            "length": users.len(),
            "total": total.unwrap_or_default(),
            "users": users,
        })
    } else {
        Value::Array(users)
    };
    Ok(no_store(axum::Json(body).into_response()))
}

fn ttl(b: &Body) -> Result<Option<u64>, ManagementApiError> {
    match b.0.get("ttl_sec") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| Body::wrong("ttl_sec", "integer", v)),
    }
}

/// `POST /api/v2/tickets/password-change`: 201 `{ticket}`.
#[utoipa::path(
    post,
    path = "/api/v2/tickets/password-change",
    tag = "tickets",
    summary = "A single-use password reset link",
    request_body = crate::http::schemas::PasswordChangeTicketBody,
    responses((status = 201, description = "{ticket}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["create:user_tickets"]))
)]
pub async fn password_change_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_tickets::CREATE_TICKETS,
    )
    .await?;
    let b = Body(object(body)?).accepting::<super::schemas::PasswordChangeTicketBody>()?;
    b.boolean("includeEmailInRedirect")?;
    b.string("client_id")?;
    let req = TicketRequest {
        user_id: b.string("user_id")?,
        connection_id: b.string("connection_id")?,
        email: b.string("email")?,
        result_url: b.string("result_url")?,
        ttl_sec: ttl(&b)?,
        mark_email_as_verified: b.boolean("mark_email_as_verified")?.unwrap_or(false),
    };
    let t = manage_tickets::password_change(&state.services, input::bearer(&headers), req).await?;
    Ok(no_store(
        (StatusCode::CREATED, axum::Json(t)).into_response(),
    ))
}

/// `POST /api/v2/tickets/email-verification`: 201 `{ticket}`.
#[utoipa::path(
    post,
    path = "/api/v2/tickets/email-verification",
    tag = "tickets",
    summary = "A single-use email verification link",
    request_body = crate::http::schemas::EmailVerificationTicketBody,
    responses((status = 201, description = "{ticket}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["create:user_tickets"]))
)]
pub async fn email_verification_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_tickets::CREATE_TICKETS,
    )
    .await?;
    let b = Body(object(body)?).accepting::<super::schemas::EmailVerificationTicketBody>()?;
    b.boolean("includeEmailInRedirect")?;
    b.string("client_id")?;
    let req = TicketRequest {
        user_id: b.string("user_id")?,
        result_url: b.string("result_url")?,
        ttl_sec: ttl(&b)?,
        ..Default::default()
    };
    let t =
        manage_tickets::email_verification(&state.services, input::bearer(&headers), req).await?;
    Ok(no_store(
        (StatusCode::CREATED, axum::Json(t)).into_response(),
    ))
}

/// `POST /api/v2/jobs/verification-email` `{user_id, client_id?}`: 201 with the job.
#[utoipa::path(
    post,
    path = "/api/v2/jobs/verification-email",
    tag = "jobs",
    summary = "Send a verification email",
    request_body = crate::http::schemas::VerificationEmailJobBody,
    responses((status = 201, description = "The job"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:users"]))
)]
pub async fn verification_email_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        &manage_users::UPDATE[..1],
    )
    .await?;
    let b = Body(object(body)?).accepting::<super::schemas::VerificationEmailJobBody>()?;
    b.string("client_id")?;
    let user_id = b.required("user_id")?;
    let job =
        manage_tickets::verification_email_job(&state.services, input::bearer(&headers), &user_id)
            .await?;
    Ok(no_store(
        (StatusCode::CREATED, axum::Json(job)).into_response(),
    ))
}

fn identifier(q: &Params) -> Result<String, ManagementApiError> {
    q.get("identifier")
        .filter(|i| !i.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            query_error("Query validation error: 'Missing required property: identifier'.")
        })
}

/// `GET /api/v2/user-blocks?identifier=`.
#[utoipa::path(
    get,
    path = "/api/v2/user-blocks",
    tag = "user-blocks",
    summary = "Brute-force blocks of an identifier",
    params(crate::http::schemas::IdentifierParam),
    responses((status = 200, description = "{blocked_for:[{identifier,ip}]}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users"]))
)]
pub async fn blocks_by_identifier(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        manage_users::READ,
    )
    .await?;
    let id = identifier(&params(raw)?)?;
    let b =
        manage_tickets::blocks_of_identifier(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(axum::Json(b).into_response()))
}

/// `DELETE /api/v2/user-blocks?identifier=`: 204.
#[utoipa::path(
    delete,
    path = "/api/v2/user-blocks",
    tag = "user-blocks",
    summary = "Lift an identifier's blocks",
    params(crate::http::schemas::IdentifierParam),
    responses((status = 204, description = "Lifted"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:users"]))
)]
pub async fn unblock_identifier(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    crate::domain::management::authorize_any(
        &state.services,
        input::bearer(&headers),
        &manage_users::UPDATE[..1],
    )
    .await?;
    let id = identifier(&params(raw)?)?;
    manage_tickets::unblock_identifier(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `GET /api/v2/user-blocks/{id}`.
#[utoipa::path(
    get,
    path = "/api/v2/user-blocks/{id}",
    tag = "user-blocks",
    summary = "Brute-force blocks of a user",
    params(("id" = String, Path)),
    responses((status = 200, description = "{blocked_for:[{identifier,ip}]}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:users"]))
)]
pub async fn blocks_of_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    let b = manage_tickets::blocks_of_user(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(axum::Json(b).into_response()))
}

/// `DELETE /api/v2/user-blocks/{id}`: 204.
#[utoipa::path(
    delete,
    path = "/api/v2/user-blocks/{id}",
    tag = "user-blocks",
    summary = "Lift a user's blocks",
    params(("id" = String, Path)),
    responses((status = 204, description = "Lifted"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The user does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["update:users"]))
)]
pub async fn unblock_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ManagementApiError> {
    manage_tickets::unblock_user(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `GET /api/v2/clients`.
#[utoipa::path(
    get,
    path = "/api/v2/clients",
    tag = "clients",
    summary = "List clients (never a secret)",
    params(crate::http::schemas::PageParams, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Clients"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:clients"]))
)]
pub async fn list_clients(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let page = q.page()?;
    let body = manage_tenant::clients(&state.services, input::bearer(&headers), page).await?;
    Ok(no_store(
        axum::Json(project_list(body, "clients", &q)?).into_response(),
    ))
}

/// `GET /api/v2/clients/{id}`.
#[utoipa::path(
    get,
    path = "/api/v2/clients/{id}",
    tag = "clients",
    summary = "Get a client (never its secret)",
    params(("id" = String, Path), crate::http::schemas::FieldsParams),
    responses((status = 200, description = "The client"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The client does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:clients"]))
)]
pub async fn get_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let c = manage_tenant::client(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(axum::Json(project(c, &q)?).into_response()))
}

/// `GET /api/v2/connections?name=&strategy=` (offset or `from`/`take` paging).
#[utoipa::path(
    get,
    path = "/api/v2/connections",
    tag = "connections",
    summary = "List connections",
    params(crate::http::schemas::PageParams, crate::http::schemas::CheckpointParams, crate::http::schemas::ConnectionFilter, crate::http::schemas::FieldsParams),
    responses((status = 200, description = "Connections; with from/take {connections,next}"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:connections"]))
)]
pub async fn list_connections(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let mut strategy = Vec::new();
    if let Some(qs) = &raw.0 {
        for (k, v) in url::form_urlencoded::parse(qs.as_bytes()) {
            if k == "strategy" {
                strategy.push(v.into_owned());
            }
        }
    }
    let q = params(raw)?;
    let take = match q.get("take") {
        None | Some("") => None,
        Some(_) => Some(q.number("take", 50)?),
    };
    let cq = ConnectionQuery {
        name: q.get("name").map(str::to_owned),
        strategy,
        from: q.get("from").filter(|f| !f.is_empty()).map(str::to_owned),
        take,
    };
    let page = q.page()?;
    let body =
        manage_tenant::connections(&state.services, input::bearer(&headers), cq, page).await?;
    Ok(no_store(
        axum::Json(project_list(body, "connections", &q)?).into_response(),
    ))
}

/// `GET /api/v2/connections/{id}`.
#[utoipa::path(
    get,
    path = "/api/v2/connections/{id}",
    tag = "connections",
    summary = "Get a connection",
    params(("id" = String, Path), crate::http::schemas::FieldsParams),
    responses((status = 200, description = "The connection"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody), (status = 404, description = "The connection does not exist", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:connections"]))
)]
pub async fn get_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Result<Response, ManagementApiError> {
    let q = params(raw)?;
    let c = manage_tenant::connection(&state.services, input::bearer(&headers), &id).await?;
    Ok(no_store(axum::Json(project(c, &q)?).into_response()))
}
