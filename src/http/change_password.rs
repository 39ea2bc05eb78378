//! The email flows' endpoints: `POST /dbconnections/change_password` (answered in the
//! dbconnections envelope, rate limited per IP and email), the hosted reset page
//! `/u/reset-password?ticket=…`, the verification link `/u/email-verification?ticket=…`, and
//! the outbox read `GET /api/v2/emails`.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use minijinja::context;
use serde_json::{Value, json};

use super::AppState;
use super::body::{BodyError, Fields};
use super::error::{DbConnectionsError, HtmlError, form_error_view};
use super::input;
use super::pages::brand;
use super::pages::{Brand, Csp, checklist};
use crate::domain::authorize::{FormError, PageError};
use crate::domain::error::{Invalid, Rule};
use crate::domain::password_reset::{self, ChangePasswordInput, OpenTicket, ResetError};
use crate::domain::signup::valid_email;
use crate::domain::user::{Password, normalize_identifier};

/// Auth0's limit on password-change requests: one a minute per IP and email, ten in a burst.
pub fn limiter() -> DefaultKeyedRateLimiter<String> {
    let one = NonZeroU32::MIN;
    let burst = NonZeroU32::new(10).unwrap_or(one);
    RateLimiter::keyed(Quota::per_minute(one).allow_burst(burst))
}

/// The answer, whether or not the email exists (Auth0's text).
pub const SENT: &str = "We've just sent you an email to reset your password.";

pub async fn change_password_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Fields, BodyError>,
) -> Result<Response, DbConnectionsError> {
    let body = body?.0;
    let parse = || -> Result<ChangePasswordInput, Invalid> {
        let client_id = input::required(&body, "client_id")?.to_owned();
        let email = normalize_identifier(input::required(&body, "email")?);
        if !valid_email(&email) {
            return Err(Invalid::new("email", Rule::Email));
        }
        let connection = input::required(&body, "connection")?.to_owned();
        Ok(ChangePasswordInput {
            client_id,
            connection,
            email,
        })
    };
    let request = parse().map_err(ResetError::from)?;
    let caller = input::caller(state.trust_forwarded_for, &headers, peer);
    // The key is the pair, hashed, so that the limiter's memory holds no email address.
    let key = crate::domain::claims::token_hash(&format!("{} {}", caller.ip, request.email));
    if state.reset_limiter.check_key(&key).is_err() {
        return Err(ResetError::RateLimited.into());
    }
    password_reset::change_password(&state.services, request, caller.origin.as_deref()).await?;
    let mut response = (StatusCode::OK, SENT).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

fn ticket_param(query: Option<&str>) -> Result<Option<String>, HtmlError> {
    let q = input::query(query).map_err(PageError::Invalid)?;
    Ok(q.get("ticket").and_then(Value::as_str).map(str::to_owned))
}

fn message(
    state: &AppState,
    brand: &Brand,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    let mut csp = Csp::page();
    csp.images = brand.image_source();
    state.pages.page(
        status,
        brand,
        "message.html",
        context! { title, text },
        &csp,
    )
}

/// The answer for a ticket that is unknown, used or expired.
fn expired(state: &AppState, brand: &Brand) -> Response {
    message(
        state,
        brand,
        StatusCode::BAD_REQUEST,
        "This link has expired",
        "Request a new password-change email from the application and use the newest link.",
    )
}

fn form(
    state: &AppState,
    brand: &Brand,
    open: &OpenTicket,
    csrf: &CsrfToken,
    error: Option<(StatusCode, &str, String)>,
    refused: Option<&str>,
) -> Response {
    let Ok(token) = csrf.authenticity_token() else {
        return state.pages.error_page(
            brand,
            &HtmlError::from(crate::domain::error::Failure::Bug("no CSRF token")),
        );
    };
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.0);
    let error = error.map(|(_, field, text)| json!({"field": field, "text": text}));
    let mut csp = Csp::page();
    csp.images = brand.image_source();
    let ctx = context! {
        ticket => open.value,
        csrf => token,
        email => open.user.email,
        policy => checklist(&open.connection.options.policy(), refused),
        error => error,
    };
    let page = state
        .pages
        .page(status, brand, "reset_password.html", ctx, &csp);
    (csrf.clone(), page).into_response()
}

/// `GET /u/reset-password?ticket=`.
pub async fn reset_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    csrf: CsrfToken,
) -> Response {
    let brand = brand(&state).await;
    let ticket = match ticket_param(query.as_deref()) {
        Ok(t) => t,
        Err(e) => return state.pages.error_page(&brand, &e),
    };
    match password_reset::open_ticket(&state.services, ticket.as_deref()).await {
        Ok(open) => form(&state, &brand, &open, &csrf, None, None),
        Err(ResetError::Failure(f)) => state.pages.error_page(&brand, &f.into()),
        Err(_) => expired(&state, &brand),
    }
}

/// `POST /u/reset-password?ticket=`.
pub async fn reset_post(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    csrf: CsrfToken,
    body: Result<Fields, BodyError>,
) -> Response {
    let brand = brand(&state).await;
    let fields = match body {
        Ok(f) => f.0,
        Err(e) => return state.pages.error_page(&brand, &e.into()),
    };
    let token = input::form_field(&fields, "_csrf")
        .ok()
        .flatten()
        .unwrap_or_default();
    if csrf.verify(&token).is_err() {
        return state.pages.error_page(&brand, &PageError::Csrf.into());
    }
    let ticket = match ticket_param(query.as_deref()) {
        Ok(t) => t,
        Err(e) => return state.pages.error_page(&brand, &e),
    };
    let open = match password_reset::open_ticket(&state.services, ticket.as_deref()).await {
        Ok(open) => open,
        Err(ResetError::Failure(f)) => return state.pages.error_page(&brand, &f.into()),
        Err(_) => return expired(&state, &brand),
    };
    let field = |name| {
        input::form_field(&fields, name)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let (password, confirmation) = (field("password"), field("password-confirmation"));
    let refused = password.clone();
    match password_reset::reset(
        &state.services,
        &open,
        Password(password),
        Password(confirmation),
    )
    .await
    {
        Ok(Some(result_url)) => super::authorize::redirect_to(&result_url),
        Ok(None) => message(
            &state,
            &brand,
            StatusCode::OK,
            "Password changed",
            "You can now log in with your new password.",
        ),
        Err(ResetError::Expired) => expired(&state, &brand),
        Err(ResetError::Failure(f)) => state.pages.error_page(&brand, &f.into()),
        Err(e) => {
            let (status, field, text, mark) = match e {
                ResetError::Mismatch => (
                    StatusCode::BAD_REQUEST,
                    "password-confirmation",
                    "The passwords do not match.".to_owned(),
                    false,
                ),
                ResetError::History => (
                    StatusCode::BAD_REQUEST,
                    "password",
                    "Password has previously been used".to_owned(),
                    false,
                ),
                ResetError::Password(s) => {
                    let strength =
                        matches!(s, crate::domain::signup::SignupError::PasswordStrength(_));
                    let v = form_error_view(&FormError::Signup(s));
                    (v.status, "password", v.text, strength)
                }
                other => {
                    let v = form_error_view(&FormError::Invalid(match other {
                        ResetError::Invalid(i) => i,
                        _ => Invalid::new("password", Rule::Required),
                    }));
                    (v.status, "password", v.text, false)
                }
            };
            form(
                &state,
                &brand,
                &open,
                &csrf,
                Some((status, field, text)),
                mark.then_some(refused.as_str()),
            )
        }
    }
}

/// `GET /api/v2/emails?to=`: the outbox, for a management token with `read:emails`.
#[utoipa::path(
    get,
    path = "/api/v2/emails",
    tag = "emails",
    summary = "The outbox (latchkey's own)",
    params(crate::http::schemas::OutboxFilter),
    responses((status = 200, description = "Emails"), (status = 400, description = "Invalid body or query", body = crate::http::schemas::ErrorBody), (status = 401, description = "Missing or invalid token", body = crate::http::schemas::ErrorBody), (status = 403, description = "Insufficient scope", body = crate::http::schemas::ErrorBody), (status = 429, description = "Rate limit reached", body = crate::http::schemas::ErrorBody)),
    security(("management" = ["read:emails"]))
)]
pub async fn emails_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, super::error::ManagementApiError> {
    let q = input::query(query.as_deref()).unwrap_or_default();
    let to = q.get("to").and_then(Value::as_str);
    let emails =
        crate::domain::management::emails(&state.services, input::bearer(&headers), to).await?;
    let mut response = axum::Json(emails).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /u/email-verification?ticket=`: the link of a verification email.
pub async fn verification_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    use crate::domain::verification::{Verified, verify};
    let brand = brand(&state).await;
    let ticket = match ticket_param(query.as_deref()) {
        Ok(t) => t,
        Err(e) => return state.pages.error_page(&brand, &e),
    };
    match verify(&state.services, ticket.as_deref()).await {
        Ok(Verified::Yes {
            result_url: Some(url),
        }) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            super::authorize::redirect_to(&format!("{url}{sep}success=true"))
        }
        Ok(Verified::Yes { result_url: None }) => message(
            &state,
            &brand,
            StatusCode::OK,
            "Your email was verified",
            "You can continue using the application.",
        ),
        Ok(Verified::No) => {
            // As Auth0: with a result_url, the failure goes there too.
            let result_url = state
                .services
                .store
                .tenant_settings()
                .await
                .ok()
                .and_then(|s| s.emails.verify_email.as_ref()?.result_url.clone());
            match result_url {
                Some(url) => {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    super::authorize::redirect_to(&format!(
                        "{url}{sep}success=false&error_description=Access%20expired"
                    ))
                }
                None => message(
                    &state,
                    &brand,
                    StatusCode::BAD_REQUEST,
                    "Your email address could not be verified",
                    "The link has expired or was already used.",
                ),
            }
        }
        Err(e) => state
            .pages
            .error_page(&brand, &crate::domain::error::Failure::from(e).into()),
    }
}
