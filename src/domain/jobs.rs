//! Management API jobs: creating users-imports and users-exports (who may, what they name),
//! their Auth0-shaped views, their errors and an export's file. Running them is the
//! migration runner's (`crate::migration::run_jobs`), on one instance at a time.

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::{Value, json};

use super::Services;
use super::claims::iso_millis;
use super::management::{ManagementError, authorize_any};
use super::store::Job;
use super::tenant::connection_id;

/// Scopes that may create an import (Auth0 takes either).
pub const IMPORT_SCOPES: &[&str] = &["create:users", "create:users_imports"];
/// Scopes that may read a job.
pub const READ_JOB_SCOPES: &[&str] = &["read:users", "create:users", "create:users_imports"];
/// Scopes that may create an export.
pub const EXPORT_SCOPES: &[&str] = &["read:users"];

pub(super) fn job_id() -> String {
    let s: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    format!("job_{s}")
}

/// A users-imports request as the edge parsed it.
#[derive(Debug)]
pub struct ImportRequest {
    pub connection_id: String,
    pub upsert: bool,
    pub external_id: Option<String>,
    pub file: Vec<u8>,
}

/// A users-exports request as the edge parsed it.
#[derive(Debug, Default)]
pub struct ExportRequest {
    pub connection_id: Option<String>,
    /// `json` (NDJSON, Auth0's name) or `csv`.
    pub format: String,
    /// `[{name, export_as?}]`.
    pub fields: Option<Vec<Value>>,
    pub limit: Option<u64>,
}

pub(super) async fn connection_named_by(
    ctx: &Services,
    id: &str,
) -> Result<String, ManagementError> {
    ctx.store
        .connections()
        .await?
        .iter()
        .find(|c| c.id() == id)
        .map(|c| c.name.clone())
        .ok_or(ManagementError::UnknownConnection)
}

/// `POST /api/v2/jobs/users-imports`.
pub async fn create_import(
    ctx: &Services,
    token: Option<&str>,
    req: ImportRequest,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, IMPORT_SCOPES).await?;
    let connection = connection_named_by(ctx, &req.connection_id).await?;
    let now = ctx.clock.now_millis();
    let job = Job {
        id: job_id(),
        kind: "users_import".into(),
        status: "pending".into(),
        connection: Some(connection),
        upsert: req.upsert,
        external_id: req.external_id,
        format: None,
        options: None,
        summary: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_job(&job, Some(req.file)).await?;
    tracing::info!(job_id = %job.id, "users import queued");
    Ok(view(ctx, &job))
}

/// `POST /api/v2/jobs/users-exports`.
pub async fn create_export(
    ctx: &Services,
    token: Option<&str>,
    req: ExportRequest,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, EXPORT_SCOPES).await?;
    let connection = match &req.connection_id {
        Some(id) => Some(connection_named_by(ctx, id).await?),
        None => None,
    };
    if req.format != "json" && req.format != "csv" {
        return Err(ManagementError::Invalid(format!(
            "Payload validation error: 'No enum match for: \"{}\"' on property format (The format of the file. Must be json or csv.).",
            req.format
        )));
    }
    let now = ctx.clock.now_millis();
    let job = Job {
        id: job_id(),
        kind: "users_export".into(),
        status: "pending".into(),
        connection,
        upsert: false,
        external_id: None,
        format: Some(req.format),
        options: Some(json!({"fields": req.fields, "limit": req.limit}).to_string()),
        summary: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_job(&job, None).await?;
    tracing::info!(job_id = %job.id, "users export queued");
    Ok(view(ctx, &job))
}

/// A job as Auth0 shows it.
pub fn view(ctx: &Services, job: &Job) -> Value {
    let mut v = json!({"type": job.kind, "status": job.status, "created_at": iso_millis(job.created_at), "id": job.id});
    if let Some(c) = &job.connection {
        v["connection_id"] = Value::String(connection_id(c));
        v["connection"] = Value::String(c.clone());
    }
    if let Some(e) = &job.external_id {
        v["external_id"] = Value::String(e.clone());
    }
    if job.kind == "users_import" {
        v["upsert"] = Value::Bool(job.upsert);
    }
    if let Some(f) = &job.format {
        v["format"] = Value::String(f.clone());
        let options: Value = job
            .options
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null);
        for key in ["fields", "limit"] {
            if !options[key].is_null() {
                v[key] = options[key].clone();
            }
        }
    }
    if let Some(s) = job
        .summary
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    {
        v["summary"] = s;
    }
    if job.kind == "users_export" && job.status == "completed" {
        v["location"] = Value::String(format!("{}api/v2/jobs/{}/download", ctx.issuer, job.id));
    }
    if let Some(e) = &job.error {
        v["error"] = Value::String(e.clone());
    }
    v
}

/// `GET /api/v2/jobs/{id}`.
pub async fn get(ctx: &Services, token: Option<&str>, id: &str) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_JOB_SCOPES).await?;
    let job = ctx
        .store
        .job(id)
        .await?
        .ok_or(ManagementError::UnknownJob)?;
    Ok(view(ctx, &job))
}

/// `GET /api/v2/jobs/{id}/errors`: the refused users of an import (an empty array while it
/// runs, or when there are none).
pub async fn errors(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_JOB_SCOPES).await?;
    let errors = ctx
        .store
        .job_errors(id)
        .await?
        .ok_or(ManagementError::UnknownJob)?;
    Ok(errors
        .and_then(|e| serde_json::from_str(&e).ok())
        .unwrap_or_else(|| json!([])))
}

/// `GET /api/v2/jobs/{id}/download`: a completed export's gzipped file.
pub async fn download(
    ctx: &Services,
    token: Option<&str>,
    id: &str,
) -> Result<(Job, Vec<u8>), ManagementError> {
    authorize_any(ctx, token, EXPORT_SCOPES).await?;
    let job = ctx
        .store
        .job(id)
        .await?
        .ok_or(ManagementError::UnknownJob)?;
    let bytes = ctx
        .store
        .job_output(id)
        .await?
        .ok_or(ManagementError::UnknownJob)?;
    Ok((job, bytes))
}
