//! What latchkey issues: RS256 id_tokens and access tokens (claims, signing with the active key,
//! verification against every published key) and opaque refresh tokens.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

use super::Error;
use super::keys::{KeyCipher, published};
use super::store::Store;
use super::user::{User, now_millis};

/// Access tokens live a day (`expires_in` of the token response).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 86_400;
/// id_tokens live ten hours, as Auth0's default.
pub const ID_TOKEN_TTL_SECS: i64 = 36_000;
/// A refresh-token family ends thirty days after the login that started it (Auth0's default
/// absolute lifetime for rotating refresh tokens).
pub const REFRESH_TOKEN_TTL_MS: i64 = 30 * 86_400 * 1000;

const VERIFIED_CACHE_ENTRIES: u64 = 10_000;
const VERIFIED_CACHE_TTL: Duration = Duration::from_secs(60);

/// Keys are re-read from the store this often, so every instance picks up a rotation.
const KEY_REFRESH: Duration = Duration::from_secs(60);
/// An unknown `kid` triggers a re-read at most this often (it may be a fresh rotation).
const KEY_MISS_REFRESH: Duration = Duration::from_secs(5);

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

/// Keys as loaded from the store: the signing one and every published one for verification.
struct KeySet {
    loaded: Instant,
    signing: Option<(String, Arc<EncodingKey>)>,
    verifying: HashMap<String, Arc<DecodingKey>>,
}

/// Signs and verifies tokens for one issuer; caches parsed keys (parsing an RSA private key
/// costs more than a signature).
#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn Store>,
    cipher: KeyCipher,
    issuer: Arc<str>,
    keys: Arc<RwLock<Option<Arc<KeySet>>>>,
    /// Access tokens already verified, by their exact text: an RSA verification (with ring
    /// re-deriving the key's Montgomery constants each time) is most of `/userinfo`'s CPU, and
    /// apps present the same token many times. Bounded; entries live at most a minute and are
    /// re-checked for expiry on every hit.
    verified: moka::sync::Cache<String, Arc<Map<String, Value>>>,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

impl Tokens {
    pub fn new(store: Arc<dyn Store>, cipher: KeyCipher, issuer: &str) -> Self {
        super::jws::install();
        Self {
            store,
            cipher,
            issuer: issuer.into(),
            keys: Arc::new(RwLock::new(None)),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CACHE_ENTRIES)
                .time_to_live(VERIFIED_CACHE_TTL)
                .build(),
        }
    }

    /// `iss` of every token: the configured issuer, with its trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience `/userinfo` accepts.
    pub fn userinfo_audience(&self) -> String {
        format!("{}userinfo", self.issuer)
    }

    /// The Management API's audience, `https://<domain>/api/v2/`.
    pub fn management_audience(&self) -> String {
        format!("{}api/v2/", self.issuer)
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys.read().ok().and_then(|k| k.clone())
    }

    async fn load(&self) -> Result<Arc<KeySet>, Error> {
        let stored = self.store.signing_keys().await?;
        let mut verifying = HashMap::new();
        for jwk in published(&stored, now_millis()) {
            let (Some(kid), Some(n), Some(e)) =
                (jwk["kid"].as_str(), jwk["n"].as_str(), jwk["e"].as_str())
            else {
                continue;
            };
            let key = DecodingKey::from_rsa_components(n, e).map_err(internal)?;
            verifying.insert(kid.to_owned(), Arc::new(key));
        }
        let signing = match stored.iter().find(|k| k.retired_at.is_none()) {
            Some(k) => Some((
                k.kid.clone(),
                Arc::new(
                    EncodingKey::from_rsa_pem(self.cipher.open(k).map_err(internal)?.as_bytes())
                        .map_err(internal)?,
                ),
            )),
            None => None,
        };
        let set = Arc::new(KeySet {
            loaded: Instant::now(),
            signing,
            verifying,
        });
        if let Ok(mut slot) = self.keys.write() {
            *slot = Some(set.clone());
        }
        Ok(set)
    }

    async fn keys(&self, max_age: Duration) -> Result<Arc<KeySet>, Error> {
        match self.cached() {
            Some(k) if k.loaded.elapsed() < max_age => Ok(k),
            _ => self.load().await,
        }
    }

    /// Signs `claims` with the active key (RS256, `kid` in the header; the signer is `jws`).
    /// Under a millisecond of CPU, done on the calling runtime thread: handing it to the
    /// blocking pool measured 6 % fewer grants/s (wrk, client_credentials), and the blocking
    /// pool would let a flood of grants start up to 512 threads, where the runtime bounds
    /// signing to one per worker.
    pub async fn sign(&self, claims: Value) -> Result<String, Error> {
        let keys = self.keys(KEY_REFRESH).await?;
        let (kid, key) = keys
            .signing
            .clone()
            .ok_or_else(|| internal("no active signing key"))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, &claims, &key).map_err(internal)
    }

    /// Verifies an access token for `/userinfo`: RS256 by a published key, our issuer, not
    /// expired, and the userinfo audience. Returns its claims.
    pub async fn verify_access_token(&self, token: &str) -> Result<Arc<Map<String, Value>>, Error> {
        if let Some(claims) = self.verified.get(token) {
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            if exp > now_millis() / 1000 {
                return Ok(claims);
            }
            self.verified.invalidate(token);
            return Err(Error::InvalidToken("the token has expired"));
        }
        let claims = Arc::new(self.verify_uncached(token).await?);
        self.verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    async fn verify_uncached(&self, token: &str) -> Result<Map<String, Value>, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::InvalidToken("malformed token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(Error::InvalidToken("unexpected signing algorithm"));
        }
        let kid = header
            .kid
            .ok_or(Error::InvalidToken("the token has no kid"))?;
        let mut keys = self.keys(KEY_REFRESH).await?;
        if !keys.verifying.contains_key(&kid) {
            keys = self.keys(KEY_MISS_REFRESH).await?;
        }
        let key = keys
            .verifying
            .get(&kid)
            .cloned()
            .ok_or(Error::InvalidToken("unknown signing key"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[self.issuer.as_ref()]);
        validation.set_audience(&[self.userinfo_audience()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        Error::InvalidToken("the token has expired")
                    }
                    jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                        Error::InvalidToken("the token is not valid for /userinfo")
                    }
                    _ => Error::InvalidToken("invalid token"),
                }
            })?;
        Ok(data.claims)
    }
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
