//! The tokens area: refresh tokens, stored hashed, in families; rotation admits one successor
//! per token (a unique constraint), and revocation deletes a whole family.

use async_trait::async_trait;

use super::rows::{RefreshWithUserRow, USER_COLUMNS};
use super::writer::Stmt;
use super::{SqlStore, backend};
use crate::domain::store::{RefreshToken, StoreError, TokenStore};
use crate::domain::user::User;

#[async_trait]
impl TokenStore for SqlStore {
    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, \
                     scope, audience, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .text(t.token_hash.clone())
                .text(t.family_id.clone())
                .text(t.client_id.clone())
                .text(t.user_id.clone())
                .text(t.scope.clone())
                .text(t.audience.clone())
                .int(t.created_at)
                .int(t.expires_at),
            ])
            .await
            .map(|_| ())
    }

    async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshToken, User)>, StoreError> {
        // A token is used once a child names it. The user's columns do not clash with the
        // token's, so USER_COLUMNS needs no table prefix here.
        let sql = format!(
            "SELECT t.token_hash, t.family_id, t.client_id, t.user_id, t.scope, t.audience, \
             t.created_at, t.expires_at, c.created_at AS used_at, {USER_COLUMNS} \
             FROM refresh_tokens t JOIN users ON users.id = t.user_id \
             LEFT JOIN refresh_tokens c ON c.parent_hash = t.token_hash \
             WHERE t.token_hash = $1"
        );
        let row = self
            .fetch_optional_kept(sqlx::query_as::<_, RefreshWithUserRow>(&sql).bind(token_hash))
            .await?;
        Ok(row.map(|r| (r.token.into(), r.user.into())))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        // One statement: the child inherits the family; the unique parent_hash admits one
        // child per token, so a concurrent or repeated rotation fails here.
        let inserted = self
            .writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO refresh_tokens (token_hash, parent_hash, family_id, client_id, \
                     user_id, scope, audience, created_at, expires_at) \
                     SELECT $2, token_hash, family_id, client_id, user_id, scope, audience, $3, \
                     expires_at FROM refresh_tokens WHERE token_hash = $1",
                )
                .text(old_hash.to_owned())
                .text(new_hash.to_owned())
                .int(now),
            ])
            .await;
        match inserted {
            Ok(rows) => Ok(rows.first() == Some(&1)),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn revoke_refresh_family(&self, family_id: &str) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new("DELETE FROM refresh_tokens WHERE family_id = $1")
                    .text(family_id.to_owned()),
            ])
            .await
            .map(|_| ())
    }

    async fn purge_refresh_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let _writer = self.writer().await?;
        // A family's tokens share its expiry, so whole families go (children by cascade too).
        sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(backend)
    }
}
