//! `POST /dbconnections/change_password` and the reset page's rules: the request (the same
//! answer and work whether or not the email exists), the ticket and its email (written
//! together to the outbox), and the reset itself: the connection's password rules, password
//! history, then the password, `last_password_reset`, cleared brute-force blocks and ended
//! sessions and refresh tokens in one transaction.

use std::sync::Arc;

use super::Services;
use super::claims::token_hash;
use super::email;
use super::error::{Failure, Invalid, Rule};
use super::signup::{
    ConnectionError, SignupError, SignupInput, check_password_options, usable_connection,
};
use super::store::{PasswordReset, StoreError, Ticket};
use super::tenant::Connection;
use super::user::{Password, User, normalize_identifier};

/// Auth0's default lifetime of a password-change link: five days.
pub const RESET_TICKET_TTL_MS: i64 = 432_000 * 1000;
pub const KIND_RESET: &str = "password_reset";

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("invalid field")]
    Invalid(#[from] Invalid),
    #[error("unknown client")]
    UnknownClient,
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error("origin not allowed for this client")]
    OriginNotAllowed,
    /// Too many requests for one IP and email.
    #[error("too many password-change requests")]
    RateLimited,
    /// The link is unknown, used or expired.
    #[error("the link has expired")]
    Expired,
    #[error("the passwords do not match")]
    Mismatch,
    /// A password rule (strength, dictionary, personal info), worded as signup's.
    #[error("password refused")]
    Password(SignupError),
    /// One of the last `password_history.size` passwords.
    #[error("password used before")]
    History,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<StoreError> for ResetError {
    fn from(e: StoreError) -> Self {
        ResetError::Failure(e.into())
    }
}

/// A change_password body as the edge parsed it.
#[derive(Debug)]
pub struct ChangePasswordInput {
    pub client_id: String,
    pub connection: String,
    /// Trimmed, lower-cased.
    pub email: String,
}

/// Runs `change_password`. Known and unknown emails answer the same, after the same work: the
/// user lookup, the ticket and its email happen after the answer (a background task), so the
/// answer's timing cannot say whether the email exists.
pub async fn change_password(
    ctx: &Services,
    input: ChangePasswordInput,
    origin: Option<&str>,
) -> Result<(), ResetError> {
    let (client, connection) = ctx
        .store
        .client_with_connection(&input.client_id, &input.connection)
        .await?
        .ok_or(ResetError::UnknownClient)?;
    if !ctx.origin_allowed(&client, origin) {
        return Err(ResetError::OriginNotAllowed);
    }
    let connection = usable_connection(&client, connection)?;
    // The lookup too happens after the answer: known and unknown emails then take exactly the
    // same path before it.
    let ctx = ctx.clone();
    super::audit::spawn_in_request(&ctx.clone(), async move {
        let found = ctx
            .store
            .user_by_identifier(&connection.name, &input.email)
            .await;
        let result = match found {
            Ok(Some(user)) if user.email == input.email => {
                let sent = send_reset(&ctx, &user).await;
                if sent.is_ok() {
                    ctx.event("scpr")
                        .description("Change password request: the email was sent")
                        .client(&client)
                        .connection(&connection.name)
                        .user(&user.id, Some(&user.email))
                        .record();
                }
                sent
            }
            Ok(_) => {
                // The tenant's own log may say what the caller is never told.
                ctx.event("fcpr")
                    .description("Change password request for an unknown email")
                    .client(&client)
                    .connection(&connection.name)
                    .user_name(&input.email)
                    .record();
                Ok(())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::error!(cause = %super::error::chain(&e), "password-change email not queued");
        }
    });
    Ok(())
}

async fn send_reset(ctx: &Services, user: &User) -> Result<(), StoreError> {
    let settings = ctx.store.tenant_settings().await?;
    let tenant = settings
        .friendly_name
        .clone()
        .unwrap_or_else(|| "latchkey".into());
    let template = settings.emails.reset_email.clone().unwrap_or_default();
    let text_tenant = tenant.clone();
    let defaults = email::Defaults {
        subject: format!("Reset your {tenant} password"),
        text: Box::new(move |link| {
            format!(
                "We received a request to reset the password of your {text_tenant} account.\n\n\
                 Reset it here: {link}\n\nIf you did not ask for this, you can ignore this email."
            )
        }),
        html: Box::new(move |link| {
            format!(
                "<p>We received a request to reset the password of your {tenant} account.</p>\
                 <p><a href=\"{link}\">Reset your password</a></p>\
                 <p>If you did not ask for this, you can ignore this email.</p>"
            )
        }),
    };
    let to = email::Recipient {
        user_id: &user.id,
        email: &user.email,
        profile: &user.profile,
        username: user.username.as_deref(),
    };
    email::queue(
        ctx,
        KIND_RESET,
        "u/reset-password",
        &to,
        &template,
        defaults,
        RESET_TICKET_TTL_MS,
    )
    .await
}

/// A live reset ticket, with its user and their connection.
#[derive(Debug, Clone)]
pub struct OpenTicket {
    pub value: String,
    pub ticket: Ticket,
    pub user: User,
    pub connection: Arc<Connection>,
}

/// The reset ticket `value` names, if it is unused and unexpired.
pub async fn open_ticket(ctx: &Services, value: Option<&str>) -> Result<OpenTicket, ResetError> {
    let value = value.ok_or(ResetError::Expired)?;
    let (ticket, user) = ctx
        .store
        .ticket(&token_hash(value), KIND_RESET, ctx.clock.now_millis())
        .await?
        .ok_or(ResetError::Expired)?;
    let connection = ctx
        .store
        .connections()
        .await?
        .into_iter()
        .find(|c| c.name == user.connection)
        .ok_or(ResetError::Expired)?;
    Ok(OpenTicket {
        value: value.to_owned(),
        ticket,
        user,
        connection,
    })
}

/// Sets the new password of an open ticket's user; logged as `scp` or `fcp`.
pub async fn reset(
    ctx: &Services,
    open: &OpenTicket,
    password: Password,
    confirmation: Password,
) -> Result<Option<String>, ResetError> {
    let answer = apply_reset(ctx, open, password, confirmation).await;
    let event = match &answer {
        Ok(_) => ctx.event("scp").description("Password changed"),
        Err(ResetError::Failure(_)) => return answer,
        Err(e) => ctx.event("fcp").description(e.to_string()),
    };
    event
        .connection(&open.user.connection)
        .user(&open.user.id, Some(&open.user.email))
        .record();
    answer
}

async fn apply_reset(
    ctx: &Services,
    open: &OpenTicket,
    password: Password,
    confirmation: Password,
) -> Result<Option<String>, ResetError> {
    if password.0.is_empty() {
        return Err(Invalid::new("password", Rule::Required).into());
    }
    if password.0 != confirmation.0 {
        return Err(ResetError::Mismatch);
    }
    let user = &open.user;
    let probe = SignupInput {
        client_id: String::new(),
        connection: open.connection.name.clone(),
        email: user.email.clone(),
        password: password.clone(),
        username: user.username.clone(),
        profile: user.profile.clone(),
        user_metadata: None,
    };
    check_password_options(&open.connection, &probe, user.username.as_deref())
        .map_err(ResetError::Password)?;
    if let Some(h) = &open.connection.options.password_history
        && h.enable
    {
        for old in ctx.store.recent_password_hashes(&user.id, h.size).await? {
            let ticket = ctx.hasher.admit()?;
            if ticket.verify(password.clone(), Some(old)).await? {
                return Err(ResetError::History);
            }
        }
    }
    let new_hash = ctx.hasher.admit()?.hash(password).await?;
    let identifiers: Vec<String> = std::iter::once(&user.email)
        .chain(user.username.as_ref())
        .map(|i| token_hash(&normalize_identifier(i)))
        .chain(std::iter::once(super::password_check::user_attempt_key(
            &user.id,
        )))
        .collect();
    let done = ctx
        .store
        .reset_password(&PasswordReset {
            ticket_hash: &open.ticket.id_hash,
            user_id: &user.id,
            new_hash: &new_hash,
            now: ctx.clock.now_millis(),
            connection: &open.connection.name,
            identifiers: &identifiers,
        })
        .await?;
    if !done {
        return Err(ResetError::Expired);
    }
    tracing::info!(user_id = %user.id, "password reset");
    Ok(open.ticket.result_url.clone())
}
