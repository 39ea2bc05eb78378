//! Tenant model: settings, clients, client grants, database connections and their options,
//! under Auth0's field names.

use serde::{Deserialize, Serialize};

use super::password_policy::{Policy, PolicyLevel};

/// Name of the connection the default tenant creates.
pub const DEFAULT_CONNECTION: &str = "Username-Password-Authentication";
/// Name of the client the default tenant creates.
pub const DEFAULT_CLIENT: &str = "Default App";
/// A client grant's audience for this server's own Management API (`<issuer>api/v2/`), kept
/// symbolic so that a grant survives a change of issuer.
pub const MANAGEMENT_AUDIENCE: &str = "management";

/// Tenant-wide settings (`tenant:` in the tenant file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// Connection used by the plain `password` grant (and a null `realm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_directory: Option<String>,
    /// When true a duplicate signup answers `invalid_signup` instead of `user_exists`.
    #[serde(default)]
    pub signup_enumeration_protection: bool,
    /// Audience of access tokens when a request names none (Auth0's tenant `default_audience`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_audience: Option<String>,
    /// The APIs latchkey issues access tokens for, besides its own Management API
    /// (`<issuer>api/v2/`) and `default_audience`, with the scopes each defines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<Api>,
    /// The hosted pages' logo (an absolute https URL, or http on localhost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// The hosted pages' accent colour, `#rgb` or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// The hosted pages' background colour, `#rgb` or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_background: Option<String>,
    /// Hours a login session lasts at most (Auth0's `session_lifetime`; default 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_lifetime: Option<f64>,
    /// Hours a session lasts without use (Auth0's `idle_session_lifetime`; default 3 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_session_lifetime: Option<f64>,
    /// Email templates per kind (the tenant file's top-level `emails:`, kept with the
    /// settings).
    #[serde(default, skip_serializing_if = "Emails::is_empty")]
    pub emails: Emails,
    /// `app_metadata` paths (`plan`, `org.id`) that user searches find through an index: the
    /// store creates an expression index for each at start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexed_app_metadata: Vec<String>,
}

/// Most indexed `app_metadata` paths (each index costs every user write).
pub const MAX_INDEXED_PATHS: usize = 8;

/// Whether `path` may be indexed: dot-separated names of letters, digits and `_`, which the
/// store may then write into the index's SQL as they are.
pub fn indexable_path(path: &str) -> bool {
    path.len() <= 64
        && path.split('.').count() <= 4
        && path.split('.').all(|seg| {
            !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The tenant file's `emails:` (Auth0's email templates, deploy-cli's names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_email: Option<EmailTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_email: Option<EmailTemplate>,
}

impl Emails {
    fn is_empty(&self) -> bool {
        self.reset_email.is_none() && self.verify_email.is_none()
    }
}

/// One kind's template: Jinja/Liquid-style `{{ url }}`, `{{ user.email }}`, `{{ user.name }}`,
/// `{{ friendly_name }}`; absent parts keep latchkey's own text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    /// `verify_email` only: send it at signup (default: when SMTP delivery is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The sender of this kind (`"Acme <no-reply@acme.example>"`); default `--email-from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// How long the link works (Auth0's default for resets: 432,000 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_lifetime_in_seconds: Option<i64>,
    /// Where the page sends the user after success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
}

/// Auth0's default absolute session lifetime, in hours.
pub const DEFAULT_SESSION_HOURS: f64 = 168.0;
/// Auth0's default idle session lifetime, in hours.
pub const DEFAULT_IDLE_SESSION_HOURS: f64 = 72.0;

fn hours_ms(h: f64) -> i64 {
    (h * 3_600_000.0) as i64
}

/// Whether `c` is a CSS hex colour (`#rgb` or `#rrggbb`), the only form pages accept.
pub fn valid_color(c: &str) -> bool {
    c.strip_prefix('#')
        .is_some_and(|h| (h.len() == 3 || h.len() == 6) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

impl TenantSettings {
    /// The absolute session lifetime in milliseconds.
    pub fn session_lifetime_ms(&self) -> i64 {
        hours_ms(self.session_lifetime.unwrap_or(DEFAULT_SESSION_HOURS))
    }

    /// The idle session lifetime in milliseconds.
    pub fn idle_session_lifetime_ms(&self) -> i64 {
        hours_ms(
            self.idle_session_lifetime
                .unwrap_or(DEFAULT_IDLE_SESSION_HOURS),
        )
    }

    /// Checks branding, lifetimes and indexed paths; used when a tenant file is loaded.
    pub fn validate(&self) -> Result<(), String> {
        if self.indexed_app_metadata.len() > MAX_INDEXED_PATHS {
            return Err(format!(
                "tenant.indexed_app_metadata lists at most {MAX_INDEXED_PATHS} paths"
            ));
        }
        if let Some(p) = self
            .indexed_app_metadata
            .iter()
            .find(|p| !indexable_path(p))
        {
            return Err(format!(
                "tenant.indexed_app_metadata: {p:?} is not a path of names (letters, digits, _) \
                 joined by dots, at most 4 deep"
            ));
        }
        for (name, value) in [
            ("primary_color", &self.primary_color),
            ("page_background", &self.page_background),
        ] {
            if let Some(c) = value
                && !valid_color(c)
            {
                return Err(format!("tenant.{name} must be #rgb or #rrggbb, got {c:?}"));
            }
        }
        if let Some(u) = &self.logo_url
            && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
        {
            return Err(format!(
                "tenant.logo_url must be an absolute http(s) URL, got {u:?}"
            ));
        }
        for (kind, t) in [
            ("reset_email", &self.emails.reset_email),
            ("verify_email", &self.emails.verify_email),
        ] {
            let Some(t) = t else { continue };
            if let Some(l) = t.url_lifetime_in_seconds
                && !(60..=30 * 86_400).contains(&l)
            {
                return Err(format!(
                    "emails.{kind}.url_lifetime_in_seconds must be 60..2592000, got {l}"
                ));
            }
            if let Some(u) = &t.result_url
                && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
            {
                return Err(format!(
                    "emails.{kind}.result_url must be an absolute http(s) URL, got {u:?}"
                ));
            }
            for (part, text) in [
                ("subject", &t.subject),
                ("body_html", &t.body_html),
                ("body_text", &t.body_text),
            ] {
                if let Some(text) = text
                    && let Err(e) = minijinja::Environment::new().template_from_str(text)
                {
                    return Err(format!("emails.{kind}.{part} does not parse: {e}"));
                }
            }
        }
        for (name, value) in [
            ("session_lifetime", self.session_lifetime),
            ("idle_session_lifetime", self.idle_session_lifetime),
        ] {
            if let Some(h) = value
                && !(h > 0.0 && h <= 8760.0)
            {
                return Err(format!("tenant.{name} must be 0 < hours <= 8760, got {h}"));
            }
        }
        Ok(())
    }

    /// The scopes the API `audience` defines, if it is one of the tenant's (`default_audience`
    /// without an entry in `audiences` defines none).
    pub fn api_scopes(&self, audience: &str) -> Option<&[String]> {
        match self.audiences.iter().find(|a| a.identifier() == audience) {
            Some(api) => Some(api.scopes()),
            None => (self.default_audience.as_deref() == Some(audience)).then_some(&[]),
        }
    }
}

/// An API (Auth0's resource server): the `audience` of its tokens and the scopes it defines.
/// In the tenant file, a bare string is an API that defines no scopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Api {
    Identifier(String),
    Defined(ApiSpec),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSpec {
    pub identifier: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl Api {
    pub fn identifier(&self) -> &str {
        match self {
            Api::Identifier(id) => id,
            Api::Defined(spec) => &spec.identifier,
        }
    }

    pub fn scopes(&self) -> &[String] {
        match self {
            Api::Identifier(_) => &[],
            Api::Defined(spec) => &spec.scopes,
        }
    }
}

/// The scopes of the Management API (`shared/spec/management.md`).
pub const MANAGEMENT_SCOPES: &[&str] = &[
    "read:users",
    "create:users",
    "update:users",
    "delete:users",
    "read:users_app_metadata",
    "update:users_app_metadata",
    "create:user_tickets",
    "read:logs",
    "read:logs_users",
    "read:clients",
    "read:connections",
    "read:roles",
    "create:roles",
    "update:roles",
    "delete:roles",
    "read:role_members",
    "create:role_members",
    "delete:role_members",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "delete:client_grants",
    "create:users_imports",
    // latchkey's own: the outbox read (`GET /api/v2/emails`).
    "read:emails",
];

/// See `Connection::id`.
pub fn connection_id(name: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("latchkey connection {name}").as_bytes());
    format!("con_{}", &hex::encode(digest)[..16])
}

/// Scopes of OpenID Connect itself, which every user-facing token may carry.
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// An application allowed to call the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// SHA-256 (hex) of the client secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub app_type: AppType,
    pub web_origins: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub callbacks: Vec<String>,
    pub allowed_logout_urls: Vec<String>,
    pub grant_types: Vec<String>,
    /// Auth0's "Trust Token Endpoint IP Header": the `auth0-forwarded-for` header of a request
    /// this client authenticated (with its secret) names the end user's IP. Only for clients
    /// with a secret.
    pub token_endpoint_ip_header_trusted: bool,
}

impl Client {
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// Whether a browser page served from `origin` may call the API as this client.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.web_origins
            .iter()
            .chain(&self.allowed_origins)
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

/// Auth0's client grant: `client_id` may get tokens for `audience` (an API of the tenant, or
/// `MANAGEMENT_AUDIENCE`) carrying at most `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppType {
    Spa,
    #[default]
    RegularWeb,
    Native,
    NonInteractive,
}

/// A user store. Only database connections (`strategy: auth0`) exist so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub name: String,
    pub strategy: String,
    /// client_ids of the clients that may use this connection.
    pub enabled_clients: Vec<String>,
    pub options: ConnectionOptions,
}

impl Connection {
    /// The Management API's id of the connection, `con_` + 16 characters derived from its name:
    /// the same on every instance and across restarts, with nothing stored.
    pub fn id(&self) -> String {
        connection_id(&self.name)
    }

    pub fn is_database(&self) -> bool {
        self.strategy == "auth0"
    }
}

/// `connection.options`, with Auth0's option names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionOptions {
    #[serde(rename = "passwordPolicy", default = "default_level")]
    pub password_policy: PolicyLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_complexity_options: Option<ComplexityOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_history: Option<HistoryOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_dictionary: Option<DictionaryOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_no_personal_info: Option<EnableOption>,
    #[serde(default)]
    pub requires_username: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationOptions>,
    #[serde(default)]
    pub disable_signup: bool,
    #[serde(default = "yes")]
    pub brute_force_protection: bool,
}

fn default_level() -> PolicyLevel {
    PolicyLevel::Good
}

fn yes() -> bool {
    true
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            password_policy: PolicyLevel::Good,
            password_complexity_options: None,
            password_history: None,
            password_dictionary: None,
            password_no_personal_info: None,
            requires_username: false,
            validation: None,
            disable_signup: false,
            brute_force_protection: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplexityOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryOptions {
    #[serde(default)]
    pub enable: bool,
    #[serde(default = "default_history_size")]
    pub size: u32,
}

fn default_history_size() -> u32 {
    5
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionaryOptions {
    #[serde(default)]
    pub enable: bool,
    #[serde(default)]
    pub dictionary: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableOption {
    #[serde(default)]
    pub enable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<UsernameLength>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsernameLength {
    #[serde(default = "default_username_min")]
    pub min: u32,
    #[serde(default = "default_username_max")]
    pub max: u32,
}

fn default_username_min() -> u32 {
    1
}
fn default_username_max() -> u32 {
    15
}

impl Default for UsernameLength {
    fn default() -> Self {
        Self {
            min: default_username_min(),
            max: default_username_max(),
        }
    }
}

impl ConnectionOptions {
    pub fn policy(&self) -> Policy {
        Policy {
            level: self.password_policy,
            min_length: self
                .password_complexity_options
                .as_ref()
                .and_then(|c| c.min_length),
        }
    }

    pub fn username_length(&self) -> UsernameLength {
        self.validation
            .as_ref()
            .and_then(|v| v.username)
            .unwrap_or_default()
    }

    /// Checks the ranges the spec gives; used when a tenant file is loaded.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(min) = self
            .password_complexity_options
            .as_ref()
            .and_then(|c| c.min_length)
            && !(1..=128).contains(&min)
        {
            return Err(format!(
                "password_complexity_options.min_length must be 1..128, got {min}"
            ));
        }
        if let Some(h) = &self.password_history
            && !(1..=24).contains(&h.size)
        {
            return Err(format!(
                "password_history.size must be 1..24, got {}",
                h.size
            ));
        }
        if let Some(d) = &self.password_dictionary {
            if d.dictionary.len() > 200 {
                return Err("password_dictionary.dictionary may hold at most 200 entries".into());
            }
            if let Some(e) = d.dictionary.iter().find(|e| e.chars().count() > 50) {
                return Err(format!(
                    "password_dictionary entry longer than 50 characters: {e:?}"
                ));
            }
        }
        let u = self.username_length();
        if u.min < 1 || u.max > 128 || u.min > u.max {
            return Err(format!(
                "validation.username must satisfy 1 <= min <= max <= 128, got min {} max {}",
                u.min, u.max
            ));
        }
        Ok(())
    }
}

/// The whole tenant as a tenant file describes it, ready to be applied to the store.
#[derive(Debug, Clone, Default)]
pub struct TenantConfig {
    pub settings: TenantSettings,
    /// Clients with their plaintext secret (hashed by the store layer's caller before storage).
    pub clients: Vec<Client>,
    pub connections: Vec<Connection>,
    /// Grants of the file's clients (audiences resolved); they replace those clients' stored
    /// grants.
    pub client_grants: Vec<ClientGrant>,
    /// The file's `users:`, checked; created at start when absent.
    pub seed_users: Vec<SeedUser>,
}

/// A user of the tenant file's `users:`: a bulk-import record (checked) of a connection of
/// the file, with a plaintext password to hash at start or an imported hash.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedUser {
    pub connection: String,
    pub record: serde_json::Value,
    pub email: String,
    pub password: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(origins: &[&str]) -> Client {
        Client {
            client_id: "c".into(),
            name: "n".into(),
            secret_hash: None,
            app_type: AppType::Spa,
            web_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_origins: vec![],
            callbacks: vec![],
            allowed_logout_urls: vec![],
            grant_types: vec![],
            token_endpoint_ip_header_trusted: false,
        }
    }

    #[test]
    fn origin_matching_ignores_trailing_slash_and_case_of_host() {
        let c = client(&["http://localhost:5173/"]);
        assert!(c.allows_origin("http://localhost:5173"));
        assert!(c.allows_origin("HTTP://LOCALHOST:5173"));
        assert!(!c.allows_origin("http://localhost:5174"));
        assert!(!c.allows_origin("null"));
    }

    #[test]
    fn apis_are_strings_or_declare_their_scopes() {
        let settings: TenantSettings = serde_json::from_value(serde_json::json!({
            "default_audience": "https://default/",
            "audiences": ["https://plain/", {"identifier": "https://rich/", "scopes": ["read:x"]}]
        }))
        .unwrap();
        assert_eq!(settings.api_scopes("https://plain/"), Some(&[][..]));
        assert_eq!(
            settings.api_scopes("https://rich/"),
            Some(&["read:x".to_owned()][..])
        );
        assert_eq!(settings.api_scopes("https://default/"), Some(&[][..]));
        assert_eq!(settings.api_scopes("https://other/"), None);
        // Stored settings round-trip in the same shapes.
        let back: TenantSettings =
            serde_json::from_str(&serde_json::to_string(&settings).unwrap()).unwrap();
        assert_eq!(back, settings);
    }

    #[test]
    fn options_ranges_are_checked() {
        let mut o = ConnectionOptions::default();
        assert!(o.validate().is_ok());
        o.password_complexity_options = Some(ComplexityOptions {
            min_length: Some(0),
        });
        assert!(o.validate().is_err());
        o.password_complexity_options = None;
        o.validation = Some(ValidationOptions {
            username: Some(UsernameLength { min: 1, max: 129 }),
        });
        assert!(o.validate().is_err());
    }
}
