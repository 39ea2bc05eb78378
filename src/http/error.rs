//! The one place domain errors become wire envelopes (dbconnections for now). 5xx bodies are
//! generic; the cause is logged once, inside the request span.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::Error;

/// A dbconnections error: `{"name","code","description","statusCode"}`, plus `message` and
/// `policy` on password errors.
#[derive(Debug)]
pub struct DbConnectionsError(pub Error);

impl From<Error> for DbConnectionsError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

fn envelope(status: StatusCode, name: &str, code: &str, description: Value) -> (StatusCode, Value) {
    (
        status,
        json!({"name": name, "code": code, "description": description, "statusCode": status.as_u16()}),
    )
}

fn password_error(name: &str, message: &str, description: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"name": name, "message": message, "code": "invalid_password", "description": description, "statusCode": 400}),
    )
}

/// Status and body for each domain error.
pub fn dbconnections_body(e: &Error) -> (StatusCode, Value) {
    use StatusCode as S;
    let bad = |code: &str, d: &str| envelope(S::BAD_REQUEST, "BadRequestError", code, json!(d));
    match e {
        Error::InvalidBody(m) => bad("invalid_body", m),
        Error::BodyTooLarge => envelope(
            S::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeError",
            "invalid_body",
            json!("Request body too large"),
        ),
        Error::UnsupportedMediaType => envelope(
            S::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeError",
            "invalid_body",
            json!("Content-Type must be application/json or application/x-www-form-urlencoded"),
        ),
        Error::InvalidUsername(m) => bad("invalid_username", m),
        Error::UnknownClient => envelope(
            S::UNAUTHORIZED,
            "UnauthorizedError",
            "invalid_client",
            json!("Unknown client"),
        ),
        Error::ConnectionNotFound => bad("invalid_connection", "The connection does not exist"),
        Error::NotDatabaseConnection => bad(
            "invalid_connection",
            "The connection is not a database connection",
        ),
        Error::ConnectionNotEnabled => bad(
            "invalid_connection",
            "The connection is not enabled for this client",
        ),
        Error::SignupDisabled => envelope(
            S::FORBIDDEN,
            "ForbiddenError",
            "operation_not_allowed",
            json!("Public signup is disabled"),
        ),
        Error::OriginNotAllowed => envelope(
            S::FORBIDDEN,
            "ForbiddenError",
            "unauthorized",
            json!("Origin not allowed for this client"),
        ),
        Error::UserExists => bad("user_exists", "The user already exists."),
        Error::UsernameExists => bad("username_exists", "The username already exists."),
        Error::InvalidSignup => bad("invalid_signup", "Invalid sign up"),
        Error::PasswordStrength(f) => (
            S::BAD_REQUEST,
            json!({"name": "PasswordStrengthError", "message": "Password is too weak", "code": "invalid_password", "description": f.description, "policy": f.policy, "statusCode": 400}),
        ),
        Error::PasswordDictionary => password_error(
            "PasswordDictionaryError",
            "Password is too common",
            "Password is not allowed, it might be too common.",
        ),
        Error::PasswordNoUserInfo => password_error(
            "PasswordNoUserInfoError",
            "Password contains user information",
            "Password contains user information",
        ),
        Error::PasswordHistory => password_error(
            "PasswordHistoryError",
            "Password has previously been used",
            "Password has previously been used",
        ),
        Error::Overloaded => envelope(
            S::TOO_MANY_REQUESTS,
            "TooManyRequestsError",
            "too_many_requests",
            json!("Too many requests, please try again later"),
        ),
        Error::Internal(_) => envelope(
            S::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "internal_error",
            json!("Internal error"),
        ),
    }
}

impl IntoResponse for DbConnectionsError {
    fn into_response(self) -> Response {
        if let Error::Internal(cause) = &self.0 {
            tracing::error!(%cause, "request failed");
        }
        let (status, body) = dbconnections_body(&self.0);
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password_policy::StrengthFailure;

    fn status(e: Error) -> u16 {
        let (s, body) = dbconnections_body(&e);
        assert_eq!(
            body["statusCode"],
            json!(s.as_u16()),
            "statusCode mirrors status"
        );
        s.as_u16()
    }

    #[test]
    fn every_error_maps_to_its_status() {
        assert_eq!(status(Error::InvalidBody("x".into())), 400);
        assert_eq!(status(Error::BodyTooLarge), 413);
        assert_eq!(status(Error::UnsupportedMediaType), 415);
        assert_eq!(status(Error::InvalidUsername("x".into())), 400);
        assert_eq!(status(Error::UnknownClient), 401);
        assert_eq!(status(Error::ConnectionNotFound), 400);
        assert_eq!(status(Error::NotDatabaseConnection), 400);
        assert_eq!(status(Error::ConnectionNotEnabled), 400);
        assert_eq!(status(Error::SignupDisabled), 403);
        assert_eq!(status(Error::OriginNotAllowed), 403);
        assert_eq!(status(Error::UserExists), 400);
        assert_eq!(status(Error::UsernameExists), 400);
        assert_eq!(status(Error::InvalidSignup), 400);
        assert_eq!(
            status(Error::PasswordStrength(StrengthFailure {
                description: json!({}),
                policy: String::new()
            })),
            400
        );
        assert_eq!(status(Error::PasswordDictionary), 400);
        assert_eq!(status(Error::PasswordNoUserInfo), 400);
        assert_eq!(status(Error::PasswordHistory), 400);
        assert_eq!(status(Error::Overloaded), 429);
        assert_eq!(status(Error::Internal("secret cause".into())), 500);
    }

    #[test]
    fn internal_cause_never_reaches_the_body() {
        let (_, body) = dbconnections_body(&Error::Internal("db password is hunter2".into()));
        assert_eq!(
            body.to_string(),
            r#"{"name":"InternalServerError","code":"internal_error","description":"Internal error","statusCode":500}"#
        );
    }

    #[test]
    fn password_errors_keep_key_order() {
        let (_, body) = dbconnections_body(&Error::PasswordDictionary);
        assert_eq!(
            body.to_string(),
            r#"{"name":"PasswordDictionaryError","message":"Password is too common","code":"invalid_password","description":"Password is not allowed, it might be too common.","statusCode":400}"#
        );
    }
}
