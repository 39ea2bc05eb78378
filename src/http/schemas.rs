//! The Management API's schema types: request bodies (whose declared properties are the only
//! ones each endpoint accepts, read off by `properties`), query parameters, views and the error
//! envelope, as the OpenAPI document (`openapi`) lists them.

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

/// The properties a body schema declares: the only ones its endpoint accepts.
pub fn properties<T: ToSchema>() -> Vec<String> {
    match T::schema() {
        RefOr::T(Schema::Object(o)) => o.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The Management envelope of every error.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: the shape of the answer, never built
#[schema(example = json!({"statusCode": 404, "error": "Not Found", "message": "The user does not exist.", "errorCode": "inexistent_user"}))]
pub struct ErrorBody {
    #[schema(rename = "statusCode")]
    status_code: u16,
    error: String,
    message: String,
    #[schema(rename = "errorCode")]
    error_code: String,
}

/// Offset paging: a bare array, or with `include_totals=true` `{start, limit, length, total, <items>}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Page number, from 0.
    page: Option<u32>,
    /// At most 100; page × per_page stays within the first 1,000 results.
    per_page: Option<u32>,
    include_totals: Option<bool>,
}

/// `fields` projection.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FieldsParams {
    /// Comma-separated fields to include (or, with `include_fields=false`, to leave out).
    fields: Option<String>,
    include_fields: Option<bool>,
}

/// A user search.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Lucene subset (docs/api.md): exact, phrase, AND/OR/NOT, groups, metadata paths,
    /// booleans, ranges, prefix and suffix wildcards.
    q: Option<String>,
    /// `field:1` or `field:-1`.
    sort: Option<String>,
    /// Accepted and ignored (`v3`).
    search_engine: Option<String>,
}

/// Checkpoint paging (connections, logs): items after `from`, at most `take`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CheckpointParams {
    from: Option<String>,
    take: Option<u32>,
}

/// A log search.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct LogParams {
    /// Lucene subset over type, date, user_id, user_name, client_id, client_name, ip,
    /// connection, description; ignored with `from`.
    q: Option<String>,
    /// The older name of `q`.
    search: Option<String>,
    /// `date:-1` (newest first, the default) or `date:1`.
    sort: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EmailParam {
    email: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IdentifierParam {
    /// An email or username.
    identifier: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ConnectionFilter {
    name: Option<String>,
    strategy: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct GrantFilter {
    client_id: Option<String>,
    audience: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RoleFilter {
    /// Case-insensitive; matches names containing it.
    name_filter: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct OutboxFilter {
    to: Option<String>,
}

/// `POST /api/v2/users`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateUserBody {
    connection: String,
    email: String,
    password: Option<String>,
    username: Option<String>,
    email_verified: Option<bool>,
    /// Whether to send the verification email (default: unless `email_verified`).
    verify_email: Option<bool>,
    user_metadata: Option<BTreeMap<String, Value>>,
    app_metadata: Option<BTreeMap<String, Value>>,
    blocked: Option<bool>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
    /// Without the `auth0|` prefix; generated when absent.
    user_id: Option<String>,
    /// Refused: SMS connections only.
    phone_number: Option<String>,
    /// Refused: SMS connections only.
    phone_verified: Option<bool>,
}

/// `PATCH /api/v2/users/{id}`: metadata merges at the top level, `null` removes a key.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchUserBody {
    email: Option<String>,
    email_verified: Option<bool>,
    verify_email: Option<bool>,
    username: Option<String>,
    password: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
    user_metadata: Option<BTreeMap<String, Value>>,
    app_metadata: Option<BTreeMap<String, Value>>,
    blocked: Option<bool>,
    connection: Option<String>,
    client_id: Option<String>,
}

/// `POST /api/v2/tickets/password-change`: `user_id`, or `connection_id` and `email`.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub struct PasswordChangeTicketBody {
    user_id: Option<String>,
    connection_id: Option<String>,
    email: Option<String>,
    /// Where the page sends the user afterwards: any absolute http(s) URL.
    result_url: Option<String>,
    /// 0 or absent: 432,000 s.
    ttl_sec: Option<u32>,
    /// Refused when true.
    mark_email_as_verified: Option<bool>,
    #[schema(rename = "includeEmailInRedirect")]
    include_email_in_redirect: Option<bool>,
    client_id: Option<String>,
    organization_id: Option<String>,
}

/// `POST /api/v2/tickets/email-verification`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EmailVerificationTicketBody {
    user_id: String,
    result_url: Option<String>,
    ttl_sec: Option<u32>,
    #[schema(rename = "includeEmailInRedirect")]
    include_email_in_redirect: Option<bool>,
    client_id: Option<String>,
    organization_id: Option<String>,
    identity: Option<Value>,
}

/// `POST /api/v2/jobs/verification-email`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VerificationEmailJobBody {
    user_id: String,
    client_id: Option<String>,
    identity: Option<Value>,
    organization_id: Option<String>,
}

/// `POST /api/v2/jobs/users-exports`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UsersExportBody {
    connection_id: Option<String>,
    /// `json` (JSON lines, the default) or `csv`.
    format: Option<String>,
    /// `[{name, export_as?}]`.
    fields: Option<Vec<Value>>,
    limit: Option<u32>,
}

/// `POST /api/v2/client-grants`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateClientGrantBody {
    client_id: String,
    /// An API of the tenant, or `<issuer>api/v2/`.
    audience: String,
    scope: Vec<String>,
}

/// `PATCH /api/v2/client-grants/{id}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchClientGrantBody {
    scope: Option<Vec<String>>,
}

/// A client grant.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClientGrantView {
    /// `cgr_` + 16 hex.
    id: String,
    client_id: String,
    audience: String,
    scope: Vec<String>,
}

/// `POST`/`PATCH /api/v2/roles`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleBody {
    /// At most 50 characters; unique.
    name: Option<String>,
    /// At most 140 characters.
    description: Option<String>,
}

/// A role.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleView {
    /// `rol_` + 16 characters.
    id: String,
    name: String,
    description: Option<String>,
}

/// `POST /api/v2/roles/{id}/users`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleUsersBody {
    /// 1 to 50 user ids.
    users: Vec<String>,
}

/// `POST`/`DELETE /api/v2/users/{id}/roles`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserRolesBody {
    /// 1 to 50 role ids.
    roles: Vec<String>,
}

/// A tenant log event (never a secret, password or token).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LogEventView {
    log_id: String,
    date: String,
    /// `ss`, `fs`, `s`, `fp`, `fu`, `f`, `limit_wc`, `seccft`, `feccft`, `sertft`, `fertft`,
    /// `seacft`, `feacft`, `scpr`, `fcpr`, `scp`, `fcp`, `svr`, `sv`, `fv`, `slo`, `du`,
    /// `sapi`, `fapi`.
    #[schema(rename = "type")]
    kind: String,
    description: Option<String>,
    client_id: Option<String>,
    client_name: Option<String>,
    connection: Option<String>,
    connection_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    user_id: Option<String>,
    user_name: Option<String>,
    details: Value,
}
