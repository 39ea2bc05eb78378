//! The users area: creating users (their password history kept by a trigger), finding them
//! by identifier or id, brute-force attempt counters, and what a login records.

use async_trait::async_trait;

use super::rows::{USER_COLUMNS, UserRow};
use super::writer::Stmt;
use super::{SqlStore, backend, corrupt};
use crate::domain::store::{AttemptKey, StoreError, UserStore};
use crate::domain::user::{NewUser, User};

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &NewUser) -> Result<(), StoreError> {
        let metadata = serde_json::to_string(&user.user_metadata).map_err(corrupt)?;
        // One statement, answered once committed; a trigger appends the password history
        // entry within it (see migrations).
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO users (id, connection, email, username, email_verified, \
                     given_name, family_name, name, nickname, picture, user_metadata, \
                     password_hash, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
                )
                .text(user.id.clone())
                .text(user.connection.clone())
                .text(user.email.clone())
                .text(user.username.clone())
                .boolean(user.email_verified)
                .text(user.profile.given_name.clone())
                .text(user.profile.family_name.clone())
                .text(user.profile.name.clone())
                .text(user.profile.nickname.clone())
                .text(user.profile.picture.clone())
                .text(metadata)
                .text(user.password_hash.clone())
                .int(user.created_at),
            ])
            .await
            .map(|_| ())
    }

    async fn user_by_identifier(
        &self,
        connection: &str,
        identifier: &str,
    ) -> Result<Option<User>, StoreError> {
        // Usernames are NULL on connections without them; an email match wins over a username.
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE connection = $1 \
             AND (email = $2 OR username = $2) \
             ORDER BY CASE WHEN email = $2 THEN 0 ELSE 1 END LIMIT 1"
        );
        let query = sqlx::query_as::<_, UserRow>(&sql)
            .bind(connection)
            .bind(identifier);
        Ok(self.fetch_optional_kept(query).await?.map(User::from))
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.users.user_by_id(id).await
    }

    async fn count_login_attempt(&self, key: &AttemptKey, now: i64) -> Result<i64, StoreError> {
        // One statement: the increment and the read cannot be split by a concurrent attempt.
        let counts = self
            .writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO login_attempts (connection, identifier, ip, attempts, updated_at) \
                     VALUES ($1, $2, $3, 1, $4) ON CONFLICT (connection, identifier, ip) DO UPDATE \
                     SET attempts = login_attempts.attempts + 1, updated_at = excluded.updated_at \
                     RETURNING attempts",
                )
                .text(key.connection.clone())
                .text(key.identifier.clone())
                .text(key.ip.clone())
                .int(now)
                .returning(),
            ])
            .await?;
        counts
            .first()
            .copied()
            .ok_or_else(|| super::stopped("no attempt count returned"))
    }

    async fn record_login(
        &self,
        user_id: &str,
        ip: &str,
        now: i64,
        attempts: &AttemptKey,
    ) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "UPDATE users SET logins_count = logins_count + 1, last_login = $2, \
                     last_ip = $3 WHERE id = $1",
                )
                .text(user_id.to_owned())
                .int(now)
                .text(ip.to_owned()),
                Stmt::new(
                    "DELETE FROM login_attempts \
                     WHERE connection = $1 AND identifier = $2 AND ip = $3",
                )
                .text(attempts.connection.clone())
                .text(attempts.identifier.clone())
                .text(attempts.ip.clone()),
            ])
            .await
            .map(|_| ())
    }

    async fn purge_attempts(&self, idle_before: i64, keep_from: i64) -> Result<u64, StoreError> {
        let _writer = self.writer().await?;
        sqlx::query("DELETE FROM login_attempts WHERE attempts < $1 AND updated_at < $2")
            .bind(keep_from)
            .bind(idle_before)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(backend)
    }
}
