//! The keys area: RS256 signing keys, one active at a time (a unique constraint), rotated in a
//! transaction.

use async_trait::async_trait;

use super::rows::SigningKeyRow;
use super::{SqlStore, backend};
use crate::domain::keys::SigningKey;
use crate::domain::store::{KeyStore, StoreError};

#[async_trait]
impl KeyStore for SqlStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(
            "SELECT kid, private_pem, public_jwk, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter().map(SigningKeyRow::decode).collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError> {
        let _writer = self.writer().await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, private_pem, public_jwk, active, created_at) \
             VALUES ($1, $2, $3, 1, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.private_pem)
        .bind(key.public_jwk.to_string())
        .bind(key.created_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn rotate_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        let _writer = self.writer().await?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("UPDATE signing_keys SET active = NULL, retired_at = $1 WHERE active = 1")
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pem, public_jwk, active, created_at) \
             VALUES ($1, $2, $3, 1, $4)",
        )
        .bind(&key.kid)
        .bind(&key.private_pem)
        .bind(key.public_jwk.to_string())
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}
