//! How the Management edge reads a request: a JSON object body (control characters refused
//! anywhere in it, the 413 of a chunked body in this envelope), its properties by type with
//! Auth0's wording, the query string's parameters, `fields`/`include_fields` projection, and
//! the never-cached answer.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

use super::error::ManagementApiError;
use crate::domain::error::json_type;
use crate::domain::manage_tenant::Page;
use crate::domain::management::ManagementError;

pub(super) fn invalid(message: impl Into<String>) -> ManagementApiError {
    ManagementApiError(ManagementError::Invalid(message.into()))
}

pub(super) fn query_error(message: impl Into<String>) -> ManagementApiError {
    ManagementApiError(ManagementError::Query(message.into()))
}

/// Management answers are never cached.
pub(super) fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A body's bytes; one over the limit (chunked, so not refused before the handler) answers
/// 413 in this envelope.
pub(super) fn bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ManagementApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ManagementApiError(ManagementError::TooLarge)
        } else {
            invalid("Payload validation error: 'the body cannot be read'.")
        }
    })
}

/// A JSON object body; a body over the limit (chunked) answers 413 in this envelope.
pub(super) fn object(
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ManagementApiError> {
    let body = bytes(body)?;
    if body.is_empty() {
        return Err(invalid(
            "Payload validation error: 'Expected type object but found type null'.",
        ));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => match control_character_at(&o) {
            Some(at) => Err(invalid(format!(
                "Payload validation error: 'Control characters are not allowed' on property {at}."
            ))),
            None => Ok(o),
        },
        Ok(other) => Err(invalid(format!(
            "Payload validation error: 'Expected type object but found type {}'.",
            json_type(&other)
        ))),
        Err(_) => Err(invalid("Payload validation error: 'Invalid JSON'.")),
    }
}

/// Where a body holds a control character, as a property path. Keys, and the strings of the
/// body's own properties (names, identifiers, emails, URLs), hold none; strings nested in
/// objects (metadata's free text) and the password none but tab, line feed and carriage
/// return. No NUL reaches either store, so no stored value can break a later search.
fn control_character_at(body: &Map<String, Value>) -> Option<String> {
    use crate::domain::error::{has_control, has_control_in_text};
    fn nested(v: &Value, at: &str) -> Option<String> {
        match v {
            Value::String(s) => has_control_in_text(s).then(|| at.to_owned()),
            Value::Array(items) => items.iter().find_map(|i| nested(i, at)),
            Value::Object(o) => o.iter().find_map(|(k, v)| {
                if has_control(k) {
                    Some(at.to_owned())
                } else {
                    nested(v, &format!("{at}.{k}"))
                }
            }),
            _ => None,
        }
    }
    body.iter().find_map(|(k, v)| {
        if has_control(k) {
            return Some("(a property name)".to_owned());
        }
        match v {
            Value::String(s) if k != "password" => has_control(s).then(|| k.clone()),
            Value::Array(items) => items.iter().find_map(|i| match i {
                Value::String(s) => has_control(s).then(|| k.clone()),
                other => nested(other, k),
            }),
            other => nested(other, k),
        }
    })
}

/// Typed reads of a body's properties, refusing unknown ones.
pub(super) struct Body(pub(super) Map<String, Value>);

impl Body {
    /// Refuses properties `T`, the body's schema in the OpenAPI document, does not declare.
    pub(super) fn accepting<T: utoipa::ToSchema>(self) -> Result<Self, ManagementApiError> {
        let known = super::schemas::properties::<T>();
        if let Some(k) = self.0.keys().find(|k| !known.contains(k)) {
            return Err(invalid(format!(
                "Payload validation error: 'Additional properties not allowed: {k}'."
            )));
        }
        Ok(self)
    }

    pub(super) fn wrong(k: &str, want: &str, v: &Value) -> ManagementApiError {
        invalid(format!(
            "Payload validation error: 'Expected type {want} but found type {}' on property {k}.",
            json_type(v)
        ))
    }

    pub(super) fn string(&self, k: &str) -> Result<Option<String>, ManagementApiError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Self::wrong(k, "string", v)),
        }
    }

    /// A string that `null` clears: `Some(None)`.
    pub(super) fn clearable(&self, k: &str) -> Result<Option<Option<String>>, ManagementApiError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(v) => Err(Self::wrong(k, "string", v)),
        }
    }

    pub(super) fn boolean(&self, k: &str) -> Result<Option<bool>, ManagementApiError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(Self::wrong(k, "boolean", v)),
        }
    }

    pub(super) fn map(&self, k: &str) -> Result<Option<Map<String, Value>>, ManagementApiError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(v) => Err(Self::wrong(k, "object", v)),
        }
    }

    /// An array of strings.
    pub(super) fn strings(&self, k: &str) -> Result<Option<Vec<String>>, ManagementApiError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(Self::wrong(k, "string", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(Self::wrong(k, "array", v)),
        }
    }

    pub(super) fn required(&self, k: &str) -> Result<String, ManagementApiError> {
        self.string(k)?.filter(|s| !s.is_empty()).ok_or_else(|| {
            invalid(format!(
                "Payload validation error: 'Missing required property: {k}'."
            ))
        })
    }
}

/// A query string's parameters (the last value of a repeated one).
pub(super) struct Params(HashMap<String, String>);

pub(super) fn params(raw: RawQuery) -> Result<Params, ManagementApiError> {
    let mut out = HashMap::new();
    if let Some(q) = raw.0 {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            out.insert(k.into_owned(), v.into_owned());
        }
    }
    Ok(Params(out))
}

impl Params {
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    pub(super) fn boolean(&self, k: &str, default: bool) -> Result<bool, ManagementApiError> {
        match self.get(k) {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(query_error(format!(
                "Query validation error: 'Expected type boolean but found type string' on property {k}."
            ))),
        }
    }

    pub(super) fn number(&self, k: &str, default: i64) -> Result<i64, ManagementApiError> {
        match self.get(k) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<u32>().map(i64::from).map_err(|_| {
                query_error(format!(
                    "Query validation error: 'Expected type integer but found type string' on property {k}."
                ))
            }),
        }
    }
}

/// `fields`/`include_fields` on one object.
pub(super) fn project(v: Value, q: &Params) -> Result<Value, ManagementApiError> {
    let include = q.boolean("include_fields", true)?;
    let Some(fields) = q.get("fields").filter(|f| !f.is_empty()) else {
        return Ok(v);
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    let Value::Object(o) = v else { return Ok(v) };
    Ok(Value::Object(
        o.into_iter()
            .filter(|(k, _)| wanted.contains(&k.as_str()) == include)
            .collect(),
    ))
}

impl Params {
    pub(super) fn page(&self) -> Result<Page, ManagementApiError> {
        let per_page = match self.get("per_page") {
            None | Some("") => None,
            Some(_) => Some(self.number("per_page", 0)?),
        };
        Ok(Page {
            page: self.number("page", 0)?,
            per_page,
            include_totals: self.boolean("include_totals", false)?,
        })
    }
}

/// `fields` on each item of a list, bare or inside its named array.
pub(super) fn project_list(
    body: Value,
    plural: &str,
    q: &Params,
) -> Result<Value, ManagementApiError> {
    let each = |items: Vec<Value>| -> Result<Vec<Value>, ManagementApiError> {
        items.into_iter().map(|v| project(v, q)).collect()
    };
    match body {
        Value::Array(items) => Ok(Value::Array(each(items)?)),
        Value::Object(mut o) => {
            if let Some(Value::Array(items)) = o.remove(plural) {
                o.insert(plural.to_owned(), Value::Array(each(items)?));
            }
            Ok(Value::Object(o))
        }
        other => Ok(other),
    }
}
