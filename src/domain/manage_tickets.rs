//! Management API tickets and blocks: password-change and email-verification tickets (single-use
//! links answered to the caller, consumed by the reset and verification pages),
//! `jobs/verification-email`, and the brute-force blocks of a user or an identifier.

use serde_json::{Value, json};

use super::Services;
use super::claims::{iso_millis, token_hash};
use super::email::ticket_value;
use super::manage_users::{self, stored_id};
use super::management::{ManagementError, authorize_any};
use super::password_check::{MAX_FAILED_LOGINS, user_attempt_key};
use super::password_reset::{KIND_RESET, RESET_TICKET_TTL_MS};
use super::store::{ExportedUser, Job, Ticket};
use super::user::normalize_identifier;
use super::verification::{KIND_VERIFY, VERIFY_TICKET_TTL_MS};

pub const CREATE_TICKETS: &[&str] = &["create:user_tickets"];
/// The longest ticket lifetime accepted: 30 days.
const MAX_TTL_SEC: u64 = 30 * 86_400;

/// A ticket request as the edge parsed it.
#[derive(Debug, Default)]
pub struct TicketRequest {
    pub user_id: Option<String>,
    pub connection_id: Option<String>,
    pub email: Option<String>,
    pub result_url: Option<String>,
    pub ttl_sec: Option<u64>,
    pub mark_email_as_verified: bool,
}

async fn user(ctx: &Services, user_id: &str) -> Result<ExportedUser, ManagementError> {
    let id = stored_id(user_id).ok_or(ManagementError::UnknownUser)?;
    ctx.store
        .managed_user(id)
        .await?
        .ok_or(ManagementError::UnknownUser)
}

/// `result_url` from the Management API: any absolute http(s) URL. Unlike a URL an end user's
/// request names (logout's `returnTo`, checked against `allowed_logout_urls`), this one comes
/// from a client trusted to make tickets.
fn checked_result_url(url: Option<String>) -> Result<Option<String>, ManagementError> {
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    // The caller holds `create:user_tickets`, a trusted party as for Auth0, which takes any
    // result_url from it; only the scheme is checked, so a link never leads to a script.
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.has_host() => Ok(Some(url)),
        _ => Err(ManagementError::Invalid(format!(
            "Payload validation error: 'Object didn't pass validation for format absolute-https-uri-or-empty: {url}' on property result_url."
        ))),
    }
}

async fn issue(
    ctx: &Services,
    kind: &str,
    page: &str,
    user_id: &str,
    email: &str,
    result_url: Option<String>,
    ttl_ms: i64,
) -> Result<Value, ManagementError> {
    let value = ticket_value();
    let now = ctx.clock.now_millis();
    ctx.store
        .insert_ticket(
            &Ticket {
                id_hash: token_hash(&value),
                kind: kind.into(),
                user_id: user_id.to_owned(),
                email: email.to_owned(),
                result_url,
                created_at: now,
                expires_at: now.saturating_add(ttl_ms),
            },
            None,
        )
        .await?;
    tracing::info!(user_id, kind, "ticket created through the Management API");
    Ok(json!({"ticket": format!("{}{page}?ticket={value}#", ctx.issuer)}))
}

fn ttl_ms(ttl_sec: Option<u64>, default_ms: i64) -> Result<i64, ManagementError> {
    match ttl_sec {
        None | Some(0) => Ok(default_ms),
        Some(s) if s <= MAX_TTL_SEC => Ok((s * 1000) as i64),
        Some(_) => Err(ManagementError::Invalid(format!(
            "Payload validation error: 'ttl_sec must be at most {MAX_TTL_SEC}'."
        ))),
    }
}

/// `POST /api/v2/tickets/password-change`: 201 `{"ticket": "<issuer>u/reset-password?ticket=…#"}`.
pub async fn password_change(
    ctx: &Services,
    token: Option<&str>,
    req: TicketRequest,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, CREATE_TICKETS).await?;
    if req.mark_email_as_verified {
        return Err(ManagementError::Invalid(
            "Payload validation error: 'mark_email_as_verified is not supported by latchkey'."
                .into(),
        ));
    }
    let ttl = ttl_ms(req.ttl_sec, RESET_TICKET_TTL_MS)?;
    let user = match (&req.user_id, &req.connection_id, &req.email) {
        (Some(id), None, None) => user(ctx, id).await?,
        (None, Some(connection_id), Some(email)) => {
            let connection = super::jobs::connection_named_by(ctx, connection_id).await?;
            let stored = ctx
                .store
                .user_by_identifier(&connection, &normalize_identifier(email))
                .await?
                .ok_or(ManagementError::UnknownUser)?;
            user(ctx, &stored.subject()).await?
        }
        _ => {
            return Err(ManagementError::Invalid(
                "Payload validation error: 'give either user_id, or connection_id and email'."
                    .into(),
            ));
        }
    };
    let result_url = checked_result_url(req.result_url)?;
    issue(
        ctx,
        KIND_RESET,
        "u/reset-password",
        &user.id,
        &user.email,
        result_url,
        ttl,
    )
    .await
}

/// `POST /api/v2/tickets/email-verification`: 201 `{"ticket": "<issuer>u/email-verification?ticket=…#"}`.
pub async fn email_verification(
    ctx: &Services,
    token: Option<&str>,
    req: TicketRequest,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, CREATE_TICKETS).await?;
    let ttl = ttl_ms(req.ttl_sec, VERIFY_TICKET_TTL_MS)?;
    let id = req.user_id.as_deref().ok_or_else(|| {
        ManagementError::Invalid(
            "Payload validation error: 'Missing required property: user_id'.".into(),
        )
    })?;
    let user = user(ctx, id).await?;
    let result_url = checked_result_url(req.result_url)?;
    issue(
        ctx,
        KIND_VERIFY,
        "u/email-verification",
        &user.id,
        &user.email,
        result_url,
        ttl,
    )
    .await
}

/// `POST /api/v2/jobs/verification-email` `{user_id}`: queues the email now; the job answers
/// `pending` as Auth0's does and reads `completed` afterwards.
pub async fn verification_email_job(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, &manage_users::UPDATE[..1]).await?;
    let user = user(ctx, user_id).await?;
    manage_users::queue_verification(ctx, &user);
    let now = ctx.clock.now_millis();
    let job = Job {
        id: super::jobs::job_id(),
        kind: "verification_email".into(),
        status: "completed".into(),
        connection: Some(user.connection.clone()),
        upsert: false,
        external_id: None,
        format: None,
        options: None,
        summary: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_job(&job, None).await?;
    Ok(
        json!({"type": "verification_email", "status": "pending", "created_at": iso_millis(now), "id": job.id}),
    )
}

fn counters_of(user: &ExportedUser) -> Vec<String> {
    manage_users::counters(&user.id, &user.email, user.username.as_deref())
}

/// `GET /api/v2/user-blocks/{id}`: `{"blocked_for": [{identifier, ip}]}`; the identifier is the
/// user's email, as guesses are counted per account whichever identifier was typed.
pub async fn blocks_of_user(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, manage_users::READ).await?;
    let user = user(ctx, user_id).await?;
    let mut ips = Vec::new();
    for key in counters_of(&user) {
        for ip in ctx
            .store
            .login_blocks(Some(&user.connection), &key, MAX_FAILED_LOGINS)
            .await?
        {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    let blocked: Vec<Value> = ips
        .into_iter()
        .map(|ip| json!({"identifier": user.email, "ip": ip}))
        .collect();
    Ok(json!({"blocked_for": blocked}))
}

/// The counters an identifier names: the accounts it names on every database connection, and
/// the identifier itself (guesses at an address no account holds).
async fn counters_named_by(
    ctx: &Services,
    identifier: &str,
) -> Result<Vec<(Option<String>, String)>, ManagementError> {
    let mut keys = vec![(None, token_hash(identifier))];
    for connection in ctx.store.connections().await? {
        if let Some(u) = ctx
            .store
            .user_by_identifier(&connection.name, identifier)
            .await?
        {
            keys.push((Some(connection.name.clone()), user_attempt_key(&u.id)));
        }
    }
    Ok(keys)
}

/// `GET /api/v2/user-blocks?identifier=`.
pub async fn blocks_of_identifier(
    ctx: &Services,
    token: Option<&str>,
    identifier: &str,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, manage_users::READ).await?;
    let identifier = normalize_identifier(identifier);
    let mut ips = Vec::new();
    for (connection, key) in counters_named_by(ctx, &identifier).await? {
        for ip in ctx
            .store
            .login_blocks(connection.as_deref(), &key, MAX_FAILED_LOGINS)
            .await?
        {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    let blocked: Vec<Value> = ips
        .into_iter()
        .map(|ip| json!({"identifier": identifier, "ip": ip}))
        .collect();
    Ok(json!({"blocked_for": blocked}))
}

/// `DELETE /api/v2/user-blocks/{id}`: lifts the user's blocks (204).
pub async fn unblock_user(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, &manage_users::UPDATE[..1]).await?;
    let user = user(ctx, user_id).await?;
    for key in counters_of(&user) {
        ctx.store
            .clear_login_blocks(Some(&user.connection), &key)
            .await?;
    }
    tracing::info!(user_id = %user.id, "brute-force blocks lifted");
    Ok(())
}

/// `DELETE /api/v2/user-blocks?identifier=` (204).
pub async fn unblock_identifier(
    ctx: &Services,
    token: Option<&str>,
    identifier: &str,
) -> Result<(), ManagementError> {
    authorize_any(ctx, token, &manage_users::UPDATE[..1]).await?;
    let identifier = normalize_identifier(identifier);
    for (connection, key) in counters_named_by(ctx, &identifier).await? {
        ctx.store
            .clear_login_blocks(connection.as_deref(), &key)
            .await?;
    }
    Ok(())
}
