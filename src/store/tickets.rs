//! The tickets area: single-use links stored hashed (used once by a guarded update), the
//! password reset they lead to (one transaction), and the outbox of emails that carry them.

use async_trait::async_trait;

use super::rows::{OutboxRow, TicketWithUserRow, USER_COLUMNS};
use super::writer::Stmt;
use super::{SqlStore, backend};
use crate::domain::claims::opaque_token;
use crate::domain::password_reset::KIND_RESET;
use crate::domain::store::{OutboxMessage, PasswordReset, StoreError, Ticket, TicketStore};
use crate::domain::user::User;

const OUTBOX_COLUMNS: &str = "id, kind, sender, recipient, subject, body_text, body_html, \
                              created_at, attempts, sent_at, last_error";

#[async_trait]
impl TicketStore for SqlStore {
    async fn insert_ticket(
        &self,
        t: &Ticket,
        email: Option<&OutboxMessage>,
    ) -> Result<(), StoreError> {
        let mut stmts = vec![
            Stmt::new(
                "INSERT INTO tickets (id_hash, kind, user_id, result_url, created_at, \
                     expires_at, email) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .text(t.id_hash.clone())
            .text(t.kind.clone())
            .text(t.user_id.clone())
            .text(t.result_url.clone())
            .int(t.created_at)
            .int(t.expires_at)
            .text(t.email.clone()),
        ];
        if let Some(m) = email {
            stmts.push(
                Stmt::new(
                    "INSERT INTO outbox (id, kind, recipient, subject, body_text, body_html, \
                     created_at, sender) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .text(m.id.clone())
                .text(m.kind.clone())
                .text(m.recipient.clone())
                .text(m.subject.clone())
                .text(m.body_text.clone())
                .text(m.body_html.clone())
                .int(m.created_at)
                .text(m.from.clone()),
            );
        }
        self.writes.run(stmts).await.map(|_| ())
    }

    async fn ticket(
        &self,
        id_hash: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<(Ticket, User)>, StoreError> {
        let sql = format!(
            // The ticket's columns renamed in a subquery, so that the user's are unambiguous.
            "SELECT t.id_hash, t.kind, t.user_id, t.ticket_email, t.result_url, \
             t.ticket_created_at, t.expires_at, {USER_COLUMNS} \
             FROM (SELECT id_hash, kind, user_id, email AS ticket_email, result_url, \
                   created_at AS ticket_created_at, expires_at, used_at FROM tickets) t \
             JOIN users ON users.id = t.user_id \
             WHERE t.id_hash = $1 AND t.kind = $2 AND t.used_at IS NULL AND t.expires_at > $3 \
             AND t.ticket_email = users.email"
        );
        let row = sqlx::query_as::<_, TicketWithUserRow>(&sql)
            .bind(id_hash)
            .bind(kind)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.map(|r| (r.ticket.into(), r.user.into())))
    }

    async fn recent_password_hashes(
        &self,
        user_id: &str,
        n: u32,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE user_id = $1 \
             ORDER BY created_at DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn reset_password(&self, r: &PasswordReset<'_>) -> Result<bool, StoreError> {
        // The first statement uses the ticket; every later one runs only if it did: the ticket
        // row then carries this request's own nonce (two uses in one millisecond share `now`,
        // never the nonce).
        let nonce = opaque_token();
        let used =
            format!("EXISTS (SELECT 1 FROM tickets WHERE id_hash = $1 AND used_by = '{nonce}')");
        let mut stmts = vec![
            Stmt::new(format!(
                "UPDATE tickets SET used_at = $2, used_by = '{nonce}' \
                 WHERE id_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 AND email = (SELECT email FROM users WHERE id = $3)"
            ))
            .text(r.ticket_hash.to_owned())
            .int(r.now)
            .text(r.user_id.to_owned()),
            // The user's other reset links end with this reset.
            Stmt::new(format!(
                "UPDATE tickets SET used_at = $2 WHERE user_id = $3 AND kind = '{KIND_RESET}' \
                 AND used_at IS NULL AND {used}"
            ))
            .text(r.ticket_hash.to_owned())
            .int(r.now)
            .text(r.user_id.to_owned()),
            Stmt::new(format!(
                "UPDATE users SET password_hash = $3, updated_at = $2, last_password_reset = $2 \
                 WHERE id = $4 AND {used}"
            ))
            .text(r.ticket_hash.to_owned())
            .int(r.now)
            .text(r.new_hash.to_owned())
            .text(r.user_id.to_owned()),
        ];
        for table in ["sessions", "refresh_tokens", "authorization_codes"] {
            stmts.push(
                Stmt::new(format!("DELETE FROM {table} WHERE user_id = $3 AND {used}"))
                    .text(r.ticket_hash.to_owned())
                    .int(r.now)
                    .text(r.user_id.to_owned()),
            );
        }
        for identifier in r.identifiers {
            stmts.push(
                Stmt::new(format!(
                    "DELETE FROM login_attempts WHERE connection = $3 AND identifier = $4 \
                     AND {used}"
                ))
                .text(r.ticket_hash.to_owned())
                .int(r.now)
                .text(r.connection.to_owned())
                .text(identifier.clone()),
            );
        }
        let affected = self.writes.run(stmts).await?;
        Ok(affected.first() == Some(&1))
    }

    async fn outbox(
        &self,
        recipient: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox \
             WHERE (CAST($1 AS TEXT) IS NULL OR recipient = $1) ORDER BY created_at DESC LIMIT $2"
        );
        let rows: Vec<OutboxRow> = sqlx::query_as(&sql)
            .bind(recipient)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn verify_email(
        &self,
        ticket_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        // Used by this request (its nonce), and only while the user still has the address the
        // ticket was made for.
        let nonce = opaque_token();
        let affected = self
            .writes
            .run(vec![
                Stmt::new(format!(
                    "UPDATE tickets SET used_at = $2, used_by = '{nonce}' \
                     WHERE id_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                     AND email = (SELECT email FROM users WHERE id = $3)"
                ))
                .text(ticket_hash.to_owned())
                .int(now)
                .text(user_id.to_owned()),
                Stmt::new(format!(
                    "UPDATE users SET email_verified = TRUE, updated_at = $2 WHERE id = $3 \
                     AND EXISTS (SELECT 1 FROM tickets WHERE id_hash = $1 AND used_by = '{nonce}' \
                     AND tickets.email = users.email)"
                ))
                .text(ticket_hash.to_owned())
                .int(now)
                .text(user_id.to_owned()),
            ])
            .await?;
        Ok(affected.first() == Some(&1))
    }

    async fn claim_emails(
        &self,
        now: i64,
        lease_ms: i64,
        max_attempts: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let _writer = self.writer().await?;
        // The outer WHERE repeats the claim condition: a concurrent claim of the same rows
        // (PostgreSQL re-checks each after waiting for the winner's lock) skips them.
        let free = "sent_at IS NULL AND attempts < $3 AND next_attempt_at <= $1 \
                    AND (claimed_until IS NULL OR claimed_until <= $1)";
        let sql = format!(
            "UPDATE outbox SET claimed_until = $2 WHERE id IN \
             (SELECT id FROM outbox WHERE {free} ORDER BY created_at LIMIT $4) AND {free} \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let rows: Vec<OutboxRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind(now + lease_ms)
            .bind(max_attempts)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn emails_sent(&self, ids: &[String], now: i64) -> Result<(), StoreError> {
        let stmts = ids
            .iter()
            .map(|id| {
                Stmt::new("UPDATE outbox SET sent_at = $2, claimed_until = NULL WHERE id = $1")
                    .text(id.clone())
                    .int(now)
            })
            .collect();
        self.writes.run(stmts).await.map(|_| ())
    }

    async fn email_failed(&self, id: &str, retry_at: i64, error: &str) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, \
                     claimed_until = NULL, last_error = $3 WHERE id = $1",
                )
                .text(id.to_owned())
                .int(retry_at)
                .text(error.to_owned()),
            ])
            .await
            .map(|_| ())
    }
}
