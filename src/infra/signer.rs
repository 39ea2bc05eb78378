//! The RS256 signer behind `domain::ports::Signer`: signing with the active key, verifying
//! against every published key, with parsed keys cached (parsing an RSA private key costs more
//! than a signature) and re-read from the store so that every instance sees a rotation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::keys::KeyCipher;
use crate::domain::error::{Failure, Message};
use crate::domain::keys::published;
use crate::domain::ports::{Clock, Signer, VerifyError};
use crate::domain::store::KeyStore;

const VERIFIED_CACHE_ENTRIES: u64 = 10_000;
const VERIFIED_CACHE_TTL: Duration = Duration::from_secs(60);

/// Keys are re-read from the store this often, so every instance picks up a rotation.
const KEY_REFRESH: Duration = Duration::from_secs(60);
/// An unknown `kid` re-reads the keys unless they were read more recently than this: a key
/// another instance has just rotated in is found at once, while tokens with made-up kids cost
/// at most one store read per this interval.
const KEY_MISS_REFRESH: Duration = Duration::from_millis(100);

/// Keys as loaded from the store: the signing one and every published one for verification.
struct KeySet {
    loaded: Instant,
    signing: Option<(String, Arc<EncodingKey>)>,
    verifying: HashMap<String, Arc<DecodingKey>>,
}

#[derive(Clone)]
struct Verified {
    audience: Arc<str>,
    claims: Arc<Map<String, Value>>,
}

/// Signs and verifies tokens for one issuer.
#[derive(Clone)]
pub struct JwtSigner {
    store: Arc<dyn KeyStore>,
    cipher: KeyCipher,
    clock: Arc<dyn Clock>,
    issuer: Arc<str>,
    keys: Arc<RwLock<Option<Arc<KeySet>>>>,
    /// Access tokens already verified, by their exact text, with the audience they were
    /// verified for: an RSA verification is most of `/userinfo`'s CPU, and apps present the
    /// same token many times. Bounded; entries live at most a minute and are re-checked for
    /// expiry on every hit.
    verified: moka::sync::Cache<String, Verified>,
}

fn signing(e: impl std::error::Error + Send + Sync + 'static) -> Failure {
    Failure::Signing(Arc::new(e))
}

impl JwtSigner {
    pub fn new(
        store: Arc<dyn KeyStore>,
        cipher: KeyCipher,
        clock: Arc<dyn Clock>,
        issuer: &str,
    ) -> Self {
        super::jws::install();
        Self {
            store,
            cipher,
            clock,
            issuer: issuer.into(),
            keys: Arc::new(RwLock::new(None)),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CACHE_ENTRIES)
                .time_to_live(VERIFIED_CACHE_TTL)
                .build(),
        }
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys.read().ok().and_then(|k| k.clone())
    }

    async fn load(&self) -> Result<Arc<KeySet>, Failure> {
        let stored = self.store.signing_keys().await?;
        let mut verifying = HashMap::new();
        for jwk in published(&stored, self.clock.now_millis()) {
            let (Some(kid), Some(n), Some(e)) =
                (jwk["kid"].as_str(), jwk["n"].as_str(), jwk["e"].as_str())
            else {
                continue;
            };
            let key = DecodingKey::from_rsa_components(n, e).map_err(signing)?;
            verifying.insert(kid.to_owned(), Arc::new(key));
        }
        let signing = match stored.iter().find(|k| k.retired_at.is_none()) {
            Some(k) => Some((
                k.kid.clone(),
                Arc::new(
                    EncodingKey::from_rsa_pem(self.cipher.open(k).map_err(signing)?.as_bytes())
                        .map_err(signing)?,
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

    async fn keys(&self, max_age: Duration) -> Result<Arc<KeySet>, Failure> {
        match self.cached() {
            Some(k) if k.loaded.elapsed() < max_age => Ok(k),
            _ => self.load().await,
        }
    }

    fn unexpired(&self, claims: &Map<String, Value>) -> Result<(), VerifyError> {
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp > self.clock.now_secs() {
            Ok(())
        } else {
            Err(VerifyError::Rejected("the token has expired"))
        }
    }

    async fn verify_uncached(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<Map<String, Value>, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| VerifyError::Rejected("malformed token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Rejected("unexpected signing algorithm"));
        }
        let kid = header
            .kid
            .ok_or(VerifyError::Rejected("the token has no kid"))?;
        let mut keys = self.keys(KEY_REFRESH).await?;
        if !keys.verifying.contains_key(&kid) {
            keys = self.keys(KEY_MISS_REFRESH).await?;
        }
        let key = keys
            .verifying
            .get(&kid)
            .cloned()
            .ok_or(VerifyError::Rejected("unknown signing key"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[self.issuer.as_ref()]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the injected clock, below.
        validation.validate_exp = false;
        validation.leeway = 0;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidAudience => VerifyError::WrongAudience,
                    _ => VerifyError::Rejected("invalid token"),
                }
            })?;
        self.unexpired(&data.claims)?;
        Ok(data.claims)
    }
}

#[async_trait]
impl Signer for JwtSigner {
    /// RS256, `kid` in the header; the signature itself is `jws`'s. Under a millisecond of CPU,
    /// done on the calling runtime thread: handing it to the blocking pool measured fewer
    /// grants/s, and would let a flood of grants start up to 512 threads, where the runtime
    /// bounds signing to one per worker.
    async fn sign(&self, claims: &Value) -> Result<String, Failure> {
        let keys = self.keys(KEY_REFRESH).await?;
        let (kid, key) = keys
            .signing
            .clone()
            .ok_or_else(|| signing(Message("no active signing key")))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, claims, &key).map_err(signing)
    }

    async fn verify(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<Arc<Map<String, Value>>, VerifyError> {
        if let Some(hit) = self.verified.get(token)
            && *hit.audience == *audience
        {
            if let Err(e) = self.unexpired(&hit.claims) {
                self.verified.invalidate(token);
                return Err(e);
            }
            return Ok(hit.claims);
        }
        let claims = Arc::new(self.verify_uncached(token, audience).await?);
        self.verified.insert(
            token.to_owned(),
            Verified {
                audience: audience.into(),
                claims: claims.clone(),
            },
        );
        Ok(claims)
    }
}
