//! The dbconnections envelope `{name, code, description, statusCode}` (signup, change_password,
//! and body errors on those paths), with Auth0's wording of every rule.

use super::*;

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

pub(crate) fn envelope(
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

pub(super) fn bad_request(code: &str, description: &str) -> (StatusCode, Value) {
    envelope(
        StatusCode::BAD_REQUEST,
        "BadRequestError",
        code,
        json!(description),
    )
}

pub(super) fn password_error(name: &str, message: &str, description: &str) -> (StatusCode, Value) {
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

pub(super) fn username_wording(rule: UsernameRule) -> String {
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

pub(super) fn dbconnections_body_error(e: &BodyError) -> (StatusCode, Value) {
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

pub(super) fn dbconnections_failure(f: &Failure) -> (StatusCode, Value) {
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

pub(super) fn signup_body(e: &SignupError) -> (StatusCode, Value) {
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
pub(super) fn reset_body(e: &ResetError) -> (StatusCode, Value) {
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
