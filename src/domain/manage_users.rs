//! Management API users: the user object as Auth0 shows it, create (the connection's
//! username and password rules, a verification email), read, patch (top-level metadata merge,
//! password with policy and history, blocking ends sessions), delete, by email, and the
//! searched, paged list.

use serde_json::{Map, Value, json};

use super::Services;
use super::claims::iso_millis;
use super::management::{ManagementError, authorize_any};
use super::search::{Query, Sort};
use super::signup::{SignupError, SignupInput, check_password_options, check_username};
use super::store::{ExportedUser, StoreError, UniqueField, Updated, UserUpdate};
use super::tenant::Connection;
use super::user::{NewUser, Password, Profile, new_user_id, normalize_identifier};

pub const READ: &[&str] = &["read:users"];
pub const CREATE: &[&str] = &["create:users"];
pub const UPDATE: &[&str] = &["update:users", "update:users_app_metadata"];
pub const DELETE: &[&str] = &["delete:users"];

/// Auth0 pages through at most this many results of one query.
pub const MAX_RESULTS: i64 = 1000;
pub const MAX_PER_PAGE: i64 = 100;
pub const DEFAULT_PER_PAGE: i64 = 50;

/// The user object (management.md): never the password or its hash.
pub fn view(u: &ExportedUser) -> Value {
    let nickname = u
        .nickname
        .clone()
        .unwrap_or_else(|| u.email.split('@').next().unwrap_or_default().to_owned());
    let mut o = Map::new();
    o.insert("user_id".into(), json!(format!("auth0|{}", u.id)));
    o.insert("email".into(), json!(u.email));
    o.insert("email_verified".into(), json!(u.email_verified));
    if let Some(name) = &u.username {
        o.insert("username".into(), json!(name));
    }
    o.insert(
        "name".into(),
        json!(u.name.clone().unwrap_or_else(|| u.email.clone())),
    );
    o.insert("nickname".into(), json!(nickname));
    for (k, val) in [
        ("given_name", &u.given_name),
        ("family_name", &u.family_name),
        ("picture", &u.picture),
    ] {
        if let Some(val) = val {
            o.insert(k.into(), json!(val));
        }
    }
    o.insert(
        "identities".into(),
        json!([{"connection": u.connection, "user_id": u.id, "provider": "auth0", "isSocial": false}]),
    );
    o.insert("created_at".into(), json!(iso_millis(u.created_at)));
    o.insert("updated_at".into(), json!(iso_millis(u.updated_at)));
    o.insert(
        "user_metadata".into(),
        Value::Object(u.user_metadata.clone()),
    );
    o.insert("app_metadata".into(), Value::Object(u.app_metadata.clone()));
    o.insert("logins_count".into(), json!(u.logins_count));
    if let Some(t) = u.last_login {
        o.insert("last_login".into(), json!(iso_millis(t)));
    }
    if let Some(ip) = &u.last_ip {
        o.insert("last_ip".into(), json!(ip));
    }
    if let Some(t) = u.last_password_reset {
        o.insert("last_password_reset".into(), json!(iso_millis(t)));
    }
    o.insert("blocked".into(), json!(u.blocked));
    Value::Object(o)
}

/// The brute-force counters of an account: its own, and those of its email and username as
/// identifiers (kept by earlier versions).
pub fn counters(id: &str, email: &str, username: Option<&str>) -> Vec<String> {
    std::iter::once(super::password_check::user_attempt_key(id))
        .chain(
            std::iter::once(email)
                .chain(username)
                .map(super::claims::token_hash),
        )
        .collect()
}

/// The stored id a path's `{id}` names (`auth0|<id>`); other providers' ids name nobody here.
pub fn stored_id(user_id: &str) -> Option<&str> {
    user_id.strip_prefix("auth0|").filter(|s| !s.is_empty())
}

fn password_error(e: SignupError) -> ManagementError {
    match e {
        SignupError::PasswordStrength(_) => {
            ManagementError::Password("PasswordStrengthError: Password is too weak")
        }
        SignupError::PasswordDictionary => {
            ManagementError::Password("PasswordDictionaryError: Password is too common")
        }
        SignupError::PasswordNoUserInfo => {
            ManagementError::Password("PasswordNoUserInfoError: Password contains user information")
        }
        SignupError::Username(rule) => ManagementError::Invalid(match rule {
            super::signup::UsernameRule::Length { min, max } => format!(
                "Payload validation error: 'String is too short or too long' on property username (must be {min} to {max} characters)."
            ),
            super::signup::UsernameRule::NotAnEmail => {
                "Payload validation error: 'username cannot be an email'.".into()
            }
            super::signup::UsernameRule::Characters => {
                "Payload validation error: 'username has characters that are not allowed'.".into()
            }
        }),
        SignupError::Invalid(_) => ManagementError::Invalid(
            "Payload validation error: 'Missing required property: username'.".into(),
        ),
        SignupError::Failure(f) => ManagementError::Failure(f),
        _ => ManagementError::Invalid("Payload validation error.".into()),
    }
}

/// A `POST /users` body as the edge parsed it (types checked).
#[derive(Debug, Default)]
pub struct CreateUser {
    pub connection: String,
    pub email: String,
    pub password: Option<Password>,
    pub username: Option<String>,
    pub email_verified: bool,
    pub verify_email: Option<bool>,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    pub blocked: bool,
    pub profile: Profile,
    pub user_id: Option<String>,
}

async fn database_connection(
    ctx: &Services,
    name: &str,
) -> Result<std::sync::Arc<Connection>, ManagementError> {
    ctx.store
        .connections()
        .await?
        .into_iter()
        .find(|c| c.name == name && c.is_database())
        .ok_or(ManagementError::UnknownConnection)
}

fn probe(
    connection: &Connection,
    email: &str,
    password: &Password,
    profile: &Profile,
) -> SignupInput {
    SignupInput {
        client_id: String::new(),
        connection: connection.name.clone(),
        email: email.to_owned(),
        password: password.clone(),
        username: None,
        profile: profile.clone(),
        user_metadata: None,
    }
}

/// `POST /api/v2/users`: 201 with the user.
pub async fn create(
    ctx: &Services,
    token: Option<&str>,
    input: CreateUser,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, CREATE).await?;
    let connection = database_connection(ctx, &input.connection).await?;
    if !super::signup::valid_email(&input.email) {
        return Err(ManagementError::Invalid(
            "Payload validation error: 'Object didn't pass validation for format email: "
                .to_owned()
                + &input.email
                + "' on property email (The user's email).",
        ));
    }
    let email = normalize_identifier(&input.email);
    let username = if connection.options.requires_username {
        Some(check_username(&connection, input.username.clone()).map_err(password_error)?)
    } else {
        None
    };
    let password = input.password.ok_or_else(|| {
        ManagementError::Invalid(
            "Payload validation error: 'Missing required property: password'.".into(),
        )
    })?;
    let mut probe = probe(&connection, &email, &password, &input.profile);
    probe.user_metadata = Some(input.user_metadata.clone());
    check_password_options(&connection, &probe, username.as_deref()).map_err(password_error)?;
    let hash = ctx.hasher.admit()?.hash(password).await?;
    let now = ctx.clock.now_millis();
    let id = match input.user_id {
        Some(id) => {
            let id = id.strip_prefix("auth0|").unwrap_or(&id).to_owned();
            if !super::user::valid_user_id(&id) {
                return Err(ManagementError::Invalid(
                    "Payload validation error: 'user_id may hold only letters, digits, '-', '_' and '.' (at most 64)'.".into(),
                ));
            }
            id
        }
        None => new_user_id(now),
    };
    let user = NewUser {
        id,
        connection: connection.name.clone(),
        email,
        username,
        email_verified: input.email_verified,
        profile: input.profile,
        user_metadata: input.user_metadata,
        password_hash: hash,
        created_at: now,
    };
    match ctx
        .store
        .create_managed_user(&user, &input.app_metadata, input.blocked)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(UniqueField::Username)) => {
            return Err(ManagementError::UsernameExists);
        }
        Err(StoreError::Conflict(_)) => return Err(ManagementError::UserExists),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_id = %user.id, "user created through the Management API");
    if input.verify_email != Some(false) && !user.email_verified {
        let (ctx2, user2) = (ctx.clone(), user.clone());
        ctx.background.clone().spawn(async move {
            if let Err(e) = super::verification::send(&ctx2, &user2).await {
                tracing::error!(cause = %super::error::chain(&e), user_id = %user2.id, "verification email not queued");
            }
        });
    }
    let stored = ctx
        .store
        .managed_user(&user.id)
        .await?
        .ok_or(ManagementError::UnknownUser)?;
    Ok(view(&stored))
}

/// `GET /api/v2/users/{id}`.
pub async fn get(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ).await?;
    let id = stored_id(user_id).ok_or(ManagementError::UnknownUser)?;
    let user = ctx
        .store
        .managed_user(id)
        .await?
        .ok_or(ManagementError::UnknownUser)?;
    Ok(view(&user))
}

/// `GET /api/v2/users-by-email?email=`.
pub async fn by_email(
    ctx: &Services,
    token: Option<&str>,
    email: &str,
) -> Result<Vec<Value>, ManagementError> {
    authorize_any(ctx, token, READ).await?;
    let users = ctx
        .store
        .users_by_email(&normalize_identifier(email))
        .await?;
    Ok(users.iter().map(view).collect())
}

/// `DELETE /api/v2/users/{id}`: done also when already gone.
pub async fn delete(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, DELETE).await?;
    if let Some(id) = stored_id(user_id)
        && let Some(user) = ctx.store.managed_user(id).await?
    {
        ctx.store.delete_user(id).await?;
        tracing::info!(user_id = %id, "user deleted through the Management API");
        ctx.event("du")
            .description("User was deleted")
            .connection(&user.connection)
            .user(id, Some(&user.email))
            .record();
    }
    Ok(())
}

/// A `PATCH /users/{id}` body as the edge parsed it: `Some(None)` clears a field; in the
/// metadata a `null` value removes its key.
#[derive(Debug, Default)]
pub struct PatchUser {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub verify_email: Option<bool>,
    pub username: Option<Option<String>>,
    pub password: Option<Password>,
    pub given_name: Option<Option<String>>,
    pub family_name: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub picture: Option<Option<String>>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
    pub blocked: Option<bool>,
    /// Accepted when it names the user's own connection.
    pub connection: Option<String>,
}

impl PatchUser {
    /// Whether only `app_metadata` changes (what `update:users_app_metadata` allows).
    fn app_metadata_only(&self) -> bool {
        self.email.is_none()
            && self.email_verified.is_none()
            && self.username.is_none()
            && self.password.is_none()
            && self.given_name.is_none()
            && self.family_name.is_none()
            && self.name.is_none()
            && self.nickname.is_none()
            && self.picture.is_none()
            && self.user_metadata.is_none()
            && self.blocked.is_none()
    }
}

/// Top-level merge: a key set to `null` is removed, any other value replaces the stored one.
pub fn merge(stored: &Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    let mut out = stored.clone();
    for (k, v) in patch {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// How often a patch merges again when another one changed the metadata meanwhile.
const MERGE_ATTEMPTS: usize = 8;

/// `PATCH /api/v2/users/{id}`: 200 with the user.
pub async fn patch(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
    p: PatchUser,
) -> Result<Value, ManagementError> {
    if p.app_metadata_only() {
        authorize_any(ctx, token, UPDATE).await?;
    } else {
        authorize_any(ctx, token, &UPDATE[..1]).await?;
    }
    let id = stored_id(user_id).ok_or(ManagementError::UnknownUser)?;
    let mut user = ctx
        .store
        .managed_user(id)
        .await?
        .ok_or(ManagementError::UnknownUser)?;
    let connection = database_connection(ctx, &user.connection).await?;
    if let Some(c) = &p.connection
        && *c != user.connection
    {
        return Err(ManagementError::Invalid(
            "Payload validation error: 'a user cannot move to another connection'.".into(),
        ));
    }
    let email = match &p.email {
        Some(e) if !super::signup::valid_email(e) => {
            return Err(ManagementError::Invalid(format!(
                "Payload validation error: 'Object didn't pass validation for format email: {e}' on property email."
            )));
        }
        Some(e) => Some(normalize_identifier(e)),
        None => None,
    };
    let username = match &p.username {
        Some(Some(u)) if connection.options.requires_username => Some(Some(
            check_username(&connection, Some(u.clone())).map_err(password_error)?,
        )),
        Some(_) if connection.options.requires_username => {
            return Err(ManagementError::Invalid(
                "Payload validation error: 'username cannot be removed on this connection'.".into(),
            ));
        }
        Some(_) => None,
        None => None,
    };
    let password_hash = match &p.password {
        None => None,
        Some(password) => {
            let profile = Profile {
                name: p.name.clone().flatten().or(user.name.clone()),
                nickname: p.nickname.clone().flatten().or(user.nickname.clone()),
                ..Default::default()
            };
            let email_now = email.clone().unwrap_or_else(|| user.email.clone());
            let mut probe = probe(&connection, &email_now, password, &profile);
            probe.user_metadata = Some(user.user_metadata.clone());
            let uname = username.clone().flatten().or(user.username.clone());
            check_password_options(&connection, &probe, uname.as_deref())
                .map_err(password_error)?;
            if let Some(h) = &connection.options.password_history
                && h.enable
            {
                for old in ctx.store.recent_password_hashes(id, h.size).await? {
                    if ctx
                        .hasher
                        .admit()?
                        .verify(password.clone(), Some(old))
                        .await?
                    {
                        return Err(ManagementError::Password(
                            "PasswordHistoryError: Password has previously been used",
                        ));
                    }
                }
            }
            Some(ctx.hasher.admit()?.hash(password.clone()).await?)
        }
    };
    // A new address is unverified unless the patch says otherwise.
    let email_verified = match (&email, p.email_verified) {
        (_, Some(v)) => Some(v),
        (Some(e), None) if *e != user.email => Some(false),
        _ => None,
    };
    for _ in 0..MERGE_ATTEMPTS {
        let metadata_changes = p.user_metadata.is_some() || p.app_metadata.is_some();
        let update = UserUpdate {
            email: email.clone(),
            email_verified,
            username: username.clone(),
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            name: p.name.clone(),
            nickname: p.nickname.clone(),
            picture: p.picture.clone(),
            user_metadata: p
                .user_metadata
                .as_ref()
                .map(|m| merge(&user.user_metadata, m)),
            app_metadata: p
                .app_metadata
                .as_ref()
                .map(|m| merge(&user.app_metadata, m)),
            expected_metadata: metadata_changes
                .then(|| (user.user_metadata.clone(), user.app_metadata.clone())),
            blocked: p.blocked,
            password_hash: password_hash.clone(),
            // A new password ends what the old one opened, as a reset does: sessions, refresh
            // tokens, codes not yet redeemed, and the account's brute-force counters.
            end_sessions: p.blocked == Some(true) || password_hash.is_some(),
            clear_attempts: if password_hash.is_some() {
                counters(&user.id, &user.email, user.username.as_deref())
            } else {
                Vec::new()
            },
            // Links made for the old address must not act on the new one.
            end_tickets: email.as_ref().is_some_and(|e| *e != user.email),
            now: ctx.clock.now_millis(),
        };
        match ctx.store.update_user(id, &update).await {
            Ok(Updated::Done) => {
                tracing::info!(user_id = %id, "user updated through the Management API");
                let stored = ctx
                    .store
                    .managed_user(id)
                    .await?
                    .ok_or(ManagementError::UnknownUser)?;
                if let Some(e) = &email
                    && *e != user.email
                    && p.verify_email == Some(true)
                    && !stored.email_verified
                {
                    queue_verification(ctx, &stored);
                }
                return Ok(view(&stored));
            }
            Ok(Updated::Missing) => return Err(ManagementError::UnknownUser),
            Ok(Updated::Stale) => {
                user = ctx
                    .store
                    .managed_user(id)
                    .await?
                    .ok_or(ManagementError::UnknownUser)?;
            }
            Err(StoreError::Conflict(UniqueField::Username)) => {
                return Err(ManagementError::UsernameExists);
            }
            Err(StoreError::Conflict(_)) => return Err(ManagementError::UserExists),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ManagementError::Failure(super::error::Failure::Overloaded))
}

/// Queues a verification email for a stored user, in the background.
pub fn queue_verification(ctx: &Services, u: &ExportedUser) {
    let user = NewUser {
        id: u.id.clone(),
        connection: u.connection.clone(),
        email: u.email.clone(),
        username: u.username.clone(),
        email_verified: u.email_verified,
        profile: Profile {
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            name: u.name.clone(),
            nickname: u.nickname.clone(),
            picture: u.picture.clone(),
        },
        user_metadata: u.user_metadata.clone(),
        password_hash: String::new(),
        created_at: u.created_at,
    };
    let ctx2 = ctx.clone();
    ctx.background.clone().spawn(async move {
        if let Err(e) = super::verification::send(&ctx2, &user).await {
            tracing::error!(cause = %super::error::chain(&e), user_id = %user.id, "verification email not queued");
        }
    });
}

/// A list request: paging checked by the edge's parser, `q` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUsers {
    pub query: Option<Query>,
    pub sort: Option<Sort>,
    pub page: i64,
    pub per_page: i64,
    pub include_totals: bool,
}

/// Checks a page against Auth0's limits.
pub fn check_page(page: i64, per_page: i64) -> Result<(), ManagementError> {
    if per_page > MAX_PER_PAGE {
        return Err(ManagementError::Query(format!(
            "Query validation error: 'per_page' must be at most {MAX_PER_PAGE}."
        )));
    }
    if page.saturating_mul(per_page).saturating_add(per_page) > MAX_RESULTS {
        return Err(ManagementError::Query(
            "You can only page through the first 1000 records.".into(),
        ));
    }
    Ok(())
}

/// `GET /api/v2/users`: the page's users and, with totals, their number.
pub async fn list(
    ctx: &Services,
    token: Option<&str>,
    req: &ListUsers,
) -> Result<(Vec<Value>, Option<i64>), ManagementError> {
    authorize_any(ctx, token, READ).await?;
    check_page(req.page, req.per_page)?;
    let (users, total) = ctx
        .store
        .search_users(
            req.query.as_ref(),
            req.sort,
            req.page * req.per_page,
            req.per_page,
            req.include_totals,
        )
        .await?;
    // Auth0's total counts at most the reachable results.
    Ok((users.iter().map(view).collect(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_top_level_and_null_removes() {
        let stored = json!({"a": 1, "b": {"x": 1, "y": 2}, "c": 3});
        let patch = json!({"b": {"x": 9}, "c": null, "d": true});
        assert_eq!(
            Value::Object(merge(
                stored.as_object().unwrap(),
                patch.as_object().unwrap()
            )),
            json!({"a": 1, "b": {"x": 9}, "d": true})
        );
    }

    #[test]
    fn paging_limits() {
        assert!(check_page(0, 100).is_ok());
        assert!(check_page(9, 100).is_ok());
        assert!(check_page(10, 100).is_err());
        assert!(check_page(0, 101).is_err());
        assert!(check_page(19, 50).is_ok());
        assert!(check_page(20, 50).is_err());
        assert!(check_page(i64::MAX, 0).is_ok(), "a count-only query");
    }

    #[test]
    fn ids_name_database_users_only() {
        assert_eq!(stored_id("auth0|abc"), Some("abc"));
        assert_eq!(stored_id("google-oauth2|abc"), None);
        assert_eq!(stored_id("auth0|"), None);
    }
}
