//! The codes area: authorization codes, stored hashed; the one exchange that marks a code used
//! wins, so a code cannot be redeemed twice even by concurrent requests.

use async_trait::async_trait;

use super::SqlStore;
use super::rows::{CODE_COLUMNS, CodeWithUserRow, USER_COLUMNS};
use super::writer::Stmt;
use crate::domain::store::{AuthorizationCode, CodeStore, Redeemed, StoreError};

/// The statement that stores a code (a login on a page stores it with its session).
pub(super) fn insert_code(c: &AuthorizationCode) -> Stmt {
    Stmt::new(
        "INSERT INTO authorization_codes (code_hash, client_id, user_id, session_hash, \
         redirect_uri, code_challenge, scope, audience, nonce, auth_time, sid, family_id, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .text(c.code_hash.clone())
    .text(c.client_id.clone())
    .text(c.user_id.clone())
    .text(c.session_hash.clone())
    .text(c.redirect_uri.clone())
    .text(c.code_challenge.clone())
    .text(c.scope.clone())
    .text(c.audience.clone())
    .text(c.nonce.clone())
    .int(c.auth_time)
    .text(c.sid.clone())
    .text(c.family_id.clone())
    .int(c.expires_at)
}

#[async_trait]
impl CodeStore for SqlStore {
    async fn insert_code(&self, c: &AuthorizationCode) -> Result<(), StoreError> {
        self.writes.run(vec![insert_code(c)]).await.map(|_| ())
    }

    async fn redeem_code(&self, code_hash: &str, now: i64) -> Result<Redeemed, StoreError> {
        let marked = self
            .writes
            .run(vec![
                Stmt::new(
                    "UPDATE authorization_codes SET used_at = $2 \
                     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .text(code_hash.to_owned())
                .int(now),
            ])
            .await?;
        let sql = format!(
            "SELECT {CODE_COLUMNS}, {USER_COLUMNS} FROM authorization_codes a \
             JOIN users ON users.id = a.user_id WHERE a.code_hash = $1"
        );
        let row = self
            .fetch_optional_kept(sqlx::query_as::<_, CodeWithUserRow>(&sql).bind(code_hash))
            .await?;
        Ok(match row {
            Some(r) if marked.first() == Some(&1) => {
                Redeemed::First(Box::new((r.code.into(), r.user.into())))
            }
            Some(r) if r.code.used_at.is_some() => Redeemed::Replayed(Box::new(r.code.into())),
            _ => Redeemed::Invalid,
        })
    }
}
