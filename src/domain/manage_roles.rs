//! Management API roles: the roles themselves (`rol_<16>`, a unique name each), their holders,
//! and a user's roles.

use rand::Rng as _;
use rand::distributions::Alphanumeric;
use serde_json::{Value, json};

use super::Services;
use super::manage_tenant::Page;
use super::manage_users::{self, stored_id};
use super::management::{ManagementError, authorize_any};
use super::store::{Role, StoreError};

pub const READ: &[&str] = &["read:roles"];
pub const CREATE: &[&str] = &["create:roles"];
pub const UPDATE: &[&str] = &["update:roles"];
pub const DELETE: &[&str] = &["delete:roles"];
/// Giving and taking a user's roles.
pub const ASSIGN: &[&str] = &["update:users", "create:role_members"];
pub const TAKE: &[&str] = &["update:users", "delete:role_members"];
pub const READ_MEMBERS: &[&str] = &["read:users", "read:role_members"];

/// Longest role name and description.
const MAX_NAME: usize = 50;
const MAX_DESCRIPTION: usize = 140;
/// Most users or roles one assignment names.
const MAX_ASSIGN: usize = 50;

fn role_id() -> String {
    let s: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    format!("rol_{s}")
}

pub fn view(r: &Role) -> Value {
    json!({"id": r.id, "name": r.name, "description": r.description})
}

fn check(name: &str, description: Option<&str>) -> Result<(), ManagementError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(ManagementError::Invalid(format!(
            "Payload validation error: 'String is too long (or empty): at most {MAX_NAME} characters' on property name."
        )));
    }
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return Err(ManagementError::Invalid(format!(
            "Payload validation error: 'String is too long ({MAX_DESCRIPTION} chars max)' on property description."
        )));
    }
    Ok(())
}

async fn found(ctx: &Services, id: &str) -> Result<Role, ManagementError> {
    ctx.store
        .role(id)
        .await?
        .ok_or(ManagementError::UnknownRole)
}

/// `GET /api/v2/roles`, with `name_filter` (case-insensitive, contained).
pub async fn list(
    ctx: &Services,
    token: Option<&str>,
    name_filter: Option<&str>,
    page: Page,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ).await?;
    let filter = name_filter.map(str::to_lowercase);
    let roles = ctx
        .store
        .roles()
        .await?
        .iter()
        .filter(|r| {
            filter
                .as_deref()
                .is_none_or(|f| r.name.to_lowercase().contains(f))
        })
        .map(view)
        .collect();
    page.apply(roles, "roles")
}

/// `POST /api/v2/roles`: 200 with the role.
pub async fn create(
    ctx: &Services,
    token: Option<&str>,
    name: String,
    description: Option<String>,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, CREATE).await?;
    check(&name, description.as_deref())?;
    let role = Role {
        id: role_id(),
        name,
        description,
    };
    match ctx.store.insert_role(&role, ctx.clock.now_millis()).await {
        Ok(()) => Ok(view(&role)),
        Err(StoreError::Conflict(_)) => Err(ManagementError::RoleExists),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(ctx: &Services, token: Option<&str>, id: &str) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ).await?;
    Ok(view(&found(ctx, id).await?))
}

/// `PATCH /api/v2/roles/{id}`.
pub async fn update(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
    name: Option<String>,
    description: Option<Option<String>>,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, UPDATE).await?;
    let mut role = found(ctx, id).await?;
    if let Some(n) = name {
        role.name = n;
    }
    if let Some(d) = description {
        role.description = d;
    }
    check(&role.name, role.description.as_deref())?;
    match ctx.store.update_role(&role).await {
        Ok(true) => Ok(view(&role)),
        Ok(false) => Err(ManagementError::UnknownRole),
        Err(StoreError::Conflict(_)) => Err(ManagementError::RoleExists),
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /api/v2/roles/{id}`: 200 `{}`.
pub async fn delete(ctx: &Services, token: Option<&str>, id: &str) -> Result<(), ManagementError> {
    authorize_any(ctx, token, DELETE).await?;
    if ctx.store.delete_role(id).await? {
        Ok(())
    } else {
        Err(ManagementError::UnknownRole)
    }
}

fn member(u: &super::store::ExportedUser) -> Value {
    let v = manage_users::view(u);
    json!({"user_id": v["user_id"], "email": v["email"], "picture": v["picture"], "name": v["name"]})
}

/// `GET /api/v2/roles/{id}/users`: `{user_id, email, picture, name}` each; offset paging, or
/// with `from`/`take` (as the SDKs page it) `{users, next}`, `next` being a user id.
pub async fn members(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
    page: Page,
    from: Option<&str>,
    take: Option<i64>,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_MEMBERS).await?;
    found(ctx, id).await?;
    if from.is_some() || take.is_some() {
        let take = take.unwrap_or(manage_users::DEFAULT_PER_PAGE);
        if !(1..=100).contains(&take) {
            return Err(ManagementError::Query(
                "Query validation error: 'take' must be 1 to 100.".into(),
            ));
        }
        let after = from.map(|f| stored_id(f).unwrap_or(f));
        let (users, _) = ctx.store.role_members(id, after, 0, take + 1).await?;
        let next = users.get(take as usize).map(|u| format!("auth0|{}", u.id));
        let mut out =
            json!({"users": users.iter().take(take as usize).map(member).collect::<Vec<_>>()});
        if let Some(n) = next {
            out["next"] = json!(n);
        }
        return Ok(out);
    }
    let per_page = page.per_page.unwrap_or(manage_users::DEFAULT_PER_PAGE);
    manage_users::check_page(page.page, per_page)?;
    let (users, total) = ctx
        .store
        .role_members(id, None, page.page * per_page, per_page)
        .await?;
    let items: Vec<Value> = users.iter().map(member).collect();
    if !page.include_totals {
        return Ok(Value::Array(items));
    }
    Ok(json!({"start": page.page * per_page, "limit": per_page, "total": total, "users": items}))
}

fn check_list(what: &str, items: &[String]) -> Result<(), ManagementError> {
    if items.is_empty() || items.len() > MAX_ASSIGN {
        return Err(ManagementError::Invalid(format!(
            "Payload validation error: 'Array is too short or too long: 1 to {MAX_ASSIGN} items' on property {what}."
        )));
    }
    Ok(())
}

/// Stored ids of users that all exist.
async fn existing_users(ctx: &Services, users: &[String]) -> Result<Vec<String>, ManagementError> {
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        let id = stored_id(u).ok_or(ManagementError::UnknownUser)?;
        if ctx.store.managed_user(id).await?.is_none() {
            return Err(ManagementError::UnknownUser);
        }
        out.push(id.to_owned());
    }
    Ok(out)
}

async fn existing_roles(ctx: &Services, roles: &[String]) -> Result<(), ManagementError> {
    for r in roles {
        found(ctx, r).await?;
    }
    Ok(())
}

/// Gives `users` the role; unknown users or role: 404, nothing given.
pub async fn assign_users(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
    users: Vec<String>,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, ASSIGN).await?;
    check_list("users", &users)?;
    found(ctx, id).await?;
    let users = existing_users(ctx, &users).await?;
    grant(ctx, &users, &[id.to_owned()]).await
}

async fn grant(ctx: &Services, users: &[String], roles: &[String]) -> Result<(), ManagementError> {
    match ctx.store.grant_roles(users, roles).await {
        Ok(()) => Ok(()),
        // Deleted between the check and the write.
        Err(StoreError::Conflict(_)) => Err(ManagementError::UnknownRole),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v2/users/{id}/roles`.
pub async fn of_user(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
    page: Page,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, &["read:users", "read:roles"]).await?;
    let id = existing_users(ctx, &[user_id.to_owned()]).await?.remove(0);
    let roles = ctx
        .store
        .roles_of_user(&id)
        .await?
        .iter()
        .map(view)
        .collect();
    page.apply(roles, "roles")
}

/// `POST /api/v2/users/{id}/roles`.
pub async fn give(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
    roles: Vec<String>,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, ASSIGN).await?;
    check_list("roles", &roles)?;
    let id = existing_users(ctx, &[user_id.to_owned()]).await?;
    existing_roles(ctx, &roles).await?;
    grant(ctx, &id, &roles).await
}

/// `DELETE /api/v2/users/{id}/roles`: roles not held are ignored.
pub async fn take(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
    roles: Vec<String>,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, TAKE).await?;
    check_list("roles", &roles)?;
    let id = existing_users(ctx, &[user_id.to_owned()]).await?.remove(0);
    ctx.store.revoke_roles(&id, &roles).await?;
    Ok(())
}
