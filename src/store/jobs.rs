//! The jobs area: Management API jobs with their input and output in the row, claimed by one
//! instance at a time through a guarded update (as the outbox's messages are).

use async_trait::async_trait;
use sqlx::Row;

use super::{SqlStore, backend};
use crate::domain::store::{Job, JobResult, JobStore, StoreError};

const JOB_COLUMNS: &str = "id, kind, status, connection, \
     CAST(CASE WHEN upsert THEN 1 ELSE 0 END AS BIGINT) AS upsert, external_id, format, options, \
     summary, error, created_at, updated_at";

fn job(r: &sqlx::any::AnyRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: r.try_get("id").map_err(backend)?,
        kind: r.try_get("kind").map_err(backend)?,
        status: r.try_get("status").map_err(backend)?,
        connection: r.try_get("connection").map_err(backend)?,
        upsert: r.try_get::<i64, _>("upsert").map_err(backend)? != 0,
        external_id: r.try_get("external_id").map_err(backend)?,
        format: r.try_get("format").map_err(backend)?,
        options: r.try_get("options").map_err(backend)?,
        summary: r.try_get("summary").map_err(backend)?,
        error: r.try_get("error").map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
        updated_at: r.try_get("updated_at").map_err(backend)?,
    })
}

#[async_trait]
impl JobStore for SqlStore {
    async fn insert_job(&self, j: &Job, input: Option<Vec<u8>>) -> Result<(), StoreError> {
        let _writer = self.writer().await?;
        sqlx::query(
            "INSERT INTO jobs (id, kind, status, connection, upsert, external_id, format, \
             options, input, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(j.id.clone())
        .bind(j.kind.clone())
        .bind(j.status.clone())
        .bind(j.connection.clone())
        .bind(j.upsert)
        .bind(j.external_id.clone())
        .bind(j.format.clone())
        .bind(j.options.clone())
        .bind(input)
        .bind(j.created_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(job).transpose()
    }

    async fn job_errors(&self, id: &str) -> Result<Option<Option<String>>, StoreError> {
        let row = sqlx::query("SELECT errors FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| r.try_get::<Option<String>, _>(0).map_err(backend))
            .transpose()
    }

    async fn job_output(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT output FROM jobs WHERE id = $1 AND status = 'completed'")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row
            .map(|r| r.try_get::<Option<Vec<u8>>, _>(0).map_err(backend))
            .transpose()?
            .flatten())
    }

    async fn claim_job(
        &self,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<(Job, Option<Vec<u8>>)>, StoreError> {
        let _writer = self.writer().await?;
        // The outer WHERE repeats the condition: of two instances claiming at once, the one
        // that waited (PostgreSQL re-checks the row after the winner's commit) updates nothing.
        let free = "(status = 'pending' OR (status = 'processing' AND claimed_until <= $1))";
        let sql = format!(
            "UPDATE jobs SET status = 'processing', claimed_until = $2, updated_at = $1 \
             WHERE id = (SELECT id FROM jobs WHERE {free} ORDER BY created_at LIMIT 1) \
             AND {free} RETURNING {JOB_COLUMNS}, input"
        );
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(now + lease_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let input: Option<Vec<u8>> = r.try_get("input").map_err(backend)?;
                Ok(Some((job(&r)?, input)))
            }
        }
    }

    async fn finish_job(&self, id: &str, r: JobResult, now: i64) -> Result<(), StoreError> {
        let _writer = self.writer().await?;
        // The input is no longer needed once the job has run.
        sqlx::query(
            "UPDATE jobs SET status = $2, summary = $3, errors = $4, output = $5, error = $6, \
             input = NULL, claimed_until = NULL, updated_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(r.status)
        .bind(r.summary)
        .bind(r.errors)
        .bind(r.output)
        .bind(r.error)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}
