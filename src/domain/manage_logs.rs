//! Management API reads of the tenant log: by id, searched (`q`, or its older name `search`,
//! over the events' fields) with offset paging, from a checkpoint (`from`/`take`), and a
//! user's events. Events past the retention are never served, whether or not housekeeping
//! has deleted them yet.

use serde_json::{Map, Value, json};

use super::Services;
use super::claims::iso_millis;
use super::manage_users::{self, stored_id};
use super::management::{ManagementError, authorize_any};
use super::search::{self, Column, Cond, Fields, Query};
use super::store::{LogEvent, LogQuery};
use super::tenant::connection_id;

pub const READ: &[&str] = &["read:logs"];
pub const READ_USER: &[&str] = &["read:logs", "read:logs_users"];
/// Most events one checkpoint read takes.
pub const MAX_TAKE: i64 = 100;

/// The event object (management.md, "Log events").
pub fn view(e: &LogEvent) -> Value {
    let mut o = Map::new();
    o.insert("log_id".into(), json!(e.log_id));
    o.insert("date".into(), json!(iso_millis(e.date)));
    o.insert("type".into(), json!(e.kind));
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    };
    put("description", &e.description);
    put("client_id", &e.client_id);
    put("client_name", &e.client_name);
    put("connection", &e.connection);
    put("ip", &e.ip);
    put("user_agent", &e.user_agent);
    put("user_id", &e.user_id);
    put("user_name", &e.user_name);
    if let Some(c) = &e.connection {
        o.insert("connection_id".into(), json!(connection_id(c)));
    }
    o.insert(
        "details".into(),
        e.details.clone().unwrap_or_else(|| json!({})),
    );
    Value::Object(o)
}

/// `GET /api/v2/logs`' parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListLogs {
    pub q: Option<String>,
    /// `date:-1` (the default) or `date:1`.
    pub oldest_first: bool,
    pub page: i64,
    pub per_page: Option<i64>,
    pub include_totals: bool,
    /// Checkpoint paging: events after this log id, oldest first; `q` is then ignored, as
    /// Auth0 documents.
    pub from: Option<String>,
    pub take: Option<i64>,
}

/// Parses `sort` for logs: only `date`, as Auth0 allows.
pub fn oldest_first(sort: &str) -> Result<bool, ManagementError> {
    match sort {
        "date:1" => Ok(true),
        "date:-1" => Ok(false),
        _ => Err(ManagementError::Query(
            "Query validation error: 'sort' must be date:1 or date:-1.".into(),
        )),
    }
}

/// The retention as a condition, with the caller's.
fn kept(ctx: &Services, q: Option<Query>) -> Query {
    let cutoff = ctx.clock.now_millis() - ctx.log_retention_ms;
    let recent = Query::Cond(Cond::Range(Column::LogDate, Some(cutoff), None));
    match q {
        Some(q) => Query::And(vec![recent, q]),
        None => recent,
    }
}

async fn read(
    ctx: &Services,
    query: Option<Query>,
    l: &ListLogs,
) -> Result<Value, ManagementError> {
    // Events this instance recorded are readable as soon as the answer that caused them.
    ctx.log.flush().await;
    if let Some(from) = &l.from {
        let take = l.take.unwrap_or(manage_users::DEFAULT_PER_PAGE);
        if !(1..=MAX_TAKE).contains(&take) {
            return Err(ManagementError::Query(format!(
                "Query validation error: 'take' must be 1 to {MAX_TAKE}."
            )));
        }
        let (events, _) = ctx
            .store
            .log_events(&LogQuery {
                query: Some(kept(ctx, None)),
                after: Some(from.clone()),
                newest_first: false,
                offset: 0,
                limit: take,
                count: false,
            })
            .await?;
        return Ok(Value::Array(events.iter().map(view).collect()));
    }
    let per_page = l.per_page.unwrap_or(manage_users::DEFAULT_PER_PAGE);
    manage_users::check_page(l.page, per_page)?;
    let (events, total) = ctx
        .store
        .log_events(&LogQuery {
            query: Some(kept(ctx, query)),
            after: None,
            newest_first: !l.oldest_first,
            offset: l.page * per_page,
            limit: per_page,
            count: l.include_totals,
        })
        .await?;
    let items: Vec<Value> = events.iter().map(view).collect();
    if !l.include_totals {
        return Ok(Value::Array(items));
    }
    Ok(json!({
        "start": l.page * per_page,
        "limit": per_page,
        "length": items.len(),
        "total": total.unwrap_or_default(),
        "logs": items,
    }))
}

/// `GET /api/v2/logs`.
pub async fn list(
    ctx: &Services,
    token: Option<&str>,
    l: &ListLogs,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ).await?;
    let query = match l.q.as_deref().filter(|q| !q.trim().is_empty()) {
        Some(q) if l.from.is_none() => {
            Some(search::parse_in(q, Fields::Logs).map_err(|e| ManagementError::Query(e.0))?)
        }
        _ => None,
    };
    read(ctx, query, l).await
}

/// `GET /api/v2/logs/{id}`.
pub async fn get(ctx: &Services, token: Option<&str>, id: &str) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ).await?;
    ctx.log.flush().await;
    let cutoff = ctx.clock.now_millis() - ctx.log_retention_ms;
    ctx.store
        .log_event(id)
        .await?
        .filter(|e| e.date >= cutoff)
        .map(|e| view(&e))
        .ok_or(ManagementError::UnknownLog)
}

/// `GET /api/v2/users/{id}/logs`: that user's events, also after the user was deleted.
pub async fn of_user(
    ctx: &Services,
    token: Option<&str>,
    user_id: &str,
    l: &ListLogs,
) -> Result<Value, ManagementError> {
    authorize_any(ctx, token, READ_USER).await?;
    let id = stored_id(user_id).ok_or(ManagementError::UnknownUser)?;
    let mine = Query::Cond(Cond::Eq(
        search::Target::Column(Column::LogUserId),
        format!("auth0|{id}"),
    ));
    let l = ListLogs {
        from: None,
        ..l.clone()
    };
    read(ctx, Some(mine), &l).await
}
