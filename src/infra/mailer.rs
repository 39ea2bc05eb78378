//! SMTP delivery through lettre, configured by a URL in lettre's form
//! (`smtp://user:pass@host:587?tls=required` for STARTTLS, `smtps://…:465` for implicit TLS,
//! `smtp://host:25` plain), implementing the domain's `Mailer`.

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::domain::ports::{MailError, Mailer};
use crate::domain::store::OutboxMessage;

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The password of the URL is never part of the text.
    #[error("invalid SMTP URL {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("invalid sender address {0:?}")]
    From(String),
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<Self, MailerError> {
        let redacted = crate::store::redact_url(url);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailerError::Url {
                url: redacted.clone(),
                reason: e.to_string().replace(url, &redacted),
            })?
            // One pooled connection per message the sender sends at once.
            .pool_config(PoolConfig::new().max_size(crate::domain::outbox::PARALLEL as u32))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| MailerError::From(from.to_owned()))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, m: &OutboxMessage) -> Result<(), MailError> {
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| MailError::Permanent(format!("recipient: {e}")))?;
        // A template's sender was checked when the tenant file was read; one that no longer
        // parses (edited in the store) falls back to the server's.
        let from = m
            .from
            .as_deref()
            .and_then(|f| f.parse::<Mailbox>().ok())
            .unwrap_or_else(|| self.from.clone());
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                m.body_text.clone(),
                m.body_html.clone(),
            ))
            .map_err(|e| MailError::Permanent(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }
}
