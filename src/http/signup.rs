//! `POST /dbconnections/signup`: the body parsed once into a `SignupInput` (shape and field
//! rules, worded by the dbconnections envelope), the domain's signup, and the 200 body.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

use super::AppState;
use super::body::{BodyError, Fields};
use super::error::DbConnectionsError;
use crate::domain::error::{Invalid, MAX_FIELD, Rule, has_control, has_control_in_text, json_type};
use crate::domain::password_policy::js_len;
use crate::domain::signup::{SignupError, SignupInput, signup, valid_email};
use crate::domain::user::{NewUser, Password, Profile, normalize_identifier};

fn wrong_type(field: &str, expected: &'static str, v: &Value) -> Invalid {
    Invalid::new(
        field,
        Rule::Type {
            expected,
            found: json_type(v),
        },
    )
}

/// An optional string field, any content: absent and `null` are the same.
fn opt_any<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, Invalid> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong_type(field, "string", v)),
    }
}

/// An optional string field that reaches the store: no control characters, at most
/// `MAX_FIELD` long.
fn opt_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, Invalid> {
    let v = opt_any(body, field)?;
    if let Some(s) = v {
        if has_control(s) {
            return Err(Invalid::new(field, Rule::ControlCharacters));
        }
        if js_len(s) > MAX_FIELD {
            return Err(Invalid::new(field, Rule::MaxLength(MAX_FIELD)));
        }
    }
    Ok(v)
}

fn required(field: &str, v: Option<&str>) -> Result<(), Invalid> {
    match v {
        Some(s) if !s.is_empty() => Ok(()),
        _ => Err(Invalid::new(field, Rule::Required)),
    }
}

/// A required, non-empty string field.
fn req_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, Invalid> {
    let v = opt_str(body, field)?;
    required(field, v)?;
    Ok(v.unwrap_or_default())
}

fn bounded(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, Invalid> {
    let v = opt_str(body, field)?;
    if let Some(s) = v
        && js_len(s) > max
    {
        return Err(Invalid::new(field, Rule::MaxLength(max)));
    }
    Ok(v.map(str::to_owned))
}

fn user_metadata(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>, Invalid> {
    let m = match body.get("user_metadata") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(v) => return Err(wrong_type("user_metadata", "object", v)),
    };
    if m.len() > 10 {
        return Err(Invalid::new("user_metadata", Rule::MaxProperties(10)));
    }
    for (k, v) in m {
        if js_len(k) > 100 {
            return Err(Invalid::new("user_metadata", Rule::MaxKeyLength(100)));
        }
        if has_control(k) {
            return Err(Invalid::new("user_metadata", Rule::ControlCharacters));
        }
        match v {
            Value::String(s) if has_control_in_text(s) => {
                return Err(Invalid::new(
                    format!("user_metadata.{k}"),
                    Rule::ControlCharacters,
                ));
            }
            Value::String(s) if js_len(s) > 500 => {
                return Err(Invalid::new(
                    format!("user_metadata.{k}"),
                    Rule::MaxLength(500),
                ));
            }
            Value::String(_) => {}
            _ => {
                return Err(Invalid::new(
                    format!("user_metadata.{k}"),
                    Rule::StringValues,
                ));
            }
        }
    }
    Ok(Some(m.clone()))
}

/// Validates the body's shape and field rules (everything that needs no tenant data).
pub fn parse(body: &Map<String, Value>) -> Result<SignupInput, Invalid> {
    let client_id = req_str(body, "client_id")?.to_owned();
    let connection = req_str(body, "connection")?.to_owned();
    let email = req_str(body, "email")?.trim();
    if email.is_empty() {
        return Err(Invalid::new("email", Rule::Required));
    }
    if js_len(email) > 254 {
        return Err(Invalid::new("email", Rule::MaxLength(254)));
    }
    if !valid_email(email) {
        return Err(Invalid::new("email", Rule::Email));
    }
    // A password never reaches the store as typed (only its hash), so it may hold anything.
    let password = opt_any(body, "password")?;
    required("password", password)?;
    let password = Password(password.unwrap_or_default().to_owned());
    let username = opt_str(body, "username")?.map(|u| u.trim().to_owned());
    let picture = opt_str(body, "picture")?;
    if let Some(p) = picture {
        let ok = Url::parse(p)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .unwrap_or(false);
        if !ok {
            return Err(Invalid::new("picture", Rule::HttpUrl));
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
        email: normalize_identifier(email),
        password,
        username,
        profile,
        user_metadata: user_metadata(body)?,
    })
}

/// The 200 body: id, identifiers, verification flag, and the profile fields that were stored.
#[derive(Debug, Serialize)]
pub struct SignupResponse {
    #[serde(rename = "_id")]
    id: String,
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_metadata: Option<Map<String, Value>>,
}

impl From<NewUser> for SignupResponse {
    fn from(u: NewUser) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            email_verified: u.email_verified,
            given_name: u.profile.given_name,
            family_name: u.profile.family_name,
            name: u.profile.name,
            nickname: u.profile.nickname,
            picture: u.profile.picture,
            user_metadata: (!u.user_metadata.is_empty()).then_some(u.user_metadata),
        }
    }
}

pub async fn signup_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Fields, BodyError>,
) -> Result<Json<SignupResponse>, DbConnectionsError> {
    let Fields(body) = body?;
    let input = parse(&body).map_err(SignupError::from)?;
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let user = signup(&state.services, input, origin).await?;
    tracing::info!(user_id = %user.id, connection = %user.connection, "signup");
    Ok(Json(user.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error::dbconnections_wording;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn err(v: Value) -> String {
        match parse(&body(v)) {
            Err(e) => dbconnections_wording(&e),
            Ok(input) => panic!("expected invalid body, got {input:?}"),
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
    fn control_characters_are_refused_where_they_would_be_stored() {
        for field in [
            "client_id",
            "connection",
            "email",
            "username",
            "name",
            "picture",
        ] {
            assert_eq!(
                err(with(field, json!("a\u{0}b"))),
                format!("{field} must not contain control characters")
            );
        }
        assert_eq!(
            err(with("given_name", json!("x\u{7f}"))),
            "given_name must not contain control characters"
        );
        assert_eq!(
            err(with("user_metadata", json!({"a\u{1}": "v"}))),
            "user_metadata must not contain control characters"
        );
        assert_eq!(
            err(with("user_metadata", json!({"plan": "a\u{0}"}))),
            "user_metadata.plan must not contain control characters"
        );
        // Free text may hold line breaks and tabs; a password anything.
        assert!(
            parse(&body(with(
                "user_metadata",
                json!({"address": "1 Main St\n\tX"})
            )))
            .is_ok()
        );
        assert!(parse(&body(with("password", json!("pa\u{0}ss")))).is_ok());
        assert_eq!(
            err(with(
                "picture",
                json!(format!("https://x.org/{}", "a".repeat(2048)))
            )),
            "picture must be at most 2048 characters"
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
}
