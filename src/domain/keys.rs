//! Signing keys as the domain sees them: the stored key, and which keys the JWKS publishes
//! (the active one and those retired within the retention period).

use serde_json::Value;

/// Retired keys stay in the JWKS this long: longer than any token they signed lives (24 h).
pub const RETIRED_KEY_RETENTION_MS: i64 = 48 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: String,
    /// PKCS#8 PEM, or its encrypted form (`enc:v1:…`, see `infra::keys::KeyCipher`) as
    /// stored. Never logged, never served.
    pub private_pem: String,
    pub public_jwk: Value,
    pub created_at: i64,
    pub retired_at: Option<i64>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
