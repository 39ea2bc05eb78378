//! Rate limits of the Management API: per client (the verified token's `sub`), on this
//! instance (governor's GCRA in memory) or shared by every instance through Redis (a counter
//! per client and two-second window), with Auth0's `X-RateLimit-Limit`/`-Remaining`/`-Reset`
//! headers on every answer and `429` with `Retry-After` when the budget is spent (the SDKs
//! retry on those).

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde_json::Value;

use super::AppState;
use super::input;

pub type LocalLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Where the budgets are kept.
pub enum ManagementLimiter {
    Local(LocalLimiter),
    Shared(SharedLimiter),
}

/// `per_second` requests per second per client, bursts of twice that; `None` for 0.
pub fn limiter(per_second: u32) -> Option<ManagementLimiter> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
    Some(ManagementLimiter::Local(
        RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
            .with_middleware::<StateInformationMiddleware>(),
    ))
}

/// Budgets every instance shares: `2 × per_second` requests per client in each two-second
/// window (the same average and burst as the local limit), counted in Redis.
pub struct SharedLimiter {
    redis: redis::aio::ConnectionManager,
    per_window: u64,
    prefix: String,
}

/// The window of the shared limit.
const WINDOW_SECS: u64 = 2;

impl SharedLimiter {
    /// Connects to `url` (`redis://host:port/db`); `prefix` (the issuer) keeps deployments
    /// sharing one Redis apart.
    pub async fn connect(
        url: &str,
        per_second: u32,
        prefix: &str,
    ) -> Result<Option<Self>, redis::RedisError> {
        if per_second == 0 {
            return Ok(None);
        }
        let client = redis::Client::open(url)?;
        let redis = redis::aio::ConnectionManager::new(client).await?;
        Ok(Some(Self {
            redis,
            per_window: u64::from(per_second) * WINDOW_SECS,
            prefix: prefix.to_owned(),
        }))
    }

    /// The count of this request in the client's window, and the window's end (epoch s).
    async fn count(&self, client: &str) -> Result<(u64, u64), redis::RedisError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let window = now / WINDOW_SECS;
        let key = format!("{}:mgmt-rate:{client}:{window}", self.prefix);
        let mut conn = self.redis.clone();
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, (WINDOW_SECS * 2) as i64)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok((count, (window + 1) * WINDOW_SECS))
    }
}

fn refused(limit: u64, retry_after: u64, reset: u64) -> Response {
    let (status, body) = super::error::management_rate_limited();
    let mut response = (status, axum::Json(body)).into_response();
    let h = response.headers_mut();
    set(h, "retry-after", retry_after.max(1));
    set(h, "x-ratelimit-limit", limit);
    set(h, "x-ratelimit-remaining", 0);
    set(h, "x-ratelimit-reset", reset);
    response
}

fn epoch_after(d: Duration) -> u64 {
    (SystemTime::now() + d)
        .duration_since(UNIX_EPOCH)
        .map(|t| t.as_secs() + u64::from(t.subsec_nanos() > 0))
        .unwrap_or_default()
}

fn set(h: &mut HeaderMap, name: &'static str, value: u64) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        h.insert(name, v);
    }
}

/// Applies the limit to `/api/v2/` requests with a valid management token; anything else
/// goes on unchanged (the handler answers a missing or bad token).
pub async fn limit_management(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(limiter) = &state.management_limiter else {
        return next.run(req).await;
    };
    if !req.uri().path().starts_with("/api/v2/") {
        return next.run(req).await;
    }
    let client = match input::bearer(req.headers()) {
        // Verified tokens are cached by their text: the handler's own check costs no second
        // signature verification.
        Some(token) => match state
            .services
            .signer
            .verify(token, state.services.management_audience())
            .await
        {
            Ok(claims) => claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            Err(_) => None,
        },
        None => None,
    };
    let Some(client) = client else {
        return next.run(req).await;
    };
    let limiter = match limiter {
        ManagementLimiter::Local(l) => l,
        ManagementLimiter::Shared(shared) => {
            return match shared.count(&client).await {
                Ok((count, reset)) if count <= shared.per_window => {
                    let mut response = next.run(req).await;
                    let h = response.headers_mut();
                    set(h, "x-ratelimit-limit", shared.per_window);
                    set(h, "x-ratelimit-remaining", shared.per_window - count);
                    set(h, "x-ratelimit-reset", reset);
                    response
                }
                Ok((_, reset)) => {
                    tracing::info!(client = %client, "Management API rate limit reached (shared)");
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or_default();
                    refused(shared.per_window, reset.saturating_sub(now), reset)
                }
                // Redis unreachable: the API stays available, unlimited, and the log says so.
                Err(e) => {
                    tracing::warn!(cause = %e, "the shared rate limit is unavailable; request let through");
                    next.run(req).await
                }
            };
        }
    };
    match limiter.check_key(&client) {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let limit = snapshot.quota().burst_size().get();
            let refill = snapshot.quota().replenish_interval() * (limit - remaining);
            let mut response = next.run(req).await;
            let h = response.headers_mut();
            set(h, "x-ratelimit-limit", u64::from(limit));
            set(h, "x-ratelimit-remaining", u64::from(remaining));
            set(h, "x-ratelimit-reset", epoch_after(refill));
            response
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let limit = not_until.quota().burst_size().get();
            tracing::info!(client = %client, "Management API rate limit reached");
            let (status, body) = super::error::management_rate_limited();
            let mut response = (status, axum::Json(body)).into_response();
            let h = response.headers_mut();
            set(
                h,
                "retry-after",
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            );
            set(h, "x-ratelimit-limit", u64::from(limit));
            set(h, "x-ratelimit-remaining", 0);
            set(h, "x-ratelimit-reset", epoch_after(wait));
            response
        }
    }
}
