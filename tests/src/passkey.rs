//! A citizen's passkey over HTTP, without a browser: `webauthn-authenticator-rs`'s
//! software authenticator (which verifies the user when asked) answers the daemon's
//! WebAuthn options as the pages' script would post them, for flows that need a sign-in
//! at substantial but do not test the pages themselves (`tests/passkeys.rs` does, in
//! Chromium).

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

use crate::browser::{Browser, hidden, redirect, text};

/// A software passkey for the daemon at `base` whose issuer (the WebAuthn origin) is
/// `origin`.
pub struct SoftKey {
    authenticator: SoftPasskey,
    origin: Url,
    base: String,
}

/// Splits the daemon's `{ceremony, publicKey…}` into the ceremony id and the options.
fn ceremony(mut options: Value) -> (String, Value) {
    let ceremony = options
        .as_object_mut()
        .and_then(|o| o.remove("ceremony"))
        .and_then(|c| c.as_str().map(str::to_owned))
        .expect("a ceremony id");
    (ceremony, options)
}

/// `POST url` with `fields`; the JSON answer, which must be 200.
async fn options(browser: &mut Browser, url: &str, fields: &[(&'static str, String)]) -> Value {
    let response = browser.post(url, fields, &[]).await;
    assert_eq!(response.status(), StatusCode::OK, "POST {url}");
    serde_json::from_str(&text(response).await).expect("WebAuthn options JSON")
}

impl SoftKey {
    /// A new key, enrolled nowhere.
    pub fn new(base: &str, issuer: &str) -> Self {
        Self {
            authenticator: SoftPasskey::new(true),
            origin: Url::parse(issuer).expect("the issuer URL"),
            base: base.to_owned(),
        }
    }

    /// Enrols this key as `label` from the account page `browser` is signed in to.
    pub async fn enrol(&mut self, browser: &mut Browser, label: &str) {
        let account = format!("{}/account", self.base);
        let page = browser.get(&account).await;
        assert_eq!(page.status(), StatusCode::OK, "GET /account");
        let csrf = hidden(&text(page).await, "csrf");
        let url = format!("{}/account/passkeys/options", self.base);
        let (ceremony, options) = ceremony(options(browser, &url, &[("csrf", csrf.clone())]).await);
        let options: CreationChallengeResponse =
            serde_json::from_value(options).expect("creation options");
        let credential = self
            .authenticator
            .do_registration(self.origin.clone(), options)
            .expect("a registration");
        let credential = serde_json::to_string(&credential).expect("credential JSON");
        let fields = [
            ("csrf", csrf),
            ("ceremony", ceremony),
            ("label", label.to_owned()),
            ("credential", credential),
        ];
        let done = redirect(
            browser
                .post(&format!("{}/account/passkeys", self.base), &fields, &[])
                .await,
        )
        .await;
        assert_eq!(done, "/account?notice=added");
    }

    /// Confirms with this key on the step-up page `login` (a `/login?req=…` path) of a
    /// flow; returns where the daemon sends the browser next.
    pub async fn confirm(&mut self, browser: &mut Browser, login: &str) -> String {
        let form = browser.form(&format!("{}{login}", self.base)).await;
        let url = format!("{}/passkey/options", self.base);
        let (ceremony, options) = ceremony(options(browser, &url, &form).await);
        let options: RequestChallengeResponse =
            serde_json::from_value(options).expect("request options");
        let credential = self
            .authenticator
            .do_authentication(self.origin.clone(), options)
            .expect("an assertion");
        let credential = serde_json::to_string(&credential).expect("credential JSON");
        let extra = [("ceremony", ceremony.as_str()), ("credential", &credential)];
        let url = format!("{}/passkey/login", self.base);
        browser.submit(&url, &form, &extra).await
    }
}
