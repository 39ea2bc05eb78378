//! RS256 signing keys: generation, their public JWK and RFC 7638 `kid`, and which keys the JWKS
//! publishes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Error;
use super::store::Store;
use super::user::now_millis;

/// Retired keys stay in the JWKS this long: longer than any token they signed lives (24 h).
pub const RETIRED_KEY_RETENTION_MS: i64 = 48 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: String,
    /// PKCS#8 PEM. Never logged, never served.
    pub private_pem: String,
    pub public_jwk: Value,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot generate a signing key: {0}")]
pub struct KeyError(String);

/// A new 2048-bit RSA key. CPU-heavy (tens to hundreds of ms): call off the async runtime.
pub fn generate(now_ms: i64) -> Result<SigningKey, KeyError> {
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| KeyError(e.to_string()))?;
    let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
    // RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    let thumbprint = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError(e.to_string()))?
        .to_string();
    Ok(SigningKey {
        public_jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}),
        kid,
        private_pem,
        created_at: now_ms,
        retired_at: None,
    })
}

/// The keys to publish: the active one and those retired within the retention period, newest
/// first.
pub fn published(keys: &[SigningKey], now_ms: i64) -> Vec<Value> {
    let mut keys: Vec<&SigningKey> = keys
        .iter()
        .filter(|k| {
            k.retired_at
                .is_none_or(|r| now_ms - r < RETIRED_KEY_RETENTION_MS)
        })
        .collect();
    keys.sort_by_key(|k| (k.retired_at.is_some(), std::cmp::Reverse(k.created_at)));
    keys.into_iter().map(|k| k.public_jwk.clone()).collect()
}

/// Makes sure an active key exists, generating one on first start. Instances starting at
/// once may each generate one; the store keeps the first and the others are dropped.
pub async fn ensure_active(store: &dyn Store) -> Result<(), Error> {
    if store
        .signing_keys()
        .await?
        .iter()
        .any(|k| k.retired_at.is_none())
    {
        return Ok(());
    }
    let key = generate_off_runtime().await?;
    store.insert_first_signing_key(&key).await?;
    Ok(())
}

/// Retires the active key and activates a new one; returns the new `kid`.
pub async fn rotate(store: &dyn Store) -> Result<String, Error> {
    let key = generate_off_runtime().await?;
    store.rotate_signing_key(&key).await?;
    Ok(key.kid)
}

async fn generate_off_runtime() -> Result<SigningKey, Error> {
    tokio::task::spawn_blocking(|| generate(now_millis()))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_a_thumbprint_kid_and_rs256_jwk() {
        let k = generate(1).unwrap();
        assert_eq!(k.public_jwk["kty"], "RSA");
        assert_eq!(k.public_jwk["alg"], "RS256");
        assert_eq!(k.public_jwk["use"], "sig");
        assert_eq!(k.public_jwk["e"], "AQAB");
        assert_eq!(k.public_jwk["kid"], k.kid.as_str());
        let n = URL_SAFE_NO_PAD
            .decode(k.public_jwk["n"].as_str().unwrap())
            .unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(k.kid.len(), 43);
        assert!(k.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn publishes_active_and_recently_retired_keys_newest_first() {
        let key = |kid: &str, created: i64, retired: Option<i64>| SigningKey {
            kid: kid.into(),
            private_pem: String::new(),
            public_jwk: json!({"kid": kid}),
            created_at: created,
            retired_at: retired,
        };
        let now = 10 * RETIRED_KEY_RETENTION_MS;
        let keys = [
            key("old", 1, Some(2)),
            key("previous", 3, Some(now - 1000)),
            key("current", 4, None),
        ];
        let kids: Vec<_> = published(&keys, now)
            .into_iter()
            .map(|j| j["kid"].clone())
            .collect();
        assert_eq!(kids, [json!("current"), json!("previous")]);
    }
}
