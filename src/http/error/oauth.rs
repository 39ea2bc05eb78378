//! The OAuth envelope `{error, error_description}` (token, revoke, userinfo, discovery, and body
//! errors on those paths).

use super::*;

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

pub(crate) fn oauth(status: StatusCode, error: &str, description: &str) -> (StatusCode, Value) {
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

pub(super) fn oauth_failure(f: &Failure) -> (StatusCode, Value) {
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

pub(crate) fn oauth_body_error(e: &BodyError) -> (StatusCode, Value) {
    let status = match e {
        BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    oauth(status, "invalid_request", &e.to_string())
}

pub(super) fn token_body(e: &TokenError) -> (StatusCode, Value) {
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
