//! The users area: creating users (their password history kept by a trigger), finding them
//! by identifier or id, brute-force attempt counters, and what a login records.

use async_trait::async_trait;

use super::rows::{USER_COLUMNS, UserRow};
use super::writer::Stmt;
use super::{SqlStore, backend, corrupt};
use crate::domain::store::{AttemptKey, RecordedLogin, StoreError, UserStore};
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

    async fn reserve_login_attempt(
        &self,
        key: &AttemptKey,
        now: i64,
        stale_before: i64,
        max: i64,
    ) -> Result<i64, StoreError> {
        // One statement: the reservation and the read cannot be split by a concurrent one.
        let counts = self
            .writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO login_attempts (connection, identifier, ip, attempts, pending, \
                     updated_at) VALUES ($1, $2, $3, 0, 1, $4) \
                     ON CONFLICT (connection, identifier, ip) DO UPDATE SET pending = CASE \
                     WHEN login_attempts.updated_at < $5 THEN 1 \
                     ELSE login_attempts.pending + 1 END, updated_at = excluded.updated_at \
                     RETURNING CASE WHEN attempts >= $6 THEN -1 ELSE attempts + pending END",
                )
                .text(key.connection.clone())
                .text(key.identifier.clone())
                .text(key.ip.clone())
                .int(now)
                .int(stale_before)
                .int(max)
                .returning(),
            ])
            .await?;
        counts
            .first()
            .copied()
            .ok_or_else(|| super::stopped("no attempt count returned"))
    }

    async fn release_login_attempt(&self, key: &AttemptKey) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "UPDATE login_attempts SET pending = CASE WHEN pending > 0 THEN pending - 1 \
                     ELSE 0 END WHERE connection = $1 AND identifier = $2 AND ip = $3",
                )
                .text(key.connection.clone())
                .text(key.identifier.clone())
                .text(key.ip.clone()),
            ])
            .await
            .map(|_| ())
    }

    async fn record_login_failure(&self, key: &AttemptKey, now: i64) -> Result<(), StoreError> {
        // An upsert: a success elsewhere may have deleted the row meanwhile.
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO login_attempts (connection, identifier, ip, attempts, pending, \
                     updated_at) VALUES ($1, $2, $3, 1, 0, $4) \
                     ON CONFLICT (connection, identifier, ip) DO UPDATE SET \
                     attempts = login_attempts.attempts + 1, pending = CASE \
                     WHEN login_attempts.pending > 0 THEN login_attempts.pending - 1 ELSE 0 END, \
                     updated_at = excluded.updated_at",
                )
                .text(key.connection.clone())
                .text(key.identifier.clone())
                .text(key.ip.clone())
                .int(now),
            ])
            .await
            .map(|_| ())
    }

    async fn record_login(
        &self,
        login: &RecordedLogin<'_>,
        attempts: &AttemptKey,
    ) -> Result<(), StoreError> {
        let mut stmts = vec![
            Stmt::new(
                "UPDATE users SET logins_count = logins_count + 1, last_login = $2, \
                 last_ip = $3 WHERE id = $1",
            )
            .text(login.user_id.to_owned())
            .int(login.now)
            .text(login.ip.to_owned()),
            Stmt::new(
                "DELETE FROM login_attempts \
                 WHERE connection = $1 AND identifier = $2 AND ip = $3",
            )
            .text(attempts.connection.clone())
            .text(attempts.identifier.clone())
            .text(attempts.ip.clone()),
        ];
        if let Some((old, new)) = login.rehash {
            // The history trigger appends the new hash; the old one, of the same password,
            // goes, so the history still holds one entry per password. Guarded by the old
            // value: a password changed meanwhile is not overwritten.
            stmts.push(
                Stmt::new(
                    "UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3",
                )
                .text(login.user_id.to_owned())
                .text(new.to_owned())
                .text(old.to_owned()),
            );
            stmts.push(
                Stmt::new(
                    "DELETE FROM password_history WHERE user_id = $1 AND password_hash = $2 \
                     AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND password_hash = $3)",
                )
                .text(login.user_id.to_owned())
                .text(old.to_owned())
                .text(new.to_owned()),
            );
        }
        self.writes.run(stmts).await.map(|_| ())
    }

    async fn password_hash_classes(&self) -> Result<Vec<(String, i64)>, StoreError> {
        // A PHC string of ours ends with `$<salt: 22>$<output: 43>`; what precedes is its
        // algorithm, version and parameters. Imported hashes (each unique) are not read.
        sqlx::query_as(
            "SELECT substr(password_hash, 1, length(password_hash) - 67), COUNT(*) FROM users \
             WHERE password_hash LIKE '$argon2id$%' AND length(password_hash) > 67 \
             GROUP BY substr(password_hash, 1, length(password_hash) - 67)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
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
