//! The HTTP edge: routes, middleware (request ids, tracing, CORS, limits, timeouts), the typed
//! inputs handlers read, and the envelopes they answer in. One module per API family.

pub mod audit;
pub mod authorize;
pub mod body;
pub mod change_password;
pub mod discovery;
pub mod error;
pub mod family;
pub mod input;
pub mod jobs;
pub mod limit;
pub mod manage_access;
pub mod manage_input;
pub mod management;
pub mod oauth;
pub mod openapi;
pub mod pages;
pub mod rate;
pub mod schemas;
pub mod signup;
pub mod silence;

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Json, Router};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::domain::Services;
use crate::domain::store::TenantStore;

/// What every handler can reach, behind one `Arc`: axum clones the state for every request,
/// and cloning the parts one by one measured as a visible share of a cheap request's CPU.
pub type AppState = Arc<App>;

/// The parts of [`AppState`].
pub struct App {
    pub services: Services,
    /// Whether the client's IP is the last `X-Forwarded-For` address (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Templates and cookie settings of the hosted pages.
    pub pages: pages::Pages,
    /// change_password requests per (IP, email), on this instance.
    pub reset_limiter: governor::DefaultKeyedRateLimiter<String>,
    /// Management API requests per client, on this instance (`None`: no limit).
    pub management_limiter: Option<rate::ManagementLimiter>,
}

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_bytes: usize,
    pub timeout: Duration,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the database takes a durable write: a server that can read but not write (disk
/// full, read-only files) cannot serve signups or logins.
async fn readyz(State(state): State<AppState>) -> Response {
    let now = state.services.clock.now_millis();
    match state.services.store.check_writable(now).await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::warn!(cause = %crate::domain::error::chain(&e), "store not writable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

async fn not_found(uri: Uri) -> Response {
    if family::Family::of(uri.path()) == family::Family::Management {
        let (status, body) = error::management_not_found();
        return (status, Json(body)).into_response();
    }
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "error_description": "Not Found"})),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({"error": "method_not_allowed", "error_description": "Method Not Allowed"})),
    )
        .into_response()
}

async fn timed_out(uri: Uri, err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        family::Family::of(uri.path()).timed_out()
    } else {
        tracing::error!(cause = %err, "middleware failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "server_error", "error_description": "Internal error"})),
        )
            .into_response()
    }
}

/// CORS: `/.well-known/*` is public to every origin. Elsewhere a preflight is allowed for any
/// origin some client lists (the body, which names the client, is not visible then); the
/// handlers check the named client's origins on the real request.
fn cors(store: Arc<dyn TenantStore>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, parts: &axum::http::request::Parts| {
                let store = store.clone();
                let public = parts.uri.path().starts_with("/.well-known/");
                async move {
                    if public {
                        return true;
                    }
                    let Ok(origin) = origin.to_str() else {
                        return false;
                    };
                    store.origin_known(origin).await.unwrap_or_else(|e| {
                        tracing::error!(cause = %crate::domain::error::chain(&e), "CORS origin lookup failed");
                        false
                    })
                }
            },
        ))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("auth0-client"),
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}

/// How much of a refused body is still read (and dropped), and for how long, so that a client
/// still sending it can read the refusal instead of meeting a closed socket.
const DRAIN_BYTES: usize = 1 << 20;
const DRAIN_FOR: Duration = Duration::from_secs(5);

/// A body announced larger than the limit is refused at once, in the family's envelope,
/// instead of after the server has waited for bytes that may never come. What the client
/// keeps sending is read and dropped in the background, within bounds.
async fn refuse_oversize(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let family = family::Family::of(req.uri().path());
        let body = req.into_body();
        tokio::spawn(async move {
            let drained = axum::body::to_bytes(body, DRAIN_BYTES);
            let _ = tokio::time::timeout(DRAIN_FOR, drained).await;
        });
        return family.body_error(body::BodyError::TooLarge);
    }
    next.run(req).await
}

/// Control characters never reach a Management handler through its path or query string
/// (PostgreSQL refuses NUL in text, and no identifier or search term holds one): 400 in the
/// Management envelope, before the token is read, as the path and query are refused
/// whatever the caller may do.
async fn refuse_control_characters(req: Request, next: Next) -> Response {
    if family::Family::of(req.uri().path()) != family::Family::Management {
        return next.run(req).await;
    }
    let control = |b: u8| b.is_ascii_control();
    if percent_encoding::percent_decode_str(req.uri().path()).any(control) {
        let (status, body) = error::management_invalid_path();
        return (status, Json(body)).into_response();
    }
    if let Some(q) = req.uri().query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k.bytes().any(control) || v.bytes().any(control) {
                let on = if k.bytes().any(control) {
                    String::new()
                } else {
                    format!(" on property {k}")
                };
                return error::ManagementApiError(
                    crate::domain::management::ManagementError::Query(format!(
                        "Query validation error: 'Control characters are not allowed'{on}."
                    )),
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    // The path only: query strings may carry tokens.
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}

/// A plain `OPTIONS` (not a CORS preflight) is routed like any other method, bypassing the
/// CORS layer, which would answer it as a preflight.
async fn plain_options(State(routes): State<Router>, req: Request, next: Next) -> Response {
    let preflight = req
        .headers()
        .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if req.method() == Method::OPTIONS && !preflight {
        return match tower::ServiceExt::oneshot(routes, req).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    next.run(req).await
}

pub fn router(state: AppState, limits: Limits) -> Router {
    let store = state.services.store.clone();
    let csrf = axum_csrf::CsrfLayer::new(state.pages.csrf_config());
    // The one route that takes files gets its own limit (layers apply only to the routes added
    // before them) and its own method fallback, so a GET answers the same 405 as elsewhere.
    let (schemas, paths, imports) = openapi::imports();
    let imports = imports
        .fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(jobs::IMPORT_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            jobs::IMPORT_BODY_LIMIT,
            refuse_oversize,
        ));
    let (imports, imports_doc) = utoipa_axum::router::OpenApiRouter::new()
        .routes((schemas, paths, imports))
        .split_for_parts();
    let (api, mut doc) = openapi::routes().split_for_parts();
    doc.merge(imports_doc);
    let document = Arc::new(openapi::render(doc, &state.services.issuer));
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/dbconnections/signup", post(signup::signup_handler))
        .route(
            "/dbconnections/change_password",
            post(change_password::change_password_handler),
        )
        .route(
            "/u/reset-password",
            get(change_password::reset_page).post(change_password::reset_post),
        )
        .route("/oauth/token", post(oauth::token_handler))
        .route("/oauth/revoke", post(oauth::revoke_handler))
        .route(
            "/userinfo",
            get(oauth::userinfo_handler).post(oauth::userinfo_handler),
        )
        .route("/authorize", get(authorize::authorize_handler))
        .route(
            "/u/login",
            get(authorize::login_page).post(authorize::login_post),
        )
        .route(
            "/u/signup",
            get(authorize::signup_page).post(authorize::signup_post),
        )
        .route("/v2/logout", get(authorize::logout_v2))
        .route(
            "/u/email-verification",
            get(change_password::verification_page),
        )
        .route("/oidc/logout", get(authorize::logout_oidc))
        .route("/.well-known/jwks.json", get(discovery::jwks_handler))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery_handler),
        )
        .merge(api)
        .route(
            "/api/v2/openapi.json",
            get(openapi::document).with_state(document),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Only the page handlers read the token; on other routes it costs a cookie parse.
        .layer(csrf)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            limits.body_bytes,
            refuse_oversize,
        ))
        // The one route that takes files, with its own limit (layers above apply only to the
        // routes added before them).
        .merge(imports)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate::limit_management,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::around,
        ))
        .layer(axum::middleware::from_fn(refuse_control_characters))
        .with_state(state);
    routes
        .clone()
        // Outside the router so preflights are answered before method routing.
        .layer(cors(store))
        .layer(axum::middleware::from_fn_with_state(routes, plain_options))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        // The per-request access line is DEBUG: at INFO it cost a visible share
                        // of /userinfo's throughput. Domain events (signup, login) and failures
                        // stay at INFO and above.
                        .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(HandleErrorLayer::new(timed_out))
                .timeout(limits.timeout),
        )
}
