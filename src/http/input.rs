//! Typed inputs read once from a request at the edge: OAuth parameters, client authentication
//! (HTTP Basic or the body), the caller's IP and origin, bearer tokens, `/authorize` and
//! logout query strings, cookies. The domain sees only what these return.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, ORIGIN};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::domain::authorize::{AuthorizeParams, LogoutParams};
use crate::domain::error::{Invalid, MAX_FIELD, Rule, has_control, json_type};
use crate::domain::token::{
    Caller, ClientAuth, CodeParams, MachineParams, PasswordLogin, RefreshParams, TokenError,
    TokenRequest,
};
use crate::domain::user::Password;

/// Sent by a backend calling `/oauth/token` for its user (node-auth0's `auth0ForwardedFor`,
/// auth0-python's `forwarded_for`).
const AUTH0_FORWARDED_FOR: &str = "auth0-forwarded-for";

fn header(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The longest login identifier: emails have at most 254 characters, usernames 128.
pub const MAX_USERNAME: usize = 254;

/// An optional string parameter, any content: absent, `null` and `""` are the same.
fn any_param<'b>(body: &'b Map<String, Value>, name: &str) -> Result<Option<&'b str>, Invalid> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(Invalid::new(
            name,
            Rule::Type {
                expected: "string",
                found: json_type(v),
            },
        )),
    }
}

/// An optional string parameter: absent, `null` and `""` are the same; no control characters
/// and at most `MAX_FIELD` long, since parameters reach the store, logs and tokens.
pub fn param<'b>(body: &'b Map<String, Value>, name: &str) -> Result<Option<&'b str>, Invalid> {
    let v = any_param(body, name)?;
    if let Some(s) = v {
        if has_control(s) {
            return Err(Invalid::new(name, Rule::ControlCharacters));
        }
        let max = if name == "username" {
            MAX_USERNAME
        } else {
            MAX_FIELD
        };
        if s.encode_utf16().count() > max {
            return Err(Invalid::new(name, Rule::MaxLength(max)));
        }
    }
    Ok(v)
}

pub fn required<'b>(body: &'b Map<String, Value>, name: &str) -> Result<&'b str, Invalid> {
    param(body, name)?.ok_or_else(|| Invalid::new(name, Rule::Required))
}

fn owned(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Invalid> {
    Ok(param(body, name)?.map(str::to_owned))
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1); `Ok(None)` for another
/// scheme.
pub fn basic_credentials(header: &str) -> Result<Option<(String, String)>, TokenError> {
    let Some(encoded) = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let malformed = || TokenError::InvalidClient("malformed Basic credentials");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// The client's id and the secret it presented (HTTP Basic wins over the body).
pub fn client_auth(
    headers: &HeaderMap,
    body: &Map<String, Value>,
) -> Result<ClientAuth, TokenError> {
    if let Some((client_id, secret)) = header(headers, AUTHORIZATION)
        .map(basic_credentials)
        .transpose()?
        .flatten()
    {
        return Ok(ClientAuth {
            client_id,
            secret: Some(secret),
        });
    }
    Ok(ClientAuth {
        client_id: required(body, "client_id")?.to_owned(),
        secret: owned(body, "client_secret")?,
    })
}

/// The client's IP: the TCP peer, or behind a trusted proxy the last `X-Forwarded-For` entry
/// (the address the proxy saw; earlier entries are the client's to write).
pub fn client_ip(trust_forwarded_for: bool, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    peer.ip()
}

/// Where the request came from. An `auth0-forwarded-for` that is not one IP address is
/// ignored, as it is for clients not trusted with it.
pub fn caller(trust_forwarded_for: bool, headers: &HeaderMap, peer: SocketAddr) -> Caller {
    Caller {
        ip: client_ip(trust_forwarded_for, headers, peer),
        origin: header(headers, ORIGIN).map(str::to_owned),
        forwarded_for: header(headers, AUTH0_FORWARDED_FOR)
            .and_then(|v| v.trim().parse::<IpAddr>().ok()),
    }
}

/// The bearer token of `Authorization`, if one is presented.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, AUTHORIZATION)
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn password_login(body: &Map<String, Value>) -> Result<PasswordLogin, Invalid> {
    let username = required(body, "username")?;
    // Only the password's hash is ever compared or stored, so it may hold anything.
    let password =
        any_param(body, "password")?.ok_or_else(|| Invalid::new("password", Rule::Required))?;
    Ok(PasswordLogin {
        username: username.to_owned(),
        password: Password(password.to_owned()),
        scope: owned(body, "scope")?,
        audience: owned(body, "audience")?,
        nonce: owned(body, "nonce")?,
    })
}

/// A `/oauth/token` body: the grant with its parameters, and the client's credentials.
pub fn token_request(
    headers: &HeaderMap,
    body: &Map<String, Value>,
) -> Result<(ClientAuth, TokenRequest), TokenError> {
    use crate::domain::token::{
        GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_PASSWORD, GRANT_PASSWORD_REALM,
        GRANT_REFRESH_TOKEN,
    };
    let grant = required(body, "grant_type")?;
    if !crate::domain::token::GRANTS.contains(&grant) {
        return Err(TokenError::UnsupportedGrantType(grant.to_owned()));
    }
    let auth = client_auth(headers, body)?;
    let request = match grant {
        GRANT_PASSWORD => TokenRequest::Password(password_login(body)),
        GRANT_PASSWORD_REALM => TokenRequest::PasswordRealm {
            // Needed to find the client's connection, so its errors come first.
            realm: owned(body, "realm")?,
            login: password_login(body),
        },
        GRANT_REFRESH_TOKEN => TokenRequest::RefreshToken((|| {
            Ok(RefreshParams {
                refresh_token: required(body, "refresh_token")?.to_owned(),
                scope: owned(body, "scope")?,
            })
        })()),
        GRANT_CLIENT_CREDENTIALS => TokenRequest::ClientCredentials((|| {
            Ok(MachineParams {
                audience: owned(body, "audience")?,
                scope: owned(body, "scope")?,
            })
        })()),
        GRANT_AUTHORIZATION_CODE => TokenRequest::AuthorizationCode((|| {
            Ok(CodeParams {
                code: required(body, "code")?.to_owned(),
                redirect_uri: owned(body, "redirect_uri")?,
                code_verifier: owned(body, "code_verifier")?,
            })
        })()),
        other => return Err(TokenError::UnsupportedGrantType(other.to_owned())),
    };
    Ok((auth, request))
}

/// A query string as name → value: each name at most once (RFC 6749 §3.1), empty values
/// absent, no control characters, each value at most `MAX_FIELD` long.
pub fn query(raw: Option<&str>) -> Result<Map<String, Value>, Invalid> {
    let mut out = Map::new();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if out.contains_key(name.as_ref()) {
            return Err(Invalid::new(name, Rule::Repeated));
        }
        out.insert(name.into_owned(), Value::String(value.into_owned()));
    }
    Ok(out)
}

/// `/authorize`'s parameters.
pub fn authorize_params(q: &Map<String, Value>) -> Result<AuthorizeParams, Invalid> {
    Ok(AuthorizeParams {
        client_id: owned(q, "client_id")?,
        redirect_uri: owned(q, "redirect_uri")?,
        response_type: owned(q, "response_type")?,
        response_mode: owned(q, "response_mode")?,
        scope: owned(q, "scope")?,
        audience: owned(q, "audience")?,
        state: owned(q, "state")?,
        nonce: owned(q, "nonce")?,
        code_challenge: owned(q, "code_challenge")?,
        code_challenge_method: owned(q, "code_challenge_method")?,
        prompt: owned(q, "prompt")?,
        screen_hint: owned(q, "screen_hint")?,
        login_hint: owned(q, "login_hint")?,
        connection: owned(q, "connection")?,
        max_age: owned(q, "max_age")?,
    })
}

/// `/v2/logout` (`returnTo`) and `/oidc/logout` (`post_logout_redirect_uri`, `state`).
pub fn logout_params(q: &Map<String, Value>, oidc: bool) -> Result<LogoutParams, Invalid> {
    Ok(LogoutParams {
        client_id: owned(q, "client_id")?,
        return_to: owned(
            q,
            if oidc {
                "post_logout_redirect_uri"
            } else {
                "returnTo"
            },
        )?,
        id_token_hint: if oidc {
            owned(q, "id_token_hint")?
        } else {
            None
        },
        state: if oidc { owned(q, "state")? } else { None },
    })
}

/// A form field: `param`'s rules, but any content for passwords.
pub fn form_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Invalid> {
    if name == "password" {
        return Ok(any_param(body, name)?.map(str::to_owned));
    }
    owned(body, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        assert_eq!(
            basic_credentials(&h).unwrap(),
            Some(("my app".into(), "s:cret x".into()))
        );
        assert_eq!(basic_credentials("Bearer abc").unwrap(), None);
        assert!(matches!(
            basic_credentials("Basic !!!"),
            Err(TokenError::InvalidClient(_))
        ));
        assert!(matches!(
            basic_credentials(&format!("Basic {}", STANDARD.encode("nocolon"))),
            Err(TokenError::InvalidClient(_))
        ));
    }

    #[test]
    fn parameters_treat_null_and_empty_as_absent() {
        let body = json!({"a": null, "b": "", "c": "x", "d": 1});
        let body = body.as_object().unwrap();
        assert_eq!(param(body, "a").unwrap(), None);
        assert_eq!(param(body, "b").unwrap(), None);
        assert_eq!(param(body, "c").unwrap(), Some("x"));
        assert_eq!(
            param(body, "d").unwrap_err(),
            Invalid::new(
                "d",
                Rule::Type {
                    expected: "string",
                    found: "number"
                }
            )
        );
        assert_eq!(
            required(body, "b").unwrap_err(),
            Invalid::new("b", Rule::Required)
        );
    }

    #[test]
    fn each_grant_parses_to_its_variant() {
        let headers = HeaderMap::new();
        let parse = |v: Value| token_request(&headers, v.as_object().unwrap());
        let (auth, req) = parse(json!({"grant_type": "client_credentials", "client_id": "c",
            "client_secret": "s", "audience": "a"}))
        .unwrap();
        assert_eq!(auth.client_id, "c");
        assert_eq!(auth.secret.as_deref(), Some("s"));
        assert!(matches!(req,
            TokenRequest::ClientCredentials(Ok(MachineParams { audience: Some(a), scope: None })) if a == "a"));
        assert!(matches!(
            parse(json!({"grant_type": "magic"})),
            Err(TokenError::UnsupportedGrantType(g)) if g == "magic"
        ));
        // A grant's own parameters fail inside the request, for the domain to report after
        // checking the client.
        let (_, req) =
            parse(json!({"grant_type": "password", "client_id": "c", "username": "u"})).unwrap();
        assert!(matches!(
            req,
            TokenRequest::Password(Err(i)) if i == Invalid::new("password", Rule::Required)
        ));
    }

    #[test]
    fn parameters_refuse_control_characters_and_bound_their_length() {
        let headers = HeaderMap::new();
        let login = |user: &str, pw: &str| {
            let body = json!({"grant_type": "password", "client_id": "c", "username": user,
                "password": pw});
            match token_request(&headers, body.as_object().unwrap())
                .unwrap()
                .1
            {
                TokenRequest::Password(p) => p.map(|l| l.username),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            login("a\u{0}b", "pw").unwrap_err(),
            Invalid::new("username", Rule::ControlCharacters)
        );
        assert_eq!(
            login(&"a".repeat(255), "pw").unwrap_err(),
            Invalid::new("username", Rule::MaxLength(MAX_USERNAME))
        );
        assert_eq!(
            login("jane@example.com", "p\u{0}w").unwrap(),
            "jane@example.com"
        );
        let body = json!({"grant_type": "client_credentials", "client_id": "a\u{0}"});
        assert!(matches!(
            token_request(&headers, body.as_object().unwrap()),
            Err(TokenError::Invalid(i)) if i == Invalid::new("client_id", Rule::ControlCharacters)
        ));
    }

    #[test]
    fn bearer_tokens_are_trimmed_and_required() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "Bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
