//! Page infrastructure for every hosted page (login, signup, errors, logout; the email flows'
//! pages reuse it): the templates (minijinja, compiled in, auto-escaped), branding from the
//! tenant, the security headers (a per-response CSP nonce, no caching, no framing), CSRF
//! tokens (axum_csrf's double-submit cookie), and the session cookie.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfConfig;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::{Environment, Value, context};

use super::error::{HtmlError, PageErrorView};
use crate::domain::claims::opaque_token;
use crate::domain::error::chain;
use crate::domain::password_policy::Policy;
use crate::domain::tenant::{TenantSettings, valid_color};

/// The session cookie, as Auth0 names it, and its twin without `SameSite` for browsers that
/// mishandle `SameSite=None`.
pub const SESSION_COOKIE: &str = "auth0";
pub const SESSION_COOKIE_COMPAT: &str = "auth0_compat";

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("signup.html", include_str!("../../templates/signup.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "logged_out.html",
        include_str!("../../templates/logged_out.html"),
    ),
    (
        "form_post.html",
        include_str!("../../templates/form_post.html"),
    ),
    (
        "web_message.html",
        include_str!("../../templates/web_message.html"),
    ),
    (
        "reset_password.html",
        include_str!("../../templates/reset_password.html"),
    ),
    ("message.html", include_str!("../../templates/message.html")),
];

const DEFAULT_PRIMARY: &str = "#3b5bdb";
const DEFAULT_BACKGROUND: &str = "#f4f5f7";

/// The templates and the cookie settings, built once at start.
pub struct Pages {
    env: Environment<'static>,
    /// Whether the server is reached over HTTPS (its issuer): cookies are then `Secure`.
    secure: bool,
    csrf: CsrfConfig,
}

impl Pages {
    pub fn new(secure: bool) -> Self {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are part of the binary; a broken one is a build defect that the
            // first test run reports.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, cause = %e, "template does not compile");
            }
        }
        // The token in the form is an HMAC of the cookie's random value; the cookie cannot be
        // set by another site (and, over HTTPS, not by a subdomain either: `__Host-`). The
        // salt is the same on every instance, so a page served by one can be posted to
        // another.
        let csrf = CsrfConfig::default()
            .with_cookie_name("lk_csrf")
            .with_key(None)
            .with_salt("latchkey hosted pages")
            .with_secure(secure)
            .with_prefix_with_host(secure)
            .with_http_only(true)
            .with_cookie_same_site(axum_csrf::SameSite::Lax)
            .with_lifetime(time::Duration::days(1));
        Self { env, secure, csrf }
    }

    pub fn csrf_config(&self) -> CsrfConfig {
        self.csrf.clone()
    }

    /// Renders `name`; a template error is logged and becomes the generic error page.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, HtmlError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| {
                tracing::error!(template = name, cause = %chain(&e), "template failed");
                HtmlError::from(crate::domain::error::Failure::Bug("a page template failed"))
            })
    }

    /// The session cookies after a login: `SameSite=None; Secure` (with the compat twin) over
    /// HTTPS, `SameSite=Lax` over plain HTTP, where browsers refuse `SameSite=None`.
    pub fn session_cookies(&self, jar: CookieJar, value: String, max_age_ms: i64) -> CookieJar {
        let max_age = time::Duration::milliseconds(max_age_ms);
        let build = |name: &'static str, same_site: Option<SameSite>| {
            let mut c = Cookie::build((name, value.clone()))
                .path("/")
                .http_only(true)
                .secure(self.secure)
                .max_age(max_age);
            if let Some(s) = same_site {
                c = c.same_site(s);
            }
            c.build()
        };
        if self.secure {
            jar.add(build(SESSION_COOKIE, Some(SameSite::None)))
                .add(build(SESSION_COOKIE_COMPAT, None))
        } else {
            jar.add(build(SESSION_COOKIE, Some(SameSite::Lax)))
        }
    }

    /// Cookies that delete the session cookies.
    pub fn clear_session(&self, jar: CookieJar) -> CookieJar {
        let gone = |name: &'static str| Cookie::build(name).path("/").build();
        jar.remove(gone(SESSION_COOKIE))
            .remove(gone(SESSION_COOKIE_COMPAT))
    }

    /// The error page for `e`.
    pub fn error_page(&self, brand: &Brand, e: &HtmlError) -> Response {
        if let Some(f) = e.failure()
            && !matches!(f, crate::domain::error::Failure::Overloaded)
        {
            tracing::error!(cause = %chain(f), "request failed");
        }
        let PageErrorView {
            status,
            code,
            description,
        } = e.view();
        self.page(
            status,
            brand,
            "error.html",
            context! { code, description },
            &Csp::page(),
        )
    }

    /// A branded page with the security headers.
    pub fn page(
        &self,
        status: StatusCode,
        brand: &Brand,
        name: &str,
        ctx: Value,
        csp: &Csp,
    ) -> Response {
        let nonce = opaque_token();
        let ctx = context! { brand => brand, nonce => nonce, ..ctx };
        match self.render(name, ctx) {
            Ok(html) => html_response(status, html, &nonce, csp),
            // No template to show the error with: a plain one.
            Err(_) => html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".into(),
                &nonce,
                csp,
            ),
        }
    }
}

/// What a page's Content-Security-Policy allows beyond nothing.
#[derive(Debug, Clone, Default)]
pub struct Csp {
    /// Inline scripts with the response's nonce (form_post, web_message).
    pub scripts: bool,
    /// Where forms may post (and redirect after posting: Chromium checks the redirect too).
    pub form_action: Vec<String>,
    /// Origins allowed to frame the page (web_message); none: no framing at all.
    pub frame_ancestors: Vec<String>,
    /// An origin images may come from (the tenant's logo).
    pub images: Option<String>,
}

impl Csp {
    pub fn page() -> Self {
        Self {
            form_action: vec!["'self'".into()],
            ..Self::default()
        }
    }

    fn header(&self, nonce: &str) -> String {
        let mut p = format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; img-src 'self' data:{}",
            self.images
                .as_deref()
                .map(|o| format!(" {o}"))
                .unwrap_or_default()
        );
        if self.scripts {
            p.push_str(&format!("; script-src 'nonce-{nonce}'"));
        }
        if self.form_action.is_empty() {
            p.push_str("; form-action 'none'");
        } else {
            p.push_str(&format!("; form-action {}", self.form_action.join(" ")));
        }
        if self.frame_ancestors.is_empty() {
            p.push_str("; frame-ancestors 'none'");
        } else {
            p.push_str(&format!(
                "; frame-ancestors {}",
                self.frame_ancestors.join(" ")
            ));
        }
        p
    }
}

/// A CSP source for a URL: its origin, or its scheme for a custom-scheme (native app) URL.
/// Characters that would end a CSP source never reach it.
pub fn csp_source(url: &str) -> Option<String> {
    let source = crate::domain::authorize::origin_of(url)
        .or_else(|| url.split_once(':').map(|(scheme, _)| format!("{scheme}:")))?;
    source
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-+:/[]".contains(c))
        .then_some(source)
}

pub fn html_response(status: StatusCode, html: String, nonce: &str, csp: &Csp) -> Response {
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    set_page_headers(h);
    if let Ok(v) = HeaderValue::from_str(&csp.header(nonce)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if csp.frame_ancestors.is_empty() {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// An error page without the tenant's branding, for answers given before any handler runs
/// (an oversize body, a time-out).
pub fn plain_error_page(status: StatusCode, description: &str) -> Response {
    let nonce = opaque_token();
    let escaped = description
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head>\
         <body><h1>Something went wrong</h1><p role=\"alert\">{escaped}</p></body></html>"
    );
    html_response(status, html, &nonce, &Csp::page())
}

/// What every page response carries: HTML, never cached, never sniffed, no referrer (page
/// URLs carry `state`, and redirects carry codes and tokens).
pub fn set_page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The tenant's branding now (the default look when the settings cannot be read).
pub async fn brand(state: &super::AppState) -> Brand {
    match state.services.store.tenant_settings().await {
        Ok(s) => Brand::of(&s),
        Err(_) => Brand::of(&Default::default()),
    }
}

/// The tenant's branding, as the templates read it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Brand {
    pub name: String,
    pub initial: String,
    pub logo: Option<String>,
    pub primary: String,
    /// Text on the primary colour: black or white, whichever contrasts more.
    pub on_primary: &'static str,
    pub background: String,
}

impl Brand {
    pub fn of(settings: &TenantSettings) -> Self {
        let name = settings
            .friendly_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "latchkey".into());
        let color = |c: &Option<String>, default: &str| {
            c.as_deref()
                .filter(|c| valid_color(c))
                .unwrap_or(default)
                .to_owned()
        };
        let primary = color(&settings.primary_color, DEFAULT_PRIMARY);
        Brand {
            initial: name
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default(),
            on_primary: if luminance(&primary) > 0.179 {
                "#000000"
            } else {
                "#ffffff"
            },
            logo: settings.logo_url.clone(),
            background: color(&settings.page_background, DEFAULT_BACKGROUND),
            primary,
            name,
        }
    }

    /// The CSP source the logo needs.
    pub fn image_source(&self) -> Option<String> {
        self.logo.as_deref().and_then(csp_source)
    }
}

/// Relative luminance (WCAG 2) of a `#rgb`/`#rrggbb` colour; the 0.179 threshold picks the
/// text colour with the higher contrast ratio.
fn luminance(hex: &str) -> f64 {
    let h = hex.trim_start_matches('#');
    let full: String = if h.len() == 3 {
        h.chars().flat_map(|c| [c, c]).collect()
    } else {
        h.to_owned()
    };
    let channel = |i: usize| {
        let v = u8::from_str_radix(full.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
        let c = f64::from(v) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
}

/// A password policy as the pages' checklist reads it; with the password a form refused,
/// each rule marked met or unmet.
pub fn checklist(policy: &Policy, password: Option<&str>) -> serde_json::Value {
    use serde_json::json;
    let mark = |ok: bool| match password {
        None => "",
        Some(_) if ok => "met",
        Some(_) => "unmet",
    };
    serde_json::Value::Array(
        policy
            .checklist(password.unwrap_or_default())
            .into_iter()
            .map(|r| {
                json!({
                    "text": r.text,
                    "state": mark(r.verified),
                    "items": r.items.into_iter().map(|(text, ok)| json!({"text": text, "state": mark(ok)})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The browser's session cookie (either twin).
pub fn session_cookie(jar: &CookieJar) -> Option<String> {
    jar.get(SESSION_COOKIE)
        .or_else(|| jar.get(SESSION_COOKIE_COMPAT))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let pages = Pages::new(true);
        for (name, _) in TEMPLATES {
            assert!(pages.env.get_template(name).is_ok(), "{name}");
        }
        // Every template file is registered.
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")).unwrap();
        for f in files {
            let name = f.unwrap().file_name().into_string().unwrap();
            assert!(
                TEMPLATES.iter().any(|(n, _)| *n == name),
                "{name} is not registered"
            );
        }
    }

    #[test]
    fn text_on_the_primary_colour_contrasts() {
        let brand = |c: &str| {
            Brand::of(&TenantSettings {
                primary_color: Some(c.into()),
                ..TenantSettings::default()
            })
        };
        assert_eq!(brand("#0059d6").on_primary, "#ffffff");
        assert_eq!(brand("#ffd43b").on_primary, "#000000");
        assert_eq!(brand("#fff").on_primary, "#000000");
        // An invalid colour never reaches the stylesheet.
        assert_eq!(brand("red;}body{display:none").primary, DEFAULT_PRIMARY);
    }

    #[test]
    fn csp_sources_are_origins_or_schemes() {
        assert_eq!(
            csp_source("https://app.example/cb?x=1").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            csp_source("com.example.app://callback").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(csp_source("x;y:z"), None);
    }

    #[test]
    fn pages_forbid_framing_and_inline_code() {
        let h = Csp::page().header("N");
        assert_eq!(
            h,
            "default-src 'none'; style-src 'nonce-N'; base-uri 'none'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
        );
    }
}
