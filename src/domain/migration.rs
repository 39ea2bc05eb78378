//! Importing users (migration.md): one Auth0 bulk-import record checked into an
//! [`ImportUser`] (Auth0's schema: unknown properties refused, `user_id` kept, hashes validated
//! into their stored form), the per-user errors in Auth0's job shape, Auth0's password-hash
//! export joined to a profile, and the counts an import reports.

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{has_control, has_control_in_text};
use super::imported_hash;
use super::user::{new_user_id, normalize_identifier};

// The checked user and the store's outcome live in `imported_user`, which the storage port
// takes without depending on this module.
pub use super::imported_user::{ImportProblem, ImportUser, Outcome, Present};

/// A user the import refused, with the record as given minus its secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedUser {
    pub user: Value,
    pub errors: Vec<ImportProblem>,
}

impl FailedUser {
    pub fn new(record: &Value, errors: Vec<ImportProblem>) -> Self {
        // A record too large to read is named by nothing: its error says its size.
        let mut user = if is_oversize(record) {
            Value::Object(Map::new())
        } else {
            record.clone()
        };
        if let Some(o) = user.as_object_mut() {
            o.remove("password_hash");
            o.remove("custom_password_hash");
            o.remove("password");
        }
        Self { user, errors }
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub failed: u64,
    pub updated: u64,
    pub inserted: u64,
    pub total: u64,
}

const PROPERTIES: [&str; 15] = [
    "email",
    "email_verified",
    "user_id",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "blocked",
    "app_metadata",
    "user_metadata",
    "password_set_date",
    "password_hash",
    "custom_password_hash",
];

/// Most a record's `user_metadata` or `app_metadata` may hold, as JSON (Auth0's 16 kB per
/// metadata object).
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Whether a metadata object holds a control character: in a key (none allowed), or in a
/// string value at any depth (tab, line feed and carriage return allowed in free text).
pub fn metadata_has_control(m: &Map<String, Value>) -> bool {
    fn value(v: &Value) -> bool {
        match v {
            Value::String(s) => has_control_in_text(s),
            Value::Array(items) => items.iter().any(value),
            Value::Object(o) => metadata_has_control(o),
            _ => false,
        }
    }
    m.iter().any(|(k, v)| has_control(k) || value(v))
}

/// The key of the stand-in for a record too large to read (see `oversize`): never a property
/// of Auth0's format.
const OVERSIZE: &str = "\u{0}oversize";

/// What a record over the file reader's bound becomes: a stand-in that `check` refuses with a
/// per-user error (the record itself was never held in memory).
pub fn oversize(bytes: u64, max: usize) -> Value {
    serde_json::json!({ OVERSIZE: [bytes, max] })
}

/// Whether `v` is `oversize`'s stand-in.
pub fn is_oversize(v: &Value) -> bool {
    v.get(OVERSIZE).is_some()
}

/// Checks one bulk-import record. `now` names a new id when the record has none.
pub fn check(record: &Value, now: i64) -> Result<ImportUser, Vec<ImportProblem>> {
    let Some(obj) = record.as_object() else {
        return Err(vec![ImportProblem::new(
            "INVALID_TYPE",
            "Expected type object",
            None,
        )]);
    };
    if let Some(size) = obj.get(OVERSIZE) {
        return Err(vec![ImportProblem::new(
            "INVALID_FORMAT",
            format!(
                "The user is {} bytes, over the limit of {} bytes per user",
                size[0], size[1]
            ),
            None,
        )]);
    }
    let mut problems = Vec::new();
    let extra: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !PROPERTIES.contains(k))
        .collect();
    if !extra.is_empty() {
        problems.push(ImportProblem::new(
            "OBJECT_ADDITIONAL_PROPERTIES",
            format!("Additional properties not allowed: {}", extra.join(",")),
            None,
        ));
    }
    let mut text = |key: &str, max: usize| -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if has_control(s) => {
                problems.push(ImportProblem::new(
                    "INVALID_FORMAT",
                    format!("Error in {key} property - must not contain control characters"),
                    Some(key),
                ));
                None
            }
            Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
            Some(Value::String(_)) => {
                problems.push(ImportProblem::new(
                    "INVALID_FORMAT",
                    format!("Error in {key} property - too long (at most {max})"),
                    Some(key),
                ));
                None
            }
            Some(_) => {
                problems.push(ImportProblem::new(
                    "INVALID_TYPE",
                    format!("Expected type string for {key}"),
                    Some(key),
                ));
                None
            }
        }
    };
    let email = text("email", 254);
    let user_id = text("user_id", 255);
    let username = text("username", 128);
    let given_name = text("given_name", 150);
    let family_name = text("family_name", 150);
    let name = text("name", 300);
    let nickname = text("nickname", 300);
    let picture = text("picture", 2000);
    let password_hash = text("password_hash", 200);
    let mut boolean = |key: &str| -> Option<bool> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                problems.push(ImportProblem::new(
                    "INVALID_TYPE",
                    format!("Expected type boolean for {key}"),
                    Some(key),
                ));
                None
            }
        }
    };
    let email_verified = boolean("email_verified");
    let blocked = boolean("blocked");
    let mut object = |key: &str| -> Option<Map<String, Value>> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m))
                if serde_json::to_string(m).map_or(0, |t| t.len()) > MAX_METADATA_BYTES =>
            {
                problems.push(ImportProblem::new(
                    "INVALID_FORMAT",
                    format!("Error in {key} property - larger than {MAX_METADATA_BYTES} bytes"),
                    Some(key),
                ));
                None
            }
            Some(Value::Object(m)) if metadata_has_control(m) => {
                problems.push(ImportProblem::new(
                    "INVALID_FORMAT",
                    format!("Error in {key} property - must not contain control characters"),
                    Some(key),
                ));
                None
            }
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => {
                problems.push(ImportProblem::new(
                    "INVALID_TYPE",
                    format!("Expected type object for {key}"),
                    Some(key),
                ));
                None
            }
        }
    };
    let app_metadata = object("app_metadata");
    let user_metadata = object("user_metadata");
    let email = match email {
        Some(e) if super::user::valid_email(e.trim()) => Some(normalize_identifier(&e)),
        Some(_) => {
            problems.push(ImportProblem::new(
                "INVALID_FORMAT",
                "Error in email property - Invalid format",
                Some("email"),
            ));
            None
        }
        None => {
            if !obj.contains_key("email") {
                problems.push(ImportProblem::new(
                    "OBJECT_MISSING_REQUIRED_PROPERTY",
                    "Missing required property: email",
                    Some("email"),
                ));
            }
            None
        }
    };
    let id = match user_id {
        Some(id) => {
            let id = id.strip_prefix("auth0|").unwrap_or(&id).to_owned();
            if !super::user::valid_user_id(&id) {
                problems.push(ImportProblem::new(
                    "INVALID_FORMAT",
                    "Error in user_id property - Invalid format",
                    Some("user_id"),
                ));
            }
            id
        }
        None => new_user_id(now),
    };
    let (hash, custom_hash) = match (password_hash, obj.get("custom_password_hash")) {
        (Some(_), Some(_)) => {
            problems.push(ImportProblem::new(
                "INVALID_FORMAT",
                "password_hash and custom_password_hash cannot be used together",
                None,
            ));
            (String::new(), false)
        }
        (Some(h), None) => match imported_hash::bcrypt(&h) {
            Ok(h) => (h, false),
            Err(e) => {
                problems.push(ImportProblem::new(
                    "INVALID_FORMAT",
                    format!("Error in password_hash property - {e}"),
                    Some("password_hash"),
                ));
                (String::new(), false)
            }
        },
        (None, Some(c)) => match imported_hash::custom(c) {
            Ok(h) => (h, true),
            Err(e) => {
                problems.push(ImportProblem::new(
                    "INVALID_FORMAT",
                    format!("Error in custom_password_hash property - {e}"),
                    Some("custom_password_hash"),
                ));
                (String::new(), false)
            }
        },
        (None, None) => (imported_hash::NO_PASSWORD.to_owned(), false),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let present = Present {
        email_verified: email_verified.is_some(),
        given_name: given_name.is_some(),
        family_name: family_name.is_some(),
        name: name.is_some(),
        nickname: nickname.is_some(),
        picture: picture.is_some(),
    };
    Ok(ImportUser {
        id,
        email: email.unwrap_or_default(),
        email_verified: email_verified.unwrap_or(false),
        username: username.map(|u| normalize_identifier(&u)),
        given_name,
        family_name,
        name,
        nickname,
        picture,
        blocked: blocked.unwrap_or(false),
        app_metadata,
        user_metadata,
        password_hash: hash,
        custom_hash,
        present,
    })
}

/// A record of Auth0's password-hash export, joined to its profile (by user id) when there is
/// one, as a bulk-import record: `_id.$oid` or `alt_id` names the user, `passwordHash` is its
/// bcrypt hash, `email` may live only in `identifiers`.
pub fn from_hash_export(record: &Value, profile: Option<&Value>) -> Value {
    // A profile export carries more than an import takes (identities, logins_count, …):
    // only the importable properties pass.
    let mut user: Map<String, Value> = profile
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(k, _)| PROPERTIES.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let id = export_id(record);
    if let Some(id) = id {
        user.insert("user_id".into(), Value::String(id));
    }
    let email = record.get("email").cloned().or_else(|| {
        record
            .get("identifiers")
            .and_then(Value::as_array)
            .and_then(|ids| {
                ids.iter()
                    .find(|i| i.get("type").and_then(Value::as_str) == Some("email"))
            })
            .and_then(|i| i.get("value").cloned())
    });
    if let Some(e) = email {
        user.entry("email").or_insert(e);
    }
    if let Some(v) = record.get("email_verified") {
        user.entry("email_verified").or_insert(v.clone());
    }
    if let Some(h) = record.get("passwordHash") {
        user.insert("password_hash".into(), h.clone());
    }
    // latchkey's own hash file carries what is not bcrypt in the import's form.
    if let Some(h) = record.get("custom_password_hash") {
        user.insert("custom_password_hash".into(), h.clone());
    }
    Value::Object(user)
}

/// The user id (without `auth0|`) of a password-hash export record.
pub fn export_id(record: &Value) -> Option<String> {
    record
        .get("alt_id")
        .and_then(Value::as_str)
        .or_else(|| record.pointer("/_id/$oid").and_then(Value::as_str))
        .map(str::to_owned)
}

/// The id of a profile-export record (`user_id`, with or without `auth0|`).
pub fn profile_id(record: &Value) -> Option<String> {
    record
        .get("user_id")
        .and_then(Value::as_str)
        .map(|id| id.strip_prefix("auth0|").unwrap_or(id).to_owned())
}

/// Creates the tenant file's seed users that do not exist yet (by connection and email);
/// existing ones are left as they are, so a restart changes nothing. Returns how many it made.
pub async fn seed(
    store: &dyn super::store::Store,
    hasher: &dyn super::ports::PasswordHasher,
    now: i64,
    seeds: &[super::tenant::SeedUser],
) -> Result<u64, super::error::Failure> {
    let mut created = 0;
    for s in seeds {
        if store
            .user_by_identifier(&s.connection, &s.email)
            .await?
            .is_some()
        {
            continue;
        }
        let Ok(mut user) = check(&s.record, now) else {
            // Checked when the file was read.
            return Err(super::error::Failure::Bug("a seed user no longer checks"));
        };
        if let Some(p) = &s.password {
            user.password_hash = hasher
                .admit()?
                .hash(super::user::Password(p.clone()))
                .await?;
        }
        // Another instance starting at once may have made it: then it is refused, and fine.
        let outcome = store
            .import_users(&s.connection, &[user], false, now)
            .await?;
        if outcome.first() == Some(&Outcome::Inserted) {
            created += 1;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_record() {
        let u = check(
            &json!({"email": "Jane@Example.com", "email_verified": true, "user_id": "5dea9f9c82dd7c0e76e4ec93",
                "given_name": "Jane", "app_metadata": {"plan": "pro"}, "user_metadata": {"lang": "fr"},
                "password_hash": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}),
            0,
        )
        .unwrap();
        assert_eq!(u.id, "5dea9f9c82dd7c0e76e4ec93");
        assert_eq!(u.email, "jane@example.com");
        assert!(u.email_verified && !u.custom_hash && u.present.given_name && !u.present.name);
        assert!(u.password_hash.starts_with("$2b$10$"));
    }

    #[test]
    fn problems_in_auth0s_shape() {
        let errs = check(&json!({"emial": "x", "blocked": "yes"}), 0).unwrap_err();
        assert_eq!(
            errs,
            vec![
                ImportProblem::new(
                    "OBJECT_ADDITIONAL_PROPERTIES",
                    "Additional properties not allowed: emial",
                    None
                ),
                ImportProblem::new(
                    "INVALID_TYPE",
                    "Expected type boolean for blocked",
                    Some("blocked")
                ),
                ImportProblem::new(
                    "OBJECT_MISSING_REQUIRED_PROPERTY",
                    "Missing required property: email",
                    Some("email")
                ),
            ]
        );
        let errs = check(&json!({"email": "a@b.co", "custom_password_hash": {"algorithm": "rot13", "hash": {"value": "x"}}}), 0)
            .unwrap_err();
        assert_eq!(
            errs[0].message,
            "Error in custom_password_hash property - unsupported algorithm \"rot13\""
        );
    }

    #[test]
    fn the_hash_export_joins_its_profile() {
        let hash = json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec93"}, "email_verified": false,
            "passwordHash": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K",
            "identifiers": [{"type": "email", "value": "user@example.com", "verified": false}], "alt_id": "euclid"});
        let profile = json!({"user_id": "auth0|euclid", "name": "Euclid", "identities": []});
        assert_eq!(export_id(&hash).as_deref(), Some("euclid"));
        assert_eq!(profile_id(&profile).as_deref(), Some("euclid"));
        let joined = from_hash_export(&hash, Some(&profile));
        let u = check(&joined, 0).unwrap();
        assert_eq!(
            (u.id.as_str(), u.email.as_str(), u.name.as_deref()),
            ("euclid", "user@example.com", Some("Euclid"))
        );
    }
}
