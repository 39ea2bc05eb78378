//! Loading the tenant file (YAML or JSON): parse, validate everything (clients, connections,
//! client grants), and only then hand a complete `TenantConfig` to the store, so a bad file
//! applies nothing. Also the default tenant created on a first start without a file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::password_policy::PolicyLevel;
use crate::domain::store::BootstrapCredentials;
use crate::domain::tenant::{
    AppType, Client, ClientGrant, Connection, ConnectionOptions, DEFAULT_CLIENT,
    DEFAULT_CONNECTION, MANAGEMENT_AUDIENCE, MANAGEMENT_SCOPES, TenantConfig, TenantSettings,
};

#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TenantFileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tenant: TenantSettings,
    #[serde(default)]
    clients: Vec<ClientSpec>,
    #[serde(default)]
    connections: Vec<ConnectionSpec>,
    #[serde(default)]
    client_grants: Vec<ClientGrantSpec>,
    #[serde(default)]
    emails: crate::domain::tenant::Emails,
    #[serde(default)]
    users: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientGrantSpec {
    /// A client of this file, by name or client_id.
    client_id: String,
    /// An API of `tenant.audiences` (or `default_audience`), or `management`.
    audience: String,
    #[serde(default)]
    scope: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSpec {
    name: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(default)]
    app_type: AppType,
    #[serde(default)]
    web_origins: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    callbacks: Vec<String>,
    #[serde(default)]
    allowed_logout_urls: Vec<String>,
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_ip_header_trusted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionSpec {
    name: String,
    #[serde(default = "auth0")]
    strategy: String,
    #[serde(default)]
    enabled_clients: Vec<String>,
    #[serde(default)]
    options: ConnectionOptions,
}

fn auth0() -> String {
    "auth0".into()
}

/// Every grant latchkey implements; what the default client and clients without
/// `grant_types` get, so SDK flows work out of the box.
pub fn all_grant_types() -> Vec<String> {
    [
        "password",
        "http://auth0.com/oauth/grant-type/password-realm",
        "refresh_token",
        "client_credentials",
        "authorization_code",
        "implicit",
    ]
    .map(String::from)
    .to_vec()
}

/// The grant types Auth0 defines for a client: a tenant file copied from Auth0 may list any of
/// them (those latchkey does not serve are never used); anything else is a typo.
const AUTH0_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
    "password",
    "http://auth0.com/oauth/grant-type/password-realm",
    "http://auth0.com/oauth/grant-type/mfa-oob",
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-recovery-code",
    "http://auth0.com/oauth/grant-type/passwordless/otp",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:openid:params:grant-type:ciba",
    "urn:ietf:params:oauth:grant-type:token-exchange",
];

pub fn random_token(len: usize) -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The client_id of a tenant-file client that names none: derived from its name, so that
/// instances starting at the same time on one database write identical rows. Client ids are
/// public identifiers, so predictability costs nothing.
pub fn derived_client_id(name: &str) -> String {
    let digest = Sha256::digest(format!("latchkey client {name}").as_bytes());
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    digest
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Client secrets are stored as SHA-256 hex: they are long random strings, so a fast hash is
/// enough to make a leaked database useless for authenticating.
pub fn hash_secret(secret: &str) -> String {
    crate::domain::claims::token_hash(secret)
}

/// The tenant created on first start without a tenant file, with its one-time credentials.
pub fn default_tenant() -> (TenantConfig, BootstrapCredentials) {
    let client_id = random_token(32);
    let secret = random_token(64);
    let tenant = TenantConfig {
        settings: TenantSettings {
            friendly_name: Some("latchkey".into()),
            default_directory: Some(DEFAULT_CONNECTION.into()),
            ..TenantSettings::default()
        },
        clients: vec![Client {
            client_id: client_id.clone(),
            name: DEFAULT_CLIENT.into(),
            secret_hash: Some(hash_secret(&secret)),
            app_type: AppType::RegularWeb,
            web_origins: vec![],
            allowed_origins: vec![],
            callbacks: vec![],
            allowed_logout_urls: vec![],
            grant_types: all_grant_types(),
            token_endpoint_ip_header_trusted: false,
        }],
        client_grants: vec![],
        connections: vec![Connection {
            name: DEFAULT_CONNECTION.into(),
            strategy: "auth0".into(),
            enabled_clients: vec![client_id.clone()],
            options: ConnectionOptions {
                password_policy: PolicyLevel::Good,
                ..ConnectionOptions::default()
            },
        }],
        seed_users: Vec::new(),
    };
    let creds = BootstrapCredentials {
        client_id,
        client_secret: secret,
        connection: DEFAULT_CONNECTION.into(),
    };
    (tenant, creds)
}

/// 1-based line of the first line containing `needle`, to point at semantic errors.
/// Where a YAML tree holds a control character, as a path (`clients[0].name`): any in a key,
/// any but tab, line feed and carriage return in a string value.
fn control_character_at(v: &serde_yaml_ng::Value, at: &str) -> Option<String> {
    use crate::domain::error::{has_control, has_control_in_text};
    use serde_yaml_ng::Value as Y;
    match v {
        Y::String(s) => has_control_in_text(s).then(|| at.to_owned()),
        Y::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| control_character_at(item, &format!("{at}[{i}]"))),
        Y::Mapping(m) => m.iter().find_map(|(k, v)| {
            let key = match k {
                Y::String(k) => k.clone(),
                other => serde_yaml_ng::to_string(other).unwrap_or_default(),
            };
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            if has_control(&key) {
                Some(if at.is_empty() {
                    "a key".to_owned()
                } else {
                    format!("a key of {at}")
                })
            } else {
                control_character_at(v, &path)
            }
        }),
        Y::Tagged(t) => control_character_at(&t.value, at),
        _ => None,
    }
}

fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// Reads and validates a tenant file. `existing_id` gives the client_id already stored for a
/// client name, so clients without an explicit `client_id` keep theirs across restarts.
pub fn load(
    path: &Path,
    existing_id: &dyn Fn(&str) -> Option<String>,
) -> Result<TenantConfig, TenantFileError> {
    let err = |line: Option<usize>, message: String| TenantFileError {
        path: path.to_owned(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let mut file: File = serde_yaml_ng::from_str(&text)
        .map_err(|e| err(e.location().map(|l| l.line()), e.to_string()))?;
    // No control character reaches the store from here either (a NUL is refused by
    // PostgreSQL and breaks searches): none in keys, none but tab and line breaks in values.
    if let Ok(tree) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
        && let Some(at) = control_character_at(&tree, "")
    {
        return Err(err(
            None,
            format!("{at} must not contain control characters"),
        ));
    }

    file.tenant.emails = std::mem::take(&mut file.emails);
    file.tenant
        .validate()
        .map_err(|m| err(line_of(&text, "tenant:"), m))?;
    for (kind, t) in [
        ("reset_email", &file.tenant.emails.reset_email),
        ("verify_email", &file.tenant.emails.verify_email),
    ] {
        if let Some(from) = t.as_ref().and_then(|t| t.from.as_deref())
            && from.parse::<lettre::message::Mailbox>().is_err()
        {
            return Err(err(
                line_of(&text, "from:"),
                format!(
                    "emails.{kind}.from must be an address like \"Acme <no-reply@acme.example>\", got {from:?}"
                ),
            ));
        }
    }
    let mut clients = Vec::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for spec in file.clients {
        let at = line_of(&text, &spec.name);
        if spec.name.trim().is_empty() {
            return Err(err(at, "a client has an empty name".into()));
        }
        if !names.insert(spec.name.clone()) {
            return Err(err(
                at,
                format!("client name {:?} appears twice", spec.name),
            ));
        }
        let client_id = spec
            .client_id
            .clone()
            .or_else(|| existing_id(&spec.name))
            .unwrap_or_else(|| derived_client_id(&spec.name));
        if !ids.insert(client_id.clone()) {
            return Err(err(at, format!("client_id {client_id:?} appears twice")));
        }
        for origin in spec.web_origins.iter().chain(&spec.allowed_origins) {
            let ok = url::Url::parse(origin)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                .unwrap_or(false);
            if !ok {
                return Err(err(
                    line_of(&text, origin),
                    format!(
                        "client {:?}: origin {origin:?} is not an http(s) URL",
                        spec.name
                    ),
                ));
            }
        }
        if let Some(unknown) = spec
            .grant_types
            .iter()
            .flatten()
            .find(|g| !AUTH0_GRANT_TYPES.contains(&g.as_str()))
        {
            return Err(err(
                line_of(&text, unknown).or(at),
                format!(
                    "client {:?}: unknown grant type {unknown:?} (Auth0's names: {})",
                    spec.name,
                    AUTH0_GRANT_TYPES.join(", ")
                ),
            ));
        }
        for url in spec.callbacks.iter().chain(&spec.allowed_logout_urls) {
            // Native apps' callbacks may use their own schemes; a `*` may stand for one
            // subdomain label, as in Auth0.
            let parsed = url::Url::parse(&url.replacen("*.", "wildcard.", 1));
            let problem = match &parsed {
                Err(_) => Some("is not an absolute URL"),
                // Browsers run these instead of navigating to them.
                Ok(u) if matches!(u.scheme(), "javascript" | "data" | "vbscript" | "file") => {
                    Some("has a scheme no redirect may use")
                }
                // RFC 6749 §3.1.2: the answer's parameters may themselves be a fragment.
                Ok(u) if u.fragment().is_some() => Some("must not have a fragment"),
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                return Err(err(
                    line_of(&text, url),
                    format!("client {:?}: {url:?} {problem}", spec.name),
                ));
            }
        }
        // As in Auth0, where the setting is offered only to authenticated applications: a
        // public client's header could be sent by anyone.
        if spec.token_endpoint_ip_header_trusted && spec.client_secret.is_none() {
            return Err(err(
                at,
                format!(
                    "client {:?}: token_endpoint_ip_header_trusted needs a client_secret",
                    spec.name
                ),
            ));
        }
        clients.push(Client {
            client_id,
            name: spec.name,
            secret_hash: spec.client_secret.as_deref().map(hash_secret),
            app_type: spec.app_type,
            web_origins: spec.web_origins,
            allowed_origins: spec.allowed_origins,
            callbacks: spec.callbacks,
            allowed_logout_urls: spec.allowed_logout_urls,
            grant_types: spec.grant_types.unwrap_or_else(all_grant_types),
            token_endpoint_ip_header_trusted: spec.token_endpoint_ip_header_trusted,
        });
    }

    let mut connections = Vec::new();
    let mut conn_names = HashSet::new();
    for spec in file.connections {
        let at = line_of(&text, &spec.name);
        if !conn_names.insert(spec.name.clone()) {
            return Err(err(
                at,
                format!("connection name {:?} appears twice", spec.name),
            ));
        }
        if spec.strategy != "auth0" {
            return Err(err(
                line_of(&text, &format!("strategy: {}", spec.strategy)).or(at),
                format!(
                    "connection {:?}: unknown strategy {:?} (only \"auth0\" database connections are supported)",
                    spec.name, spec.strategy
                ),
            ));
        }
        spec.options
            .validate()
            .map_err(|m| err(at, format!("connection {:?}: {m}", spec.name)))?;
        let mut enabled = Vec::new();
        for reference in &spec.enabled_clients {
            let client = clients
                .iter()
                .find(|c| &c.name == reference || &c.client_id == reference)
                .ok_or_else(|| {
                    err(
                        line_of(&text, reference).or(at),
                        format!(
                            "connection {:?}: enabled_clients names unknown client {reference:?}",
                            spec.name
                        ),
                    )
                })?;
            enabled.push(client.client_id.clone());
        }
        connections.push(Connection {
            name: spec.name,
            strategy: spec.strategy,
            enabled_clients: enabled,
            options: spec.options,
        });
    }

    if let Some(dir) = &file.tenant.default_directory
        && !connections.iter().any(|c| &c.name == dir)
    {
        return Err(err(
            line_of(&text, "default_directory"),
            format!("tenant.default_directory names unknown connection {dir:?}"),
        ));
    }

    let mut client_grants: Vec<ClientGrant> = Vec::new();
    for spec in file.client_grants {
        let at = line_of(&text, &spec.client_id);
        let client = clients
            .iter()
            .find(|c| c.name == spec.client_id || c.client_id == spec.client_id)
            .ok_or_else(|| {
                err(
                    at,
                    format!(
                        "client_grants: unknown client {:?} (a client of this file, by name or client_id)",
                        spec.client_id
                    ),
                )
            })?;
        let known = spec.audience == MANAGEMENT_AUDIENCE
            || file.tenant.api_scopes(&spec.audience).is_some();
        if !known {
            return Err(err(
                line_of(&text, &spec.audience).or(at),
                format!(
                    "client_grants: audience {:?} is not an API of tenant.audiences or \
                     tenant.default_audience, nor `management` (the Management API)",
                    spec.audience
                ),
            ));
        }
        // Where the API declares its scopes, a grant may only hand out those.
        let defined: Option<Vec<&str>> = if spec.audience == MANAGEMENT_AUDIENCE {
            Some(MANAGEMENT_SCOPES.to_vec())
        } else {
            file.tenant
                .api_scopes(&spec.audience)
                .filter(|s| !s.is_empty())
                .map(|s| s.iter().map(String::as_str).collect())
        };
        if let Some(defined) = defined
            && let Some(extra) = spec.scope.iter().find(|s| !defined.contains(&s.as_str()))
        {
            return Err(err(
                line_of(&text, extra).or(at),
                format!(
                    "client_grants: scope {extra:?} is not one the API {:?} defines",
                    spec.audience
                ),
            ));
        }
        if client_grants
            .iter()
            .any(|g| g.client_id == client.client_id && g.audience == spec.audience)
        {
            return Err(err(
                at,
                format!(
                    "client_grants: client {:?} has two grants for {:?}",
                    spec.client_id, spec.audience
                ),
            ));
        }
        client_grants.push(ClientGrant {
            client_id: client.client_id.clone(),
            audience: spec.audience,
            scope: spec.scope,
        });
    }

    let mut seed_users = Vec::new();
    for (i, seed) in file.users.into_iter().enumerate() {
        let mut record = seed;
        let email = record
            .get("email")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let at = line_of(&text, &email).or_else(|| line_of(&text, "users:"));
        let Some(obj) = record.as_object_mut() else {
            return Err(err(at, format!("users[{i}] must be a mapping")));
        };
        let connection = match obj.remove("connection") {
            Some(serde_json::Value::String(c)) => c,
            _ => return Err(err(at, format!("users[{i}] ({email}) needs a connection"))),
        };
        let Some(conn) = connections.iter().find(|c| c.name == connection) else {
            return Err(err(
                at,
                format!("users[{i}] ({email}): unknown connection {connection:?}"),
            ));
        };
        let password = match obj.remove("password") {
            None => None,
            Some(serde_json::Value::String(p)) => Some(p),
            Some(_) => {
                return Err(err(
                    at,
                    format!("users[{i}] ({email}): password must be a string"),
                ));
            }
        };
        if password.is_some()
            && (obj.contains_key("password_hash") || obj.contains_key("custom_password_hash"))
        {
            return Err(err(
                at,
                format!("users[{i}] ({email}): give a password or a hash, not both"),
            ));
        }
        if let Some(p) = &password
            && conn.options.policy().check(p).is_err()
        {
            return Err(err(
                at,
                format!(
                    "users[{i}] ({email}): the password does not meet the connection's password policy"
                ),
            ));
        }
        if let Err(problems) = crate::domain::migration::check(&record, 0) {
            let text: Vec<String> = problems.into_iter().map(|p| p.message).collect();
            return Err(err(
                at,
                format!("users[{i}] ({email}): {}", text.join("; ")),
            ));
        }
        seed_users.push(crate::domain::tenant::SeedUser {
            connection,
            email: crate::domain::user::normalize_identifier(&email),
            record,
            password,
        });
    }

    Ok(TenantConfig {
        settings: file.tenant,
        clients,
        connections,
        client_grants,
        seed_users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<TenantConfig, TenantFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenant.yaml");
        std::fs::write(&path, text).unwrap();
        load(&path, &|_| None)
    }

    const GOOD: &str = "\
tenant:
  default_directory: db
clients:
  - name: SPA
    client_id: spa-id
    app_type: spa
    web_origins: [\"http://localhost:5173\"]
connections:
  - name: db
    enabled_clients: [SPA]
    options:
      passwordPolicy: fair
      requires_username: true
";

    #[test]
    fn good_file() {
        let t = load_str(GOOD).unwrap();
        assert_eq!(t.clients[0].client_id, "spa-id");
        assert_eq!(t.clients[0].secret_hash, None);
        assert_eq!(t.connections[0].enabled_clients, vec!["spa-id"]);
        assert_eq!(t.connections[0].options.password_policy, PolicyLevel::Fair);
        assert!(t.connections[0].options.brute_force_protection);
    }

    #[test]
    fn json_is_accepted() {
        let t = load_str(r#"{"connections":[{"name":"db"}]}"#).unwrap();
        assert_eq!(t.connections[0].options.password_policy, PolicyLevel::Good);
    }

    #[test]
    fn unknown_option_names_file_and_line() {
        let e = load_str(&GOOD.replace("requires_username", "requires_usernam")).unwrap_err();
        assert_eq!(e.line, Some(13));
        assert!(
            e.message.contains("unknown field `requires_usernam`"),
            "{}",
            e.message
        );
        assert!(e.to_string().contains("tenant.yaml:13: "), "{e}");
    }

    #[test]
    fn grant_types_callbacks_and_branding_are_checked() {
        let with_client = |extra: &str| {
            load_str(&GOOD.replace(
                "    web_origins: [\"http://localhost:5173\"]\n",
                &format!("    web_origins: [\"http://localhost:5173\"]\n{extra}"),
            ))
        };
        let e = with_client("    grant_types: [authorisation_code]\n").unwrap_err();
        assert_eq!(e.line, Some(8));
        assert!(
            e.message
                .contains("unknown grant type \"authorisation_code\""),
            "{e}"
        );
        // Auth0's own names are all accepted, served or not.
        let t = with_client(
            "    grant_types: [implicit, \"urn:ietf:params:oauth:grant-type:device_code\"]\n",
        );
        assert!(t.is_ok(), "{:?}", t.err());
        let e = with_client("    callbacks: [\"not a url\"]\n").unwrap_err();
        assert!(
            e.message.contains("\"not a url\" is not an absolute URL"),
            "{e}"
        );
        assert!(
            with_client("    callbacks: [\"https://*.example.com/cb\", \"com.app://cb\"]\n")
                .is_ok()
        );
        let e =
            load_str(&GOOD.replace("tenant:\n", "tenant:\n  session_lifetime: 0\n")).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(
            e.message
                .contains("tenant.session_lifetime must be 0 < hours <= 8760"),
            "{e}"
        );
    }

    #[test]
    fn unknown_client_and_strategy() {
        let e = load_str(&GOOD.replace("enabled_clients: [SPA]", "enabled_clients: [Nope]"))
            .unwrap_err();
        assert_eq!(e.line, Some(10));
        assert!(e.message.contains("unknown client \"Nope\""));
        let e = load_str(&GOOD.replace(
            "  - name: db\n",
            "  - name: db\n    strategy: google-oauth2\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, Some(10));
        assert!(e.message.contains("unknown strategy"));
    }

    #[test]
    fn bad_level_and_syntax() {
        let e = load_str(&GOOD.replace("fair", "strong")).unwrap_err();
        assert_eq!(e.line, Some(12));
        let e = load_str("clients: [\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn missing_client_ids_are_stable() {
        let a = load_str("clients:\n  - name: A\n").unwrap();
        let b = load_str("clients:\n  - name: A\n").unwrap();
        assert_eq!(a.clients[0].client_id, b.clients[0].client_id);
        assert_eq!(a.clients[0].client_id.len(), 32);
        assert_ne!(a.clients[0].client_id, derived_client_id("B"));
    }

    #[test]
    fn secrets_are_hashed() {
        let t = load_str("clients:\n  - name: A\n    client_secret: s3cret\n").unwrap();
        assert_eq!(
            t.clients[0].secret_hash.as_deref(),
            Some(hash_secret("s3cret").as_str())
        );
        assert_ne!(hash_secret("s3cret"), "s3cret");
    }

    #[test]
    fn trusting_the_ip_header_needs_a_secret() {
        let t = load_str(
            "clients:\n  - name: A\n    client_secret: s\n    token_endpoint_ip_header_trusted: true\n",
        )
        .unwrap();
        assert!(t.clients[0].token_endpoint_ip_header_trusted);
        let e = load_str("clients:\n  - name: A\n    token_endpoint_ip_header_trusted: true\n")
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(
            e.message,
            "client \"A\": token_endpoint_ip_header_trusted needs a client_secret"
        );
        assert!(!load_str(GOOD).unwrap().clients[0].token_endpoint_ip_header_trusted);
    }

    #[test]
    fn client_grants_name_a_client_of_the_file_and_a_known_api() {
        let base = "tenant:\n  audiences: [\"https://api.example.com/\"]\nclients:\n  - name: Backend\n    client_secret: s\n";
        let t = load_str(&format!(
            "{base}client_grants:\n  - client_id: Backend\n    audience: management\n    scope: [read:users]\n  - client_id: Backend\n    audience: https://api.example.com/\n"
        ))
        .unwrap();
        assert_eq!(t.client_grants.len(), 2);
        assert_eq!(t.client_grants[0].client_id, t.clients[0].client_id);
        assert_eq!(t.client_grants[0].audience, MANAGEMENT_AUDIENCE);
        assert_eq!(t.client_grants[0].scope, ["read:users"]);
        assert!(t.client_grants[1].scope.is_empty());
        let e = load_str(&format!(
            "{base}client_grants:\n  - client_id: Nope\n    audience: management\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, Some(7));
        assert!(
            e.message.contains("unknown client \"Nope\""),
            "{}",
            e.message
        );
        let e = load_str(&format!(
            "{base}client_grants:\n  - client_id: Backend\n    audience: https://elsewhere/\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, Some(8));
        assert!(e.message.contains("is not an API"), "{}", e.message);
        let e = load_str(&format!(
            "{base}client_grants:\n  - client_id: Backend\n    audience: management\n  - client_id: Backend\n    audience: management\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("two grants"), "{}", e.message);
        let e = load_str(&format!(
            "{base}client_grants:\n  - client_id: Backend\n    audience: management\n    scope: [drop:tables]\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, Some(9));
        assert_eq!(
            e.message,
            "client_grants: scope \"drop:tables\" is not one the API \"management\" defines"
        );
    }

    #[test]
    fn control_characters_are_refused_anywhere_in_the_file() {
        let with = |name: &str| format!("clients:\n  - name: \"{name}\"\n");
        let e = load_str(&with("App\\0")).unwrap_err();
        assert_eq!(
            e.message,
            "clients[0].name must not contain control characters"
        );
        let e = load_str("users:\n  - email: a@example.com\n    connection: Username-Password-Authentication\n    user_metadata: { \"k\\0\": v }\n").unwrap_err();
        assert_eq!(
            e.message,
            "a key of users[0].user_metadata must not contain control characters"
        );
    }
}
