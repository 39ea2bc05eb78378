//! What every area's error shares: validation failures (a field and the rule it broke, worded by
//! each envelope), the failures no request can fix (overload, the store, hashing, signing), and
//! the store's own error, which they wrap. Imports no other domain module.

/// The rule a field broke. Envelopes word it (dbconnections: "Missing required property: x";
/// OAuth: "missing x parameter").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Absent, `null` or empty.
    Required,
    /// Of another JSON type.
    Type {
        expected: &'static str,
        found: &'static str,
    },
    /// Longer than this many UTF-16 code units (JavaScript's `.length`).
    MaxLength(usize),
    /// Not an email address.
    Email,
    /// Not an absolute http(s) URL.
    HttpUrl,
    /// An object with more properties than this.
    MaxProperties(usize),
    /// An object with a property name longer than this.
    MaxKeyLength(usize),
    /// An object with a value that is not a string.
    StringValues,
    /// Holds a control character (U+0000–U+001F, U+007F; text values may hold tab, line feed
    /// and carriage return).
    ControlCharacters,
    /// Given more than once (RFC 6749 §3.1).
    Repeated,
}

/// Whether `s` holds a control character no identifier or name may hold.
pub fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_control())
}

/// Whether free text `s` holds a control character other than tab, line feed and carriage
/// return.
pub fn has_control_in_text(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Longest string any request field may hold unless a tighter rule applies (UTF-16 units).
pub const MAX_FIELD: usize = 2048;

/// A field of a request that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule:?}")]
pub struct Invalid {
    /// The field's name as sent (`user_metadata.plan` for a nested one).
    pub field: String,
    pub rule: Rule,
}

impl Invalid {
    pub fn new(field: impl Into<String>, rule: Rule) -> Self {
        Self {
            field: field.into(),
            rule,
        }
    }
}

/// The JSON type name of a value, as validation messages give it.
pub fn json_type(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A cause kept for the log: any error, shared so that one failure can answer many waiters.
pub type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Failures that are no fault of the request, shared by every area. The envelopes answer
/// `Overloaded` with 429 and the rest with a generic 500, logging the source chain once.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Too much work is queued (password hashing); retry later.
    #[error("overloaded")]
    Overloaded,
    #[error("the store failed")]
    Store(#[source] StoreError),
    #[error("password hashing failed")]
    Hashing(#[source] Cause),
    #[error("token signing failed")]
    Signing(#[source] Cause),
    /// A state the code should never reach.
    #[error("{0}")]
    Bug(&'static str),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// A cause that is only a message (a task that stopped, a key that is missing).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0}")]
pub struct Message(pub &'static str);

/// The error and its sources, outermost first, joined by ": " (for the log line).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(": ");
        text.push_str(&s.to_string());
        next = s.source();
    }
    text
}

/// Which unique constraint a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Email,
    Username,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated ({0:?})")]
    Conflict(UniqueField),
    /// A stored row that does not decode.
    #[error("stored data is invalid")]
    Corrupt(#[source] Cause),
    #[error("database error")]
    Backend(#[source] Cause),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_source() {
        let io = std::io::Error::other("disk full");
        let e = Failure::Store(StoreError::Backend(std::sync::Arc::new(io)));
        assert_eq!(chain(&e), "the store failed: database error: disk full");
    }
}
