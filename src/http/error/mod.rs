//! Errors become wire envelopes here, one per API family: dbconnections (signup and body
//! errors), OAuth (token, revoke, userinfo, discovery and body errors), Management, and the
//! HTML pages (`/authorize`, the hosted login pages, logout: an error page, or a form shown
//! again with its error). Answers given before any handler runs pick their family in `family`. Each maps only its own family plus the shared failures; 5xx bodies are generic,
//! and their cause (the whole source chain) is logged once, inside the request span.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::BodyError;
use crate::domain::authorize::{AuthorizeError, FormError, PageError};
use crate::domain::error::{Failure, Invalid, Rule, chain};
use crate::domain::management::ManagementError;
use crate::domain::password_reset::ResetError;
use crate::domain::signup::{ConnectionError, SignupError, USERNAME_SPECIALS, UsernameRule};
use crate::domain::token::TokenError;
use crate::domain::userinfo::UserinfoError;

/// Logs a 5xx's cause once and renders `body`; 429s tell clients when to retry.
fn render(failure: Option<&Failure>, status: StatusCode, body: Value) -> Response {
    if status.is_server_error()
        && let Some(f) = failure
    {
        tracing::error!(cause = %chain(f), "request failed");
    }
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

mod dbconnections;
mod management;
mod oauth;
mod pages;

pub use dbconnections::*;
pub use management::*;
pub use oauth::*;
pub use pages::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password_policy::StrengthFailure;
    use crate::domain::store::StoreError;

    fn db(e: impl Into<DbConnectionsError>) -> (u16, Value) {
        let (s, body) = e.into().body();
        assert_eq!(
            body["statusCode"],
            json!(s.as_u16()),
            "statusCode mirrors status"
        );
        (s.as_u16(), body)
    }

    fn status(e: impl Into<DbConnectionsError>) -> u16 {
        db(e).0
    }

    fn store_failure() -> Failure {
        Failure::Store(StoreError::Backend(std::sync::Arc::new(
            std::io::Error::other("db password is hunter2"),
        )))
    }

    #[test]
    fn every_management_error_maps_to_its_envelope() {
        let body = |e: ManagementError| ManagementApiError(e).body();
        let env = |status: u16, error: &str, message: &str, code: &str| json!({"statusCode": status, "error": error, "message": message, "errorCode": code});
        assert_eq!(
            body(ManagementError::Unauthorized("Missing authentication")).1,
            env(
                401,
                "Unauthorized",
                "Missing authentication",
                "invalid_token"
            )
        );
        assert_eq!(
            body(ManagementError::InsufficientScope("read:users".into())).1,
            env(
                403,
                "Forbidden",
                "Insufficient scope, expected any of: read:users",
                "insufficient_scope"
            )
        );
        assert_eq!(
            body(ManagementError::Invalid(
                "Payload validation error: 'x'.".into()
            ))
            .1,
            env(
                400,
                "Bad Request",
                "Payload validation error: 'x'.",
                "invalid_body"
            )
        );
        assert_eq!(
            body(ManagementError::UnknownConnection).1,
            env(
                404,
                "Not Found",
                "The connection does not exist.",
                "inexistent_connection"
            )
        );
        assert_eq!(
            body(ManagementError::UnknownJob).1,
            env(
                404,
                "Not Found",
                "The job does not exist.",
                "inexistent_job"
            )
        );
        for (e, status, error, message, code) in [
            (
                ManagementError::UnknownUser,
                404,
                "Not Found",
                "The user does not exist.",
                "inexistent_user",
            ),
            (
                ManagementError::UnknownClient,
                404,
                "Not Found",
                "The client does not exist.",
                "inexistent_client",
            ),
            (
                ManagementError::UnknownApi("https://x/".into()),
                404,
                "Not Found",
                "No resource with identifier https://x/",
                "inexistent_resource_server",
            ),
            (
                ManagementError::UnknownGrant,
                404,
                "Not Found",
                "The client grant does not exist.",
                "inexistent_client_grant",
            ),
            (
                ManagementError::GrantExists,
                409,
                "Conflict",
                "client_grant already exists",
                "client_grant_conflict",
            ),
            (
                ManagementError::UnknownRole,
                404,
                "Not Found",
                "The role does not exist.",
                "inexistent_role",
            ),
            (
                ManagementError::UnknownLog,
                404,
                "Not Found",
                "The log event does not exist.",
                "inexistent_log",
            ),
            (
                ManagementError::RoleExists,
                409,
                "Conflict",
                "Role name already exists",
                "conflict",
            ),
            (
                ManagementError::UserExists,
                409,
                "Conflict",
                "The user already exists.",
                "auth0_idp_error",
            ),
            (
                ManagementError::UsernameExists,
                409,
                "Conflict",
                "The username provided is in use already.",
                "auth0_idp_error",
            ),
            (
                ManagementError::Password("PasswordStrengthError: Password is too weak"),
                400,
                "Bad Request",
                "PasswordStrengthError: Password is too weak",
                "invalid_password",
            ),
            (
                ManagementError::Query("bad".into()),
                400,
                "Bad Request",
                "bad",
                "invalid_query_string",
            ),
        ] {
            assert_eq!(body(e).1, env(status, error, message, code));
        }
        let too_large = body(ManagementError::TooLarge).1;
        assert_eq!(
            (
                too_large["statusCode"].clone(),
                too_large["errorCode"].clone()
            ),
            (json!(413), json!("invalid_request"))
        );
        assert_eq!(
            body(ManagementError::Failure(Failure::Overloaded)).0,
            StatusCode::TOO_MANY_REQUESTS
        );
        let (status, failed) = body(ManagementError::Failure(store_failure()));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            failed,
            env(
                500,
                "Internal Server Error",
                "Internal error",
                "internal_error"
            )
        );
    }

    #[test]
    fn every_dbconnections_error_maps_to_its_status() {
        use SignupError as E;
        assert_eq!(status(BodyError::Malformed("x".into())), 400);
        assert_eq!(status(BodyError::NotAnObject), 400);
        assert_eq!(status(BodyError::Unreadable), 400);
        assert_eq!(status(BodyError::TooLarge), 413);
        assert_eq!(status(BodyError::UnsupportedMediaType), 415);
        assert_eq!(status(E::Invalid(Invalid::new("x", Rule::Required))), 400);
        assert_eq!(status(E::Username(UsernameRule::NotAnEmail)), 400);
        assert_eq!(status(E::UnknownClient), 401);
        assert_eq!(status(E::Connection(ConnectionError::NotFound)), 400);
        assert_eq!(status(E::Connection(ConnectionError::NotDatabase)), 400);
        assert_eq!(status(E::Connection(ConnectionError::NotEnabled)), 400);
        assert_eq!(status(E::SignupDisabled), 403);
        assert_eq!(status(E::OriginNotAllowed), 403);
        assert_eq!(status(E::UserExists), 400);
        assert_eq!(status(E::UsernameExists), 400);
        assert_eq!(status(E::InvalidSignup), 400);
        assert_eq!(
            status(E::PasswordStrength(StrengthFailure {
                description: json!({}),
                policy: String::new()
            })),
            400
        );
        assert_eq!(status(E::PasswordDictionary), 400);
        assert_eq!(status(E::PasswordNoUserInfo), 400);
        assert_eq!(status(E::Failure(Failure::Overloaded)), 429);
        assert_eq!(status(E::Failure(store_failure())), 500);
        assert_eq!(status(E::Failure(Failure::Bug("x"))), 500);
    }

    fn oauth_of(e: impl Into<OAuthError>) -> (u16, String) {
        let (s, body) = e.into().body();
        (s.as_u16(), body.to_string())
    }

    #[test]
    fn every_oauth_error_maps_to_its_status() {
        use TokenError as E;
        let status = |e: OAuthError| oauth_of(e).0;
        assert_eq!(
            status(E::Invalid(Invalid::new("x", Rule::Required)).into()),
            400
        );
        assert_eq!(status(BodyError::Malformed("x".into()).into()), 400);
        assert_eq!(status(BodyError::TooLarge.into()), 413);
        assert_eq!(status(BodyError::UnsupportedMediaType.into()), 415);
        assert_eq!(status(E::NoDefaultConnection.into()), 400);
        assert_eq!(status(E::UnsupportedGrantType("x".into()).into()), 400);
        assert_eq!(status(E::GrantNotAllowed("x").into()), 403);
        assert_eq!(status(E::UnknownClient.into()), 403);
        assert_eq!(status(E::InvalidClient("x").into()), 401);
        assert_eq!(status(E::OriginNotAllowed.into()), 403);
        assert_eq!(status(E::Connection(ConnectionError::NotFound).into()), 400);
        assert_eq!(
            status(E::Connection(ConnectionError::NotEnabled).into()),
            400
        );
        assert_eq!(
            status(E::Connection(ConnectionError::NotDatabase).into()),
            400
        );
        assert_eq!(status(E::WrongCredentials.into()), 403);
        assert_eq!(status(E::TooManyAttempts.into()), 429);
        assert_eq!(status(E::UserBlocked.into()), 401);
        assert_eq!(status(E::InvalidRefreshToken.into()), 403);
        assert_eq!(status(E::UnknownAudience("x".into()).into()), 403);
        assert_eq!(status(E::MissingAudience.into()), 403);
        assert_eq!(status(E::AccessDenied("x".into()).into()), 403);
        assert_eq!(status(E::InvalidScope("x".into()).into()), 403);
        assert_eq!(status(UserinfoError::InvalidToken("x").into()), 401);
        assert_eq!(status(E::Failure(Failure::Overloaded).into()), 429);
        assert_eq!(status(E::Failure(store_failure()).into()), 500);
        assert_eq!(
            status(UserinfoError::Failure(Failure::Bug("x")).into()),
            500
        );
        assert_eq!(status(store_failure().into()), 500);
    }

    #[test]
    fn oauth_bodies_are_exact() {
        let text = |e: OAuthError| oauth_of(e).1;
        assert_eq!(
            text(TokenError::WrongCredentials.into()),
            r#"{"error":"invalid_grant","error_description":"Wrong email or password."}"#
        );
        assert_eq!(
            text(TokenError::GrantNotAllowed("password").into()),
            r#"{"error":"unauthorized_client","error_description":"Grant type 'password' not allowed for the client."}"#
        );
        assert_eq!(
            text(TokenError::Invalid(Invalid::new("username", Rule::Required)).into()),
            r#"{"error":"invalid_request","error_description":"missing username parameter"}"#
        );
        assert_eq!(
            text(
                TokenError::Invalid(Invalid::new(
                    "scope",
                    Rule::Type {
                        expected: "string",
                        found: "number"
                    }
                ))
                .into()
            ),
            r#"{"error":"invalid_request","error_description":"scope must be a string"}"#
        );
        assert_eq!(
            text(TokenError::AccessDenied("https://api.example.com/".into()).into()),
            r#"{"error":"access_denied","error_description":"Client has not been granted scopes for https://api.example.com/"}"#
        );
        assert_eq!(
            text(TokenError::Failure(store_failure()).into()),
            r#"{"error":"server_error","error_description":"Internal error"}"#
        );
    }

    #[test]
    fn internal_cause_never_reaches_the_body() {
        let (_, body) = db(SignupError::Failure(store_failure()));
        assert_eq!(
            body.to_string(),
            r#"{"name":"InternalServerError","code":"internal_error","description":"Internal error","statusCode":500}"#
        );
    }

    #[test]
    fn password_errors_keep_key_order() {
        let (_, body) = db(SignupError::PasswordDictionary);
        assert_eq!(
            body.to_string(),
            r#"{"name":"PasswordDictionaryError","message":"Password is too common","code":"invalid_password","description":"Password is not allowed, it might be too common.","statusCode":400}"#
        );
    }

    #[test]
    fn every_page_error_maps_to_its_status() {
        use crate::domain::authorize::{AuthorizeError as A, PageError as P, ReplyError};
        let status = |e: HtmlError| e.view().status.as_u16();
        for p in [
            P::Invalid(Invalid::new("client_id", Rule::Required)),
            P::UnknownClient,
            P::RedirectUri("x".into()),
            P::WebOrigin("x".into()),
            P::Transaction,
            P::NoConnection,
            P::LogoutUrl("x".into()),
        ] {
            assert_eq!(status(p.into()), 400);
        }
        assert_eq!(status(P::Csrf.into()), 403);
        assert_eq!(status(BodyError::TooLarge.into()), 400);
        let reply = crate::domain::authorize::Reply {
            redirect_uri: "x".into(),
            mode: crate::domain::authorize::ResponseMode::Query,
            state: None,
        };
        let e = A::Reply(
            Box::new(reply),
            ReplyError {
                error: "invalid_request",
                description: "d".into(),
            },
        );
        assert_eq!(status(e.into()), 400);
        assert_eq!(status(Failure::Overloaded.into()), 429);
        let failed = HtmlError::from(store_failure());
        assert_eq!(failed.view().status, 500);
        // The cause stays out of the page.
        assert!(!failed.view().description.contains("hunter2"));
        assert_eq!(
            HtmlError::from(P::RedirectUri("https://evil.example/".into()))
                .view()
                .description,
            "The redirect_uri https://evil.example/ is not in the application's list of allowed callback URLs."
        );
    }

    #[test]
    fn every_form_error_is_worded_on_its_field() {
        use crate::domain::authorize::FormError as F;
        let view = |e: F| {
            let v = form_error_view(&e);
            (v.field, v.text, v.status.as_u16())
        };
        assert_eq!(
            view(F::Login(TokenError::WrongCredentials)),
            ("password", "Wrong email or password.".into(), 403)
        );
        assert_eq!(
            view(F::Login(TokenError::TooManyAttempts)),
            (
                "password",
                "Your account has been blocked after multiple consecutive login attempts.".into(),
                429
            )
        );
        assert_eq!(
            view(F::Login(TokenError::UserBlocked)),
            ("password", "Your account has been blocked.".into(), 401)
        );
        assert_eq!(
            view(F::Invalid(Invalid::new("username", Rule::Required))),
            (
                "username",
                "Please enter your email address or username.".into(),
                400
            )
        );
        assert_eq!(
            view(F::Invalid(Invalid::new("email", Rule::Email))),
            ("email", "Please enter a valid email address.".into(), 400)
        );
        assert_eq!(
            view(F::Signup(SignupError::UserExists)),
            ("email", "The user already exists.".into(), 400)
        );
        assert_eq!(
            view(F::Signup(SignupError::UsernameExists)),
            ("username", "The username already exists.".into(), 400)
        );
        assert_eq!(
            view(F::Signup(SignupError::PasswordDictionary)),
            (
                "password",
                "Password is not allowed, it might be too common.".into(),
                400
            )
        );
        assert_eq!(view(F::Signup(SignupError::SignupDisabled)).2, 403);
        assert_eq!(view(F::Signup(SignupError::UnknownClient)).2, 400);
    }

    #[test]
    fn username_rules_are_worded_as_auth0() {
        let (_, body) = db(SignupError::Username(UsernameRule::Length {
            min: 3,
            max: 15,
        }));
        assert_eq!(
            body["description"],
            "The username must have between 3 and 15 characters."
        );
        assert_eq!(body["code"], "invalid_username");
    }
}
