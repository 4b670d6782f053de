//! A citizen's browser for end-to-end tests: a cookie jar kept by hand, redirects not
//! followed, forms read from the daemon's pages.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// A citizen's browser: a cookie jar kept by hand, redirects not followed. Cookies are
/// sent to both instances: they are one site to the browser.
pub struct Browser {
    http: reqwest::Client,
    jar: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(http: &reqwest::Client) -> Self {
        Self {
            http: http.clone(),
            jar: BTreeMap::new(),
        }
    }

    fn cookies(&self) -> String {
        self.jar
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().expect("an ASCII cookie");
            let pair = text.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header(COOKIE, self.cookies())
            .send()
            .await
            .expect("GET");
        self.keep(&response);
        response
    }

    /// `GET url` and the values of the page's hidden `req` and `csrf` inputs.
    pub async fn form(&mut self, url: &str) -> [(&'static str, String); 2] {
        let response = self.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        let html = response.text().await.expect("the page");
        [
            ("req", hidden(&html, "req")),
            ("csrf", hidden(&html, "csrf")),
        ]
    }

    /// Submits `form` plus `extra` to `url`; the response must redirect.
    pub async fn submit(
        &mut self,
        url: &str,
        form: &[(&'static str, String)],
        extra: &[(&'static str, &str)],
    ) -> String {
        redirect(self.post(url, form, extra).await).await
    }

    /// Submits `form` plus `extra` to `url`; the response, whatever it is.
    pub async fn post(
        &mut self,
        url: &str,
        form: &[(&'static str, String)],
        extra: &[(&'static str, &str)],
    ) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fields.extend_from_slice(extra);
        let response = self
            .http
            .post(url)
            .header(COOKIE, self.cookies())
            .form(&fields)
            .send()
            .await
            .expect("POST");
        self.keep(&response);
        response
    }
}

/// The `Location` of a 303 response (its body in the failure message otherwise).
pub async fn redirect(response: reqwest::Response) -> String {
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().expect("an ASCII Location").to_owned());
    match location {
        Some(location) if status == StatusCode::SEE_OTHER => location,
        _ => panic!(
            "expected a redirect, got {status}: {}",
            text(response).await
        ),
    }
}

/// The body of `response`.
pub async fn text(response: reqwest::Response) -> String {
    response.text().await.expect("a body")
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} input in {html}"))
        + marker.len();
    let end = html[start..].find('"').expect("a closing quote") + start;
    html[start..end].to_owned()
}
