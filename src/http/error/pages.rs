//! The hosted pages' errors: an error page (`HtmlError`), or a form shown again with its error
//! on its field (`form_error_view`).

use super::*;

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

pub(super) fn page_view(
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

pub(super) fn form_view(field: &'static str, text: impl Into<String>) -> FormErrorView {
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
