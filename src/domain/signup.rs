//! `POST /dbconnections/signup` rules, on a body the edge has parsed: tenant checks, username
//! and password rules, then hashing and the atomic insert.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::Services;
use super::error::{Failure, Invalid, Rule};
use super::password_policy::{StrengthFailure, contains_personal_info, is_common, js_len};
use super::store::{StoreError, UniqueField};
use super::tenant::{Client, Connection};
use super::user::{NewUser, Password, Profile, new_user_id};

/// Every way a signup can fail.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("invalid field")]
    Invalid(#[from] Invalid),
    #[error("invalid username")]
    Username(UsernameRule),
    #[error("unknown client")]
    UnknownClient,
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error("public signup is disabled")]
    SignupDisabled,
    #[error("origin not allowed for this client")]
    OriginNotAllowed,
    #[error("user already exists")]
    UserExists,
    #[error("username already exists")]
    UsernameExists,
    /// A duplicate signup under enumeration protection.
    #[error("invalid signup")]
    InvalidSignup,
    #[error("password too weak")]
    PasswordStrength(StrengthFailure),
    #[error("password too common")]
    PasswordDictionary,
    #[error("password contains user information")]
    PasswordNoUserInfo,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<StoreError> for SignupError {
    fn from(e: StoreError) -> Self {
        SignupError::Failure(e.into())
    }
}

/// Why a connection cannot be used by a client (signup and logins share these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("the connection does not exist")]
    NotFound,
    #[error("the connection is not a database connection")]
    NotDatabase,
    #[error("the connection is not enabled for this client")]
    NotEnabled,
}

/// The username rule a signup broke (the dbconnections envelope words it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameRule {
    Length { min: u32, max: u32 },
    NotAnEmail,
    Characters,
}

/// A signup body as the edge parsed it (shape and field rules checked; tenant rules not yet).
#[derive(Debug)]
pub struct SignupInput {
    pub client_id: String,
    pub connection: String,
    /// Trimmed and lower-cased.
    pub email: String,
    pub password: Password,
    pub username: Option<String>,
    pub profile: Profile,
    pub user_metadata: Option<Map<String, Value>>,
}

pub use super::user::valid_email;

/// The characters a username may hold besides ASCII letters and digits.
pub const USERNAME_SPECIALS: &str = "_+-.!#$^`~@'";

/// Applies the connection's username rules; returns the stored (lower-cased) form.
pub(super) fn check_username(
    connection: &Connection,
    username: Option<String>,
) -> Result<String, SignupError> {
    let username = match username {
        Some(u) if !u.is_empty() => u,
        _ => return Err(Invalid::new("username", Rule::Required).into()),
    };
    let len = connection.options.username_length();
    let n = js_len(&username);
    if n < len.min as usize || n > len.max as usize {
        return Err(SignupError::Username(UsernameRule::Length {
            min: len.min,
            max: len.max,
        }));
    }
    if valid_email(&username) {
        return Err(SignupError::Username(UsernameRule::NotAnEmail));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || USERNAME_SPECIALS.contains(c))
    {
        return Err(SignupError::Username(UsernameRule::Characters));
    }
    Ok(super::user::normalize_identifier(&username))
}

/// The connection's password rules after the strength level: dictionary, then personal info.
pub(super) fn check_password_options(
    connection: &Connection,
    input: &SignupInput,
    username: Option<&str>,
) -> Result<(), SignupError> {
    let opts = &connection.options;
    let password = &input.password.0;
    opts.policy()
        .check(password)
        .map_err(SignupError::PasswordStrength)?;
    if let Some(d) = &opts.password_dictionary
        && d.enable
        && is_common(password, &d.dictionary)
    {
        return Err(SignupError::PasswordDictionary);
    }
    if opts
        .password_no_personal_info
        .as_ref()
        .is_some_and(|o| o.enable)
    {
        let meta = |k: &str| {
            input
                .user_metadata
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
        };
        let local = input.email.split('@').next();
        let values = [
            input.profile.name.as_deref(),
            username,
            input.profile.nickname.as_deref(),
            meta("name"),
            meta("first"),
            meta("last"),
            local,
        ];
        if contains_personal_info(password, values.into_iter().flatten()) {
            return Err(SignupError::PasswordNoUserInfo);
        }
    }
    Ok(())
}

/// Checks that a loaded connection is a database connection enabled for `client`.
pub fn usable_connection(
    client: &Client,
    connection: Option<Arc<Connection>>,
) -> Result<Arc<Connection>, ConnectionError> {
    let connection = connection.ok_or(ConnectionError::NotFound)?;
    if !connection.is_database() {
        return Err(ConnectionError::NotDatabase);
    }
    if !connection.enabled_clients.contains(&client.client_id) {
        return Err(ConnectionError::NotEnabled);
    }
    Ok(connection)
}

/// Runs a whole signup; on success the user is durably stored. Logged as `ss` or `fs`.
pub async fn signup(
    ctx: &Services,
    input: SignupInput,
    origin: Option<&str>,
) -> Result<NewUser, SignupError> {
    let (client_id, connection, email) = (
        input.client_id.clone(),
        input.connection.clone(),
        input.email.clone(),
    );
    let answer = run_signup(ctx, input, origin).await;
    let event = match &answer {
        Ok(user) => ctx
            .event("ss")
            .description("Successful signup")
            .user(&user.id, Some(&user.email)),
        Err(SignupError::Failure(_)) => return answer,
        Err(e) => ctx.event("fs").description(e.to_string()).user_name(&email),
    };
    let event = event.connection(&connection);
    match ctx.store.client(&client_id).await.ok().flatten() {
        Some(c) => event.client(&c),
        None => event.client_id(&client_id),
    }
    .record();
    answer
}

async fn run_signup(
    ctx: &Services,
    input: SignupInput,
    origin: Option<&str>,
) -> Result<NewUser, SignupError> {
    // Reserve hashing capacity before any database work, so overload is refused at once.
    let ticket = ctx.hasher.admit()?;
    let (client, connection) = ctx
        .store
        .client_with_connection(&input.client_id, &input.connection)
        .await?
        .ok_or(SignupError::UnknownClient)?;
    if !ctx.origin_allowed(&client, origin) {
        return Err(SignupError::OriginNotAllowed);
    }
    let connection = usable_connection(&client, connection)?;
    if connection.options.disable_signup {
        return Err(SignupError::SignupDisabled);
    }
    // Usernames are ignored on connections that do not use them (docs/compatibility.md).
    let username = if connection.options.requires_username {
        Some(check_username(&connection, input.username.clone())?)
    } else {
        None
    };
    check_password_options(&connection, &input, username.as_deref())?;

    let password_hash = ticket.hash(input.password.clone()).await?;
    let now = ctx.clock.now_millis();
    let user = NewUser {
        id: new_user_id(now),
        connection: connection.name.clone(),
        email: input.email,
        username,
        email_verified: false,
        profile: input.profile,
        user_metadata: input.user_metadata.unwrap_or_default(),
        password_hash,
        created_at: now,
    };
    match ctx.store.create_user(&user).await {
        Ok(()) => {
            super::verification::after_signup(ctx, &user).await;
            Ok(user)
        }
        Err(StoreError::Conflict(field)) => {
            if ctx
                .store
                .tenant_settings()
                .await?
                .signup_enumeration_protection
            {
                return Err(SignupError::InvalidSignup);
            }
            Err(match field {
                UniqueField::Username => SignupError::UsernameExists,
                UniqueField::Email | UniqueField::Other => SignupError::UserExists,
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(min: u32, max: u32) -> Connection {
        let mut c = Connection {
            name: "db".into(),
            strategy: "auth0".into(),
            enabled_clients: vec![],
            options: Default::default(),
        };
        c.options.requires_username = true;
        c.options.validation = Some(super::super::tenant::ValidationOptions {
            username: Some(super::super::tenant::UsernameLength { min, max }),
        });
        c
    }

    #[test]
    fn username_rules() {
        let c = conn(3, 15);
        assert_eq!(
            check_username(&c, Some("JohnDoe".into())).unwrap(),
            "johndoe"
        );
        assert!(check_username(&c, Some("a_b+c-d.e!#$^`~'".chars().take(15).collect())).is_ok());
        assert!(matches!(
            check_username(&c, None),
            Err(SignupError::Invalid(Invalid {
                rule: Rule::Required,
                ..
            }))
        ));
        assert!(matches!(
            check_username(&c, Some("ab".into())),
            Err(SignupError::Username(UsernameRule::Length {
                min: 3,
                max: 15
            }))
        ));
        assert!(matches!(
            check_username(&c, Some("jo@example.com".into())),
            Err(SignupError::Username(UsernameRule::NotAnEmail))
        ));
        assert!(matches!(
            check_username(&c, Some("john doe".into())),
            Err(SignupError::Username(UsernameRule::Characters))
        ));
        assert!(matches!(
            check_username(&c, Some("jöhn".into())),
            Err(SignupError::Username(UsernameRule::Characters))
        ));
    }
}
