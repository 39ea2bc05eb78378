//! Email verification: the email sent at signup (when the tenant's `verify_email` is on, by
//! default once SMTP delivery is configured), and the link that marks the address verified.

use super::Services;
use super::claims::token_hash;
use super::email;
use super::store::StoreError;
use super::user::NewUser;

pub const KIND_VERIFY: &str = "email_verification";
/// Auth0's default lifetime of a verification link: five days.
pub const VERIFY_TICKET_TTL_MS: i64 = 432_000 * 1000;

/// Queues the verification email of a new user, after the signup's answer (a background task,
/// so signup's timing and outcome do not depend on it).
pub async fn after_signup(ctx: &Services, user: &NewUser) {
    let Ok(settings) = ctx.store.tenant_settings().await else {
        return;
    };
    let template = settings.emails.verify_email.clone().unwrap_or_default();
    if user.email_verified || !template.enabled.unwrap_or(ctx.delivers_email) {
        return;
    }
    let (ctx, user) = (ctx.clone(), user.clone());
    super::audit::spawn_in_request(&ctx.clone(), async move {
        if let Err(e) = send(&ctx, &user).await {
            tracing::error!(cause = %super::error::chain(&e), user_id = %user.id, "verification email not queued");
        }
    });
}

pub(super) async fn send(ctx: &Services, user: &NewUser) -> Result<(), StoreError> {
    let settings = ctx.store.tenant_settings().await?;
    let template = settings.emails.verify_email.clone().unwrap_or_default();
    let tenant = settings
        .friendly_name
        .clone()
        .unwrap_or_else(|| "latchkey".into());
    let text_tenant = tenant.clone();
    let defaults = email::Defaults {
        subject: "Verify your email".into(),
        text: Box::new(move |link| {
            format!("Welcome to {text_tenant}! Please confirm your email address: {link}")
        }),
        html: Box::new(move |link| {
            format!(
                "<p>Welcome to {tenant}! Please confirm your email address.</p>\
                 <p><a href=\"{link}\">Verify your email</a></p>"
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
        KIND_VERIFY,
        "u/email-verification",
        &to,
        &template,
        defaults,
        VERIFY_TICKET_TTL_MS,
    )
    .await?;
    ctx.event("svr")
        .description("The verification email was queued")
        .connection(&user.connection)
        .user(&user.id, Some(&user.email))
        .record();
    Ok(())
}

/// What opening a verification link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Yes {
        result_url: Option<String>,
    },
    /// Unknown, used or expired; with the result_url to tell, when the ticket named one.
    No,
}

/// Opens a verification link: marks the address verified, once.
pub async fn verify(ctx: &Services, value: Option<&str>) -> Result<Verified, StoreError> {
    let Some(value) = value else {
        return Ok(Verified::No);
    };
    let hash = token_hash(value);
    let now = ctx.clock.now_millis();
    let Some((ticket, user)) = ctx.store.ticket(&hash, KIND_VERIFY, now).await? else {
        ctx.event("fv")
            .description("The verification link is unknown, used or expired")
            .record();
        return Ok(Verified::No);
    };
    let event = |kind: &str, why: &str| {
        ctx.event(kind)
            .description(why)
            .connection(&user.connection)
            .user(&user.id, Some(&user.email))
    };
    if ctx.store.verify_email(&hash, &user.id, now).await? {
        tracing::info!(user_id = %user.id, "email verified");
        event("sv", "Email verified").record();
        Ok(Verified::Yes {
            result_url: ticket.result_url,
        })
    } else {
        event("fv", "The verification link was used already").record();
        Ok(Verified::No)
    }
}
