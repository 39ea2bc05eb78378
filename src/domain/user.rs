//! Users: identifiers, passwords, and the shapes stored at signup and read at login.

use rand::RngCore;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// The stored and compared form of an email or username: trimmed, lower-cased and in Unicode
/// NFC, so that the composed and decomposed spellings of one name are one account.
pub fn normalize_identifier(s: &str) -> String {
    s.trim().to_lowercase().nfc().collect()
}

/// A password to hash or verify; its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A new `_id`: 24 lowercase hex characters, ObjectId-like (4-byte big-endian seconds + 8
/// random bytes), so ids sort roughly by creation time.
pub fn new_user_id(now_ms: i64) -> String {
    let secs = (now_ms / 1000) as u32;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    rand::rngs::OsRng.fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

/// Profile fields a database user can carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
}

/// A user about to be inserted.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub connection: String,
    pub email: String,
    pub username: Option<String>,
    pub email_verified: bool,
    pub profile: Profile,
    pub user_metadata: Map<String, Value>,
    pub password_hash: String,
    pub created_at: i64,
}

/// A stored user, as login and token issuance read it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub connection: String,
    pub email: String,
    pub username: Option<String>,
    pub email_verified: bool,
    pub profile: Profile,
    /// PHC string. Never logged, never served.
    pub password_hash: String,
    pub blocked: bool,
    pub updated_at: i64,
}

impl User {
    /// The `sub` claim: `auth0|<_id>`, as Auth0 names database users.
    pub fn subject(&self) -> String {
        format!("auth0|{}", self.id)
    }
}

/// Whether `id` (without its `auth0|` prefix) may name a database user: letters, digits, `-`,
/// `_` and `.`, at most 64, not dots alone. The same rule for `POST /api/v2/users` and for
/// imports, so an id that cannot be created cannot be imported either (`../../etc`, `a|b`).
pub fn valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !id.chars().all(|c| c == '.')
}

/// Whether `s` is an email address as signup accepts one (no display name, no IP literal).
pub fn valid_email(s: &str) -> bool {
    let opts = email_address::Options::default()
        .without_display_text()
        .without_domain_literal();
    email_address::EmailAddress::parse_with_options(s, opts).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_lower_hex_and_start_with_the_time() {
        let id = new_user_id(0x668f_baa9 * 1000);
        assert_eq!(id.len(), 24);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(id.starts_with("668fbaa9"));
        assert_ne!(new_user_id(0), new_user_id(0));
    }

    #[test]
    fn identifiers_are_one_spelling() {
        // "é" composed (U+00E9) and decomposed (e + U+0301).
        assert_eq!(
            normalize_identifier(" Jos\u{e9}@Example.com "),
            normalize_identifier("jose\u{301}@example.COM")
        );
        assert_eq!(normalize_identifier("Jane"), "jane");
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Password("hunter2".into())),
            "Password(<redacted>)"
        );
    }
}
