//! Delivering the outbox: claim a due message (one instance wins it), send it, mark it sent or
//! count the failure and back off. A permanent failure, or too many transient ones, leaves
//! the message unsent with its last error for an operator to read.

use super::Services;
use super::error::Failure;
use super::ports::{MailError, Mailer};

/// How long a claim lasts: a sender that died mid-send frees its message after this.
pub const CLAIM_MS: i64 = 60_000;
/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// The first retry's delay; each later one doubles, up to an hour.
const FIRST_RETRY_MS: i64 = 30_000;
const LONGEST_RETRY_MS: i64 = 3_600_000;

/// The delay after the `attempt`-th failure (1-based).
pub fn backoff_ms(attempt: i64) -> i64 {
    let shift = (attempt - 1).clamp(0, 20) as u32;
    (FIRST_RETRY_MS << shift).min(LONGEST_RETRY_MS)
}

/// Sends every message due now; returns how many were delivered.
pub async fn deliver_due(ctx: &Services, mailer: &dyn Mailer) -> Result<u64, Failure> {
    let mut delivered = 0;
    while let Some(message) = ctx
        .store
        .claim_email(ctx.clock.now_millis(), CLAIM_MS, MAX_ATTEMPTS)
        .await?
    {
        match mailer.send(&message).await {
            Ok(()) => {
                ctx.store
                    .email_sent(&message.id, ctx.clock.now_millis())
                    .await?;
                tracing::info!(outbox_id = %message.id, kind = %message.kind, "email delivered");
                delivered += 1;
            }
            Err(e) => {
                // A permanent failure is not retried (its retry time is never reached).
                let delay = match &e {
                    MailError::Permanent(_) => i64::MAX / 4,
                    MailError::Transient(_) => backoff_ms(message.attempts + 1),
                };
                let retry_at = ctx.clock.now_millis().saturating_add(delay);
                tracing::warn!(outbox_id = %message.id, kind = %message.kind, cause = %e, "email not delivered");
                ctx.store
                    .email_failed(&message.id, retry_at, &e.to_string())
                    .await?;
            }
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(5), 480_000);
        assert_eq!(backoff_ms(9), 3_600_000);
        assert_eq!(backoff_ms(100), 3_600_000);
    }
}
