//! The roles area: roles (a unique name each) and who holds them.

use async_trait::async_trait;
use sqlx::Row;

use super::import::{FULL_USER_COLUMNS, full_user};
use super::writer::Stmt;
use super::{SqlStore, backend};
use crate::domain::store::{ExportedUser, Role, RoleStore, StoreError};

fn role(r: &sqlx::any::AnyRow) -> Result<Role, StoreError> {
    Ok(Role {
        id: r.try_get("id").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        description: r.try_get("description").map_err(backend)?,
    })
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query("SELECT id, name, description FROM roles ORDER BY name, id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(role).collect()
    }

    async fn role(&self, id: &str) -> Result<Option<Role>, StoreError> {
        let row = sqlx::query("SELECT id, name, description FROM roles WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(role).transpose()
    }

    async fn insert_role(&self, r: &Role, now: i64) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO roles (id, name, description, created_at) VALUES ($1, $2, $3, $4)",
                )
                .text(r.id.clone())
                .text(r.name.clone())
                .text(r.description.clone())
                .int(now),
            ])
            .await
            .map(|_| ())
    }

    async fn update_role(&self, r: &Role) -> Result<bool, StoreError> {
        let changed = self
            .writes
            .run(vec![
                Stmt::new("UPDATE roles SET name = $2, description = $3 WHERE id = $1")
                    .text(r.id.clone())
                    .text(r.name.clone())
                    .text(r.description.clone()),
            ])
            .await?;
        Ok(changed.first().copied().unwrap_or(0) > 0)
    }

    async fn delete_role(&self, id: &str) -> Result<bool, StoreError> {
        // Holders go with it (foreign key).
        let changed = self
            .writes
            .run(vec![
                Stmt::new("DELETE FROM roles WHERE id = $1").text(id.to_owned()),
            ])
            .await?;
        Ok(changed.first().copied().unwrap_or(0) > 0)
    }

    async fn role_members(
        &self,
        role_id: &str,
        from: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ExportedUser>, i64), StoreError> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE role_id = $1")
            .bind(role_id)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        let sql = format!(
            "SELECT {FULL_USER_COLUMNS} FROM users WHERE id IN \
             (SELECT user_id FROM user_roles WHERE role_id = $1) AND id >= $4 \
             ORDER BY id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(role_id)
            .bind(limit)
            .bind(offset)
            .bind(from.unwrap_or(""))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let users = rows.iter().map(full_user).collect::<Result<_, _>>()?;
        Ok((users, total))
    }

    async fn roles_of_user(&self, user_id: &str) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, description FROM roles WHERE id IN \
             (SELECT role_id FROM user_roles WHERE user_id = $1) ORDER BY name, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(role).collect()
    }

    async fn grant_roles(&self, users: &[String], roles: &[String]) -> Result<(), StoreError> {
        let mut stmts = Vec::with_capacity(users.len() * roles.len());
        for u in users {
            for r in roles {
                stmts.push(
                    Stmt::new(
                        "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) \
                         ON CONFLICT (user_id, role_id) DO NOTHING",
                    )
                    .text(u.clone())
                    .text(r.clone()),
                );
            }
        }
        if stmts.is_empty() {
            return Ok(());
        }
        self.writes.run(stmts).await.map(|_| ())
    }

    async fn revoke_roles(&self, user_id: &str, roles: &[String]) -> Result<(), StoreError> {
        let stmts: Vec<Stmt> = roles
            .iter()
            .map(|r| {
                Stmt::new("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
                    .text(user_id.to_owned())
                    .text(r.clone())
            })
            .collect();
        if stmts.is_empty() {
            return Ok(());
        }
        self.writes.run(stmts).await.map(|_| ())
    }
}
