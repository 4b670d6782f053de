//! The citizen's pages (login, consent, logout, errors), server-rendered in Vietnamese or
//! English, every value HTML-escaped, served with a Content-Security-Policy that allows no
//! script and no inline style.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::lang::Lang;

/// The stylesheet, served at [`CSS_PATH`].
pub const CSS: &str = include_str!("eid.css");
/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/static/eid.css";

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

/// The fixed texts of the pages in one language.
pub struct Texts {
    pub login_title: &'static str,
    pub login_intro: &'static str,
    pub personal_id: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub bad_credentials: &'static str,
    pub bad_personal_id: &'static str,
    pub rate_limited: &'static str,
    pub inactive: &'static str,
    pub consent_title: &'static str,
    pub consent_intro: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub error_title: &'static str,
    pub expired: &'static str,
    pub forbidden: &'static str,
    pub logout_title: &'static str,
    pub logout_question: &'static str,
    pub logout_confirm: &'static str,
    pub logged_out: &'static str,
    pub internal: &'static str,
    /// Per scope, what the citizen is asked to share.
    pub scopes: [(&'static str, &'static str); 5],
}

const VI: Texts = Texts {
    login_title: "Đăng nhập định danh điện tử",
    login_intro: "để tiếp tục tới",
    personal_id: "Số định danh cá nhân (12 chữ số)",
    password: "Mật khẩu",
    sign_in: "Đăng nhập",
    bad_credentials: "Số định danh hoặc mật khẩu không đúng.",
    bad_personal_id: "Số định danh cá nhân phải gồm đúng 12 chữ số.",
    rate_limited: "Quá nhiều lần thử. Vui lòng thử lại sau.",
    inactive: "Tài khoản này đang bị khóa hoặc tạm dừng.",
    consent_title: "Chia sẻ thông tin",
    consent_intro: "muốn nhận các thông tin sau của bạn:",
    allow: "Đồng ý",
    deny: "Từ chối",
    error_title: "Không thể tiếp tục",
    expired: "Yêu cầu đăng nhập đã hết hạn hoặc không hợp lệ. Hãy quay lại dịch vụ và thử lại.",
    forbidden: "Biểu mẫu không hợp lệ. Hãy quay lại dịch vụ và thử lại.",
    logout_title: "Đăng xuất",
    logout_question: "Bạn có muốn đăng xuất khỏi tài khoản định danh điện tử?",
    logout_confirm: "Đăng xuất",
    logged_out: "Bạn đã đăng xuất.",
    internal: "Đã xảy ra lỗi. Vui lòng thử lại sau.",
    scopes: [
        ("profile", "Họ, chữ đệm và tên"),
        ("birthdate", "Ngày sinh"),
        ("gender", "Giới tính"),
        ("address", "Địa chỉ nơi cư trú"),
        ("personal_id", "Số định danh cá nhân"),
    ],
};

const EN: Texts = Texts {
    login_title: "Sign in with your electronic identity",
    login_intro: "to continue to",
    personal_id: "Personal ID number (12 digits)",
    password: "Password",
    sign_in: "Sign in",
    bad_credentials: "The personal ID number or the password is wrong.",
    bad_personal_id: "A personal ID number has exactly 12 digits.",
    rate_limited: "Too many attempts. Please try again later.",
    inactive: "This account is locked or suspended.",
    consent_title: "Share your information",
    consent_intro: "asks to receive the following information about you:",
    allow: "Allow",
    deny: "Deny",
    error_title: "Cannot continue",
    expired: "This sign-in request has expired or is not valid. Go back to the service and try again.",
    forbidden: "This form is not valid. Go back to the service and try again.",
    logout_title: "Sign out",
    logout_question: "Do you want to sign out of your electronic identity?",
    logout_confirm: "Sign out",
    logged_out: "You are signed out.",
    internal: "Something went wrong. Please try again later.",
    scopes: [
        ("profile", "Your family, middle and given names"),
        ("birthdate", "Your date of birth"),
        ("gender", "Your sex"),
        ("address", "Your address of residence"),
        ("personal_id", "Your personal ID number"),
    ],
};

/// The texts of `lang`.
pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
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
) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"{CSS_PATH}\"></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>\n",
        lang = lang.tag(),
        title = escape(title),
    );
    let mut csp = String::from(
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'",
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
}

/// The login form.
pub fn login(status: StatusCode, p: &LoginPage<'_>) -> Response {
    let t = texts(p.lang);
    let error = p
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<p>{intro} <strong>{client}</strong></p>{error}\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"req\" value=\"{req}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"personal_id\">{pid_label}</label>\
         <input id=\"personal_id\" name=\"personal_id\" value=\"{pid}\" inputmode=\"numeric\" \
         pattern=\"[0-9]{{12}}\" maxlength=\"12\" autocomplete=\"username\" required>\
         <label for=\"password\">{pw_label}</label>\
         <input id=\"password\" name=\"password\" type=\"password\" maxlength=\"1024\" \
         autocomplete=\"current-password\" required>\
         <button type=\"submit\">{sign_in}</button></form>",
        intro = t.login_intro,
        client = escape(p.client_name),
        req = escape(p.req),
        csrf = escape(p.csrf),
        pid_label = t.personal_id,
        pid = escape(p.personal_id.unwrap_or("")),
        pw_label = t.password,
        sign_in = t.sign_in,
    );
    let targets: Vec<&str> = p.form_target.into_iter().collect();
    page(status, p.lang, t.login_title, &body, &targets)
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
    page(StatusCode::OK, lang, t.consent_title, &body, &targets)
}

/// An error page (never a redirect: used when the redirect URI cannot be trusted).
pub fn error(status: StatusCode, lang: Lang, message: &str) -> Response {
    let t = texts(lang);
    let body = format!("<p class=\"error\">{}</p>", escape(message));
    page(status, lang, t.error_title, &body, &[])
}

/// The logout confirmation form.
pub fn logout_confirm(lang: Lang, req: &str, csrf: &str) -> Response {
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
    page(StatusCode::OK, lang, t.logout_title, &body, &[])
}

/// The page shown after logging out without a redirect.
pub fn logged_out(lang: Lang) -> Response {
    let t = texts(lang);
    let body = format!("<p>{}</p>", t.logged_out);
    page(StatusCode::OK, lang, t.logout_title, &body, &[])
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
