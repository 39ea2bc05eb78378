//! The Management envelope `{statusCode, error, message, errorCode}` of `/api/v2`.

use super::*;

/// A Management API error: `{"statusCode","error","message","errorCode"}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ManagementApiError(#[from] pub ManagementError);

/// `{statusCode, error, message, errorCode}`, `error` being the status's reason phrase.
pub(crate) fn management_envelope(
    status: StatusCode,
    message: &str,
    code: &str,
) -> (StatusCode, Value) {
    (
        status,
        json!({"statusCode": status.as_u16(), "error": status.canonical_reason().unwrap_or_default(), "message": message, "errorCode": code}),
    )
}

/// A client over its Management API rate limit.
pub fn management_rate_limited() -> (StatusCode, Value) {
    management_envelope(
        StatusCode::TOO_MANY_REQUESTS,
        "Global limit has been reached",
        "too_many_requests",
    )
}

/// A path under `/api/v2` holding a control character (percent-encoded or not).
pub fn management_invalid_path() -> (StatusCode, Value) {
    management_envelope(
        StatusCode::BAD_REQUEST,
        "Path validation error: 'Control characters are not allowed'.",
        "invalid_uri",
    )
}

/// An unknown path under `/api/v2`.
pub fn management_not_found() -> (StatusCode, Value) {
    management_envelope(StatusCode::NOT_FOUND, "Not Found", "not_found")
}

impl ManagementApiError {
    pub fn body(&self) -> (StatusCode, Value) {
        let m = management_envelope;
        match &self.0 {
            ManagementError::Unauthorized(why) => m(StatusCode::UNAUTHORIZED, why, "invalid_token"),
            ManagementError::InsufficientScope(scope) => m(
                StatusCode::FORBIDDEN,
                &format!("Insufficient scope, expected any of: {scope}"),
                "insufficient_scope",
            ),
            ManagementError::Invalid(why) => m(StatusCode::BAD_REQUEST, why, "invalid_body"),
            ManagementError::UnknownConnection => m(
                StatusCode::NOT_FOUND,
                "The connection does not exist.",
                "inexistent_connection",
            ),
            ManagementError::UnknownJob => m(
                StatusCode::NOT_FOUND,
                "The job does not exist.",
                "inexistent_job",
            ),
            ManagementError::UnknownUser => m(
                StatusCode::NOT_FOUND,
                "The user does not exist.",
                "inexistent_user",
            ),
            ManagementError::UnknownClient => m(
                StatusCode::NOT_FOUND,
                "The client does not exist.",
                "inexistent_client",
            ),
            ManagementError::UnknownApi(audience) => m(
                StatusCode::NOT_FOUND,
                &format!("No resource with identifier {audience}"),
                "inexistent_resource_server",
            ),
            ManagementError::UnknownGrant => m(
                StatusCode::NOT_FOUND,
                "The client grant does not exist.",
                "inexistent_client_grant",
            ),
            ManagementError::GrantExists => m(
                StatusCode::CONFLICT,
                "client_grant already exists",
                "client_grant_conflict",
            ),
            ManagementError::UnknownRole => m(
                StatusCode::NOT_FOUND,
                "The role does not exist.",
                "inexistent_role",
            ),
            ManagementError::UnknownLog => m(
                StatusCode::NOT_FOUND,
                "The log event does not exist.",
                "inexistent_log",
            ),
            ManagementError::RoleExists => {
                m(StatusCode::CONFLICT, "Role name already exists", "conflict")
            }
            ManagementError::UserExists => m(
                StatusCode::CONFLICT,
                "The user already exists.",
                "auth0_idp_error",
            ),
            ManagementError::UsernameExists => m(
                StatusCode::CONFLICT,
                "The username provided is in use already.",
                "auth0_idp_error",
            ),
            ManagementError::Password(why) => m(StatusCode::BAD_REQUEST, why, "invalid_password"),
            ManagementError::Query(why) => m(StatusCode::BAD_REQUEST, why, "invalid_query_string"),
            ManagementError::TooLarge => {
                let (status, body) = oauth_body_error(&BodyError::TooLarge);
                m(
                    status,
                    body["error_description"].as_str().unwrap_or_default(),
                    "invalid_request",
                )
            }
            ManagementError::Failure(Failure::Overloaded) => m(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests, please try again later",
                "too_many_requests",
            ),
            ManagementError::Failure(_) => m(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "internal_error",
            ),
        }
    }
}

impl IntoResponse for ManagementApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        let failure = match &self.0 {
            ManagementError::Failure(f) => Some(f),
            _ => None,
        };
        render(failure, status, body)
    }
}
