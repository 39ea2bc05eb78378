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

// ---- dbconnections ----

/// A dbconnections error: `{"name","code","description","statusCode"}`, plus `message` and
/// `policy` on password errors.
#[derive(Debug, thiserror::Error)]
pub enum DbConnectionsError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Signup(#[from] SignupError),
    #[error(transparent)]
    Reset(#[from] ResetError),
}

pub(super) fn envelope(
    status: StatusCode,
    name: &str,
    code: &str,
    description: Value,
) -> (StatusCode, Value) {
    (
        status,
        json!({"name": name, "code": code, "description": description, "statusCode": status.as_u16()}),
    )
}

fn bad_request(code: &str, description: &str) -> (StatusCode, Value) {
    envelope(
        StatusCode::BAD_REQUEST,
        "BadRequestError",
        code,
        json!(description),
    )
}

fn password_error(name: &str, message: &str, description: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"name": name, "message": message, "code": "invalid_password", "description": description, "statusCode": 400}),
    )
}

/// How the dbconnections API words a broken field rule (Auth0's payload-validation texts).
pub fn dbconnections_wording(e: &Invalid) -> String {
    let f = &e.field;
    match &e.rule {
        Rule::Required => format!("Missing required property: {f}"),
        Rule::Type { expected, found } => {
            format!("Invalid type for property {f}: expected {expected} but found {found}")
        }
        Rule::MaxLength(n) => format!("{f} must be at most {n} characters"),
        Rule::Email => format!("{f} is not a valid email address"),
        Rule::HttpUrl => format!("{f} must be an absolute http or https URI"),
        Rule::MaxProperties(n) => format!("{f} must have at most {n} properties"),
        Rule::MaxKeyLength(n) => format!("{f} property names must be at most {n} characters"),
        Rule::StringValues => format!("invalid {f} type (only strings are allowed)"),
        Rule::ControlCharacters => format!("{f} must not contain control characters"),
        Rule::Repeated => format!("{f} must not be given more than once"),
    }
}

fn username_wording(rule: UsernameRule) -> String {
    match rule {
        UsernameRule::Length { min, max } => {
            format!("The username must have between {min} and {max} characters.")
        }
        UsernameRule::NotAnEmail => "The username cannot be an email address.".into(),
        UsernameRule::Characters => format!(
            "The username can only contain letters, digits and these characters: {USERNAME_SPECIALS}"
        ),
    }
}

fn dbconnections_body_error(e: &BodyError) -> (StatusCode, Value) {
    match e {
        BodyError::TooLarge => envelope(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeError",
            "invalid_body",
            json!("Request body too large"),
        ),
        BodyError::UnsupportedMediaType => envelope(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeError",
            "invalid_body",
            json!(BodyError::UNSUPPORTED_TEXT),
        ),
        other => bad_request("invalid_body", &other.to_string()),
    }
}

fn dbconnections_failure(f: &Failure) -> (StatusCode, Value) {
    match f {
        Failure::Overloaded => envelope(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsError",
            "too_many_requests",
            json!("Too many requests, please try again later"),
        ),
        _ => envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "internal_error",
            json!("Internal error"),
        ),
    }
}

fn signup_body(e: &SignupError) -> (StatusCode, Value) {
    use StatusCode as S;
    match e {
        SignupError::Invalid(i) => bad_request("invalid_body", &dbconnections_wording(i)),
        SignupError::Username(rule) => bad_request("invalid_username", &username_wording(*rule)),
        SignupError::UnknownClient => envelope(
            S::UNAUTHORIZED,
            "UnauthorizedError",
            "invalid_client",
            json!("Unknown client"),
        ),
        SignupError::Connection(c) => bad_request(
            "invalid_connection",
            match c {
                ConnectionError::NotFound => "The connection does not exist",
                ConnectionError::NotDatabase => "The connection is not a database connection",
                ConnectionError::NotEnabled => "The connection is not enabled for this client",
            },
        ),
        SignupError::SignupDisabled => envelope(
            S::FORBIDDEN,
            "ForbiddenError",
            "operation_not_allowed",
            json!("Public signup is disabled"),
        ),
        SignupError::OriginNotAllowed => envelope(
            S::FORBIDDEN,
            "ForbiddenError",
            "unauthorized",
            json!("Origin not allowed for this client"),
        ),
        SignupError::UserExists => bad_request("user_exists", "The user already exists."),
        SignupError::UsernameExists => {
            bad_request("username_exists", "The username already exists.")
        }
        SignupError::InvalidSignup => bad_request("invalid_signup", "Invalid sign up"),
        SignupError::PasswordStrength(f) => (
            S::BAD_REQUEST,
            json!({"name": "PasswordStrengthError", "message": "Password is too weak", "code": "invalid_password", "description": f.description, "policy": f.policy, "statusCode": 400}),
        ),
        SignupError::PasswordDictionary => password_error(
            "PasswordDictionaryError",
            "Password is too common",
            "Password is not allowed, it might be too common.",
        ),
        SignupError::PasswordNoUserInfo => password_error(
            "PasswordNoUserInfoError",
            "Password contains user information",
            "Password contains user information",
        ),
        SignupError::Failure(f) => dbconnections_failure(f),
    }
}

/// `change_password`'s refusals, as signup words the same cases; the page's own errors (a
/// mismatch, history, an expired link) never reach this envelope.
fn reset_body(e: &ResetError) -> (StatusCode, Value) {
    match e {
        ResetError::Invalid(i) => signup_body(&SignupError::Invalid(i.clone())),
        ResetError::UnknownClient => signup_body(&SignupError::UnknownClient),
        ResetError::Connection(c) => signup_body(&SignupError::Connection(*c)),
        ResetError::OriginNotAllowed => signup_body(&SignupError::OriginNotAllowed),
        ResetError::RateLimited => envelope(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsError",
            "too_many_requests",
            json!("Too many requests, please try again later"),
        ),
        ResetError::Failure(f) => dbconnections_failure(f),
        ResetError::Expired
        | ResetError::Mismatch
        | ResetError::Password(_)
        | ResetError::History => bad_request("invalid_request", "Invalid request"),
    }
}

impl DbConnectionsError {
    /// Status and body.
    pub fn body(&self) -> (StatusCode, Value) {
        match self {
            DbConnectionsError::Body(e) => dbconnections_body_error(e),
            DbConnectionsError::Signup(e) => signup_body(e),
            DbConnectionsError::Reset(e) => reset_body(e),
        }
    }

    fn failure(&self) -> Option<&Failure> {
        match self {
            DbConnectionsError::Signup(SignupError::Failure(f))
            | DbConnectionsError::Reset(ResetError::Failure(f)) => Some(f),
            _ => None,
        }
    }
}

/// A handler that takes `Fields` itself (not `Result<Fields, BodyError>`) answers a bad body
/// in the dbconnections envelope.
impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        DbConnectionsError::Body(self).into_response()
    }
}

impl IntoResponse for DbConnectionsError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        render(self.failure(), status, body)
    }
}

// ---- OAuth ----

/// An OAuth error (`/oauth/*`, `/userinfo`, `/.well-known/*`): `{"error","error_description"}`.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Userinfo(#[from] UserinfoError),
    #[error(transparent)]
    Failure(#[from] Failure),
}

pub(super) fn oauth(status: StatusCode, error: &str, description: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// How OAuth endpoints word a broken parameter rule.
pub fn oauth_wording(e: &Invalid) -> String {
    let f = &e.field;
    match &e.rule {
        Rule::Required => format!("missing {f} parameter"),
        Rule::Type { expected, .. } => format!("{f} must be a {expected}"),
        Rule::MaxLength(n) => format!("{f} must be at most {n} characters"),
        Rule::ControlCharacters => format!("{f} must not contain control characters"),
        Rule::Repeated => format!("{f} must not be given more than once"),
        _ => format!("{f} is invalid"),
    }
}

fn oauth_failure(f: &Failure) -> (StatusCode, Value) {
    match f {
        Failure::Overloaded => oauth(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests, please try again later",
        ),
        _ => oauth(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal error",
        ),
    }
}

pub(super) fn oauth_body_error(e: &BodyError) -> (StatusCode, Value) {
    let status = match e {
        BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    oauth(status, "invalid_request", &e.to_string())
}

fn token_body(e: &TokenError) -> (StatusCode, Value) {
    use StatusCode as S;
    let invalid = |d: &str| oauth(S::BAD_REQUEST, "invalid_request", d);
    match e {
        TokenError::Invalid(i) => invalid(&oauth_wording(i)),
        TokenError::NoDefaultConnection => {
            invalid("Authorization server not configured with default connection.")
        }
        TokenError::UnsupportedGrantType(g) => oauth(
            S::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Unsupported grant type: {g}"),
        ),
        TokenError::GrantNotAllowed(g) => oauth(
            S::FORBIDDEN,
            "unauthorized_client",
            &format!("Grant type '{g}' not allowed for the client."),
        ),
        TokenError::UnknownClient => oauth(S::FORBIDDEN, "unauthorized_client", "invalid client"),
        TokenError::InvalidClient(m) => oauth(S::UNAUTHORIZED, "invalid_client", m),
        TokenError::OriginNotAllowed => oauth(
            S::FORBIDDEN,
            "access_denied",
            "Origin not allowed for this client",
        ),
        TokenError::Connection(c) => invalid(match c {
            ConnectionError::NotFound => "the connection was not found",
            ConnectionError::NotEnabled => "the connection was disabled",
            ConnectionError::NotDatabase => "the connection is not a database connection",
        }),
        TokenError::WrongCredentials => {
            oauth(S::FORBIDDEN, "invalid_grant", "Wrong email or password.")
        }
        TokenError::TooManyAttempts => oauth(
            S::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Your account has been blocked after multiple consecutive login attempts.",
        ),
        TokenError::UserBlocked => oauth(S::UNAUTHORIZED, "unauthorized", "user is blocked"),
        TokenError::InvalidRefreshToken => oauth(
            S::FORBIDDEN,
            "invalid_grant",
            "Unknown or invalid refresh token.",
        ),
        TokenError::UnknownAudience(a) => oauth(
            S::FORBIDDEN,
            "access_denied",
            &format!("Service not found: {a}"),
        ),
        TokenError::MissingAudience => oauth(
            S::FORBIDDEN,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        ),
        TokenError::AccessDenied(a) => oauth(
            S::FORBIDDEN,
            "access_denied",
            &format!("Client has not been granted scopes for {a}"),
        ),
        TokenError::InvalidScope(s) => oauth(
            S::FORBIDDEN,
            "invalid_scope",
            &format!("Scope {s} was not granted to this refresh token"),
        ),
        TokenError::InvalidCode => {
            oauth(S::FORBIDDEN, "invalid_grant", "Invalid authorization code")
        }
        TokenError::CodeVerifier => oauth(
            S::FORBIDDEN,
            "invalid_grant",
            "Failed to verify code verifier",
        ),
        TokenError::Failure(f) => oauth_failure(f),
    }
}

impl OAuthError {
    /// Status and body.
    pub fn body(&self) -> (StatusCode, Value) {
        match self {
            OAuthError::Body(e) => oauth_body_error(e),
            OAuthError::Token(e) => token_body(e),
            OAuthError::Userinfo(UserinfoError::InvalidToken(m)) => {
                oauth(StatusCode::UNAUTHORIZED, "invalid_token", m)
            }
            OAuthError::Userinfo(UserinfoError::Failure(f)) | OAuthError::Failure(f) => {
                oauth_failure(f)
            }
        }
    }

    fn failure(&self) -> Option<&Failure> {
        match self {
            OAuthError::Token(TokenError::Failure(f))
            | OAuthError::Userinfo(UserinfoError::Failure(f))
            | OAuthError::Failure(f) => Some(f),
            _ => None,
        }
    }
}

impl From<crate::domain::store::StoreError> for OAuthError {
    fn from(e: crate::domain::store::StoreError) -> Self {
        OAuthError::Failure(e.into())
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        let mut response = render(self.failure(), status, body);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let OAuthError::Userinfo(UserinfoError::InvalidToken(_)) = self {
            // RFC 6750 §3.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        response
    }
}

// ---- Management API ----

/// A Management API error: `{"statusCode","error","message","errorCode"}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ManagementApiError(#[from] pub ManagementError);

/// `{statusCode, error, message, errorCode}`, `error` being the status's reason phrase.
pub(super) fn management_envelope(
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

// ---- HTML pages ----

/// What an error page says: status, an OAuth-style code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageErrorView {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

/// An error of a page request that cannot go back to the client.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error(transparent)]
    Authorize(#[from] AuthorizeError),
    #[error(transparent)]
    Body(#[from] BodyError),
}

impl From<PageError> for HtmlError {
    fn from(e: PageError) -> Self {
        HtmlError::Authorize(e.into())
    }
}

impl From<Failure> for HtmlError {
    fn from(e: Failure) -> Self {
        HtmlError::Authorize(e.into())
    }
}

fn page_view(
    status: StatusCode,
    code: &'static str,
    description: impl Into<String>,
) -> PageErrorView {
    PageErrorView {
        status,
        code,
        description: description.into(),
    }
}

impl HtmlError {
    pub fn view(&self) -> PageErrorView {
        use StatusCode as S;
        let bad = |code, d: String| page_view(S::BAD_REQUEST, code, d);
        match self {
            HtmlError::Body(e) => bad("invalid_request", e.to_string()),
            HtmlError::Authorize(AuthorizeError::Page(p)) => match p {
                PageError::Invalid(i) => bad("invalid_request", oauth_wording(i)),
                PageError::UnknownClient => bad("invalid_request", "Unknown client.".into()),
                PageError::RedirectUri(u) => bad(
                    "invalid_request",
                    format!(
                        "The redirect_uri {u} is not in the application's list of allowed callback URLs."
                    ),
                ),
                PageError::WebOrigin(o) => bad(
                    "invalid_request",
                    format!("The origin {o} is not in the application's list of allowed web origins."),
                ),
                PageError::Transaction => bad(
                    "invalid_request",
                    "This login page has expired or was already used. Go back to the application and sign in again.".into(),
                ),
                PageError::Csrf => page_view(
                    S::FORBIDDEN,
                    "access_denied",
                    "The form could not be verified. Reload the page and try again.",
                ),
                PageError::NoConnection => bad(
                    "invalid_request",
                    "The application has no database connection to sign in with.".into(),
                ),
                PageError::LogoutUrl(u) => bad(
                    "invalid_request",
                    format!("The URL {u} is not in the list of allowed logout URLs."),
                ),
            },
            // Errors for the client are answered at its redirect_uri by the handler; one that
            // arrives here had no way back.
            HtmlError::Authorize(AuthorizeError::Reply(_, e)) => {
                bad("invalid_request", e.description.clone())
            }
            HtmlError::Authorize(AuthorizeError::Failure(Failure::Overloaded)) => page_view(
                S::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests, please try again later.",
            ),
            HtmlError::Authorize(AuthorizeError::Failure(_)) => page_view(
                S::INTERNAL_SERVER_ERROR,
                "server_error",
                "Something went wrong on our side. Please try again in a moment.",
            ),
        }
    }

    pub fn failure(&self) -> Option<&Failure> {
        match self {
            HtmlError::Authorize(AuthorizeError::Failure(f)) => Some(f),
            _ => None,
        }
    }
}

/// A form shown again with its error: the field the error belongs to, the text, the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormErrorView {
    pub field: &'static str,
    pub text: String,
    pub status: StatusCode,
}

fn form_view(field: &'static str, text: impl Into<String>) -> FormErrorView {
    FormErrorView {
        field,
        text: text.into(),
        status: StatusCode::BAD_REQUEST,
    }
}

/// How the hosted pages word a refused form, with the API's texts wherever the API has one.
pub fn form_error_view(e: &FormError) -> FormErrorView {
    let invalid = |i: &Invalid| {
        let field = match i.field.as_str() {
            "email" => "email",
            "password" => "password",
            _ => "username",
        };
        let text = match (&i.rule, field) {
            (Rule::Required, "password") => "Please enter your password.".to_owned(),
            (Rule::Required, "email") => "Please enter your email address.".to_owned(),
            (Rule::Required, _) => "Please enter your email address or username.".to_owned(),
            (Rule::Email, _) => "Please enter a valid email address.".to_owned(),
            _ => dbconnections_wording(i),
        };
        form_view(field, text)
    };
    match e {
        FormError::Invalid(i) => invalid(i),
        FormError::Login(t) => match t {
            TokenError::TooManyAttempts => FormErrorView {
                status: StatusCode::TOO_MANY_REQUESTS,
                ..form_view(
                    "password",
                    "Your account has been blocked after multiple consecutive login attempts.",
                )
            },
            TokenError::UserBlocked => FormErrorView {
                status: StatusCode::UNAUTHORIZED,
                ..form_view("password", "Your account has been blocked.")
            },
            TokenError::Invalid(i) => invalid(i),
            _ => FormErrorView {
                status: StatusCode::FORBIDDEN,
                ..form_view("password", "Wrong email or password.")
            },
        },
        FormError::Signup(s) => match s {
            SignupError::Invalid(i) => invalid(i),
            SignupError::Username(rule) => form_view("username", username_wording(*rule)),
            SignupError::UserExists => form_view("email", "The user already exists."),
            SignupError::UsernameExists => form_view("username", "The username already exists."),
            SignupError::InvalidSignup => form_view("email", "Invalid sign up"),
            SignupError::PasswordStrength(_) => form_view("password", "Password is too weak"),
            SignupError::PasswordDictionary => form_view(
                "password",
                "Password is not allowed, it might be too common.",
            ),
            SignupError::PasswordNoUserInfo => {
                form_view("password", "Password contains user information")
            }
            SignupError::SignupDisabled => FormErrorView {
                status: StatusCode::FORBIDDEN,
                ..form_view("email", "Public signup is disabled")
            },
            // The transaction's client and connection were checked when the page opened; a
            // tenant change since can still land here.
            SignupError::UnknownClient
            | SignupError::Connection(_)
            | SignupError::OriginNotAllowed
            | SignupError::Failure(_) => FormErrorView {
                status: StatusCode::BAD_REQUEST,
                ..form_view("email", "Sign up is not available for this application.")
            },
        },
    }
}

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
