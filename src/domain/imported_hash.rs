//! Imported password hashes (Auth0's bulk-import `password_hash` and `custom_password_hash`,
//! migration.md): validated once, at import, into the one stored form the hashing pool
//! verifies at login. bcrypt and Argon2 keep their own strings; every other algorithm is
//! stored as `$lk-import$` + the JSON of [`Imported`], with its bytes decoded and re-encoded as
//! hex, so a login never parses a foreign encoding.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The stored hash of a user imported without one: no password matches it (they set one
/// through a password reset).
pub const NO_PASSWORD: &str = "!";

/// The prefix of the stored form of every algorithm without a string of its own.
pub const STORED_PREFIX: &str = "$lk-import$";

/// The costliest imported hashes accepted: a hash's cost is paid at every login attempt for
/// its user (wrong passwords included), on the shared hashing pool, so an unbounded one lets
/// one account starve every login or exhaust memory. Auth0 exports bcrypt at cost 10; OWASP's
/// Argon2id and PBKDF2 recommendations sit well below these ceilings.
pub const MAX_BCRYPT_COST: u32 = 14;
/// Argon2 memory in KiB (256 MiB), passes and lanes.
pub const MAX_ARGON2_M: u32 = 262_144;
pub const MAX_ARGON2_T: u32 = 10;
pub const MAX_ARGON2_P: u32 = 16;
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// Whether Argon2 parameters stay within the ceilings (checked at import, and again before a
/// stored hash is verified or sizes the dummy hash).
pub fn argon2_within_ceiling(m: u32, t: u32, p: u32) -> bool {
    m <= MAX_ARGON2_M && t <= MAX_ARGON2_T && p <= MAX_ARGON2_P
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    Md4,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Ripemd160,
    Whirlpool,
}

impl Digest {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "md4" => Self::Md4,
            "md5" => Self::Md5,
            "sha1" => Self::Sha1,
            "sha224" => Self::Sha224,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            "ripemd160" => Self::Ripemd160,
            "whirlpool" => Self::Whirlpool,
            _ => return None,
        })
    }

    /// The output's length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Md4 | Self::Md5 => 16,
            Self::Sha1 | Self::Ripemd160 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 | Self::Whirlpool => 64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaltPosition {
    Prefix,
    Suffix,
}

/// How the typed password becomes bytes before hashing (Node's Buffer encodings, which
/// Auth0's scripts use: `latin1`, `binary` and `ascii` keep the low byte of each UTF-16 unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordEncoding {
    #[default]
    Utf8,
    Latin1,
    Utf16le,
}

impl PasswordEncoding {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Self::Utf8,
            "ascii" | "latin1" | "binary" => Self::Latin1,
            "utf16le" | "utf-16le" | "ucs2" | "ucs-2" => Self::Utf16le,
            _ => return None,
        })
    }

    pub fn encode(self, password: &str) -> Vec<u8> {
        match self {
            Self::Utf8 => password.as_bytes().to_vec(),
            Self::Latin1 => password.encode_utf16().map(|u| u as u8).collect(),
            Self::Utf16le => password
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes())
                .collect(),
        }
    }
}

fn is_utf8(e: &PasswordEncoding) -> bool {
    *e == PasswordEncoding::Utf8
}

/// The stored form of an imported hash that has no string of its own. Bytes are hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "alg", rename_all = "lowercase", deny_unknown_fields)]
pub enum Imported {
    /// `digest(salt + password)` or `digest(password + salt)`.
    Digest {
        digest: Digest,
        hash: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        salt: Option<String>,
        #[serde(default = "prefix")]
        position: SaltPosition,
        #[serde(default, skip_serializing_if = "is_utf8")]
        password: PasswordEncoding,
    },
    /// `HMAC-digest(key, salted password)`.
    Hmac {
        digest: Digest,
        key: String,
        hash: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        salt: Option<String>,
        #[serde(default = "prefix")]
        position: SaltPosition,
        #[serde(default, skip_serializing_if = "is_utf8")]
        password: PasswordEncoding,
    },
    Pbkdf2 {
        digest: Digest,
        iterations: u32,
        salt: String,
        hash: String,
        #[serde(default, skip_serializing_if = "is_utf8")]
        password: PasswordEncoding,
    },
    /// bcrypt or Argon2 with a password encoding other than UTF-8 (with UTF-8 they are
    /// stored as their own strings).
    Encoded {
        hash: String,
        password: PasswordEncoding,
    },
}

fn prefix() -> SaltPosition {
    SaltPosition::Prefix
}

impl Imported {
    pub fn stored(&self) -> String {
        // Serializing a plain enum of strings and numbers cannot fail.
        format!(
            "{STORED_PREFIX}{}",
            serde_json::to_string(self).unwrap_or_default()
        )
    }

    pub fn from_stored(stored: &str) -> Option<Self> {
        serde_json::from_str(stored.strip_prefix(STORED_PREFIX)?).ok()
    }
}

/// Why an imported hash was refused; the text goes to the import's per-user errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HashError(pub String);

fn bad(s: impl Into<String>) -> HashError {
    HashError(s.into())
}

/// `password_hash`: bcrypt `$2a$`/`$2b$` (and PHP's `$2y$`, the same algorithm, stored as
/// `$2b$`).
pub fn bcrypt(hash: &str) -> Result<String, HashError> {
    let (version, rest) = hash
        .strip_prefix('$')
        .and_then(|h| h.split_once('$'))
        .ok_or_else(|| bad("password_hash must be a bcrypt hash ($2a$ or $2b$)"))?;
    let version = match version {
        "2a" | "2b" => version,
        "2y" => "2b",
        other => return Err(bad(format!("unsupported bcrypt version ${other}$"))),
    };
    let (cost, salt_hash) = rest
        .split_once('$')
        .ok_or_else(|| bad("password_hash is not a complete bcrypt hash"))?;
    let cost_ok = cost.len() == 2 && cost.parse::<u32>().is_ok_and(|c| (4..=31).contains(&c));
    let body_ok = salt_hash.len() == 53
        && salt_hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    if !cost_ok || !body_ok {
        return Err(bad("password_hash is not a complete bcrypt hash"));
    }
    if cost.parse::<u32>().is_ok_and(|c| c > MAX_BCRYPT_COST) {
        return Err(bad(format!(
            "bcrypt cost {cost} is above the ceiling of {MAX_BCRYPT_COST}"
        )));
    }
    let stored = format!("${version}${cost}${salt_hash}");
    // The verifier's own parser and decoding (the bcrypt crate's alphabet, unpadded, trailing
    // bits refused): a string it cannot read (a salt whose 22nd character has bits set that 16
    // bytes cannot hold) would fail every login of its user with an error.
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::BCRYPT,
        base64::engine::general_purpose::NO_PAD,
    );
    let readable = stored.parse::<bcrypt::HashParts>().is_ok()
        && engine.decode(&salt_hash[..22]).is_ok_and(|s| s.len() == 16)
        && engine.decode(&salt_hash[22..]).is_ok_and(|h| h.len() == 23);
    if !readable {
        return Err(bad("password_hash is not a complete bcrypt hash"));
    }
    Ok(stored)
}

fn decode(value: &str, encoding: &str, what: &str) -> Result<Vec<u8>, HashError> {
    match encoding.to_ascii_lowercase().as_str() {
        "hex" => hex::decode(value).map_err(|_| bad(format!("{what} is not valid hex"))),
        "base64" | "base64url" => [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|e| e.decode(value).ok())
            .ok_or_else(|| bad(format!("{what} is not valid base64"))),
        "utf8" | "utf-8" => Ok(value.as_bytes().to_vec()),
        other => Err(bad(format!("unsupported {what} encoding {other:?}"))),
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `custom_password_hash`: `{algorithm, hash:{value, encoding, digest?, key?, salt?},
/// salt?, password?}`, or the older flat `{algorithm, hash:"…", encoding, salt_prefix?,
/// salt_suffix?}`.
pub fn custom(v: &Value) -> Result<String, HashError> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad("custom_password_hash must be an object"))?;
    let known = [
        "algorithm",
        "hash",
        "salt",
        "password",
        "encoding",
        "salt_prefix",
        "salt_suffix",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(format!(
            "custom_password_hash has an unknown property {k:?}"
        )));
    }
    let algorithm = str_at(v, "algorithm")
        .ok_or_else(|| bad("custom_password_hash.algorithm is required"))?
        .to_ascii_lowercase();
    let password = match v.get("password") {
        None => PasswordEncoding::Utf8,
        Some(p) => {
            let e = str_at(p, "encoding").unwrap_or("utf8");
            PasswordEncoding::parse(e)
                .ok_or_else(|| bad(format!("unsupported password encoding {e:?}")))?
        }
    };
    // The hash: an object, or a bare string (the older flat form).
    let (value, encoding, hash_obj) = match v.get("hash") {
        Some(Value::String(s)) => (s.as_str(), str_at(v, "encoding").unwrap_or("hex"), None),
        Some(h @ Value::Object(_)) => (
            str_at(h, "value").ok_or_else(|| bad("custom_password_hash.hash.value is required"))?,
            str_at(h, "encoding").unwrap_or("hex"),
            Some(h),
        ),
        _ => return Err(bad("custom_password_hash.hash is required")),
    };
    // The salt: beside the hash, inside it, or the flat salt_prefix/salt_suffix.
    let salt = match (v.get("salt"), hash_obj.and_then(|h| h.get("salt"))) {
        (Some(s), _) | (None, Some(s)) => {
            let value = str_at(s, "value").ok_or_else(|| bad("salt.value is required"))?;
            let bytes = decode(value, str_at(s, "encoding").unwrap_or("utf8"), "salt")?;
            let position = match str_at(s, "position").unwrap_or("prefix") {
                "prefix" => SaltPosition::Prefix,
                "suffix" => SaltPosition::Suffix,
                other => return Err(bad(format!("unsupported salt position {other:?}"))),
            };
            Some((bytes, position))
        }
        (None, None) => match (str_at(v, "salt_prefix"), str_at(v, "salt_suffix")) {
            (Some(p), None) => Some((p.as_bytes().to_vec(), SaltPosition::Prefix)),
            (None, Some(s)) => Some((s.as_bytes().to_vec(), SaltPosition::Suffix)),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(bad("salt_prefix and salt_suffix together")),
        },
    };
    let (salt, position) = match salt {
        Some((b, p)) => (Some(hex::encode(b)), p),
        None => (None, SaltPosition::Prefix),
    };
    let digest_hash = |digest: Digest| -> Result<String, HashError> {
        let bytes = decode(value, encoding, "hash.value")?;
        if bytes.len() != digest.output_len() {
            return Err(bad(format!(
                "hash.value has {} bytes, {algorithm} gives {}",
                bytes.len(),
                digest.output_len()
            )));
        }
        Ok(hex::encode(bytes))
    };
    let imported = match algorithm.as_str() {
        "bcrypt" => {
            let h = bcrypt(value)?;
            return Ok(native(h, password));
        }
        "argon2" => return argon2(value).map(|h| native(h, password)),
        "md4" | "md5" | "sha1" | "sha256" | "sha512" => {
            let digest = Digest::parse(&algorithm).unwrap_or(Digest::Sha256);
            Imported::Digest {
                digest,
                hash: digest_hash(digest)?,
                salt,
                position,
                password,
            }
        }
        "hmac" => {
            let d = hash_obj
                .and_then(|h| str_at(h, "digest"))
                .ok_or_else(|| bad("hmac needs hash.digest"))?;
            let digest =
                Digest::parse(d).ok_or_else(|| bad(format!("unsupported hmac digest {d:?}")))?;
            let key = hash_obj
                .and_then(|h| h.get("key"))
                .ok_or_else(|| bad("hmac needs hash.key"))?;
            let key_value =
                str_at(key, "value").ok_or_else(|| bad("hash.key.value is required"))?;
            let key = decode(key_value, str_at(key, "encoding").unwrap_or("utf8"), "key")?;
            Imported::Hmac {
                digest,
                key: hex::encode(key),
                hash: digest_hash(digest)?,
                salt,
                position,
                password,
            }
        }
        "ldap" => ldap(value, password)?,
        "pbkdf2" => pbkdf2(value, password)?,
        other => return Err(bad(format!("unsupported algorithm {other:?}"))),
    };
    Ok(imported.stored())
}

fn native(hash: String, password: PasswordEncoding) -> String {
    if password == PasswordEncoding::Utf8 {
        hash
    } else {
        Imported::Encoded { hash, password }.stored()
    }
}

/// An Argon2 PHC string (argon2i, argon2d or argon2id, with its salt and output).
fn argon2(value: &str) -> Result<String, HashError> {
    let parsed = argon2::PasswordHash::new(value)
        .map_err(|_| bad("hash.value is not an Argon2 PHC string"))?;
    let ok_alg = ["argon2i", "argon2d", "argon2id"].contains(&parsed.algorithm.as_str());
    if !ok_alg || parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(bad("hash.value is not an Argon2 PHC string"));
    }
    let params =
        argon2::Params::try_from(&parsed).map_err(|_| bad("unsupported Argon2 parameters"))?;
    if !argon2_within_ceiling(params.m_cost(), params.t_cost(), params.p_cost()) {
        return Err(bad(format!(
            "Argon2 parameters above the ceiling (m <= {MAX_ARGON2_M}, t <= {MAX_ARGON2_T}, p <= {MAX_ARGON2_P})"
        )));
    }
    Ok(value.to_owned())
}

/// RFC 2307 `{SCHEME}base64`: salted schemes carry the salt after the digest.
fn ldap(value: &str, password: PasswordEncoding) -> Result<Imported, HashError> {
    let (scheme, rest) = value
        .strip_prefix('{')
        .and_then(|v| v.split_once('}'))
        .ok_or_else(|| bad("an ldap hash starts with {SCHEME}"))?;
    let (digest, salted) = match scheme.to_ascii_uppercase().as_str() {
        "MD5" => (Digest::Md5, false),
        "SMD5" => (Digest::Md5, true),
        "SHA" | "SHA1" => (Digest::Sha1, false),
        "SSHA" => (Digest::Sha1, true),
        "SHA256" => (Digest::Sha256, false),
        "SSHA256" => (Digest::Sha256, true),
        "SHA384" => (Digest::Sha384, false),
        "SSHA384" => (Digest::Sha384, true),
        "SHA512" => (Digest::Sha512, false),
        "SSHA512" => (Digest::Sha512, true),
        other => return Err(bad(format!("unsupported ldap scheme {{{other}}}"))),
    };
    let bytes = decode(rest, "base64", "the ldap hash")?;
    let n = digest.output_len();
    if bytes.len() < n || (!salted && bytes.len() != n) || (salted && bytes.len() == n) {
        return Err(bad(format!("the {{{scheme}}} hash has the wrong length")));
    }
    Ok(Imported::Digest {
        digest,
        hash: hex::encode(&bytes[..n]),
        salt: salted.then(|| hex::encode(&bytes[n..])),
        position: SaltPosition::Suffix,
        password,
    })
}

/// `$pbkdf2-<digest>$i=<iter>,l=<len>$<b64 salt>$<b64 hash>` (PHC, unpadded base64), and
/// passlib's `$pbkdf2-<digest>$<iter>$<ab64 salt>$<ab64 hash>` (`.` for `+`).
fn pbkdf2(value: &str, password: PasswordEncoding) -> Result<Imported, HashError> {
    let malformed = || bad("hash.value is not a $pbkdf2-<digest>$… string");
    let parts: Vec<&str> = value.split('$').collect();
    let [empty, alg, params, salt, hash] = parts.as_slice() else {
        return Err(malformed());
    };
    if !empty.is_empty() {
        return Err(malformed());
    }
    let d = alg.strip_prefix("pbkdf2-").ok_or_else(malformed)?;
    let digest = match Digest::parse(d) {
        Some(dg @ (Digest::Sha1 | Digest::Sha256 | Digest::Sha512 | Digest::Md5)) => dg,
        _ => return Err(bad(format!("unsupported pbkdf2 digest {d:?}"))),
    };
    let (mut iterations, mut length) = (100_000u32, None);
    if let Ok(i) = params.parse::<u32>() {
        iterations = i;
    } else {
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("i", v)) => iterations = v.parse().map_err(|_| malformed())?,
                Some(("l", v)) => length = Some(v.parse::<usize>().map_err(|_| malformed())?),
                _ => return Err(malformed()),
            }
        }
    }
    if !(1..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
        return Err(bad(format!(
            "pbkdf2 iterations must be 1..{MAX_PBKDF2_ITERATIONS}"
        )));
    }
    let b64 = |s: &str, what: &str| decode(&s.replace('.', "+"), "base64", what);
    let salt = b64(salt, "the pbkdf2 salt")?;
    let hash = b64(hash, "the pbkdf2 hash")?;
    if hash.is_empty() || hash.len() > 256 || length.is_some_and(|l| l != hash.len()) {
        return Err(bad("the pbkdf2 hash's length does not match l"));
    }
    Ok(Imported::Pbkdf2 {
        digest,
        iterations,
        salt: hex::encode(salt),
        hash: hex::encode(hash),
        password,
    })
}

/// A stored hash as Auth0's import takes it back: `Ok(Some(bcrypt string))` for
/// `password_hash`, `Err(custom_password_hash)` for the rest, `Ok(None)` for no password.
pub fn exported(stored: &str) -> Result<Option<String>, Value> {
    use serde_json::json;
    if stored == NO_PASSWORD {
        return Ok(None);
    }
    if stored.starts_with("$2") {
        return Ok(Some(stored.to_owned()));
    }
    let name = |d: Digest| {
        serde_json::to_value(d)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let with_password = |mut v: Value, p: PasswordEncoding| {
        if p != PasswordEncoding::Utf8 {
            v["password"] = json!({"encoding": name_of(p)});
        }
        v
    };
    let salt_of = |salt: &Option<String>, position: SaltPosition| {
        salt.as_ref().map(|s| {
            json!({"value": s, "encoding": "hex",
                   "position": if position == SaltPosition::Prefix { "prefix" } else { "suffix" }})
        })
    };
    let Some(imported) = Imported::from_stored(stored) else {
        // The server's own Argon2id, or an imported Argon2 string.
        return Err(json!({"algorithm": "argon2", "hash": {"value": stored, "encoding": "utf8"}}));
    };
    Err(match imported {
        Imported::Digest {
            digest,
            hash,
            salt,
            position,
            password,
        } => {
            let plain = matches!(
                digest,
                Digest::Md4 | Digest::Md5 | Digest::Sha1 | Digest::Sha256 | Digest::Sha512
            );
            let mut v = if plain {
                json!({"algorithm": name(digest), "hash": {"value": hash, "encoding": "hex"}})
            } else {
                // Only LDAP schemes bring the other digests (their salt is a suffix).
                let bytes = [
                    hex::decode(&hash).unwrap_or_default(),
                    salt.as_deref()
                        .and_then(|s| hex::decode(s).ok())
                        .unwrap_or_default(),
                ]
                .concat();
                let scheme = format!(
                    "{}{}",
                    if salt.is_some() { "S" } else { "" },
                    name(digest).to_ascii_uppercase()
                );
                json!({"algorithm": "ldap", "hash": {"value": format!("{{{scheme}}}{}", STANDARD.encode(bytes)), "encoding": "utf8"}})
            };
            if plain && let Some(s) = salt_of(&salt, position) {
                v["salt"] = s;
            }
            with_password(v, password)
        }
        Imported::Hmac {
            digest,
            key,
            hash,
            salt,
            position,
            password,
        } => {
            let mut v = json!({"algorithm": "hmac", "hash": {"value": hash, "encoding": "hex",
                "digest": name(digest), "key": {"value": key, "encoding": "hex"}}});
            if let Some(s) = salt_of(&salt, position) {
                v["salt"] = s;
            }
            with_password(v, password)
        }
        Imported::Pbkdf2 {
            digest,
            iterations,
            salt,
            hash,
            password,
        } => {
            let bytes = |h: &str| STANDARD_NO_PAD.encode(hex::decode(h).unwrap_or_default());
            let len = hash.len() / 2;
            let phc = format!(
                "$pbkdf2-{}$i={iterations},l={len}${}${}",
                name(digest),
                bytes(&salt),
                bytes(&hash)
            );
            with_password(
                json!({"algorithm": "pbkdf2", "hash": {"value": phc, "encoding": "utf8"}}),
                password,
            )
        }
        Imported::Encoded { hash, password } => {
            let algorithm = if hash.starts_with("$2") {
                "bcrypt"
            } else {
                "argon2"
            };
            with_password(
                json!({"algorithm": algorithm, "hash": {"value": hash, "encoding": "utf8"}}),
                password,
            )
        }
    })
}

fn name_of(p: PasswordEncoding) -> &'static str {
    match p {
        PasswordEncoding::Utf8 => "utf8",
        PasswordEncoding::Latin1 => "latin1",
        PasswordEncoding::Utf16le => "utf16le",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bcrypt_versions() {
        let h = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";
        assert_eq!(bcrypt(h).unwrap(), h);
        assert_eq!(bcrypt(&h.replace("$2b$", "$2y$")).unwrap(), h);
        assert!(bcrypt(&h.replace("$2b$", "$2x$")).is_err());
        assert!(bcrypt("$2b$10$short").is_err());
        assert!(bcrypt("plain").is_err());
    }

    #[test]
    fn salts_beside_or_inside_the_hash_and_the_flat_form_agree() {
        let beside = custom(&json!({"algorithm": "md5",
            "hash": {"value": "67A1E09BB1F83F5007DC119C14D663AA", "encoding": "hex"},
            "salt": {"value": "salt", "encoding": "utf8", "position": "prefix"}}))
        .unwrap();
        let inside = custom(&json!({"algorithm": "md5",
            "hash": {"value": "67a1e09bb1f83f5007dc119c14d663aa", "encoding": "hex",
                     "salt": {"value": "salt", "position": "prefix"}}}))
        .unwrap();
        let flat = custom(
            &json!({"algorithm": "md5", "hash": "67a1e09bb1f83f5007dc119c14d663aa",
            "encoding": "hex", "salt_prefix": "salt"}),
        )
        .unwrap();
        assert_eq!(beside, inside);
        assert_eq!(beside, flat);
        assert!(beside.starts_with(STORED_PREFIX));
    }

    #[test]
    fn refusals_name_the_problem() {
        for (v, msg) in [
            (
                json!({"algorithm": "crc32", "hash": {"value": "00"}}),
                "unsupported algorithm \"crc32\"",
            ),
            (
                json!({"algorithm": "md5", "hash": {"value": "abcd", "encoding": "hex"}}),
                "hash.value has 2 bytes, md5 gives 16",
            ),
            (
                json!({"algorithm": "ldap", "hash": {"value": "{CRYPT}abc"}}),
                "unsupported ldap scheme {CRYPT}",
            ),
            (
                json!({"algorithm": "hmac", "hash": {"value": "00", "digest": "sha1"}}),
                "hmac needs hash.key",
            ),
            (
                json!({"algorithm": "md5", "hash": {"value": "zz", "encoding": "hex"}}),
                "hash.value is not valid hex",
            ),
            (
                json!({"algorithm": "md5", "hash": {"value": "00"}, "pepper": 1}),
                "custom_password_hash has an unknown property \"pepper\"",
            ),
            (
                json!({"algorithm": "sha1", "hash": {"value": "00"}, "password": {"encoding": "ebcdic"}}),
                "unsupported password encoding \"ebcdic\"",
            ),
        ] {
            assert_eq!(custom(&v).unwrap_err().0, msg, "{v}");
        }
    }

    #[test]
    fn every_stored_form_exports_to_an_equal_import() {
        for v in [
            json!({"algorithm": "md5", "hash": {"value": "67A1E09BB1F83F5007DC119C14D663AA", "encoding": "hex"},
                   "salt": {"value": "salt", "position": "prefix"}}),
            json!({"algorithm": "hmac", "hash": {"value": "cg7f42jH39/2EaAU4wNd4s2lKIk=", "encoding": "base64",
                   "digest": "sha1", "key": {"value": "736868", "encoding": "hex"}}}),
            json!({"algorithm": "ldap", "hash": {"value": "{SSHA384}ArIKby67E2Cppg9M+QhXNj7UGcAisSFWfOX5HG45Zk+3j9YCNMSli1v8cUWumDKSc2FsdA=="}}),
            json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha1$i=1000,l=20$TmFDbE5hQ2w$JdCWMhxIx0CAs1UOh2JUzsWlFp0"}}),
            json!({"algorithm": "sha1", "hash": {"value": "798c481d8ec06c08915eb09639f9c210131fa4bf", "encoding": "hex"},
                   "password": {"encoding": "latin1"}}),
            json!({"algorithm": "argon2", "hash": {"value": "$argon2i$v=19$m=1024,t=2,p=4$e++d816rNYYwxlirNQYgZA$P3YSuL6s2/d+qRzpefJTib24depFImTgl3qsdGbAbWQ"}}),
        ] {
            let stored = custom(&v).unwrap();
            let back = exported(&stored).unwrap_err();
            assert_eq!(custom(&back).unwrap(), stored, "{v} -> {back}");
        }
        let b = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";
        assert_eq!(exported(b), Ok(Some(b.to_owned())));
        assert_eq!(exported(NO_PASSWORD), Ok(None));
    }

    #[test]
    fn password_encodings_follow_node_buffers() {
        assert_eq!(PasswordEncoding::Latin1.encode("é€"), vec![0xe9, 0xac]);
        assert_eq!(
            PasswordEncoding::Utf16le.encode("aé"),
            vec![0x61, 0, 0xe9, 0]
        );
        assert_eq!(PasswordEncoding::Utf8.encode("é"), vec![0xc3, 0xa9]);
    }
}
