//! The citizen's pages (login, step-up, consent, account, logout, errors), server-rendered
//! in Vietnamese or English, every value HTML-escaped, served with a
//! Content-Security-Policy that allows no inline script or style: the pages that use
//! passkeys load [`SCRIPT_PATH`] from this origin, the others no script at all.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::lang::Lang;

mod account;
mod chip;
mod enrol;
mod texts;

pub use account::{AccountPage, Activity, PasskeyRow, account};
pub use chip::{ChipTicketPage, chip_ticket};
pub use enrol::{EnrolForm, enrol};
pub use texts::texts;

/// The stylesheet, served at [`CSS_PATH`].
pub const CSS: &str = include_str!("eid.css");
/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/static/eid.css";
/// The passkey script (`navigator.credentials`), served at [`SCRIPT_PATH`].
pub const SCRIPT: &str = include_str!("passkey.js");
/// Where the passkey script is served.
pub const SCRIPT_PATH: &str = "/static/passkey.js";

/// The script that submits the SAML response form, served at [`AUTOPOST_PATH`].
pub const AUTOPOST: &str = "'use strict';\ndocument.getElementById('autopost').submit();\n";
/// Where the auto-submit script is served.
pub const AUTOPOST_PATH: &str = "/static/autopost.js";

/// Which script a page runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// No script at all (`script-src` stays `'none'`).
    None,
    /// [`SCRIPT_PATH`], which fetches from this origin.
    Passkeys,
    /// [`AUTOPOST_PATH`], which submits the page's form.
    AutoPost,
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, for every response carrying tokens,
/// codes or personal data (RFC 6749 section 5.1).
pub fn no_store() -> [(HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete page: `body` is trusted HTML built by this module. `form_targets` are the
/// origins a form on the page may end up at (the relying party's redirect URI, reached by
/// a redirect after the form is posted: `form-action` applies to those redirects).
fn page(
    status: StatusCode,
    lang: Lang,
    title: &str,
    body: &str,
    form_targets: &[&str],
    script: Script,
) -> Response {
    let (script_tag, script_csp) = match script {
        Script::None => ("", ""),
        Script::Passkeys => (
            "<script src=\"/static/passkey.js\" defer></script>",
            "; script-src 'self'; connect-src 'self'",
        ),
        Script::AutoPost => (
            "<script src=\"/static/autopost.js\" defer></script>",
            "; script-src 'self'",
        ),
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"{CSS_PATH}\">{script_tag}</head>\
         <body><header><span class=\"emblem\" aria-hidden=\"true\"></span>{service}</header>\
         <main><h1>{title}</h1>{body}</main></body></html>\n",
        lang = lang.tag(),
        title = escape(title),
        service = texts(lang).service_name,
    );
    let mut csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
         frame-ancestors 'none'{script_csp}; form-action 'self'",
    );
    for target in form_targets {
        csp.push(' ');
        csp.push_str(target);
    }
    let mut response = (
        status,
        no_store(),
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The origin of `url` for a CSP source list, if it has one.
pub fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    match url.origin() {
        url::Origin::Tuple(..) => Some(url.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// What the login page shows.
pub struct LoginPage<'a> {
    pub lang: Lang,
    pub client_name: &'a str,
    pub req: &'a str,
    pub csrf: &'a str,
    pub personal_id: Option<&'a str>,
    pub error: Option<&'a str>,
    pub form_target: Option<&'a str>,
    /// The citizen is logged in below the requested level: only a passkey helps.
    pub step_up: bool,
}

/// The login form (personal ID number and password, or a passkey), or the step-up form.
pub fn login(status: StatusCode, p: &LoginPage<'_>) -> Response {
    let t = texts(p.lang);
    let error = p
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let passkey = passkey_login(p);
    let (title, body) = if p.step_up {
        let body = format!(
            "<p><strong>{client}</strong> {intro}</p>{error}{passkey}",
            client = escape(p.client_name),
            intro = t.step_up_intro,
        );
        (t.step_up_title, body)
    } else {
        let body = format!(
            "<p>{intro} <strong>{client}</strong></p>{error}\
             <form id=\"password-login\" method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"req\" value=\"{req}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"personal_id\">{pid_label}</label>\
             <input id=\"personal_id\" name=\"personal_id\" value=\"{pid}\" inputmode=\"numeric\" \
             pattern=\"[0-9]{{12}}\" maxlength=\"12\" autocomplete=\"username webauthn\" required>\
             <label for=\"password\">{pw_label}</label>\
             <input id=\"password\" name=\"password\" type=\"password\" maxlength=\"1024\" \
             autocomplete=\"current-password\" required>\
             <button type=\"submit\">{sign_in}</button></form>\
             <p class=\"or\"><span>{or}</span></p>{passkey}<p class=\"hint\">{hint}</p>\
             <p><a href=\"/enrol\">{enrol}</a></p>",
            intro = t.login_intro,
            client = escape(p.client_name),
            req = escape(p.req),
            csrf = escape(p.csrf),
            pid_label = t.personal_id,
            pid = escape(p.personal_id.unwrap_or("")),
            pw_label = t.password,
            sign_in = t.sign_in,
            or = t.or,
            hint = t.passkey_hint,
            enrol = t.enrol_link,
        );
        (t.login_title, body)
    };
    let targets: Vec<&str> = p.form_target.into_iter().collect();
    page(status, p.lang, title, &body, &targets, Script::Passkeys)
}

/// The passkey button of the login page and the form its script posts.
fn passkey_login(p: &LoginPage<'_>) -> String {
    let t = texts(p.lang);
    let (button, autofill) = if p.step_up {
        (t.step_up_button, "off")
    } else {
        (t.passkey_sign_in, "on")
    };
    format!(
        "<button type=\"button\" id=\"passkey-login\" class=\"{class}\">{button}</button>\
         <form id=\"passkey-form\" method=\"post\" action=\"/passkey/login\" \
         data-options=\"/passkey/options\" data-autofill=\"{autofill}\">\
         <input type=\"hidden\" name=\"req\" value=\"{req}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"ceremony\">\
         <input type=\"hidden\" name=\"credential\"></form>{status}",
        class = if p.step_up { "primary" } else { "secondary" },
        req = escape(p.req),
        csrf = escape(p.csrf),
        status = script_status(p.lang),
    )
}

/// Where the passkey script reports problems, with its messages; and what shows
/// without JavaScript.
pub(super) fn script_status(lang: Lang) -> String {
    let t = texts(lang);
    format!(
        "<p id=\"passkey-status\" class=\"error\" role=\"alert\" hidden \
         data-unsupported=\"{unsupported}\" data-failed=\"{failed}\" data-duplicate=\"{duplicate}\" \
         data-label=\"{label}\"></p><noscript><p class=\"hint\">{noscript}</p></noscript>",
        unsupported = escape(t.passkey_unsupported),
        failed = escape(t.passkey_failed),
        duplicate = escape(notice(lang, "duplicate").unwrap_or_default()),
        label = escape(notice(lang, "label").unwrap_or_default()),
        noscript = t.passkey_needs_script,
    )
}

/// The account page's text for a notice code, if it is one.
pub fn notice(lang: Lang, code: &str) -> Option<&'static str> {
    texts(lang)
        .notices
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
}

/// The consent form listing what `scopes` would release.
pub fn consent(
    lang: Lang,
    client_name: &str,
    req: &str,
    csrf: &str,
    scopes: &[&str],
    form_target: Option<&str>,
) -> Response {
    let t = texts(lang);
    let items: String = t
        .scopes
        .iter()
        .filter(|(scope, _)| scopes.contains(scope))
        .map(|(_, text)| format!("<li>{text}</li>"))
        .collect();
    let body = format!(
        "<p><strong>{client}</strong> {intro}</p><ul>{items}</ul>\
         <form method=\"post\" action=\"/consent\">\
         <input type=\"hidden\" name=\"req\" value=\"{req}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\">{allow}</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">{deny}</button>\
         </form>",
        client = escape(client_name),
        intro = t.consent_intro,
        req = escape(req),
        csrf = escape(csrf),
        allow = t.allow,
        deny = t.deny,
    );
    let targets: Vec<&str> = form_target.into_iter().collect();
    page(
        StatusCode::OK,
        lang,
        t.consent_title,
        &body,
        &targets,
        Script::None,
    )
}

/// An error page (never a redirect: used when the redirect URI cannot be trusted).
pub fn error(status: StatusCode, lang: Lang, message: &str) -> Response {
    let t = texts(lang);
    let body = format!("<p class=\"error\">{}</p>", escape(message));
    page(status, lang, t.error_title, &body, &[], Script::None)
}

/// The logout confirmation form; `form_target` is the origin of the post-logout redirect
/// the confirmation leads to.
pub fn logout_confirm(lang: Lang, req: &str, csrf: &str, form_target: Option<&str>) -> Response {
    let t = texts(lang);
    let body = format!(
        "<p>{question}</p><form method=\"post\" action=\"/logout\">\
         <input type=\"hidden\" name=\"req\" value=\"{req}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\">{confirm}</button></form>",
        question = t.logout_question,
        req = escape(req),
        csrf = escape(csrf),
        confirm = t.logout_confirm,
    );
    let targets: Vec<&str> = form_target.into_iter().collect();
    page(
        StatusCode::OK,
        lang,
        t.logout_title,
        &body,
        &targets,
        Script::None,
    )
}

/// The page that posts a SAML message to a service provider (SAML Bindings 3.5.4): a form
/// of hidden `fields` submitted by script, or by the citizen's click without script.
pub fn saml_post(lang: Lang, action: &str, fields: &[(&str, &str)]) -> Response {
    let t = texts(lang);
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<form method=\"post\" id=\"autopost\" action=\"{action}\">{inputs}\
         <p>{message}</p><button type=\"submit\">{button}</button></form>",
        action = escape(action),
        message = t.saml_continue,
        button = t.saml_button,
    );
    let targets: Vec<String> = origin_of(action).into_iter().collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    page(
        StatusCode::OK,
        lang,
        t.saml_title,
        &body,
        &targets,
        Script::AutoPost,
    )
}

/// The page shown after logging out without a redirect.
pub fn logged_out(lang: Lang) -> Response {
    let t = texts(lang);
    let body = format!("<p>{}</p>", t.logged_out);
    page(
        StatusCode::OK,
        lang,
        t.logout_title,
        &body,
        &[],
        Script::None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn origins_for_csp() {
        assert_eq!(
            origin_of("https://rp.example:8443/cb?x=1").as_deref(),
            Some("https://rp.example:8443")
        );
        assert_eq!(origin_of("not a url"), None);
    }

    #[test]
    fn login_page_escapes_and_allows_only_the_rp_as_form_target() {
        let response = login(
            StatusCode::OK,
            &LoginPage {
                lang: Lang::En,
                client_name: "<script>",
                req: "r",
                csrf: "c",
                personal_id: Some("\"><x"),
                error: None,
                form_target: Some("https://rp.example"),
                step_up: false,
            },
        );
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.ends_with("form-action 'self' https://rp.example"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}
