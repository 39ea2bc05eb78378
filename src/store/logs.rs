//! The log area: the append-only tenant log, read by id, by a compiled `q` (the same
//! parameterised compiler as user search) with offset or checkpoint paging, and expired.

use async_trait::async_trait;
use sqlx::Row;

use super::manage::{Arg, Sql};
use super::writer::Stmt;
use super::{SqlStore, backend, corrupt};
use crate::domain::store::{LogEvent, LogQuery, LogStore, StoreError};

/// Events per INSERT statement.
const ROWS_PER_INSERT: usize = 64;

const LOG_COLUMNS: &str = "log_id, date, type, description, client_id, client_name, connection, \
     ip, user_agent, user_id, user_name, details";

fn event(r: &sqlx::any::AnyRow) -> Result<LogEvent, StoreError> {
    let details: Option<String> = r.try_get("details").map_err(backend)?;
    Ok(LogEvent {
        log_id: r.try_get("log_id").map_err(backend)?,
        date: r.try_get("date").map_err(backend)?,
        kind: r.try_get("type").map_err(backend)?,
        description: r.try_get("description").map_err(backend)?,
        client_id: r.try_get("client_id").map_err(backend)?,
        client_name: r.try_get("client_name").map_err(backend)?,
        connection: r.try_get("connection").map_err(backend)?,
        ip: r.try_get("ip").map_err(backend)?,
        user_agent: r.try_get("user_agent").map_err(backend)?,
        user_id: r.try_get("user_id").map_err(backend)?,
        user_name: r.try_get("user_name").map_err(backend)?,
        details: details
            .map(|d| serde_json::from_str(&d).map_err(corrupt))
            .transpose()?,
    })
}

#[async_trait]
impl LogStore for SqlStore {
    async fn append_logs(&self, events: &[LogEvent]) -> Result<(), StoreError> {
        // Many rows per statement: per-statement overhead, not the rows, is what a busy
        // server's log costs (anonymous `?` on SQLite, see `Dialect::anonymous_params`).
        let mut stmts = Vec::new();
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut n = 0;
            let rows: Vec<String> = chunk
                .iter()
                .map(|_| {
                    let p: Vec<String> = (0..12)
                        .map(|_| {
                            n += 1;
                            if self.anonymous_params {
                                "?".to_owned()
                            } else {
                                format!("${n}")
                            }
                        })
                        .collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let mut stmt = Stmt::new(format!(
                "INSERT INTO logs ({LOG_COLUMNS}) VALUES {}",
                rows.join(", ")
            ));
            for e in chunk {
                let details = e
                    .details
                    .as_ref()
                    .map(|d| serde_json::to_string(d).map_err(corrupt))
                    .transpose()?;
                stmt = stmt
                    .text(e.log_id.clone())
                    .int(e.date)
                    .text(e.kind.clone())
                    .text(e.description.clone())
                    .text(e.client_id.clone())
                    .text(e.client_name.clone())
                    .text(e.connection.clone())
                    .text(e.ip.clone())
                    .text(e.user_agent.clone())
                    .text(e.user_id.clone())
                    .text(e.user_name.clone())
                    .text(details);
            }
            stmts.push(stmt);
        }
        if stmts.is_empty() {
            return Ok(());
        }
        self.writes.run(stmts).await.map(|_| ())
    }

    async fn log_event(&self, log_id: &str) -> Result<Option<LogEvent>, StoreError> {
        let sql = format!("SELECT {LOG_COLUMNS} FROM logs WHERE log_id = $1");
        let row = sqlx::query(&sql)
            .bind(log_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(event).transpose()
    }

    async fn log_events(&self, q: &LogQuery) -> Result<(Vec<LogEvent>, Option<i64>), StoreError> {
        let mut filter = Sql::new(self.search);
        match &q.query {
            Some(query) => filter.query(query),
            None => filter.text.push_str("1 = 1"),
        }
        if let Some(after) = &q.after {
            let p = filter.param(Arg::Text(after.clone()));
            filter.text.push_str(&format!(
                " AND seq > COALESCE((SELECT seq FROM logs WHERE log_id = {p}), 0)"
            ));
        }
        let order = if q.newest_first {
            "seq DESC"
        } else {
            "seq ASC"
        };
        let (rows, total) = self
            .select_page(
                LOG_COLUMNS,
                "logs",
                &filter,
                order,
                q.offset,
                q.limit,
                q.count,
            )
            .await?;
        let events = rows.iter().map(event).collect::<Result<_, _>>()?;
        Ok((events, total))
    }

    async fn expire_logs(&self, before: i64) -> Result<u64, StoreError> {
        let gone = self
            .writes
            .run(vec![
                Stmt::new("DELETE FROM logs WHERE date < $1").int(before),
            ])
            .await?;
        Ok(gone.first().copied().unwrap_or(0).max(0) as u64)
    }
}
