//! One imported user as the storage port takes it (checked by `migration`), the upsertable
//! fields its record carried, and what the store did with it, in Auth0's job-error shape.

use serde::Serialize;
use serde_json::{Map, Value};

/// One user to import, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportUser {
    /// Without the `auth0|` prefix.
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub blocked: bool,
    pub app_metadata: Option<Map<String, Value>>,
    pub user_metadata: Option<Map<String, Value>>,
    /// The stored form (`imported_hash`), or `NO_PASSWORD`.
    pub password_hash: String,
    /// From `custom_password_hash` (which upsert may replace), not `password_hash`.
    pub custom_hash: bool,
    /// Which optional fields the record carried (upsert changes only those).
    pub present: Present,
}

/// The upsertable fields a record carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Present {
    pub email_verified: bool,
    pub given_name: bool,
    pub family_name: bool,
    pub name: bool,
    pub nickname: bool,
    pub picture: bool,
}

/// One problem with one user, as Auth0's import job reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl ImportProblem {
    pub(super) fn new(code: &'static str, message: impl Into<String>, path: Option<&str>) -> Self {
        Self {
            code,
            message: message.into(),
            path: path.map(str::to_owned),
        }
    }

    pub fn duplicate() -> Self {
        Self::new(
            "DUPLICATED_USER",
            "The user already exist and upsert parameter is false",
            None,
        )
    }

    /// Upsert found the email, but the record's `user_id` or `username` belongs to another user.
    pub fn conflict() -> Self {
        Self::new(
            "DUPLICATED_USER",
            "The user_id or username already belongs to another user",
            None,
        )
    }
}

/// What the store did with one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Inserted,
    Updated,
    Refused(ImportProblem),
}
