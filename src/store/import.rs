//! The import area: users written in bulk (one transaction per call, multi-row inserts that
//! skip conflicts, then upserts by email for the rest) and read back in id order for export.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::Row;

use super::{SqlStore, backend, corrupt};
use crate::domain::migration::{ImportProblem, ImportUser, Outcome};
use crate::domain::store::{ExportedUser, ImportStore, StoreError};

/// Rows per INSERT statement (16 parameters each): SQLite's cost per parameter grows with the
/// statement's (see `Dialect::anonymous_params`); PostgreSQL's does not, and each statement is
/// a round trip.
const ROWS_PER_STATEMENT: usize = 100;
const ROWS_PER_STATEMENT_POSTGRES: usize = 1_000;
const COLUMNS: &str = "id, connection, email, username, email_verified, given_name, \
     family_name, name, nickname, picture, user_metadata, app_metadata, password_hash, \
     blocked, created_at, updated_at";
const PARAMS: usize = 16;

fn json(m: &Option<serde_json::Map<String, serde_json::Value>>) -> Option<String> {
    m.as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_else(|_| "{}".into()))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_user<'q>(q: AnyQuery<'q>, connection: &str, u: &ImportUser, now: i64) -> AnyQuery<'q> {
    q.bind(u.id.clone())
        .bind(connection.to_owned())
        .bind(u.email.clone())
        .bind(u.username.clone())
        .bind(u.email_verified)
        .bind(u.given_name.clone())
        .bind(u.family_name.clone())
        .bind(u.name.clone())
        .bind(u.nickname.clone())
        .bind(u.picture.clone())
        .bind(json(&u.user_metadata).unwrap_or_else(|| "{}".into()))
        .bind(json(&u.app_metadata).unwrap_or_else(|| "{}".into()))
        .bind(u.password_hash.clone())
        .bind(u.blocked)
        .bind(now)
        .bind(now)
}

/// The VALUES rows of a bulk insert, with the dialect's placeholders.
fn values(rows: usize, anonymous: bool) -> String {
    (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=PARAMS)
                .map(|c| {
                    if anonymous {
                        "?".to_owned()
                    } else {
                        format!("${}", r * PARAMS + c)
                    }
                })
                .collect();
            format!("({})", p.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl ImportStore for SqlStore {
    async fn import_users(
        &self,
        connection: &str,
        users: &[ImportUser],
        upsert: bool,
        now: i64,
    ) -> Result<Vec<Outcome>, StoreError> {
        let _writer = self.writer().await?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // A record that repeats an id, email or username of an earlier one in this call waits
        // for the second pass, so that each returned id names one record.
        let (mut ids, mut emails, mut names) = (HashSet::new(), HashSet::new(), HashSet::new());
        let first: Vec<bool> = users
            .iter()
            .map(|u| {
                let fresh = !ids.contains(&u.id)
                    && !emails.contains(&u.email)
                    && u.username.as_ref().is_none_or(|n| !names.contains(n));
                ids.insert(u.id.clone());
                emails.insert(u.email.clone());
                if let Some(n) = &u.username {
                    names.insert(n.clone());
                }
                fresh
            })
            .collect();
        let mut inserted = HashSet::new();
        let batch: Vec<&ImportUser> = users
            .iter()
            .zip(&first)
            .filter(|(_, f)| **f)
            .map(|(u, _)| u)
            .collect();
        let rows = if self.anonymous_params {
            ROWS_PER_STATEMENT
        } else {
            ROWS_PER_STATEMENT_POSTGRES
        };
        for chunk in batch.chunks(rows) {
            let sql = format!(
                "INSERT INTO users ({COLUMNS}) VALUES {} ON CONFLICT DO NOTHING RETURNING id",
                values(chunk.len(), self.anonymous_params)
            );
            let mut q = sqlx::query(&sql);
            for u in chunk {
                q = bind_user(q, connection, u, now);
            }
            for row in q.fetch_all(&mut *tx).await.map_err(backend)? {
                inserted.insert(row.try_get::<String, _>(0).map_err(backend)?);
            }
        }
        let mut outcomes = Vec::with_capacity(users.len());
        for (u, first) in users.iter().zip(first) {
            if first && inserted.contains(&u.id) {
                outcomes.push(Outcome::Inserted);
                continue;
            }
            if !first {
                let sql = format!(
                    "INSERT INTO users ({COLUMNS}) VALUES {} ON CONFLICT DO NOTHING RETURNING id",
                    values(1, self.anonymous_params)
                );
                let row = bind_user(sqlx::query(&sql), connection, u, now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                if row.is_some() {
                    outcomes.push(Outcome::Inserted);
                    continue;
                }
            }
            if !upsert {
                outcomes.push(Outcome::Refused(ImportProblem::duplicate()));
                continue;
            }
            // Upsert, by email: the fields the record carries, never blocked, email, user_id,
            // username or a bcrypt password_hash; a custom hash only while the stored one is
            // still an imported hash (never used to log in: a login re-hashes it).
            let p = &u.present;
            let updated = sqlx::query(
                "UPDATE users SET \
                 app_metadata = COALESCE($3, app_metadata), \
                 user_metadata = COALESCE($4, user_metadata), \
                 email_verified = CASE WHEN $5 THEN $6 ELSE email_verified END, \
                 given_name = CASE WHEN $7 THEN $8 ELSE given_name END, \
                 family_name = CASE WHEN $9 THEN $10 ELSE family_name END, \
                 name = CASE WHEN $11 THEN $12 ELSE name END, \
                 nickname = CASE WHEN $13 THEN $14 ELSE nickname END, \
                 picture = CASE WHEN $15 THEN $16 ELSE picture END, \
                 password_hash = CASE WHEN $17 AND password_hash NOT LIKE '$argon2id$%' \
                     THEN $18 ELSE password_hash END, \
                 updated_at = $19 \
                 WHERE connection = $1 AND email = $2",
            )
            .bind(connection.to_owned())
            .bind(u.email.clone())
            .bind(json(&u.app_metadata))
            .bind(json(&u.user_metadata))
            .bind(p.email_verified)
            .bind(u.email_verified)
            .bind(p.given_name)
            .bind(u.given_name.clone())
            .bind(p.family_name)
            .bind(u.family_name.clone())
            .bind(p.name)
            .bind(u.name.clone())
            .bind(p.nickname)
            .bind(u.nickname.clone())
            .bind(p.picture)
            .bind(u.picture.clone())
            .bind(u.custom_hash)
            .bind(u.password_hash.clone())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
            outcomes.push(if updated == 1 {
                Outcome::Updated
            } else {
                Outcome::Refused(ImportProblem::conflict())
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(outcomes)
    }

    async fn export_users(
        &self,
        connection: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ExportedUser>, StoreError> {
        let sql = format!(
            "SELECT {FULL_USER_COLUMNS} FROM users WHERE (CAST($1 AS TEXT) IS NULL OR \
             connection = $1) AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(connection)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(full_user).collect()
    }
}

/// Every column of a user as `full_user` reads them.
pub(super) const FULL_USER_COLUMNS: &str = "id, connection, email, username, \
     CAST(CASE WHEN email_verified THEN 1 ELSE 0 END AS BIGINT) AS email_verified, \
     given_name, family_name, name, nickname, picture, user_metadata, app_metadata, \
     password_hash, CAST(CASE WHEN blocked THEN 1 ELSE 0 END AS BIGINT) AS blocked, \
     created_at, updated_at, last_login, logins_count, last_password_reset, last_ip";

/// A row of `FULL_USER_COLUMNS`.
pub(super) fn full_user(r: &sqlx::any::AnyRow) -> Result<ExportedUser, StoreError> {
    let meta = |c: &str| -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        let text: String = r.try_get(c).map_err(backend)?;
        serde_json::from_str(&text).map_err(corrupt)
    };
    Ok(ExportedUser {
        id: r.try_get("id").map_err(backend)?,
        connection: r.try_get("connection").map_err(backend)?,
        email: r.try_get("email").map_err(backend)?,
        username: r.try_get("username").map_err(backend)?,
        email_verified: r.try_get::<i64, _>("email_verified").map_err(backend)? != 0,
        given_name: r.try_get("given_name").map_err(backend)?,
        family_name: r.try_get("family_name").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        nickname: r.try_get("nickname").map_err(backend)?,
        picture: r.try_get("picture").map_err(backend)?,
        user_metadata: meta("user_metadata")?,
        app_metadata: meta("app_metadata")?,
        password_hash: r.try_get("password_hash").map_err(backend)?,
        blocked: r.try_get::<i64, _>("blocked").map_err(backend)? != 0,
        created_at: r.try_get("created_at").map_err(backend)?,
        updated_at: r.try_get("updated_at").map_err(backend)?,
        last_login: r.try_get("last_login").map_err(backend)?,
        logins_count: r.try_get("logins_count").map_err(backend)?,
        last_password_reset: r.try_get("last_password_reset").map_err(backend)?,
        last_ip: r.try_get("last_ip").map_err(backend)?,
    })
}
