//! Verifying imported password hashes (bcrypt, Argon2i/d, and the stored forms of
//! `domain::imported_hash`) with RustCrypto's digests and MACs and the bcrypt crate. Called
//! by the hashing pool's threads, never on the async runtime. Comparisons are constant-time.

use hmac::{Mac, SimpleHmac};
use sha2::digest::{self, Digest as _, DynDigest};
use subtle::ConstantTimeEq;

use crate::domain::imported_hash::{
    Digest, Imported, MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS, SaltPosition, argon2_within_ceiling,
};

/// A stored hash above the import ceilings (stored before imports were bounded) is never
/// computed: no password matches it, and a password reset replaces it.
fn above_ceiling(what: &str) -> Result<bool, String> {
    tracing::warn!(
        algorithm = what,
        "a stored imported hash is above the cost ceiling; refused without verifying"
    );
    Ok(false)
}

/// Whether `stored` is an imported hash this module verifies (else it is the server's Argon2id).
pub fn is_foreign(stored: &str) -> bool {
    !stored.starts_with("$argon2id$")
}

/// Checks `password` against an imported hash; `Err` when the stored value is not one.
pub fn verify(stored: &str, password: &str) -> Result<bool, String> {
    if let Some(imported) = Imported::from_stored(stored) {
        return verify_imported(&imported, password);
    }
    verify_native(stored, password.as_bytes())
}

fn verify_native(stored: &str, password: &[u8]) -> Result<bool, String> {
    if stored.starts_with("$2") {
        let cost = stored.parse::<bcrypt::HashParts>().map(|p| p.get_cost());
        if cost.is_ok_and(|c| c > MAX_BCRYPT_COST) {
            return above_ceiling("bcrypt");
        }
        return bcrypt::verify(password, stored).map_err(|e| e.to_string());
    }
    if stored.starts_with("$argon2") {
        use argon2::PasswordVerifier as _;
        let parsed = argon2::PasswordHash::new(stored).map_err(|e| e.to_string())?;
        let params = argon2::Params::try_from(&parsed).map_err(|e| e.to_string())?;
        if !argon2_within_ceiling(params.m_cost(), params.t_cost(), params.p_cost()) {
            return above_ceiling("argon2");
        }
        return Ok(argon2::Argon2::default()
            .verify_password(password, &parsed)
            .is_ok());
    }
    Err("not an imported hash".into())
}

fn verify_imported(imported: &Imported, password: &str) -> Result<bool, String> {
    let hex = |s: &str| hex::decode(s).map_err(|_| "stored hash is not hex".to_string());
    match imported {
        Imported::Digest {
            digest,
            hash,
            salt,
            position,
            password: encoding,
        } => {
            let input = salted(encoding.encode(password), salt.as_deref(), *position)?;
            let mut d = hasher(*digest);
            d.update(&input);
            Ok(same(&d.finalize(), &hex(hash)?))
        }
        Imported::Hmac {
            digest,
            key,
            hash,
            salt,
            position,
            password: encoding,
        } => {
            let input = salted(encoding.encode(password), salt.as_deref(), *position)?;
            Ok(same(&hmac(*digest, &hex(key)?, &input)?, &hex(hash)?))
        }
        Imported::Pbkdf2 {
            digest,
            iterations,
            salt,
            hash,
            password: encoding,
        } => {
            if *iterations > MAX_PBKDF2_ITERATIONS {
                return above_ceiling("pbkdf2");
            }
            let expected = hex(hash)?;
            let mut out = vec![0u8; expected.len()];
            let (pw, salt) = (encoding.encode(password), hex(salt)?);
            match digest {
                Digest::Sha1 => {
                    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&pw, &salt, *iterations, &mut out)
                }
                Digest::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&pw, &salt, *iterations, &mut out)
                }
                Digest::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&pw, &salt, *iterations, &mut out)
                }
                Digest::Md5 => pbkdf2::pbkdf2_hmac::<md5::Md5>(&pw, &salt, *iterations, &mut out),
                other => return Err(format!("pbkdf2 with {other:?} is not supported")),
            }
            Ok(same(&out, &expected))
        }
        Imported::Encoded {
            hash,
            password: encoding,
        } => verify_native(hash, &encoding.encode(password)),
    }
}

fn salted(
    password: Vec<u8>,
    salt: Option<&str>,
    position: SaltPosition,
) -> Result<Vec<u8>, String> {
    let Some(salt) = salt else {
        return Ok(password);
    };
    let salt = hex::decode(salt).map_err(|_| "stored salt is not hex".to_string())?;
    Ok(match position {
        SaltPosition::Prefix => [salt, password].concat(),
        SaltPosition::Suffix => [password, salt].concat(),
    })
}

fn hasher(d: Digest) -> Box<dyn DynDigest> {
    match d {
        Digest::Md4 => Box::new(md4::Md4::new()),
        Digest::Md5 => Box::new(md5::Md5::new()),
        Digest::Sha1 => Box::new(sha1::Sha1::new()),
        Digest::Sha224 => Box::new(sha2::Sha224::new()),
        Digest::Sha256 => Box::new(sha2::Sha256::new()),
        Digest::Sha384 => Box::new(sha2::Sha384::new()),
        Digest::Sha512 => Box::new(sha2::Sha512::new()),
        Digest::Ripemd160 => Box::new(ripemd::Ripemd160::new()),
        Digest::Whirlpool => Box::new(whirlpool::Whirlpool::new()),
    }
}

fn hmac(d: Digest, key: &[u8], input: &[u8]) -> Result<Vec<u8>, String> {
    fn run<D: digest::Digest + digest::core_api::BlockSizeUser>(
        key: &[u8],
        input: &[u8],
    ) -> Result<Vec<u8>, String> {
        let mut mac = SimpleHmac::<D>::new_from_slice(key).map_err(|e| e.to_string())?;
        mac.update(input);
        Ok(mac.finalize().into_bytes().to_vec())
    }
    match d {
        Digest::Md4 => run::<md4::Md4>(key, input),
        Digest::Md5 => run::<md5::Md5>(key, input),
        Digest::Sha1 => run::<sha1::Sha1>(key, input),
        Digest::Sha224 => run::<sha2::Sha224>(key, input),
        Digest::Sha256 => run::<sha2::Sha256>(key, input),
        Digest::Sha384 => run::<sha2::Sha384>(key, input),
        Digest::Sha512 => run::<sha2::Sha512>(key, input),
        Digest::Ripemd160 => run::<ripemd::Ripemd160>(key, input),
        Digest::Whirlpool => run::<whirlpool::Whirlpool>(key, input),
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    //! Vectors: the spec's (migration.md), RFC 1320's MD4 and ISO's Whirlpool "abc", and
    //! vectors made by other implementations: Python 3.11 `hashlib`/`hmac`, `bcrypt` 4.x and
    //! `passlib` 1.7 (`ldap_salted_sha1`, `ldap_salted_md5`, `pbkdf2_sha256`, `argon2`).
    use super::*;
    use crate::domain::imported_hash::{PasswordEncoding, bcrypt as bcrypt_import, custom};
    use serde_json::json;

    fn check(stored: &str, password: &str) {
        assert!(verify(stored, password).unwrap(), "{stored}");
        assert!(!verify(stored, "wrong password").unwrap(), "{stored}");
    }

    fn digest(alg: &str, value: &str, encoding: &str) -> String {
        custom(&json!({"algorithm": alg, "hash": {"value": value, "encoding": encoding}})).unwrap()
    }

    #[test]
    fn spec_vectors() {
        let md5 = custom(&json!({"algorithm": "md5",
            "hash": {"value": "67A1E09BB1F83F5007DC119C14D663AA", "encoding": "hex"},
            "salt": {"value": "salt", "position": "prefix"}}))
        .unwrap();
        check(&md5, "password");
        let hmac = custom(&json!({"algorithm": "hmac",
            "hash": {"value": "cg7f42jH39/2EaAU4wNd4s2lKIk=", "encoding": "base64", "digest": "sha1",
                     "key": {"value": "736868", "encoding": "hex"}}}))
        .unwrap();
        check(&hmac, "test");
        check(
            &bcrypt_import("$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K").unwrap(),
            "hello",
        );
    }

    #[test]
    fn plain_digests_in_every_encoding() {
        let pw = "correct horse";
        check(
            &digest("md5", "3cb4e732631f47e6eb961f34554b7cde", "hex"),
            pw,
        );
        check(
            &digest("md5", "3CB4E732631F47E6EB961F34554B7CDE", "hex"),
            pw,
        );
        check(
            &digest("sha1", "2f9e53523b62abc141a2b4d6019d23cba835dbd0", "hex"),
            pw,
        );
        check(
            &digest(
                "sha256",
                "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631",
                "hex",
            ),
            pw,
        );
        check(
            &digest(
                "sha512",
                "56b698defedb5a435b634afe3320bbaf3fdcd920b6c503a446fc7b7a776b298d479d1ba6a8b617808eb0bf579ce9a95d668347bcab7149085ac93cb27995197b",
                "hex",
            ),
            pw,
        );
        check(
            &digest("md4", "a448017aaf21d8525fc10ae87aa6729d", "hex"),
            "abc",
        );
        // base64 with a prefix salt, url-safe base64 with a suffix salt.
        let salted = |alg: &str, value: &str, position: &str| {
            custom(
                &json!({"algorithm": alg, "hash": {"value": value, "encoding": "base64"},
                "salt": {"value": "pepper", "position": position}}),
            )
            .unwrap()
        };
        check(&salted("md5", "UvNnaMEYRHceX3/1duLbog==", "prefix"), pw);
        check(
            &salted("sha1", "0R3FiWv0L7QyATBoK1kJ02O/dws=", "prefix"),
            pw,
        );
        check(
            &salted("sha1", "YjOxnlnw8lITpqjG3t-XV9jV7os=", "suffix"),
            pw,
        );
        check(
            &salted(
                "sha256",
                "iiBneCY1H83bKojQwRhnuXkXl3mOZIuJrAljDBgCy5A=",
                "suffix",
            ),
            pw,
        );
        check(
            &salted(
                "sha512",
                "jKNzZGOpZV-d15b9woPUu_HlAvWT2N41SupXoEK6cIpe8kGEbagFMP62zqbEllyguDhie7qcSvb0YtWRmcfrEQ==",
                "suffix",
            ),
            pw,
        );
    }

    #[test]
    fn hmac_digests() {
        let hmac = |d: &str, value: &str| {
            custom(&json!({"algorithm": "hmac", "hash": {"value": value, "encoding": "hex", "digest": d,
                "key": {"value": "server-key"}}}))
            .unwrap()
        };
        let pw = "correct horse";
        check(&hmac("md5", "129dad66b45bd69efc518ebdb530cdcb"), pw);
        check(
            &hmac(
                "sha256",
                "febb310ad0256f71049d61912ae6d813bd23b47410e8c9cbd8fdccb4b8933ced",
            ),
            pw,
        );
        check(
            &hmac(
                "sha512",
                "91e8887537fd6682a8fd577b5eb4e6c7f37bf770fb55ced002b924822ac0b6996c13f1dfc5c409d758193f3b385814765e35f74ca2496889a05b7a7e1d650b4b",
            ),
            pw,
        );
        // RFC 2202's first HMAC-SHA1 case would need a binary key; the key in base64 instead:
        let b64_key = custom(&json!({"algorithm": "hmac", "hash": {"value": "febb310ad0256f71049d61912ae6d813bd23b47410e8c9cbd8fdccb4b8933ced",
            "encoding": "hex", "digest": "sha256", "key": {"value": "c2VydmVyLWtleQ==", "encoding": "base64"}}}))
        .unwrap();
        check(&b64_key, pw);
    }

    #[test]
    fn other_digests() {
        // ripemd160 from Python's hashlib; Whirlpool's ISO "abc" vector.
        let stored = Imported::Digest {
            digest: Digest::Ripemd160,
            hash: "424573ebba1ce1abc618a416178f79ad83442dfc".into(),
            salt: None,
            position: SaltPosition::Prefix,
            password: PasswordEncoding::Utf8,
        }
        .stored();
        check(&stored, "correct horse");
        let whirlpool = Imported::Digest {
            digest: Digest::Whirlpool,
            hash: "4e2448a4c6f486bb16b6562c73b4020bf3043e3a731bce721ae1b303d97e6d4c7181eebdb6c57e277d0e34957114cbd6c797fc9d95d8b582d225292076d4eef5".into(),
            salt: None,
            position: SaltPosition::Prefix,
            password: PasswordEncoding::Utf8,
        }
        .stored();
        check(&whirlpool, "abc");
    }

    #[test]
    fn ldap_schemes_from_passlib_and_hashlib() {
        let ldap = |v: &str| {
            custom(&json!({"algorithm": "ldap", "hash": {"value": v, "encoding": "utf8"}})).unwrap()
        };
        let pw = "correct horse";
        check(&ldap("{SSHA}N5AvglyQgpuw+E6FIPXO/4H4ClROYUNsMTIzNA=="), pw);
        check(&ldap("{SMD5}7fOGP3gyOw70sKAIQS6rXnBlcHBlcg=="), pw);
        check(&ldap("{MD5}PLTnMmMfR+brlh80VUt83g=="), pw);
        check(&ldap("{SHA}L55TUjtiq8FBorTWAZ0jy6g129A="), pw);
        check(
            &ldap("{SSHA256}YflVcOMs6k7tbGkQbQNVn6/ehAnUAVltiLPKHBWGi2tzYWx0c2FsdA=="),
            pw,
        );
        check(
            &ldap(
                "{SSHA512}50rsRNBf8j3I5xE+QwaHdFyMhOzITssZ8BB3UxwQ+SI1JKygYm6ZeRYTDuUyFZIIqDonoTuXwB0Z/MAPhgQCFHNhbHRzYWx0",
            ),
            pw,
        );
        check(
            &ldap("{SHA384}ArIKby67E2Cppg9M+QhXNj7UGcAisSFWfOX5HG45Zk+3j9YCNMSli1v8cUWumDKS"),
            pw,
        );
    }

    #[test]
    fn pbkdf2_phc_and_passlib() {
        let p = |v: &str| {
            custom(&json!({"algorithm": "pbkdf2", "hash": {"value": v, "encoding": "utf8"}}))
                .unwrap()
        };
        let pw = "correct horse";
        check(
            &p(
                "$pbkdf2-sha512$i=1000,l=64$MDEyMzQ1Njc4OWFiY2RlZg$OM0FAoIqCVK1sWtxDiffVlBejtLa+ks4TP71JiecwuSZCG8iLbnlIEPOMoVX+i2B2wkSxjQ8CRGR9OkNGuIPMQ",
            ),
            pw,
        );
        check(
            &p("$pbkdf2-sha1$i=1000,l=20$TmFDbE5hQ2w$JdCWMhxIx0CAs1UOh2JUzsWlFp0"),
            pw,
        );
        check(
            &p("$pbkdf2-md5$i=1000,l=16$TmFDbE5hQ2w$SKQJOf3gHBbvkMYkkQumcw"),
            pw,
        );
        check(
            &p(
                "$pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg$cBg8D2DungRB9k76szThf5ehfyBz991ay6PT8Srwk4M",
            ),
            pw,
        );
    }

    #[test]
    fn bcrypt_and_argon2_from_python() {
        let pw = "correct horse";
        check(
            &bcrypt_import("$2b$04$UZwPTPrEZi5cTpArCU0VC.ONWYRML2MmgRFiB1rx/UzEwGLFam0Z2").unwrap(),
            pw,
        );
        check(
            &bcrypt_import("$2a$04$ZensKdK3sn1sVqbpiFDPw.epP0/5ciEAEBMojBkKVTVFG5VIun7xu").unwrap(),
            pw,
        );
        let argon = |v: &str| {
            custom(&json!({"algorithm": "argon2", "hash": {"value": v, "encoding": "utf8"}}))
                .unwrap()
        };
        check(
            &argon(
                "$argon2i$v=19$m=1024,t=2,p=4$e++d816rNYYwxlirNQYgZA$P3YSuL6s2/d+qRzpefJTib24depFImTgl3qsdGbAbWQ",
            ),
            pw,
        );
        check(
            &argon(
                "$argon2d$v=19$m=1024,t=2,p=4$AIBwjjGGsDZmrPXeO8d4zw$T95pE6nDQqNohS4l+BJ7q5QGN9kZriRqcNPCl3qiJ48",
            ),
            pw,
        );
    }

    #[test]
    fn password_encodings() {
        let with = |alg: &str, value: &str, enc: &str| {
            custom(
                &json!({"algorithm": alg, "hash": {"value": value, "encoding": "hex"},
                "password": {"encoding": enc}}),
            )
            .unwrap()
        };
        check(
            &with("md5", "5635299b0882ffccd11e311d65a7ccf1", "utf16le"),
            "pässwörd",
        );
        check(
            &with("sha1", "798c481d8ec06c08915eb09639f9c210131fa4bf", "latin1"),
            "pässwörd",
        );
        check(
            &with("sha1", "f517ddf1d32a112ff1ad55c66d1b12cb38e7e8f7", "utf8"),
            "pässwörd",
        );
    }
}
