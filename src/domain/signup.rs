//! `POST /dbconnections/signup` rules: body validation, tenant checks, password policy and
//! options, then hashing and the atomic insert.

use std::sync::Arc;

use email_address::EmailAddress;
use serde_json::{Map, Value};
use url::Url;

use super::Error;
use super::hasher::{Hasher, Password};
use super::password_policy::{contains_personal_info, is_common, js_len};
use super::store::{Store, StoreError, UniqueField};
use super::tenant::{Client, Connection};
use super::user::{NewUser, Profile, new_user_id, now_millis};

/// What a signup needs from the running server.
pub struct SignupContext<'a> {
    pub store: &'a dyn Store,
    pub hasher: &'a Hasher,
    /// The server's own origin (scheme://host:port); its pages may always call the API.
    pub own_origin: &'a str,
}

/// A validated request body (tenant rules not yet applied).
#[derive(Debug)]
pub struct SignupInput {
    pub client_id: String,
    pub connection: String,
    pub email: String,
    pub password: Password,
    pub username: Option<String>,
    pub profile: Profile,
    pub user_metadata: Option<Map<String, Value>>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(field: &str, expected: &str, v: &Value) -> Error {
    Error::InvalidBody(format!(
        "Invalid type for property {field}: expected {expected} but found {}",
        type_name(v)
    ))
}

/// An optional string field: absent and `null` are the same.
fn opt_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong_type(field, "string", v)),
    }
}

/// A required, non-empty string field.
fn req_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, Error> {
    match opt_str(body, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::InvalidBody(format!(
            "Missing required property: {field}"
        ))),
    }
}

fn bounded(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, Error> {
    let v = opt_str(body, field)?;
    if let Some(s) = v
        && js_len(s) > max
    {
        return Err(Error::InvalidBody(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(v.map(str::to_owned))
}

fn valid_email(s: &str) -> bool {
    let opts = email_address::Options::default()
        .without_display_text()
        .without_domain_literal();
    EmailAddress::parse_with_options(s, opts).is_ok()
}

fn user_metadata(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>, Error> {
    let m = match body.get("user_metadata") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(v) => return Err(wrong_type("user_metadata", "object", v)),
    };
    if m.len() > 10 {
        return Err(Error::InvalidBody(
            "user_metadata must have at most 10 properties".into(),
        ));
    }
    for (k, v) in m {
        if js_len(k) > 100 {
            return Err(Error::InvalidBody(
                "user_metadata property names must be at most 100 characters".into(),
            ));
        }
        match v {
            Value::String(s) if js_len(s) > 500 => {
                return Err(Error::InvalidBody(format!(
                    "user_metadata.{k} must be at most 500 characters"
                )));
            }
            Value::String(_) => {}
            _ => {
                return Err(Error::InvalidBody(format!(
                    "invalid user_metadata.{k} type (only strings are allowed)"
                )));
            }
        }
    }
    Ok(Some(m.clone()))
}

/// Validates the body's shape and field rules (everything that needs no tenant data).
pub fn parse(body: &Map<String, Value>) -> Result<SignupInput, Error> {
    let client_id = req_str(body, "client_id")?.to_owned();
    let connection = req_str(body, "connection")?.to_owned();
    let email = req_str(body, "email")?.trim();
    if email.is_empty() {
        return Err(Error::InvalidBody(
            "Missing required property: email".into(),
        ));
    }
    if js_len(email) > 254 {
        return Err(Error::InvalidBody(
            "email must be at most 254 characters".into(),
        ));
    }
    if !valid_email(email) {
        return Err(Error::InvalidBody(
            "email is not a valid email address".into(),
        ));
    }
    let password = Password(req_str(body, "password")?.to_owned());
    let username = opt_str(body, "username")?.map(|u| u.trim().to_owned());
    let picture = opt_str(body, "picture")?;
    if let Some(p) = picture {
        let ok = Url::parse(p)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .unwrap_or(false);
        if !ok {
            return Err(Error::InvalidBody(
                "picture must be an absolute http or https URI".into(),
            ));
        }
    }
    let profile = Profile {
        given_name: bounded(body, "given_name", 150)?,
        family_name: bounded(body, "family_name", 150)?,
        name: bounded(body, "name", 300)?,
        nickname: bounded(body, "nickname", 300)?,
        picture: picture.map(str::to_owned),
    };
    Ok(SignupInput {
        client_id,
        connection,
        email: email.to_lowercase(),
        password,
        username,
        profile,
        user_metadata: user_metadata(body)?,
    })
}

const USERNAME_SPECIALS: &str = "_+-.!#$^`~@'";

/// Applies the connection's username rules; returns the stored (lower-cased) form.
fn check_username(connection: &Connection, username: Option<String>) -> Result<String, Error> {
    let username = match username {
        Some(u) if !u.is_empty() => u,
        _ => {
            return Err(Error::InvalidBody(
                "Missing required property: username".into(),
            ));
        }
    };
    let len = connection.options.username_length();
    let n = js_len(&username);
    if n < len.min as usize || n > len.max as usize {
        return Err(Error::InvalidUsername(format!(
            "The username must have between {} and {} characters.",
            len.min, len.max
        )));
    }
    if valid_email(&username) {
        return Err(Error::InvalidUsername(
            "The username cannot be an email address.".into(),
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || USERNAME_SPECIALS.contains(c))
    {
        return Err(Error::InvalidUsername(format!(
            "The username can only contain letters, digits and these characters: {USERNAME_SPECIALS}"
        )));
    }
    Ok(username.to_lowercase())
}

/// The connection's password rules after the strength level: dictionary, then personal info.
fn check_password_options(
    connection: &Connection,
    input: &SignupInput,
    username: Option<&str>,
) -> Result<(), Error> {
    let opts = &connection.options;
    let password = &input.password.0;
    opts.policy()
        .check(password)
        .map_err(Error::PasswordStrength)?;
    if let Some(d) = &opts.password_dictionary
        && d.enable
        && is_common(password, &d.dictionary)
    {
        return Err(Error::PasswordDictionary);
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
            return Err(Error::PasswordNoUserInfo);
        }
    }
    Ok(())
}

/// Checks that a loaded connection is a database connection enabled for `client`.
pub fn usable_connection(
    client: &Client,
    connection: Option<Arc<Connection>>,
) -> Result<Arc<Connection>, Error> {
    let connection = connection.ok_or(Error::ConnectionNotFound)?;
    if !connection.is_database() {
        return Err(Error::NotDatabaseConnection);
    }
    if !connection.enabled_clients.contains(&client.client_id) {
        return Err(Error::ConnectionNotEnabled);
    }
    Ok(connection)
}

/// Runs a whole signup; on success the user is durably stored.
pub async fn signup(
    ctx: &SignupContext<'_>,
    body: &Map<String, Value>,
    origin: Option<&str>,
) -> Result<NewUser, Error> {
    let input = parse(body)?;
    // Reserve hashing capacity before any database work, so overload is refused at once.
    let ticket = ctx.hasher.admit()?;
    let (client, connection) = ctx
        .store
        .client_with_connection(&input.client_id, &input.connection)
        .await?
        .ok_or(Error::UnknownClient)?;
    if let Some(origin) = origin
        && !origin.eq_ignore_ascii_case(ctx.own_origin)
        && !client.allows_origin(origin)
    {
        return Err(Error::OriginNotAllowed);
    }
    let connection = usable_connection(&client, connection)?;
    if connection.options.disable_signup {
        return Err(Error::SignupDisabled);
    }
    // Usernames are ignored on connections that don't use them (documented in the README).
    let username = if connection.options.requires_username {
        Some(check_username(&connection, input.username.clone())?)
    } else {
        None
    };
    check_password_options(&connection, &input, username.as_deref())?;

    let password_hash = ticket.hash(input.password.clone()).await?;
    let now = now_millis();
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
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(field)) => {
            if ctx
                .store
                .tenant_settings()
                .await?
                .signup_enumeration_protection
            {
                return Err(Error::InvalidSignup);
            }
            Err(match field {
                UniqueField::Username => Error::UsernameExists,
                UniqueField::Email | UniqueField::Other => Error::UserExists,
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn err(v: Value) -> String {
        match parse(&body(v)) {
            Err(Error::InvalidBody(m)) => m,
            other => panic!("expected invalid body, got {other:?}"),
        }
    }

    fn base() -> Value {
        json!({"client_id":"c","connection":"db","email":" John@Example.COM ","password":"x"})
    }

    fn with(k: &str, v: Value) -> Value {
        let mut b = base();
        b[k] = v;
        b
    }

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(parse(&body(base())).unwrap().email, "john@example.com");
    }

    #[test]
    fn required_fields() {
        assert_eq!(err(json!({})), "Missing required property: client_id");
        assert_eq!(
            err(with("email", Value::Null)),
            "Missing required property: email"
        );
        assert_eq!(
            err(with("email", json!("  "))),
            "Missing required property: email"
        );
        assert_eq!(
            err(with("password", json!(""))),
            "Missing required property: password"
        );
        assert_eq!(
            err(with("password", json!(12))),
            "Invalid type for property password: expected string but found number"
        );
    }

    #[test]
    fn email_rules() {
        assert_eq!(
            err(with("email", json!("nope"))),
            "email is not a valid email address"
        );
        assert_eq!(
            err(with("email", json!("John <j@x.org>"))),
            "email is not a valid email address"
        );
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            err(with("email", json!(long))),
            "email must be at most 254 characters"
        );
    }

    #[test]
    fn profile_limits() {
        assert!(parse(&body(with("given_name", json!("a".repeat(150))))).is_ok());
        assert_eq!(
            err(with("given_name", json!("a".repeat(151)))),
            "given_name must be at most 150 characters"
        );
        assert_eq!(
            err(with("nickname", json!("a".repeat(301)))),
            "nickname must be at most 300 characters"
        );
        assert_eq!(
            err(with("picture", json!("/relative.png"))),
            "picture must be an absolute http or https URI"
        );
        assert_eq!(
            err(with("picture", json!("ftp://x.org/a.png"))),
            "picture must be an absolute http or https URI"
        );
    }

    #[test]
    fn metadata_limits() {
        let eleven: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            err(with("user_metadata", Value::Object(eleven))),
            "user_metadata must have at most 10 properties"
        );
        assert_eq!(
            err(with("user_metadata", json!({"plan": 1}))),
            "invalid user_metadata.plan type (only strings are allowed)"
        );
        assert_eq!(
            err(with("user_metadata", json!({"plan": "x".repeat(501)}))),
            "user_metadata.plan must be at most 500 characters"
        );
        assert_eq!(
            err(with("user_metadata", json!({"k".repeat(101): "v"}))),
            "user_metadata property names must be at most 100 characters"
        );
        assert_eq!(
            err(with("user_metadata", json!("{\"a\":\"b\"}"))),
            "Invalid type for property user_metadata: expected object but found string"
        );
    }

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
            Err(Error::InvalidBody(_))
        ));
        assert!(matches!(
            check_username(&c, Some("ab".into())),
            Err(Error::InvalidUsername(m)) if m == "The username must have between 3 and 15 characters."
        ));
        assert!(matches!(
            check_username(&c, Some("jo@example.com".into())),
            Err(Error::InvalidUsername(m)) if m == "The username cannot be an email address."
        ));
        assert!(matches!(
            check_username(&c, Some("john doe".into())),
            Err(Error::InvalidUsername(_))
        ));
        assert!(matches!(
            check_username(&c, Some("jöhn".into())),
            Err(Error::InvalidUsername(_))
        ));
    }
}
