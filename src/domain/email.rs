//! Emails that carry a ticket (password reset, email verification): their template variables,
//! the rendering of a tenant's template parts, and queuing a ticket with its email in one
//! write, the notice in the log when nothing delivers it.

use rand::Rng;
use rand::distributions::Alphanumeric;

use super::Services;
use super::claims::{opaque_token, token_hash};
use super::store::{OutboxMessage, StoreError, Ticket};
use super::tenant::EmailTemplate;
use super::user::Profile;

/// A ticket's value: 32 letters and digits, as Auth0's.
pub(super) fn ticket_value() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Who an email goes to, as its template sees them.
pub(super) struct Recipient<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub profile: &'a Profile,
    pub username: Option<&'a str>,
}

/// latchkey's own texts of one kind, used where the tenant's template has no part (the link
/// is appended by each closure).
pub(super) struct Defaults {
    pub subject: String,
    pub text: Box<dyn Fn(&str) -> String + Send + Sync>,
    pub html: Box<dyn Fn(&str) -> String + Send + Sync>,
}

/// Stores a new ticket of `kind` for the recipient and the email that carries its link (the
/// page `path` under the issuer), together.
pub(super) async fn queue(
    ctx: &Services,
    kind: &str,
    path: &str,
    to: &Recipient<'_>,
    template: &EmailTemplate,
    defaults: Defaults,
    default_lifetime_ms: i64,
) -> Result<(), StoreError> {
    let settings = ctx.store.tenant_settings().await?;
    let tenant = settings.friendly_name.as_deref().unwrap_or("latchkey");
    let value = ticket_value();
    let link = format!("{}{path}?ticket={value}#", ctx.issuer);
    let now = ctx.clock.now_millis();
    let vars = minijinja::context! {
        url => link,
        friendly_name => tenant,
        user => minijinja::context! {
            email => to.email,
            name => to.profile.name.as_deref().unwrap_or(to.email),
            nickname => to.profile.nickname,
            username => to.username,
        },
    };
    let email = OutboxMessage {
        id: opaque_token(),
        kind: kind.into(),
        from: template.from.clone(),
        recipient: to.email.to_owned(),
        subject: part(template.subject.as_deref(), defaults.subject, &vars),
        body_text: part(template.body_text.as_deref(), (defaults.text)(&link), &vars),
        body_html: html_part(template.body_html.as_deref(), (defaults.html)(&link), &vars),
        created_at: now,
        attempts: 0,
        sent_at: None,
        last_error: None,
    };
    let lifetime = template
        .url_lifetime_in_seconds
        .map_or(default_lifetime_ms, |s| s.saturating_mul(1000));
    ctx.store
        .insert_ticket(
            &Ticket {
                id_hash: token_hash(&value),
                kind: kind.into(),
                user_id: to.user_id.to_owned(),
                email: to.email.to_owned(),
                result_url: template.result_url.clone(),
                created_at: now,
                expires_at: now.saturating_add(lifetime),
            },
            Some(&email),
        )
        .await?;
    if ctx.delivers_email {
        tracing::info!(user_id = %to.user_id, outbox_id = %email.id, kind, "email queued in the outbox");
    } else if ctx.logs_email_links {
        // Development (no SMTP, a loopback issuer): the link is the quickest way to follow the
        // flow. A deployment with a public issuer never logs it.
        tracing::info!(user_id = %to.user_id, outbox_id = %email.id, kind, "email kept in the outbox (no SMTP configured); its link: {link}");
    } else {
        tracing::info!(user_id = %to.user_id, outbox_id = %email.id, kind, "email kept in the outbox (no SMTP configured); read it with GET /api/v2/emails");
    }
    Ok(())
}

/// A tenant's HTML body, rendered with its variables HTML-escaped (a template named `.html`),
/// or `default` when there is none or it fails.
fn html_part(template: Option<&str>, default: String, vars: &minijinja::Value) -> String {
    let Some(t) = template else { return default };
    let mut env = minijinja::Environment::new();
    match env
        .add_template("body.html", t)
        .and_then(|()| env.get_template("body.html"))
        .and_then(|tpl| tpl.render(vars))
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(cause = %e, "email template failed; sending the default text");
            default
        }
    }
}

/// Renders one part of a tenant's template, or latchkey's own text when there is none (or it
/// fails at render time: a broken template must not stop the email).
fn part(template: Option<&str>, default: String, vars: &minijinja::Value) -> String {
    let Some(t) = template else { return default };
    match minijinja::Environment::new().render_str(t, vars) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(cause = %e, "email template failed; sending the default text");
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_parts_escape_variables_and_text_parts_do_not() {
        let vars = minijinja::context! { user => minijinja::context! { name => "<b>&" } };
        assert_eq!(
            html_part(Some("Hi {{ user.name }}"), String::new(), &vars),
            "Hi &lt;b&gt;&amp;"
        );
        assert_eq!(
            part(Some("Hi {{ user.name }}"), String::new(), &vars),
            "Hi <b>&"
        );
        assert_eq!(part(Some("{{ broken"), "default".into(), &vars), "default");
    }

    #[test]
    fn tickets_are_32_alphanumerics() {
        let t = ticket_value();
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
