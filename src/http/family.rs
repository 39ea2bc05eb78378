//! The API family of a path, for answers given before any handler runs (an oversize body
//! announced by `Content-Length`, a request that took too long): each in its family's
//! envelope from `error`, or a plain page from `pages`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::BodyError;
use super::error::{
    DbConnectionsError, HtmlError, OAuthError, envelope, management_envelope, oauth,
    oauth_body_error,
};

/// The API family a path belongs to, for answers given before any handler runs (an oversize
/// body announced by `Content-Length`, a request that took too long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    DbConnections,
    OAuth,
    /// The browser-facing endpoints: HTML.
    Page,
    /// `/api/v2/*`: `{statusCode, error, message, errorCode}`.
    Management,
}

impl Family {
    pub fn of(path: &str) -> Self {
        if path.starts_with("/dbconnections/") {
            Family::DbConnections
        } else if path == "/authorize" || path.starts_with("/u/") || path.ends_with("/logout") {
            Family::Page
        } else if path.starts_with("/api/v2/") {
            Family::Management
        } else {
            Family::OAuth
        }
    }

    pub fn body_error(self, e: BodyError) -> Response {
        match self {
            Family::DbConnections => DbConnectionsError::Body(e).into_response(),
            Family::OAuth => OAuthError::Body(e).into_response(),
            Family::Management => {
                // The OAuth family's status and words, in the Management envelope.
                let (status, body) = oauth_body_error(&e);
                let (status, body) = management_envelope(
                    status,
                    body["error_description"].as_str().unwrap_or_default(),
                    body["error"].as_str().unwrap_or_default(),
                );
                (status, Json(body)).into_response()
            }
            Family::Page => {
                let view = HtmlError::Body(e).view();
                super::pages::plain_error_page(view.status, &view.description)
            }
        }
    }

    /// 503: the request took longer than the request timeout.
    pub fn timed_out(self) -> Response {
        if self == Family::Page {
            return super::pages::plain_error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The request took too long. Please try again.",
            );
        }
        let (status, body) = self.timed_out_body();
        (status, Json(body)).into_response()
    }

    fn timed_out_body(self) -> (StatusCode, Value) {
        const TEXT: &str = "The request took too long";
        match self {
            Family::DbConnections => envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableError",
                "temporarily_unavailable",
                json!(TEXT),
            ),
            Family::OAuth | Family::Page => oauth(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                TEXT,
            ),
            Family::Management => management_envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                "temporarily_unavailable",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_answers_use_the_family_of_the_path() {
        assert_eq!(Family::of("/dbconnections/signup"), Family::DbConnections);
        assert_eq!(Family::of("/oauth/token"), Family::OAuth);
        assert_eq!(Family::of("/nowhere"), Family::OAuth);
        let (s, b) = Family::DbConnections.timed_out_body();
        assert_eq!(s, 503);
        assert_eq!(
            b.to_string(),
            r#"{"name":"ServiceUnavailableError","code":"temporarily_unavailable","description":"The request took too long","statusCode":503}"#
        );
        let (s, b) = Family::OAuth.timed_out_body();
        assert_eq!(s, 503);
        assert_eq!(
            b.to_string(),
            r#"{"error":"temporarily_unavailable","error_description":"The request took too long"}"#
        );
        assert_eq!(Family::of("/api/v2/jobs/users-imports"), Family::Management);
        let (s, b) = Family::Management.timed_out_body();
        assert_eq!(s, 503);
        assert_eq!(
            b.to_string(),
            r#"{"statusCode":503,"error":"Service Unavailable","message":"The request took too long","errorCode":"temporarily_unavailable"}"#
        );
    }

    #[test]
    fn page_paths_answer_early_errors_in_html() {
        for path in ["/authorize", "/u/login", "/v2/logout", "/oidc/logout"] {
            assert_eq!(Family::of(path), Family::Page, "{path}");
        }
        let r = Family::Page.body_error(BodyError::TooLarge);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    }
}
