//! The password check of every login, the hosted page's as the password grants': the user
//! looked up, brute-force protection per account (reserved before the hash, counted on
//! failure only), the hash verified on the hashing pool (a dummy one for unknown users, at
//! the cost most accounts hold), re-hashing at the server's parameters, and the log events of
//! the outcome. `CheckError` is its own; each edge words it in its family.

use super::Services;
use super::claims::token_hash;
use super::error::Failure;
use super::store::{AttemptKey, RecordedLogin, StoreError};
use super::tenant::Client;
use super::user::{Password, User};

/// Consecutive failed logins per (connection, identifier, IP) before that pair is blocked.
pub const MAX_FAILED_LOGINS: i64 = 10;

/// A pending evaluation older than this belongs to a request that never finished (its client
/// went away mid-login) and stops counting.
const PENDING_STALE_MS: i64 = 30_000;

/// How long a login waits for other evaluations of the same (identifier, IP) to finish when
/// they could all be failures that reach the limit; past it the login is refused as overload.
const PENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why a password check did not find the user.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Wrong password or unknown user: one error, so the answer does not reveal which.
    #[error("wrong email or password")]
    WrongCredentials,
    /// Brute-force protection blocked this (account or identifier, IP).
    #[error("too many failed login attempts")]
    TooManyAttempts,
    #[error("user is blocked")]
    UserBlocked,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<StoreError> for CheckError {
    fn from(e: StoreError) -> Self {
        CheckError::Failure(e.into())
    }
}

/// Checks a password for `identifier` (trimmed, lower-cased) in `attempts.connection`, under
/// brute-force protection; returns the user. Unknown users cost the same (a dummy hash is
/// verified) and fail the same way as wrong passwords.
///
/// Only failures count toward the block, and parallel guesses cannot exceed it: each
/// evaluation is reserved first (pending), and one that could make failures + pending pass the
/// limit waits for the others to finish instead of being evaluated.
pub async fn verify_login(
    ctx: &Services,
    client: &Client,
    identifier: &str,
    attempts: &AttemptKey,
    password: Password,
    brute_force_protection: bool,
) -> Result<User, CheckError> {
    // Reserve hashing capacity first, so an overloaded server refuses before writing anything.
    let ticket = ctx.hasher.admit()?;
    let user = ctx
        .store
        .user_by_identifier(&attempts.connection, identifier)
        .await?;
    // Guesses count against the account whatever names it (email or username), and against
    // the identifier as typed when none does.
    let attempts = &AttemptKey {
        identifier: match &user {
            Some(u) => user_attempt_key(&u.id),
            None => attempts.identifier.clone(),
        },
        ..attempts.clone()
    };
    if brute_force_protection {
        reserve_evaluation(ctx, attempts).await?;
    }
    let found = user.as_ref().map(|u| u.id.clone());
    let evaluated = evaluate(user, ticket, password.clone()).await;
    if brute_force_protection {
        match &evaluated {
            Ok(_) => {}
            Err(CheckError::WrongCredentials) => {
                ctx.store
                    .record_login_failure(attempts, ctx.clock.now_millis())
                    .await?;
            }
            Err(_) => ctx.store.release_login_attempt(attempts).await?,
        }
    }
    let logged = |kind: &str, why: &str| {
        ctx.event(kind)
            .client(client)
            .connection(&attempts.connection)
            .ip(&attempts.ip)
            .description(why)
    };
    let user = match evaluated {
        Ok(user) => user,
        Err(e) => {
            match &e {
                CheckError::WrongCredentials => match &found {
                    Some(id) => logged("fp", "Wrong email or password.")
                        .user(id, Some(identifier))
                        .record(),
                    None => logged("fu", "Wrong email or password.")
                        .user_name(identifier)
                        .record(),
                },
                CheckError::UserBlocked => logged("f", "user is blocked")
                    .user_name(identifier)
                    .record(),
                CheckError::TooManyAttempts => logged(
                    "limit_wc",
                    "Too many failed login attempts: the account is blocked for this IP.",
                )
                .user_name(identifier)
                .record(),
                _ => {}
            }
            return Err(e);
        }
    };
    logged("s", "Successful login")
        .user(&user.id, Some(identifier))
        .record();
    let rehashed = rehash(ctx, &user, password).await;
    ctx.store
        .record_login(
            &RecordedLogin {
                user_id: &user.id,
                ip: &attempts.ip,
                now: ctx.clock.now_millis(),
                rehash: rehashed
                    .as_deref()
                    .map(|new| (user.password_hash.as_str(), new)),
            },
            attempts,
        )
        .await?;
    Ok(user)
}

/// A hash of the password with the current parameters, when the stored one was made with
/// others (a cost change, or an imported hash). Skipped when the pool is full: the next login
/// tries again.
async fn rehash(ctx: &Services, user: &User, password: Password) -> Option<String> {
    if !ctx.hasher.needs_rehash(&user.password_hash) {
        return None;
    }
    let ticket = ctx.hasher.admit().ok()?;
    match ticket.hash(password).await {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(cause = %super::error::chain(&e), user_id = %user.id, "re-hashing at login failed");
            None
        }
    }
}

/// The brute-force counter key of an existing user (the SHA-256 of its id, as `AttemptKey`
/// holds keys): every identifier of the account counts into it.
pub fn user_attempt_key(user_id: &str) -> String {
    token_hash(&format!("user:{user_id}"))
}

/// The password check itself (the log tells a wrong password from an unknown user; the answer
/// does not).
async fn evaluate(
    user: Option<User>,
    ticket: Box<dyn super::ports::HashTicket>,
    password: Password,
) -> Result<User, CheckError> {
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = ticket.verify(password, hash).await?;
    match user {
        Some(user) if ok && user.blocked => Err(CheckError::UserBlocked),
        Some(user) if ok => Ok(user),
        _ => Err(CheckError::WrongCredentials),
    }
}

/// Takes a place among the evaluations of `attempts`, waiting while the ones in flight could
/// reach the limit.
async fn reserve_evaluation(ctx: &Services, attempts: &AttemptKey) -> Result<(), CheckError> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        let now = ctx.clock.now_millis();
        let counted = ctx
            .store
            .reserve_login_attempt(attempts, now, now - PENDING_STALE_MS, MAX_FAILED_LOGINS)
            .await?;
        if counted < 0 {
            return Err(CheckError::TooManyAttempts);
        }
        if counted <= MAX_FAILED_LOGINS {
            return Ok(());
        }
        ctx.store.release_login_attempt(attempts).await?;
        if started.elapsed() >= PENDING_WAIT {
            return Err(Failure::Overloaded.into());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
    }
}
