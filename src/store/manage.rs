//! The Management area: users read whole, searched (a parsed `q` compiled to parameterised
//! SQL: only column names chosen from a fixed list and `$N` placeholders are ever written into
//! the statement), created with app metadata, updated and deleted; brute-force blocks read
//! and lifted.

use async_trait::async_trait;
use sqlx::Row;

use super::import::{FULL_USER_COLUMNS, full_user};
use super::writer::Stmt;
use super::{SqlStore, backend, corrupt};
use crate::domain::search::{Column, Cond, Query, Sort, Target};
use crate::domain::store::{ExportedUser, ManageStore, StoreError, Updated, UserUpdate};
use crate::domain::user::NewUser;

/// What differs between the databases in a compiled search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SearchDialect {
    /// Metadata through `json_type`/`json_extract`; case-sensitive wildcards with `GLOB`
    /// (SQLite's `LIKE` ignores ASCII case).
    Sqlite,
    /// Metadata through `jsonb #>>`; `LIKE` is case-sensitive.
    Postgres,
}

#[derive(Debug, Clone)]
pub(super) enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A WHERE clause being built, with its arguments.
pub(super) struct Sql {
    pub(super) dialect: SearchDialect,
    pub(super) text: String,
    pub(super) args: Vec<Arg>,
    /// `app_metadata` paths with an expression index (`indexed_app_metadata`).
    pub(super) indexed: Vec<String>,
}

/// The SQL of an indexed `app_metadata` path, exactly as its index and the searches using it
/// write it. `path` is checked by `indexable_path` (tenant-file configuration, never a
/// request's input), so it may be written into the statement.
pub(super) fn indexed_metadata(dialect: SearchDialect, path: &str) -> Option<String> {
    if !crate::domain::tenant::indexable_path(path) {
        return None;
    }
    Some(match dialect {
        SearchDialect::Sqlite => format!(
            "(CASE json_type(app_metadata, '$.{path}') WHEN 'true' THEN 'true' \
             WHEN 'false' THEN 'false' ELSE CAST(json_extract(app_metadata, '$.{path}') AS TEXT) END)"
        ),
        SearchDialect::Postgres => format!(
            "(CAST(app_metadata AS jsonb) #>> CAST('{{{}}}' AS text[]))",
            path.replace('.', ",")
        ),
    })
}

/// The name of the index of an `app_metadata` path.
pub(super) fn metadata_index_name(path: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(path.as_bytes());
    format!("users_app_metadata_{}", &hex::encode(digest)[..12])
}

impl Sql {
    pub(super) fn new(dialect: SearchDialect) -> Self {
        Self {
            dialect,
            text: String::new(),
            args: Vec::new(),
            indexed: Vec::new(),
        }
    }

    pub(super) fn param(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    pub(super) fn query(&mut self, q: &Query) {
        match q {
            Query::And(parts) | Query::Or(parts) => {
                let op = if matches!(q, Query::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                self.text.push('(');
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        self.text.push_str(op);
                    }
                    self.query(p);
                }
                self.text.push(')');
            }
            Query::Not(inner) => {
                // A user without the field matches `NOT field:x`, as in Lucene.
                self.text.push_str("NOT COALESCE(");
                self.query(inner);
                self.text.push_str(", FALSE)");
            }
            Query::Cond(c) => self.cond(c),
        }
    }

    /// The SQL of a text target: a column (folded ones through `lower`) or a metadata value.
    fn target(&mut self, t: &Target) -> String {
        match t {
            Target::Column(c) if c.folded() => format!("lower({})", c.sql()),
            Target::Column(c) => c.sql().to_owned(),
            Target::Metadata { app: true, path } if self.indexed.contains(&path.join(".")) => {
                match indexed_metadata(self.dialect, &path.join(".")) {
                    Some(sql) => sql,
                    None => self.bound_metadata(true, path),
                }
            }
            Target::Metadata { app, path } => self.bound_metadata(*app, path),
        }
    }

    /// A metadata value at a path given as a parameter (no index can serve it).
    fn bound_metadata(&mut self, app: bool, path: &[String]) -> String {
        let col = if app { "app_metadata" } else { "user_metadata" };
        match self.dialect {
            SearchDialect::Sqlite => {
                let p = format!("$.{}", path.join("."));
                let a = self.param(Arg::Text(p.clone()));
                let b = self.param(Arg::Text(p));
                format!(
                    "(CASE json_type({col}, {a}) WHEN 'true' THEN 'true' \
                     WHEN 'false' THEN 'false' ELSE CAST(json_extract({col}, {b}) AS TEXT) END)"
                )
            }
            SearchDialect::Postgres => {
                let p = format!("{{{}}}", path.join(","));
                let a = self.param(Arg::Text(p));
                format!("(CAST({col} AS jsonb) #>> CAST({a} AS text[]))")
            }
        }
    }

    fn cond(&mut self, c: &Cond) {
        let sql = match c {
            Cond::Eq(t, v) => {
                let lhs = self.target(t);
                let p = self.param(Arg::Text(v.clone()));
                format!("{lhs} = {p}")
            }
            Cond::Like(t, pattern) => {
                let case_insensitive = matches!(t, Target::Column(c) if c.folded()
                    || matches!(c, Column::Email | Column::Username));
                let lhs = self.target(t);
                if case_insensitive || self.dialect == SearchDialect::Postgres {
                    let p = self.param(Arg::Text(pattern.clone()));
                    format!("{lhs} LIKE {p} ESCAPE '\\'")
                } else {
                    let p = self.param(Arg::Text(glob(pattern)));
                    format!("{lhs} GLOB {p}")
                }
            }
            Cond::Bool(col, v) => {
                let p = self.param(Arg::Bool(*v));
                format!("{} = {p}", col.sql())
            }
            Cond::Range(col, lo, hi) => {
                let mut parts = Vec::new();
                if let Some(lo) = lo {
                    let p = self.param(Arg::Int(*lo));
                    parts.push(format!("{} >= {p}", col.sql()));
                }
                if let Some(hi) = hi {
                    let p = self.param(Arg::Int(*hi));
                    parts.push(format!("{} <= {p}", col.sql()));
                }
                if parts.is_empty() {
                    format!("{} IS NOT NULL", col.sql())
                } else {
                    parts.join(" AND ")
                }
            }
            Cond::Const(true) => "1 = 1".into(),
            Cond::Const(false) => "1 = 0".into(),
            Cond::Any(pattern) => {
                let p = self.param(Arg::Text(pattern.clone()));
                [
                    "email",
                    "username",
                    "lower(name)",
                    "lower(nickname)",
                    "lower(given_name)",
                    "lower(family_name)",
                ]
                .iter()
                .map(|c| format!("{c} LIKE {p} ESCAPE '\\'"))
                .collect::<Vec<_>>()
                .join(" OR ")
            }
        };
        self.text.push('(');
        self.text.push_str(&sql);
        self.text.push(')');
    }
}

/// A `LIKE` pattern (`\` escapes) as a `GLOB` pattern.
fn glob(like: &str) -> String {
    let mut out = String::new();
    let mut chars = like.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => {
                if let Some(n) = chars.next() {
                    push_glob_literal(&mut out, n);
                }
            }
            c => push_glob_literal(&mut out, c),
        }
    }
    out
}

fn push_glob_literal(out: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            out.push('[');
            out.push(c);
            out.push(']');
        }
        c => out.push(c),
    }
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

pub(super) fn bind_all<'q>(mut q: AnyQuery<'q>, args: &[Arg]) -> AnyQuery<'q> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.clone()),
            Arg::Int(n) => q.bind(*n),
            Arg::Bool(b) => q.bind(*b),
        };
    }
    q
}

fn json(m: &serde_json::Map<String, serde_json::Value>) -> Result<String, StoreError> {
    serde_json::to_string(m).map_err(corrupt)
}

impl SqlStore {
    /// A page of the rows of `table` that `filter` selects, in `order`, and with `count` how
    /// many it selects in all (user and log searches).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn select_page(
        &self,
        columns: &str,
        table: &str,
        filter: &Sql,
        order: &str,
        offset: i64,
        limit: i64,
        count: bool,
    ) -> Result<(Vec<sqlx::any::AnyRow>, Option<i64>), StoreError> {
        let total = if count {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {}", filter.text);
            let row = bind_all(sqlx::query(&sql), &filter.args)
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
            Some(row.try_get::<i64, _>(0).map_err(backend)?)
        } else {
            None
        };
        if limit == 0 {
            return Ok((Vec::new(), total));
        }
        let mut args = filter.args.clone();
        args.push(Arg::Int(limit));
        args.push(Arg::Int(offset));
        let n = args.len();
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {} ORDER BY {order} LIMIT ${} OFFSET ${}",
            filter.text,
            n - 1,
            n
        );
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok((rows, total))
    }
}

#[async_trait]
impl ManageStore for SqlStore {
    async fn managed_user(&self, id: &str) -> Result<Option<ExportedUser>, StoreError> {
        let sql = format!("SELECT {FULL_USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(full_user).transpose()
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<ExportedUser>, StoreError> {
        let sql = format!("SELECT {FULL_USER_COLUMNS} FROM users WHERE email = $1 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(email)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(full_user).collect()
    }

    async fn search_users(
        &self,
        query: Option<&Query>,
        sort: Option<Sort>,
        offset: i64,
        limit: i64,
        count: bool,
    ) -> Result<(Vec<ExportedUser>, Option<i64>), StoreError> {
        let mut filter = Sql::new(self.search);
        filter.indexed = crate::domain::store::TenantStore::tenant_settings(self)
            .await?
            .indexed_app_metadata
            .clone();
        match query {
            Some(q) => filter.query(q),
            None => filter.text.push_str("1 = 1"),
        }
        let order = match sort {
            None => "id".to_owned(),
            Some(s) => {
                let dir = if s.descending { "DESC" } else { "ASC" };
                let nullable = !matches!(
                    s.column,
                    Column::Id
                        | Column::Email
                        | Column::Connection
                        | Column::CreatedAt
                        | Column::UpdatedAt
                        | Column::LoginsCount
                );
                // Both databases order NULLs alike only when told to.
                let nulls = if nullable { " NULLS LAST" } else { "" };
                format!("{} {dir}{nulls}, id {dir}", s.column.sql())
            }
        };
        let (rows, total) = self
            .select_page(
                FULL_USER_COLUMNS,
                "users",
                &filter,
                &order,
                offset,
                limit,
                count,
            )
            .await?;
        let users = rows.iter().map(full_user).collect::<Result<_, _>>()?;
        Ok((users, total))
    }

    async fn create_managed_user(
        &self,
        user: &NewUser,
        app_metadata: &serde_json::Map<String, serde_json::Value>,
        blocked: bool,
    ) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "INSERT INTO users (id, connection, email, username, email_verified, \
                     given_name, family_name, name, nickname, picture, user_metadata, \
                     app_metadata, password_hash, blocked, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
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
                .text(json(&user.user_metadata)?)
                .text(json(app_metadata)?)
                .text(user.password_hash.clone())
                .boolean(blocked)
                .int(user.created_at),
            ])
            .await
            .map(|_| ())
    }

    async fn update_user(&self, id: &str, u: &UserUpdate) -> Result<Updated, StoreError> {
        enum V {
            T(Option<String>),
            I(i64),
            B(bool),
        }
        // Column names come from this fixed list; every value is a parameter.
        let mut sets: Vec<(&str, V)> = Vec::new();
        if let Some(e) = &u.email {
            sets.push(("email", V::T(Some(e.clone()))));
        }
        for (col, v) in [
            ("username", &u.username),
            ("given_name", &u.given_name),
            ("family_name", &u.family_name),
            ("name", &u.name),
            ("nickname", &u.nickname),
            ("picture", &u.picture),
        ] {
            if let Some(v) = v {
                sets.push((col, V::T(v.clone())));
            }
        }
        if let Some(m) = &u.user_metadata {
            sets.push(("user_metadata", V::T(Some(json(m)?))));
        }
        if let Some(m) = &u.app_metadata {
            sets.push(("app_metadata", V::T(Some(json(m)?))));
        }
        if let Some(h) = &u.password_hash {
            sets.push(("password_hash", V::T(Some(h.clone()))));
            sets.push(("last_password_reset", V::I(u.now)));
        }
        if let Some(b) = u.email_verified {
            sets.push(("email_verified", V::B(b)));
        }
        if let Some(b) = u.blocked {
            sets.push(("blocked", V::B(b)));
        }
        sets.push(("updated_at", V::I(u.now)));
        let assignments: Vec<String> = sets
            .iter()
            .enumerate()
            .map(|(i, (col, _))| format!("{col} = ${}", i + 1))
            .collect();
        let n = sets.len();
        let mut sql = format!(
            "UPDATE users SET {} WHERE id = ${}",
            assignments.join(", "),
            n + 1
        );
        if u.expected_metadata.is_some() {
            sql.push_str(&format!(
                " AND user_metadata = ${} AND app_metadata = ${}",
                n + 2,
                n + 3
            ));
        }
        let mut stmt = Stmt::new(sql);
        for (_, v) in sets {
            stmt = match v {
                V::T(t) => stmt.text(t),
                V::I(i) => stmt.int(i),
                V::B(b) => stmt.boolean(b),
            };
        }
        stmt = stmt.text(id.to_owned());
        if let Some((user_meta, app_meta)) = &u.expected_metadata {
            stmt = stmt.text(json(user_meta)?).text(json(app_meta)?);
        }
        let mut stmts = vec![stmt];
        // What ends with the change runs only if the user row was updated (a stale metadata
        // merge changes nothing and ends nothing).
        let updated = "EXISTS (SELECT 1 FROM users WHERE id = $1 AND updated_at = $2)";
        if u.end_sessions {
            for table in ["sessions", "refresh_tokens", "authorization_codes"] {
                stmts.push(
                    Stmt::new(format!(
                        "DELETE FROM {table} WHERE user_id = $1 AND {updated}"
                    ))
                    .text(id.to_owned())
                    .int(u.now),
                );
            }
        }
        if u.end_tickets {
            stmts.push(
                Stmt::new(format!(
                    "DELETE FROM tickets WHERE user_id = $1 AND used_at IS NULL AND {updated}"
                ))
                .text(id.to_owned())
                .int(u.now),
            );
        }
        for key in &u.clear_attempts {
            stmts.push(
                Stmt::new(format!(
                    "DELETE FROM login_attempts WHERE identifier = $3 AND {updated}"
                ))
                .text(id.to_owned())
                .int(u.now)
                .text(key.clone()),
            );
        }
        let done = self.writes.run(stmts).await?;
        if done.first().copied().unwrap_or(0) > 0 {
            return Ok(Updated::Done);
        }
        // Nothing changed: the user is gone, or its metadata moved on.
        Ok(if self.managed_user(id).await?.is_some() {
            Updated::Stale
        } else {
            Updated::Missing
        })
    }

    async fn login_blocks(
        &self,
        connection: Option<&str>,
        identifier: &str,
        max: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT ip FROM login_attempts WHERE identifier = $1 AND attempts >= $2 \
             AND (CAST($3 AS TEXT) IS NULL OR connection = $3) ORDER BY ip",
        )
        .bind(identifier)
        .bind(max)
        .bind(connection)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("ip").map_err(backend))
            .collect()
    }

    async fn clear_login_blocks(
        &self,
        connection: Option<&str>,
        identifier: &str,
    ) -> Result<(), StoreError> {
        self.writes
            .run(vec![
                Stmt::new(
                    "DELETE FROM login_attempts WHERE identifier = $1 \
                     AND (CAST($2 AS TEXT) IS NULL OR connection = $2)",
                )
                .text(identifier.to_owned())
                .text(connection.map(str::to_owned)),
            ])
            .await
            .map(|_| ())
    }

    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        // Sessions, refresh tokens, codes, tickets, roles and history go with it (foreign keys).
        self.writes
            .run(vec![
                Stmt::new("DELETE FROM users WHERE id = $1").text(id.to_owned()),
            ])
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_keep_literals_literal() {
        assert_eq!(glob("ab%"), "ab*");
        assert_eq!(glob("a\\%b_"), "a%b?");
        assert_eq!(glob("x*y?[z"), "x[*]y[?][[]z");
    }

    #[test]
    fn indexed_paths_are_written_as_their_index() {
        let q = crate::domain::search::parse(r#"app_metadata.plan:"pro" AND app_metadata.x:"y""#)
            .unwrap();
        for dialect in [SearchDialect::Sqlite, SearchDialect::Postgres] {
            let mut s = Sql::new(dialect);
            s.indexed = vec!["plan".into()];
            s.query(&q);
            let index = indexed_metadata(dialect, "plan").unwrap();
            assert!(s.text.contains(&index), "{}", s.text);
            // The other path stays a bound parameter.
            assert!(
                !s.text.contains("'$.x'") && !s.text.contains("'{x}'"),
                "{}",
                s.text
            );
        }
        assert_eq!(indexed_metadata(SearchDialect::Postgres, "a'b"), None);
        assert_eq!(
            indexed_metadata(SearchDialect::Postgres, "org.id").unwrap(),
            "(CAST(app_metadata AS jsonb) #>> CAST('{org,id}' AS text[]))"
        );
    }

    #[test]
    fn user_input_never_reaches_the_sql_text() {
        let q = crate::domain::search::parse(
            r#"name:"x' OR 1=1 --" AND app_metadata.a:"'; DROP TABLE users" AND email:*@evil'--"#,
        )
        .unwrap();
        for dialect in [SearchDialect::Sqlite, SearchDialect::Postgres] {
            let mut s = Sql::new(dialect);
            s.query(&q);
            assert!(!s.text.contains("DROP"), "{}", s.text);
            assert!(!s.text.contains("1=1"), "{}", s.text);
            assert!(!s.text.contains("evil"), "{}", s.text);
        }
    }
}
