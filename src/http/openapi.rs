//! The OpenAPI document of `/api/v2`, generated from the handlers: each Management route is
//! registered through its `#[utoipa::path]` (so what is documented is what is routed), with the
//! schema types of `schemas` (whose accepted properties are what each body accepts). Served at
//! `GET /api/v2/openapi.json`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::schemas::*;
use super::{AppState, change_password, jobs, manage_access, management};

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "management",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A client_credentials token for the audience <issuer>api/v2/, with the \
                         scopes its client grant allows",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "latchkey Management API v2",
        description = "The Auth0 Management API v2 as latchkey serves it (docs/api.md)."
    ),
    modifiers(&Security),
    components(schemas(ErrorBody)),
)]
struct Doc;

/// The one route taking files, apart: it gets its own body limit and method fallback.
pub fn imports() -> UtoipaMethodRouter<AppState> {
    routes!(jobs::users_imports)
}

/// The Management routes with their document, but for `imports`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<Doc as utoipa::OpenApi>::openapi())
        .routes(routes!(management::list_users, management::create_user))
        .routes(routes!(
            management::get_user,
            management::patch_user,
            management::delete_user
        ))
        .routes(routes!(management::users_by_email))
        .routes(routes!(management::list_clients))
        .routes(routes!(management::get_client))
        .routes(routes!(management::list_connections))
        .routes(routes!(management::get_connection))
        .routes(routes!(
            manage_access::list_client_grants,
            manage_access::create_client_grant
        ))
        .routes(routes!(
            manage_access::update_client_grant,
            manage_access::delete_client_grant
        ))
        .routes(routes!(
            manage_access::list_roles,
            manage_access::create_role
        ))
        .routes(routes!(
            manage_access::get_role,
            manage_access::update_role,
            manage_access::delete_role
        ))
        .routes(routes!(
            manage_access::role_users,
            manage_access::assign_role_users
        ))
        .routes(routes!(
            manage_access::user_roles,
            manage_access::give_user_roles,
            manage_access::take_user_roles
        ))
        .routes(routes!(manage_access::user_log_events))
        .routes(routes!(manage_access::list_log_events))
        .routes(routes!(manage_access::get_log_event))
        .routes(routes!(
            management::blocks_by_identifier,
            management::unblock_identifier
        ))
        .routes(routes!(
            management::blocks_of_user,
            management::unblock_user
        ))
        .routes(routes!(management::password_change_ticket))
        .routes(routes!(management::email_verification_ticket))
        .routes(routes!(management::verification_email_job))
        .routes(routes!(jobs::users_exports))
        .routes(routes!(jobs::job))
        .routes(routes!(jobs::job_errors))
        .routes(routes!(jobs::download))
        .routes(routes!(change_password::emails_handler))
}

/// `GET /api/v2/openapi.json`: public, like the discovery document.
pub async fn document(State(doc): State<std::sync::Arc<String>>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc.as_str().to_owned(),
    )
        .into_response()
}

/// The document as served: paths relative to the issuer.
pub fn render(mut api: OpenApi, issuer: &str) -> String {
    api.servers = Some(vec![utoipa::openapi::Server::new(
        issuer.trim_end_matches('/'),
    )]);
    api.to_json().unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_accept_their_schemas_properties() {
        let mut p = properties::<PasswordChangeTicketBody>();
        p.sort();
        assert!(p.contains(&"includeEmailInRedirect".to_owned()), "{p:?}");
        assert_eq!(properties::<UserRolesBody>(), ["roles"]);
    }

    #[test]
    fn every_route_is_documented_with_its_scope() {
        let doc = routes().routes(imports()).into_openapi();
        let json: serde_json::Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
        let paths = json["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v2/users/{id}"));
        assert!(paths.contains_key("/api/v2/jobs/users-imports"));
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                assert!(op["security"].is_array(), "{method} {path} has no security");
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path}: no 401"
                );
            }
        }
    }
}
