//! Management API views of the tenant's configuration: clients (never a secret or its hash)
//! and connections, read-only (the tenant file writes them; offset and checkpoint paging);
//! client grants, read and written; and the offset paging they share.

use serde_json::{Value, json};

use super::Services;
use super::management::{ManagementError, authorize_any};
use super::store::StoreError;
use super::tenant::{ClientGrant, Connection, MANAGEMENT_AUDIENCE, MANAGEMENT_SCOPES};

pub const READ_CLIENTS: &[&str] = &["read:clients"];
pub const READ_CONNECTIONS: &[&str] = &["read:connections"];
pub const READ_CLIENT_GRANTS: &[&str] = &["read:client_grants"];
pub const CREATE_CLIENT_GRANTS: &[&str] = &["create:client_grants"];
pub const UPDATE_CLIENT_GRANTS: &[&str] = &["update:client_grants"];
pub const DELETE_CLIENT_GRANTS: &[&str] = &["delete:client_grants"];

/// Offset paging of a list already in memory: a bare array, or with totals
/// `{start, limit, length, total, <plural>}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per_page: Option<i64>,
    pub include_totals: bool,
}

impl Page {
    pub fn apply(&self, items: Vec<Value>, plural: &str) -> Result<Value, ManagementError> {
        let total = items.len();
        let per_page = self
            .per_page
            .unwrap_or(super::manage_users::DEFAULT_PER_PAGE);
        if self.per_page.is_some() || self.page > 0 {
            super::manage_users::check_page(self.page, per_page)?;
        }
        let (start, items): (i64, Vec<Value>) = if self.per_page.is_none() && self.page == 0 {
            (0, items)
        } else {
            let start = self.page * per_page;
            (
                start,
                items
                    .into_iter()
                    .skip(start as usize)
                    .take(per_page as usize)
                    .collect(),
            )
        };
        if !self.include_totals {
            return Ok(Value::Array(items));
        }
        let mut out =
            json!({"start": start, "limit": per_page, "length": items.len(), "total": total});
        out[plural] = Value::Array(items);
        Ok(out)
    }
}

fn client_view(c: &super::tenant::Client) -> Value {
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "app_type": c.app_type,
        "is_first_party": true,
        "callbacks": c.callbacks,
        "allowed_origins": c.allowed_origins,
        "web_origins": c.web_origins,
        "allowed_logout_urls": c.allowed_logout_urls,
        "grant_types": c.grant_types,
        "token_endpoint_auth_method": if c.secret_hash.is_some() { "client_secret_post" } else { "none" },
        "oidc_conformant": true,
    })
}

/// `GET /api/v2/clients`, by name.
pub async fn clients(
    ctx: &Services,
    token: Option<&str>,
    page: Page,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_CLIENTS).await?;
    let mut ids: Vec<(String, String)> =
        ctx.store.client_ids_by_name().await?.into_iter().collect();
    ids.sort();
    let mut out = Vec::new();
    for (_, id) in ids {
        if let Some(c) = ctx.store.client(&id).await? {
            out.push(client_view(&c));
        }
    }
    page.apply(out, "clients")
}

/// `GET /api/v2/clients/{id}`.
pub async fn client(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_CLIENTS).await?;
    let c = ctx
        .store
        .client(id)
        .await?
        .ok_or(ManagementError::UnknownClient)?;
    Ok(client_view(&c))
}

fn connection_view(c: &Connection) -> Value {
    json!({
        "id": c.id(),
        "name": c.name,
        "strategy": c.strategy,
        "options": c.options,
        "enabled_clients": c.enabled_clients,
        "realms": [c.name],
        "is_domain_connection": false,
    })
}

/// What `GET /connections` filters and how it pages.
#[derive(Debug, Clone, Default)]
pub struct ConnectionQuery {
    pub name: Option<String>,
    pub strategy: Vec<String>,
    /// Checkpoint paging: `from` (a connection id) and `take`.
    pub from: Option<String>,
    pub take: Option<i64>,
}

/// `GET /api/v2/connections`: offset paging, or with `from`/`take`
/// `{"connections": […], "next": "<id>"}`.
pub async fn connections(
    ctx: &Services,
    token: Option<&str>,
    q: ConnectionQuery,
    page: Page,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_CONNECTIONS).await?;
    let mut all: Vec<_> = ctx
        .store
        .connections()
        .await?
        .into_iter()
        .filter(|c| q.name.as_ref().is_none_or(|n| *n == c.name))
        .filter(|c| q.strategy.is_empty() || q.strategy.contains(&c.strategy))
        .collect();
    all.sort_by_key(|c| c.id());
    if q.from.is_some() || q.take.is_some() {
        let take = q.take.unwrap_or(50).clamp(1, 100) as usize;
        let rest: Vec<_> = all
            .iter()
            .filter(|c| q.from.as_ref().is_none_or(|f| c.id() >= *f))
            .collect();
        let next = rest.get(take).map(|c| c.id());
        let items: Vec<Value> = rest.iter().take(take).map(|c| connection_view(c)).collect();
        let mut out = json!({"connections": items});
        if let Some(n) = next {
            out["next"] = json!(n);
        }
        return Ok(out);
    }
    page.apply(
        all.iter().map(|c| connection_view(c)).collect(),
        "connections",
    )
}

/// `GET /api/v2/connections/{id}`.
pub async fn connection(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_CONNECTIONS).await?;
    ctx.store
        .connections()
        .await?
        .iter()
        .find(|c| c.id() == id)
        .map(|c| connection_view(c))
        .ok_or(ManagementError::UnknownConnection)
}

/// A grant's id: derived from its client and audience (one grant per pair), `cgr_` + 16 hex.
pub fn grant_id(g: &ClientGrant) -> String {
    use sha2::Digest as _;
    let digest =
        sha2::Sha256::digest(format!("latchkey grant {}\n{}", g.client_id, g.audience).as_bytes());
    format!("cgr_{}", &hex::encode(digest)[..16])
}

/// What `GET /api/v2/client-grants` may filter on, and its checkpoint (`from`/`take`, as
/// the SDKs page it: `{client_grants, next}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    pub client_id: Option<String>,
    pub audience: Option<String>,
    pub from: Option<String>,
    pub take: Option<i64>,
}

/// Checkpoint paging of items in memory, sorted by id: from `from` (inclusive), `take` of them,
/// and `next` (the id after the last) while more remain.
pub fn checkpoint(
    mut items: Vec<(String, Value)>,
    from: Option<&str>,
    take: i64,
    plural: &str,
) -> Result<Value, ManagementError> {
    if !(1..=100).contains(&take) {
        return Err(ManagementError::Query(
            "Query validation error: 'take' must be 1 to 100.".into(),
        ));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let rest: Vec<(String, Value)> = items
        .into_iter()
        .filter(|(id, _)| from.is_none_or(|f| id.as_str() >= f))
        .collect();
    let next = rest.get(take as usize).map(|(id, _)| id.clone());
    let page: Vec<Value> = rest
        .into_iter()
        .take(take as usize)
        .map(|(_, v)| v)
        .collect();
    let mut out = json!({ plural: page });
    if let Some(n) = next {
        out["next"] = json!(n);
    }
    Ok(out)
}

fn grant_view(ctx: &Services, g: &ClientGrant) -> Value {
    let audience = if g.audience == MANAGEMENT_AUDIENCE {
        ctx.management_audience()
    } else {
        g.audience.as_str()
    };
    json!({"id": grant_id(g), "client_id": g.client_id, "audience": audience, "scope": g.scope})
}

/// An audience as the API names it (`<issuer>api/v2/` is the Management API) to the stored
/// form, with the scopes the API defines (`None`: it defines none, so any may be granted).
async fn api_of(
    ctx: &Services,
    audience: &str,
) -> Result<(String, Option<Vec<String>>), ManagementError> {
    if audience == ctx.management_audience() || audience == MANAGEMENT_AUDIENCE {
        let defined = MANAGEMENT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        return Ok((MANAGEMENT_AUDIENCE.to_owned(), Some(defined)));
    }
    let settings = ctx.store.tenant_settings().await?;
    match settings.api_scopes(audience) {
        Some([]) => Ok((audience.to_owned(), None)),
        Some(defined) => Ok((audience.to_owned(), Some(defined.to_vec()))),
        None => Err(ManagementError::UnknownApi(audience.to_owned())),
    }
}

fn check_scopes(scope: &[String], defined: Option<&[String]>) -> Result<(), ManagementError> {
    if let Some(defined) = defined
        && let Some(extra) = scope.iter().find(|s| !defined.contains(s))
    {
        return Err(ManagementError::Invalid(format!(
            "Payload validation error: 'The scope {extra} is not defined by the API' on property scope."
        )));
    }
    Ok(())
}

async fn grant_by_id(ctx: &Services, id: &str) -> Result<ClientGrant, ManagementError> {
    ctx.store
        .client_grants()
        .await?
        .into_iter()
        .find(|g| grant_id(g) == id)
        .ok_or(ManagementError::UnknownGrant)
}

/// `GET /api/v2/client-grants`.
pub async fn client_grants(
    ctx: &Services,
    token: Option<&str>,
    filter: &GrantFilter,
    page: Page,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_CLIENT_GRANTS).await?;
    let audience = match filter.audience.as_deref() {
        Some(a) if a == ctx.management_audience() => Some(MANAGEMENT_AUDIENCE),
        other => other,
    };
    let grants: Vec<(String, Value)> = ctx
        .store
        .client_grants()
        .await?
        .iter()
        .filter(|g| filter.client_id.as_ref().is_none_or(|c| *c == g.client_id))
        .filter(|g| audience.is_none_or(|a| a == g.audience))
        .map(|g| (grant_id(g), grant_view(ctx, g)))
        .collect();
    if filter.from.is_some() || filter.take.is_some() {
        return checkpoint(
            grants,
            filter.from.as_deref(),
            filter.take.unwrap_or(50),
            "client_grants",
        );
    }
    page.apply(
        grants.into_iter().map(|(_, v)| v).collect(),
        "client_grants",
    )
}

/// `POST /api/v2/client-grants`: 201 with the grant.
pub async fn create_client_grant(
    ctx: &Services,
    token: Option<&str>,
    client_id: &str,
    audience: &str,
    scope: Vec<String>,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, CREATE_CLIENT_GRANTS).await?;
    if ctx.store.client(client_id).await?.is_none() {
        return Err(ManagementError::UnknownClient);
    }
    let (audience, defined) = api_of(ctx, audience).await?;
    check_scopes(&scope, defined.as_deref())?;
    let grant = ClientGrant {
        client_id: client_id.to_owned(),
        audience,
        scope,
    };
    match ctx.store.insert_client_grant(&grant).await {
        Ok(()) => Ok(grant_view(ctx, &grant)),
        Err(StoreError::Conflict(_)) => Err(ManagementError::GrantExists),
        Err(e) => Err(e.into()),
    }
}

/// `PATCH /api/v2/client-grants/{id}`: replaces the scopes.
pub async fn update_client_grant(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
    scope: Option<Vec<String>>,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, UPDATE_CLIENT_GRANTS).await?;
    let mut grant = grant_by_id(ctx, id).await?;
    if let Some(scope) = scope {
        let (_, defined) = api_of(ctx, &grant.audience).await?;
        check_scopes(&scope, defined.as_deref())?;
        grant.scope = scope;
        if !ctx.store.update_client_grant(&grant).await? {
            return Err(ManagementError::UnknownGrant);
        }
    }
    Ok(grant_view(ctx, &grant))
}

/// `DELETE /api/v2/client-grants/{id}`: 204; a grant already gone answers 404.
pub async fn delete_client_grant(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, DELETE_CLIENT_GRANTS).await?;
    let grant = grant_by_id(ctx, id).await?;
    ctx.store
        .delete_client_grant(&grant.client_id, &grant.audience)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_in_memory() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let all = Page {
            page: 0,
            per_page: None,
            include_totals: false,
        };
        assert_eq!(
            all.apply(items.clone(), "x").unwrap(),
            json!([0, 1, 2, 3, 4])
        );
        let second = Page {
            page: 1,
            per_page: Some(2),
            include_totals: true,
        };
        assert_eq!(
            second.apply(items.clone(), "x").unwrap(),
            json!({"start": 2, "limit": 2, "length": 2, "total": 5, "x": [2, 3]})
        );
        let too_many = Page {
            page: 0,
            per_page: Some(101),
            include_totals: false,
        };
        assert!(too_many.apply(items, "x").is_err());
    }
}
