//! RS256 signing keys as infrastructure: generation (aws-lc-rs), the public JWK and RFC 7638
//! `kid`, sealing private keys at rest (AES-256-GCM), and the start-up and rotation steps.

use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use crate::domain::keys::SigningKey;
use crate::domain::ports::Clock;
use crate::domain::store::{KeyStore, StoreError};

/// A signing key that cannot be made, sealed or opened; the text says why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// What key set-up and rotation can run into.
#[derive(Debug, thiserror::Error)]
pub enum KeySetupError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// Prefix of a private key encrypted at rest.
const SEALED: &str = "enc:v1:";

/// Encrypts private signing keys at rest with AES-256-GCM under a key-encryption key from the
/// settings (the `kid` is bound as associated data); without one, keys are stored as plain PEM.
#[derive(Clone, Default)]
pub struct KeyCipher {
    cipher: Option<Arc<Aes256Gcm>>,
}

impl std::fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.cipher.is_some() {
            "KeyCipher(<key>)"
        } else {
            "KeyCipher(none)"
        })
    }
}

impl KeyCipher {
    /// From 32 bytes in standard base64 (`openssl rand -base64 32`).
    pub fn from_base64(encoded: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| {
            KeyError("the key-encryption key must be base64 (openssl rand -base64 32)".into())
        })?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| {
            KeyError(format!(
                "the key-encryption key must be 32 bytes, got {}",
                bytes.len()
            ))
        })?;
        Ok(Self {
            cipher: Some(Arc::new(cipher)),
        })
    }

    /// The stored form of `key`'s private PEM.
    pub fn seal(&self, key: &SigningKey) -> Result<SigningKey, KeyError> {
        let Some(cipher) = &self.cipher else {
            return Ok(key.clone());
        };
        let nonce = Aes256Gcm::generate_nonce(&mut rand::rngs::OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: key.private_pem.as_bytes(),
                    aad: key.kid.as_bytes(),
                },
            )
            .map_err(|_| KeyError("cannot encrypt the signing key".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend(sealed);
        Ok(SigningKey {
            private_pem: format!("{SEALED}{}", STANDARD.encode(blob)),
            ..key.clone()
        })
    }

    /// The PEM of a stored key: decrypted when sealed, as is when stored plain (keys made
    /// before a key-encryption key was configured).
    pub fn open(&self, key: &SigningKey) -> Result<String, KeyError> {
        let Some(encoded) = key.private_pem.strip_prefix(SEALED) else {
            return Ok(key.private_pem.clone());
        };
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            KeyError(format!(
                "signing key {} is encrypted; set LATCHKEY_KEY_ENCRYPTION_KEY",
                key.kid
            ))
        })?;
        let blob = STANDARD
            .decode(encoded)
            .map_err(|_| KeyError(format!("signing key {} is corrupt", key.kid)))?;
        if blob.len() < 12 {
            return Err(KeyError(format!("signing key {} is corrupt", key.kid)));
        }
        let (nonce, sealed) = blob.split_at(12);
        let pem = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: key.kid.as_bytes(),
                },
            )
            .map_err(|_| {
                KeyError(format!(
                    "cannot decrypt signing key {}: wrong LATCHKEY_KEY_ENCRYPTION_KEY",
                    key.kid
                ))
            })?;
        String::from_utf8(pem).map_err(|_| KeyError(format!("signing key {} is corrupt", key.kid)))
    }
}

/// A new 2048-bit RSA key (aws-lc-rs, the signer's library). CPU-heavy (tens of ms): call off
/// the async runtime.
pub fn generate(now_ms: i64) -> Result<SigningKey, KeyError> {
    let failed =
        |e: &dyn std::fmt::Display| KeyError(format!("cannot generate a signing key: {e}"));
    let private = KeyPair::generate(KeySize::Rsa2048).map_err(|e| failed(&e))?;
    // Big-endian without leading zeros, as RFC 7518 wants `n` and `e`.
    let public = PublicKeyComponents::<Vec<u8>>::from(private.public_key());
    let n = URL_SAFE_NO_PAD.encode(&public.n);
    let e = URL_SAFE_NO_PAD.encode(&public.e);
    // RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    let thumbprint = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
    let der: Pkcs8V1Der = private.as_der().map_err(|e| failed(&e))?;
    let private_pem = pem::encode_config(
        &pem::Pem::new("PRIVATE KEY", der.as_ref()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    Ok(SigningKey {
        public_jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}),
        kid,
        private_pem,
        created_at: now_ms,
        retired_at: None,
    })
}

/// Makes sure an active key exists, generating one on first start, and that it can be read
/// with `cipher`. Instances starting at once may each generate one; the store keeps the first
/// and the others are dropped.
pub async fn ensure_active(
    store: &dyn KeyStore,
    cipher: &KeyCipher,
    clock: &dyn Clock,
) -> Result<(), KeySetupError> {
    if let Some(active) = store
        .signing_keys()
        .await?
        .into_iter()
        .find(|k| k.retired_at.is_none())
    {
        cipher.open(&active)?;
        return Ok(());
    }
    let key = generate_off_runtime(clock.now_millis()).await?;
    let sealed = cipher.seal(&key)?;
    store.insert_first_signing_key(&sealed).await?;
    Ok(())
}

/// Retires the active key and activates a new one; returns the new `kid`.
pub async fn rotate(
    store: &dyn KeyStore,
    cipher: &KeyCipher,
    clock: &dyn Clock,
) -> Result<String, KeySetupError> {
    let key = generate_off_runtime(clock.now_millis()).await?;
    let sealed = cipher.seal(&key)?;
    store.rotate_signing_key(&sealed).await?;
    Ok(key.kid)
}

async fn generate_off_runtime(now_ms: i64) -> Result<SigningKey, KeyError> {
    tokio::task::spawn_blocking(move || generate(now_ms))
        .await
        .map_err(|e| KeyError(format!("cannot generate a signing key: {e}")))?
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
    fn sealed_keys_open_only_with_their_key() {
        let key = SigningKey {
            kid: "kid-1".into(),
            private_pem: "-----BEGIN PRIVATE KEY-----\nabc".into(),
            public_jwk: json!({}),
            created_at: 0,
            retired_at: None,
        };
        let kek = KeyCipher::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = kek.seal(&key).unwrap();
        assert!(sealed.private_pem.starts_with("enc:v1:"));
        assert!(!sealed.private_pem.contains("PRIVATE KEY"));
        assert_eq!(kek.open(&sealed).unwrap(), key.private_pem);
        // Without the key, with another key, or moved to another kid: refused.
        assert!(KeyCipher::default().open(&sealed).is_err());
        let other = KeyCipher::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
        let moved = SigningKey {
            kid: "kid-2".into(),
            ..sealed.clone()
        };
        assert!(kek.open(&moved).is_err());
        // Plain keys stay readable; no cipher means plain storage.
        assert_eq!(kek.open(&key).unwrap(), key.private_pem);
        assert_eq!(
            KeyCipher::default().seal(&key).unwrap().private_pem,
            key.private_pem
        );
        assert!(KeyCipher::from_base64("c2hvcnQ=").is_err());
    }
}
