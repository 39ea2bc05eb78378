//! Delivering the outbox: claim due messages (one instance wins each), send them, mark them sent or
//! count the failure and back off. A permanent failure, or too many transient ones, leaves
//! the message unsent with its last error for an operator to read.

use futures_util::stream::{self, StreamExt};

use super::Services;
use super::error::Failure;
use super::ports::{MailError, Mailer};

/// How long a claim lasts: a sender that died mid-send frees its messages after this.
pub const CLAIM_MS: i64 = 60_000;
/// Attempts before a message is given up (the last about two and a half hours after the
/// first).
pub const MAX_ATTEMPTS: i64 = 10;
/// The first retry's delay; each later one doubles, up to an hour.
const FIRST_RETRY_MS: i64 = 10_000;
const LONGEST_RETRY_MS: i64 = 3_600_000;
/// Messages claimed at once.
const BATCH: i64 = 64;
/// Messages sent at once, each over its own pooled connection. An SMTP client waits for each
/// reply, so one connection carries one message per round trip (and, until lettre sets
/// TCP_NODELAY, a delayed-ACK stall per message): throughput comes from parallel connections.
pub const PARALLEL: usize = 16;

/// The delay after the `attempt`-th failure (1-based).
pub fn backoff_ms(attempt: i64) -> i64 {
    let shift = (attempt - 1).clamp(0, 20) as u32;
    (FIRST_RETRY_MS << shift).min(LONGEST_RETRY_MS)
}

/// Sends every message due now; returns how many were delivered.
pub async fn deliver_due(ctx: &Services, mailer: &dyn Mailer) -> Result<u64, Failure> {
    let mut delivered = 0;
    loop {
        let batch = ctx
            .store
            .claim_emails(ctx.clock.now_millis(), CLAIM_MS, MAX_ATTEMPTS, BATCH)
            .await?;
        if batch.is_empty() {
            return Ok(delivered);
        }
        let results: Vec<_> = stream::iter(batch)
            .map(|m| async move {
                let r = mailer.send(&m).await;
                (m, r)
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut sent = Vec::with_capacity(results.len());
        for (message, result) in results {
            match result {
                Ok(()) => {
                    tracing::info!(outbox_id = %message.id, kind = %message.kind, "email delivered");
                    sent.push(message.id);
                }
                Err(e) => {
                    // A permanent failure is not retried (its retry time is never reached).
                    let delay = match &e {
                        MailError::Permanent(_) => i64::MAX / 4,
                        MailError::Transient(_) => backoff_ms(message.attempts + 1),
                    };
                    let retry_at = ctx.clock.now_millis().saturating_add(delay);
                    tracing::warn!(outbox_id = %message.id, kind = %message.kind, attempt = message.attempts + 1, cause = %e, "email not delivered");
                    ctx.store
                        .email_failed(&message.id, retry_at, &e.to_string())
                        .await?;
                }
            }
        }
        // Were this write lost (a crash right here), the claims lapse and the messages go
        // again: delivery is at least once.
        ctx.store.emails_sent(&sent, ctx.clock.now_millis()).await?;
        delivered += sent.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(5), 160_000);
        assert_eq!(backoff_ms(9), 2_560_000);
        assert_eq!(backoff_ms(10), 3_600_000);
        assert_eq!(backoff_ms(100), 3_600_000);
    }
}
