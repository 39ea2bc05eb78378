//! The RS256 signing primitive under `jsonwebtoken`: aws-lc-rs, with each private key parsed
//! once. `jsonwebtoken` builds the token (header, claims, base64url); this module only plugs in
//! the signer through its `CryptoProvider` extension point.
//!
//! Why: jsonwebtoken's stock providers parse the private key on every signature, and parsing an
//! RSA key is costly (aws-lc-rs validates it, which costs more than the signature). A parsed
//! aws-lc-rs key signs faster than ring, markedly so on CPUs with AVX-512 IFMA, for which ring
//! has no code path (the measurements are in docs/performance.md).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Once};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, aws_lc};
use jsonwebtoken::{Algorithm, EncodingKey};

/// Parsed keys kept. Instances hold one active key (two for a moment after a rotation); the
/// bound only matters to processes that run many servers, such as the test suite.
const MAX_KEYS: usize = 64;

static PARSED: LazyLock<Mutex<HashMap<Vec<u8>, Arc<RsaKeyPair>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: new_signer,
    ..aws_lc::DEFAULT_PROVIDER.clone()
});

/// Makes this module's signer jsonwebtoken's provider for the process. Idempotent; call it
/// before the first signature.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails if jsonwebtoken already chose its own provider (a token was made or checked
        // before this ran). Tokens are still right, only slower: each signature parses its key.
        if PROVIDER.install_default().is_err() {
            tracing::warn!("jsonwebtoken's crypto provider was chosen before latchkey's signer");
        }
    });
}

fn new_signer(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *alg != Algorithm::RS256 {
        return (aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key);
    }
    Ok(Box::new(Rs256(parsed(key.inner())?)))
}

fn parsed(der: &[u8]) -> jsonwebtoken::errors::Result<Arc<RsaKeyPair>> {
    let poisoned = || jsonwebtoken::errors::ErrorKind::Provider("key cache poisoned".into());
    if let Some(k) = PARSED.lock().map_err(|_| poisoned())?.get(der) {
        return Ok(k.clone());
    }
    // Parsed outside the lock: two threads may both parse a new key once. `EncodingKey`
    // holds PKCS#1 DER whatever PEM it was read from, as jsonwebtoken's own signer assumes.
    let key = RsaKeyPair::from_der(der)
        .map(Arc::new)
        .map_err(|e| jsonwebtoken::errors::ErrorKind::InvalidRsaKey(e.to_string()))?;
    let mut cache = PARSED.lock().map_err(|_| poisoned())?;
    if cache.len() >= MAX_KEYS {
        cache.clear();
    }
    cache.insert(der.to_vec(), key.clone());
    Ok(key)
}

struct Rs256(Arc<RsaKeyPair>);

impl signature::Signer<Vec<u8>> for Rs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut out = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut out)
            .map_err(signature::Error::from_source)?;
        Ok(out)
    }
}

impl JwtSigner for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Header, Validation};
    use serde_json::{Value, json};

    #[test]
    fn tokens_signed_with_a_kept_key_verify_and_the_key_is_parsed_once() {
        install();
        let key = crate::infra::keys::generate(0).unwrap();
        let encoding = EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap();
        let claims = json!({"sub": "x", "exp": 4_000_000_000u64});
        let a = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &encoding).unwrap();
        let b = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &encoding).unwrap();
        // PKCS#1 v1.5 signatures are deterministic.
        assert_eq!(a, b);
        let first = parsed(encoding.inner()).unwrap();
        assert!(Arc::ptr_eq(&first, &parsed(encoding.inner()).unwrap()));
        let decoding = DecodingKey::from_rsa_components(
            key.public_jwk["n"].as_str().unwrap(),
            key.public_jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_aud = false;
        let got = jsonwebtoken::decode::<Value>(&a, &decoding, &v).unwrap();
        assert_eq!(got.claims, claims);
    }
}
