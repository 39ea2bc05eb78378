//! The tenant log's events as the domain records them: who did what from where (never a
//! secret, password or token), and the request facts (IP, user agent) the HTTP edge leaves in
//! a task-local for the request's duration.

use rand::Rng as _;
use serde_json::Value;

use super::Services;
use super::store::LogEvent;
use super::tenant::Client;

/// What the edge knows of the request being served (the IP kept as an address: it becomes
/// text only when an event is recorded).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// `work` in the background, its events carrying the current request's IP and user agent.
pub fn spawn_in_request<F>(ctx: &Services, work: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let meta = REQUEST.try_with(Clone::clone).unwrap_or_default();
    ctx.background.spawn(REQUEST.scope(meta, work));
}

tokio::task_local! {
    /// Set by the HTTP edge around each request.
    pub static REQUEST: RequestMeta;
}

/// Where recorded events go (`crate::infra::event_log`); recording never waits on storage.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync + 'static {
    fn record(&self, event: LogEvent);
    /// Waits until every event recorded before it is stored.
    async fn flush(&self);
}

/// Records nothing (unit tests, tools).
pub struct NoEventLog;

#[async_trait::async_trait]
impl EventLog for NoEventLog {
    fn record(&self, _event: LogEvent) {}
    async fn flush(&self) {}
}

/// A new log id: the time first, so ids sort roughly as the events happened, then 64 random
/// bits.
fn log_id(now_ms: i64) -> String {
    // The thread's CSPRNG (seeded from the OS): ids need uniqueness, and a system call per
    // event would be a cost on every login.
    let r: u64 = rand::thread_rng().r#gen();
    format!("{now_ms:013}{r:016x}")
}

/// An event being described; `record` sends it.
#[must_use = "an event is only logged by record()"]
pub struct Event<'a> {
    ctx: &'a Services,
    e: LogEvent,
}

impl Services {
    /// Starts an event of type `kind` (management.md's table).
    pub fn event(&self, kind: &str) -> Event<'_> {
        let meta = REQUEST.try_with(Clone::clone).unwrap_or_default();
        Event {
            ctx: self,
            e: LogEvent {
                kind: kind.to_owned(),
                ip: meta.ip.map(|ip| ip.to_string()),
                user_agent: meta.user_agent,
                ..LogEvent::default()
            },
        }
    }
}

impl Event<'_> {
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.e.description = Some(d.into());
        self
    }

    pub fn client(mut self, c: &Client) -> Self {
        self.e.client_id = Some(c.client_id.clone());
        self.e.client_name = Some(c.name.clone());
        self
    }

    pub fn client_id(mut self, id: &str) -> Self {
        self.e.client_id = Some(id.to_owned());
        self
    }

    pub fn connection(mut self, name: &str) -> Self {
        self.e.connection = Some(name.to_owned());
        self
    }

    /// A user by the stored id (shown as `auth0|<id>`) and the name they go by.
    pub fn user(mut self, id: &str, name: Option<&str>) -> Self {
        self.e.user_id = Some(format!("auth0|{id}"));
        if let Some(n) = name {
            self.e.user_name = Some(n.to_owned());
        }
        self
    }

    /// The name a failed login tried (no user behind it).
    pub fn user_name(mut self, name: &str) -> Self {
        self.e.user_name = Some(name.to_owned());
        self
    }

    /// The end user's IP when it is not the peer's (a backend reporting it, a trusted proxy).
    pub fn ip(mut self, ip: impl ToString) -> Self {
        self.e.ip = Some(ip.to_string());
        self
    }

    pub fn details(mut self, d: Value) -> Self {
        self.e.details = Some(d);
        self
    }

    pub fn record(self) {
        let mut e = self.e;
        e.date = self.ctx.clock.now_millis();
        e.log_id = log_id(e.date);
        self.ctx.log.record(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ids_sort_by_time() {
        let a = log_id(1_700_000_000_000);
        let b = log_id(1_700_000_000_001);
        assert_eq!(a.len(), 29);
        assert!(a < b);
        assert_ne!(log_id(5), log_id(5));
    }
}
