//! What tokens say: lifetimes, scopes, the profile claims a scope grants, and the opaque tokens
//! (refresh tokens, family ids) with how they are stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

use super::user::User;

/// Access tokens live a day (`expires_in` of the token response).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 86_400;
/// id_tokens live ten hours, as Auth0's default.
pub const ID_TOKEN_TTL_SECS: i64 = 36_000;
/// A refresh-token family ends thirty days after the login that started it (Auth0's default
/// absolute lifetime for rotating refresh tokens).
pub const REFRESH_TOKEN_TTL_MS: i64 = 30 * 86_400 * 1000;

/// A random opaque token (refresh tokens, family ids): 32 random bytes, base64url.
pub fn opaque_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How opaque tokens are stored: SHA-256, hex. They carry 256 random bits, so a fast hash is
/// enough (no dictionary to attack).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `2026-01-01T00:00:00.000Z`, the format of Auth0's `updated_at`.
pub fn iso_millis(ms: i64) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Space-separated scopes, each once, in the order given.
pub fn parse_scope(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

pub fn has_scope(scopes: &[String], wanted: &str) -> bool {
    scopes.iter().any(|s| s == wanted)
}

/// The user's profile claims a scope set grants (`profile`, `email`), as id_tokens and
/// `/userinfo` carry them. A database user without a name is named by their email, and
/// nicknamed by its local part.
pub fn profile_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.subject()));
    if has_scope(scopes, "profile") {
        let p = &user.profile;
        if let Some(v) = &p.given_name {
            c.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &p.family_name {
            c.insert("family_name".into(), json!(v));
        }
        let local = user.email.split('@').next().unwrap_or_default();
        c.insert(
            "nickname".into(),
            json!(p.nickname.as_deref().unwrap_or(local)),
        );
        c.insert(
            "name".into(),
            json!(p.name.as_deref().unwrap_or(&user.email)),
        );
        if let Some(v) = &p.picture {
            c.insert("picture".into(), json!(v));
        }
        if let Some(v) = &user.username {
            c.insert("username".into(), json!(v));
        }
        c.insert("updated_at".into(), json!(iso_millis(user.updated_at)));
    }
    if has_scope(scopes, "email") {
        c.insert("email".into(), json!(user.email));
        c.insert("email_verified".into(), json!(user.email_verified));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Profile;

    fn user() -> User {
        User {
            id: "668fbaa9aaaaaaaaaaaaaaaa".into(),
            connection: "db".into(),
            email: "jane.doe@example.com".into(),
            username: None,
            email_verified: false,
            profile: Profile::default(),
            password_hash: "x".into(),
            blocked: false,
            updated_at: 1_767_225_600_000,
        }
    }

    #[test]
    fn timestamps_are_iso_with_millis() {
        assert_eq!(iso_millis(1_767_225_600_000), "2026-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
    }

    #[test]
    fn default_profile_uses_the_email() {
        let scopes = parse_scope("openid profile email");
        let c = profile_claims(&user(), &scopes);
        assert_eq!(
            Value::Object(c).to_string(),
            r#"{"sub":"auth0|668fbaa9aaaaaaaaaaaaaaaa","nickname":"jane.doe","name":"jane.doe@example.com","updated_at":"2026-01-01T00:00:00.000Z","email":"jane.doe@example.com","email_verified":false}"#
        );
    }

    #[test]
    fn claims_follow_the_scope() {
        let c = profile_claims(&user(), &parse_scope("openid"));
        assert_eq!(c.len(), 1);
        let c = profile_claims(&user(), &parse_scope("openid email"));
        assert!(c.contains_key("email") && !c.contains_key("name"));
    }

    #[test]
    fn scopes_are_deduplicated_in_order() {
        assert_eq!(
            parse_scope(" openid  email openid profile"),
            ["openid", "email", "profile"]
        );
    }

    #[test]
    fn opaque_tokens_are_random_and_hashed() {
        let a = opaque_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, opaque_token());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
