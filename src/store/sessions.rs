//! The sessions area: login sessions (by the hash of the cookie's value) and login
//! transactions (validated `/authorize` requests waiting at a hosted page), shared by every
//! instance on the database.

use async_trait::async_trait;

use super::codes::insert_code;
use super::rows::{SESSION_COLUMNS, SessionWithUserRow, USER_COLUMNS};
use super::writer::Stmt;
use super::{SqlStore, backend};
use crate::domain::store::{AuthorizationCode, Session, SessionStore, StoreError};
use crate::domain::user::User;

#[async_trait]
impl SessionStore for SqlStore {
    async fn complete_login(
        &self,
        s: &Session,
        replaces: Option<&str>,
        transaction: &str,
        code: Option<&AuthorizationCode>,
    ) -> Result<(), StoreError> {
        let mut stmts = Vec::with_capacity(4);
        if let Some(old) = replaces {
            stmts.push(Stmt::new("DELETE FROM sessions WHERE id_hash = $1").text(old.to_owned()));
        }
        stmts.push(
            Stmt::new(
                "INSERT INTO sessions (id_hash, sid, user_id, auth_time, created_at, last_seen) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .text(s.id_hash.clone())
            .text(s.sid.clone())
            .text(s.user_id.clone())
            .int(s.auth_time)
            .int(s.created_at)
            .int(s.last_seen),
        );
        stmts.push(
            Stmt::new("DELETE FROM login_transactions WHERE id_hash = $1")
                .text(transaction.to_owned()),
        );
        if let Some(c) = code {
            stmts.push(insert_code(c));
        }
        self.writes.run(stmts).await.map(|_| ())
    }

    async fn session(&self, id_hash: &str) -> Result<Option<(Session, User)>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, {USER_COLUMNS} FROM sessions s \
             JOIN users ON users.id = s.user_id WHERE s.id_hash = $1"
        );
        let row = self
            .fetch_optional_kept(sqlx::query_as::<_, SessionWithUserRow>(&sql).bind(id_hash))
            .await?;
        Ok(row.map(|r| (r.session.into(), r.user.into())))
    }

    async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new("UPDATE sessions SET last_seen = $2 WHERE id_hash = $1")
                    .text(id_hash.to_owned())
                    .int(now),
            ])
            .await
            .map(|_| ())
    }

    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new("DELETE FROM sessions WHERE id_hash = $1").text(id_hash.to_owned()),
            ])
            .await
            .map(|_| ())
    }

    async fn insert_transaction(
        &self,
        id_hash: &str,
        request: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO login_transactions (id_hash, request, expires_at) \
                     VALUES ($1, $2, $3)",
                )
                .text(id_hash.to_owned())
                .text(request.to_owned())
                .int(expires_at),
            ])
            .await
            .map(|_| ())
    }

    async fn transaction(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = self
            .fetch_optional_kept(
                sqlx::query_as(
                    "SELECT request FROM login_transactions WHERE id_hash = $1 AND expires_at > $2",
                )
                .bind(id_hash)
                .bind(now),
            )
            .await?;
        Ok(row.map(|(r,)| r))
    }

    async fn purge_sessions(
        &self,
        created_before: i64,
        idle_before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let _writer = self.writer().await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE created_at < $1 OR last_seen < $2")
            .bind(created_before)
            .bind(idle_before)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        let mut total = sessions;
        for table in ["login_transactions", "authorization_codes"] {
            total += sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        Ok(total)
    }
}
