//! The one place domain errors become wire envelopes: dbconnections and OAuth. 5xx bodies are
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
        // OAuth-only errors; dbconnections endpoints never raise them.
        Error::InvalidRequest(m) => bad("invalid_request", m),
        Error::UnsupportedGrantType(_)
        | Error::GrantNotAllowed(_)
        | Error::InvalidClient(_)
        | Error::WrongCredentials
        | Error::TooManyAttempts
        | Error::UserBlocked
        | Error::InvalidRefreshToken
        | Error::UnknownAudience(_)
        | Error::MissingAudience
        | Error::InvalidScope(_)
        | Error::InvalidToken(_) => bad("invalid_request", &e.to_string()),
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

/// Logs an internal cause once, and renders `body`; 429s tell clients when to retry.
fn render(e: &Error, status: StatusCode, body: Value) -> Response {
    if let Error::Internal(cause) = e {
        tracing::error!(%cause, "request failed");
    }
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

impl IntoResponse for DbConnectionsError {
    fn into_response(self) -> Response {
        let (status, body) = dbconnections_body(&self.0);
        render(&self.0, status, body)
    }
}

/// An OAuth error (`/oauth/*`, `/userinfo`): `{"error","error_description"}`.
#[derive(Debug)]
pub struct OAuthError(pub Error);

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<DbConnectionsError> for OAuthError {
    fn from(e: DbConnectionsError) -> Self {
        Self(e.0)
    }
}

/// Status and body for each domain error, in the OAuth envelope.
pub fn oauth_body(e: &Error) -> (StatusCode, Value) {
    use StatusCode as S;
    let body = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            json!({"error": error, "error_description": description}),
        )
    };
    let invalid = |d: &str| body(S::BAD_REQUEST, "invalid_request", d);
    match e {
        Error::InvalidRequest(m) | Error::InvalidBody(m) => invalid(m),
        Error::BodyTooLarge => body(
            S::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "Request body too large",
        ),
        Error::UnsupportedMediaType => body(
            S::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        ),
        Error::UnsupportedGrantType(g) => body(
            S::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Unsupported grant type: {g}"),
        ),
        Error::GrantNotAllowed(g) => body(
            S::FORBIDDEN,
            "unauthorized_client",
            &format!("Grant type '{g}' not allowed for the client."),
        ),
        Error::UnknownClient => body(S::FORBIDDEN, "unauthorized_client", "invalid client"),
        Error::InvalidClient(m) => body(S::UNAUTHORIZED, "invalid_client", m),
        Error::OriginNotAllowed => body(
            S::FORBIDDEN,
            "access_denied",
            "Origin not allowed for this client",
        ),
        Error::ConnectionNotFound => invalid("the connection was not found"),
        Error::ConnectionNotEnabled => invalid("the connection was disabled"),
        Error::NotDatabaseConnection => invalid("the connection is not a database connection"),
        Error::WrongCredentials => body(S::FORBIDDEN, "invalid_grant", "Wrong email or password."),
        Error::TooManyAttempts => body(
            S::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Your account has been blocked after multiple consecutive login attempts.",
        ),
        Error::UserBlocked => body(S::UNAUTHORIZED, "unauthorized", "user is blocked"),
        Error::InvalidRefreshToken => body(
            S::FORBIDDEN,
            "invalid_grant",
            "Unknown or invalid refresh token.",
        ),
        Error::UnknownAudience(a) => body(
            S::FORBIDDEN,
            "access_denied",
            &format!("Service not found: {a}"),
        ),
        Error::MissingAudience => body(
            S::FORBIDDEN,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        ),
        Error::InvalidScope(s) => body(
            S::FORBIDDEN,
            "invalid_scope",
            &format!("Scope {s} was not granted to this refresh token"),
        ),
        Error::InvalidToken(m) => body(S::UNAUTHORIZED, "invalid_token", m),
        Error::Overloaded => body(
            S::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests, please try again later",
        ),
        Error::Internal(_) => body(S::INTERNAL_SERVER_ERROR, "server_error", "Internal error"),
        // Signup-only errors; OAuth endpoints never raise them.
        Error::InvalidUsername(_)
        | Error::SignupDisabled
        | Error::UserExists
        | Error::UsernameExists
        | Error::InvalidSignup
        | Error::PasswordStrength(_)
        | Error::PasswordDictionary
        | Error::PasswordNoUserInfo
        | Error::PasswordHistory => invalid(&e.to_string()),
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, body) = oauth_body(&self.0);
        let mut response = render(&self.0, status, body);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Error::InvalidToken(_) = self.0 {
            // RFC 6750 §3.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
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

    fn oauth_status(e: Error) -> u16 {
        oauth_body(&e).0.as_u16()
    }

    #[test]
    fn every_oauth_error_maps_to_its_status() {
        assert_eq!(oauth_status(Error::InvalidRequest("x".into())), 400);
        assert_eq!(oauth_status(Error::InvalidBody("x".into())), 400);
        assert_eq!(oauth_status(Error::BodyTooLarge), 413);
        assert_eq!(oauth_status(Error::UnsupportedMediaType), 415);
        assert_eq!(oauth_status(Error::UnsupportedGrantType("x".into())), 400);
        assert_eq!(oauth_status(Error::GrantNotAllowed("x".into())), 403);
        assert_eq!(oauth_status(Error::UnknownClient), 403);
        assert_eq!(oauth_status(Error::InvalidClient("x")), 401);
        assert_eq!(oauth_status(Error::OriginNotAllowed), 403);
        assert_eq!(oauth_status(Error::ConnectionNotFound), 400);
        assert_eq!(oauth_status(Error::ConnectionNotEnabled), 400);
        assert_eq!(oauth_status(Error::NotDatabaseConnection), 400);
        assert_eq!(oauth_status(Error::WrongCredentials), 403);
        assert_eq!(oauth_status(Error::TooManyAttempts), 429);
        assert_eq!(oauth_status(Error::UserBlocked), 401);
        assert_eq!(oauth_status(Error::InvalidRefreshToken), 403);
        assert_eq!(oauth_status(Error::UnknownAudience("x".into())), 403);
        assert_eq!(oauth_status(Error::MissingAudience), 403);
        assert_eq!(oauth_status(Error::InvalidScope("x".into())), 403);
        assert_eq!(oauth_status(Error::InvalidToken("x")), 401);
        assert_eq!(oauth_status(Error::Overloaded), 429);
        assert_eq!(oauth_status(Error::Internal("cause".into())), 500);
    }

    #[test]
    fn oauth_bodies_are_exact() {
        let text = |e: Error| oauth_body(&e).1.to_string();
        assert_eq!(
            text(Error::WrongCredentials),
            r#"{"error":"invalid_grant","error_description":"Wrong email or password."}"#
        );
        assert_eq!(
            text(Error::GrantNotAllowed("password".into())),
            r#"{"error":"unauthorized_client","error_description":"Grant type 'password' not allowed for the client."}"#
        );
        assert_eq!(
            text(Error::Internal("db password is hunter2".into())),
            r#"{"error":"server_error","error_description":"Internal error"}"#
        );
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
