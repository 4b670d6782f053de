//! Passkeys over real HTTP, with webauthn-authenticator-rs's software authenticator as the
//! citizen's device: enrolment on the account page, passwordless login and step-up to
//! eIDAS substantial, and the refusals: answers that are not the ceremony's, replays, a
//! cloned authenticator, deleting the last way to sign in, a sign-in too old for changes.

use std::time::Duration;

use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::{PersonalId, Sex};
use eid_core::store::{NewPasskey, PasskeyId, PasskeyRecord};
use eid_core::token::{IdTokenClaims, OpaqueToken};
use eid_server::oidc::{SESSION_LIFETIME, paths};
use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, SET_COOKIE};
use serde_json::Value;
use time::macros::format_description;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

use super::redeem;
use super::support::{Browser, Provider, authorize_query, hidden, json, location, param, pkce};

/// The eIDAS level a passkey login reaches for the harness's citizen (proofed substantial).
const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
/// Query parameters of an authorization demanding [`SUBSTANTIAL`], with English pages.
pub(super) const AT_SUBSTANTIAL: &str =
    "&ui_locales=en&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fsubstantial";
/// The page texts the tests look for (English: the flows ask `ui_locales=en`).
const REJECTED: &str = "The passkey was not accepted.";
const CEREMONY_EXPIRED: &str = "The passkey request has expired. Please try again.";
const CLONED: &str = "This passkey was refused because it may have been copied.";
const STEP_UP_TITLE: &str = "<h1>Confirm with your passkey</h1>";
/// The account page is in Vietnamese (the default: the test browser sends no
/// `Accept-Language`): a passkey's "last used: never"; "to change your passkeys, please
/// sign in again"; "this form is not valid…".
const NEVER_USED: &str = "Dùng lần cuối: chưa dùng";
const SIGN_IN_AGAIN: &str = "Để thay đổi khóa truy cập, hãy đăng nhập lại.";
const FORBIDDEN: &str = "Biểu mẫu không hợp lệ. Hãy quay lại dịch vụ và thử lại.";
/// Authenticator data flags (W3C WebAuthn Level 3 section 6.1): user verified, backup
/// eligible.
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;

/// The citizen's passkey device: the software authenticator (which claims user
/// verification when asked), doing for a discoverable login what it cannot by itself.
pub(super) struct Key {
    soft: SoftPasskey,
    origin: Url,
    /// The credential ID it made, and the user handle it was made for.
    credential: Option<(Vec<u8>, Vec<u8>)>,
    /// The authenticator data flags of its last assertion.
    flags: u8,
    /// Spaces appended to its answers (which JSON ignores), to make them as large as
    /// another authenticator's.
    padding: usize,
}

impl Key {
    pub(super) fn new(p: &Provider) -> Self {
        Self {
            soft: SoftPasskey::new(true),
            origin: Url::parse(&p.issuer).unwrap(),
            credential: None,
            flags: 0,
            padding: 0,
        }
    }

    /// An answer in JSON, as the page's script posts it, padded.
    fn answer(&self, credential: &impl serde::Serialize) -> String {
        let json = serde_json::to_string(credential).unwrap();
        format!("{json}{}", " ".repeat(self.padding))
    }

    /// Answers the enrolment options the provider sent; returns the ceremony and the
    /// credential as the page's script would post them.
    fn register(&mut self, options: Value) -> (String, String) {
        let (ceremony, options) = ceremony(options);
        let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
        let user = options.public_key.user.id.clone();
        let created = self.soft.do_registration(self.origin.clone(), options);
        let credential = created.unwrap();
        self.credential = Some((credential.raw_id.clone(), user));
        (ceremony, self.answer(&credential))
    }

    /// Answers the login options the provider sent. A discoverable request lists no
    /// credentials and expects the user handle back: a resident key finds its own
    /// credential and returns the handle it stored, which the software authenticator does
    /// not, so both are supplied here (the handle is not signed).
    fn sign(&mut self, options: Value) -> (String, String) {
        let (ceremony, options) = ceremony(options);
        let mut options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let (id, user) = self.credential.clone().expect("an enrolled key");
        let discoverable = options.public_key.allow_credentials.is_empty();
        if discoverable {
            options.public_key.allow_credentials.push(AllowCredentials {
                type_: "public-key".to_owned(),
                id,
                transports: None,
            });
        }
        let mut credential = self
            .soft
            .do_authentication(self.origin.clone(), options)
            .unwrap();
        if discoverable {
            credential.response.user_handle = Some(user);
        }
        // After the 32-byte RP ID hash (WebAuthn section 6.1).
        self.flags = credential.response.authenticator_data[32];
        (ceremony, self.answer(&credential))
    }

    /// The RFC 8176 `amr` of a login with this key's last assertion: `hwk` for a
    /// device-bound key, `swk` for a backup-eligible (synced) one; `user`; `mfa` when the
    /// user was verified.
    fn amr(&self) -> Vec<String> {
        let key = if self.flags & FLAG_BE == 0 {
            "hwk"
        } else {
            "swk"
        };
        let mut amr = vec![key.to_owned(), "user".to_owned()];
        if self.flags & FLAG_UV != 0 {
            amr.push("mfa".to_owned());
        }
        amr
    }
}

/// Splits the provider's `{ceremony, publicKey…}` into the ceremony id and the options
/// (webauthn-rs-proto's challenge response).
fn ceremony(mut options: Value) -> (String, Value) {
    let ceremony = options.as_object_mut().unwrap().remove("ceremony");
    let ceremony = ceremony.and_then(|c| c.as_str().map(str::to_owned));
    (ceremony.expect("a ceremony id"), options)
}

/// A browser signed in to the account page with the citizen's password.
pub(super) async fn signed_in(p: &Provider) -> Browser {
    let mut browser = p.browser();
    let response = browser.get(paths::ACCOUNT).await;
    assert_eq!(p.follow(&mut browser, response).await, paths::ACCOUNT);
    browser
}

/// The account page's HTML.
pub(super) async fn account_page(browser: &mut Browser) -> String {
    let page = browser.get(paths::ACCOUNT).await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// Posts `fields` to an account form at `path`, with the page's CSRF token.
async fn account_form(
    browser: &mut Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = hidden(&account_page(browser).await, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

/// The notice an account form answered with (its redirect to `/account?notice=…`).
pub(super) fn notice(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303);
    let location = location(response);
    let code = location.strip_prefix("/account?notice=");
    code.unwrap_or_else(|| panic!("not a notice: {location}"))
        .to_owned()
}

/// Enrols `key` as `label` from the account page; returns the notice.
pub(super) async fn enrol(browser: &mut Browser, key: &mut Key, label: &str) -> String {
    let options = account_form(browser, paths::ENROL_OPTIONS, &[]).await;
    assert_eq!(options.status(), 200);
    let (ceremony, credential) = key.register(json(options).await);
    let fields = [
        ("ceremony", ceremony.as_str()),
        ("label", label),
        ("credential", &credential),
    ];
    notice(&account_form(browser, paths::ENROL, &fields).await)
}

/// A provider whose citizen, signed in to the account page with the password in the
/// browser returned, has enrolled the key returned as "Phone".
async fn enrolled() -> (Provider, Key, Browser) {
    let p = Provider::start().await;
    let mut key = Key::new(&p);
    let mut citizen = signed_in(&p).await;
    assert_eq!(enrol(&mut citizen, &mut key, "Phone").await, "added");
    (p, key, citizen)
}

/// The citizen's only passkey.
async fn the_passkey(p: &Provider) -> PasskeyRecord {
    let mut records = p.durable.passkeys(p.account().await).await.unwrap();
    assert_eq!(records.len(), 1);
    records.remove(0)
}

/// The account page's entry for passkey `id`, if listed.
fn listed(html: &str, id: PasskeyId) -> Option<&str> {
    let start = html.find(&format!("data-passkey-id=\"{id}\""))?;
    let end = html[start..].find("</li>")? + start;
    Some(&html[start..end])
}

/// Starts an authorization of `basic` with `extra` parameters; returns the response and
/// the PKCE verifier.
async fn authorize(browser: &mut Browser, extra: &str) -> (reqwest::Response, String) {
    let (verifier, challenge) = pkce();
    let query = authorize_query("basic", &challenge, extra);
    (browser.authorize(&query).await, verifier)
}

/// A new browser on the login page of an authorization with `extra` parameters; the
/// PKCE verifier.
pub(super) async fn new_login(p: &Provider, extra: &str) -> (Browser, LoginPage, String) {
    let mut browser = p.browser();
    let (response, verifier) = authorize(&mut browser, extra).await;
    let login = LoginPage::of(&mut browser, &response).await;
    (browser, login, verifier)
}

/// The `error` of a redirect to the client.
fn redirect_error(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303);
    param(&Url::parse(&location(response)).unwrap(), "error").expect("an error")
}

/// Follows `response` to the client (consenting if asked), redeems the code with
/// `verifier` and returns the verified ID token.
pub(super) async fn id_token(
    p: &Provider,
    browser: &mut Browser,
    response: reqwest::Response,
    verifier: &str,
) -> IdTokenClaims {
    let url = Url::parse(&p.follow(browser, response).await).unwrap();
    let code = param(&url, "code").expect("a code");
    let tokens = json(redeem(p, "basic", &code, verifier).await).await;
    let token = tokens["id_token"].as_str().expect("an ID token");
    let verifier = p.verifier("basic").await;
    verifier
        .verify_id_token(token, Some("n0nce"), None)
        .unwrap()
}

/// The text of a 403 JSON error for the page's script.
async fn json_error(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 403);
    let error = json(response).await["error"].as_str().map(str::to_owned);
    error.expect("an error text")
}

/// Whether `response` starts a session.
fn sets_session(response: &reqwest::Response) -> bool {
    let cookies = response.headers().get_all(SET_COOKIE);
    cookies
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("eid_session="))
}

/// Asserts that `response` is an HTML page with `status` that starts no session, and
/// returns it.
async fn page(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    assert!(!sets_session(&response));
    let kind = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    response.text().await.unwrap()
}

/// The audit records of `event` with `outcome`.
async fn audited(p: &Provider, event: AuditEvent, outcome: Outcome) -> Vec<AuditRecord> {
    let records = p.audit().await.into_iter();
    records
        .filter(|r| r.event == event && r.outcome == outcome)
        .collect()
}

/// The one audit record of `event` with `outcome`.
async fn audited_once(p: &Provider, event: AuditEvent, outcome: Outcome) -> AuditRecord {
    let mut records = audited(p, event, outcome).await;
    assert_eq!(records.len(), 1, "{records:?}");
    records.remove(0)
}

/// A login page of a pending flow.
pub(super) struct LoginPage {
    req: String,
    csrf: String,
    html: String,
}

impl LoginPage {
    /// The login page `response` redirects to.
    pub(super) async fn of(browser: &mut Browser, response: &reqwest::Response) -> Self {
        let location = location(response);
        assert!(location.starts_with("/login?"), "{location}");
        let page = browser.get(&location).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        Self {
            req: hidden(&html, "req"),
            csrf: hidden(&html, "csrf"),
            html,
        }
    }

    /// Starts a passkey login ceremony of this flow; returns the options (with the
    /// ceremony id).
    async fn challenge(&self, browser: &mut Browser) -> Value {
        let form = [("req", self.req.as_str()), ("csrf", &self.csrf)];
        let response = browser.post(paths::PASSKEY_OPTIONS, &form).await;
        assert_eq!(response.status(), 200);
        json(response).await
    }

    /// Posts a passkey answer for this flow.
    async fn submit(
        &self,
        browser: &mut Browser,
        ceremony: &str,
        credential: &str,
    ) -> reqwest::Response {
        let form = [
            ("req", self.req.as_str()),
            ("csrf", &self.csrf),
            ("ceremony", ceremony),
            ("credential", credential),
        ];
        browser.post(paths::PASSKEY_LOGIN, &form).await
    }

    /// Logs in with `key`: a new ceremony, answered.
    pub(super) async fn sign_in(&self, browser: &mut Browser, key: &mut Key) -> reqwest::Response {
        let (ceremony, credential) = key.sign(self.challenge(browser).await);
        self.submit(browser, &ceremony, &credential).await
    }
}

/// Makes the sign-in of `browser`'s session `age` old. The harness cannot move the
/// provider's clock, so the session record is rewritten in the ephemeral store, where
/// the provider keeps it: under `session:` and the SHA-256 (hex) of the cookie value,
/// as the JSON of `Session` with `auth_time` in unix seconds.
pub(super) async fn age_session(p: &Provider, browser: &Browser, age: Duration) {
    let cookie = OpaqueToken::parse(browser.cookie("eid_session").expect("a session")).unwrap();
    let key = format!("session:{}", cookie.hash().to_hex());
    let stored = p
        .ephemeral
        .get(&key)
        .await
        .unwrap()
        .expect("a live session");
    let mut session: Value = serde_json::from_slice(&stored).unwrap();
    let auth_time = session["auth_time"].as_i64().expect("an auth_time");
    session["auth_time"] = (auth_time - i64::try_from(age.as_secs()).unwrap()).into();
    let bytes = serde_json::to_vec(&session).unwrap();
    p.ephemeral
        .put(&key, &bytes, SESSION_LIFETIME)
        .await
        .unwrap();
}

#[tokio::test]
async fn enrol_then_log_in_without_a_password_at_substantial() {
    let p = Provider::start().await;
    let account = p.account().await;
    let mut key = Key::new(&p);
    let mut citizen = signed_in(&p).await;
    assert!(
        account_page(&mut citizen)
            .await
            .contains("id=\"no-passkeys\"")
    );
    assert_eq!(enrol(&mut citizen, &mut key, "My phone").await, "added");
    let passkey = the_passkey(&p).await;
    assert_eq!(passkey.label, "My phone");
    let html = account_page(&mut citizen).await;
    assert!(listed(&html, passkey.id).unwrap().contains(NEVER_USED));
    // The password enrolled with the account came first, the passkey is the citizen's.
    let added = audited(&p, AuditEvent::CredentialAdded, Outcome::Success).await;
    assert_eq!(added.len(), 2);
    assert_eq!(
        (&added[1].actor, added[1].subject),
        (&Actor::Account(account), Some(account))
    );

    // Another browser, no number typed: the discoverable passkey alone logs in.
    let (mut browser, login, verifier) = new_login(&p, AT_SUBSTANTIAL).await;
    assert!(!login.html.contains(STEP_UP_TITLE));
    let signed = login.sign_in(&mut browser, &mut key).await;
    assert!(sets_session(&signed));
    let id = id_token(&p, &mut browser, signed, &verifier).await;
    assert_eq!(id.acr.as_deref(), Some(SUBSTANTIAL));
    assert_eq!(id.amr, key.amr());
    assert_eq!(
        key.amr(),
        ["hwk", "user", "mfa"],
        "the soft key is device-bound"
    );

    let used = the_passkey(&p).await.last_used_at.expect("a last use");
    let minute = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let html = account_page(&mut citizen).await;
    let row = listed(&html, passkey.id).unwrap();
    assert!(row.contains(&used.format(&minute).unwrap()), "{row}");
    assert!(!row.contains(NEVER_USED));
}

#[tokio::test]
async fn a_passkey_steps_a_password_session_up() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (response, verifier) = authorize(&mut browser, "").await;
    let id = id_token(&p, &mut browser, response, &verifier).await;
    assert_eq!(id.acr.as_deref(), Some("http://eidas.europa.eu/LoA/low"));
    assert_eq!(id.amr, ["pwd"]);

    // Without a passkey, substantial is out of reach.
    let (response, _) = authorize(&mut browser, AT_SUBSTANTIAL).await;
    assert_eq!(
        redirect_error(&response),
        "unmet_authentication_requirements"
    );

    let mut key = Key::new(&p);
    assert_eq!(enrol(&mut browser, &mut key, "Laptop").await, "added");
    // With one, the citizen must confirm: not without interaction.
    let no_prompt = format!("{AT_SUBSTANTIAL}&prompt=none");
    let (response, _) = authorize(&mut browser, &no_prompt).await;
    assert_eq!(redirect_error(&response), "interaction_required");

    let (response, verifier) = authorize(&mut browser, AT_SUBSTANTIAL).await;
    let step_up = LoginPage::of(&mut browser, &response).await;
    assert!(step_up.html.contains(STEP_UP_TITLE), "{}", step_up.html);
    let confirmed = step_up.sign_in(&mut browser, &mut key).await;
    let id = id_token(&p, &mut browser, confirmed, &verifier).await;
    assert_eq!(id.acr.as_deref(), Some(SUBSTANTIAL));
    let mut both = key.amr();
    both.push("pwd".to_owned());
    assert_eq!(id.amr, both);
}

#[tokio::test]
async fn answers_that_are_not_the_ceremonys_are_refused() {
    let (p, mut key, mut citizen) = enrolled().await;
    // A browser's answers for an RSA key (Windows Hello) are about 2 KB: enrolment and
    // login take answers of a few.
    let mut large = Key::new(&p);
    large.padding = 3 * 1024;
    assert_eq!(enrol(&mut citizen, &mut large, "Desktop").await, "added");

    let (mut browser, login, _) = new_login(&p, "&ui_locales=en").await;
    // Options only for the flow's browser with its CSRF token: else a page, no options.
    let form = [("req", login.req.as_str()), ("csrf", &login.csrf)];
    page(p.post(paths::PASSKEY_OPTIONS, None, &form).await, 400).await;
    let forged = [("req", login.req.as_str()), ("csrf", "forged")];
    page(browser.post(paths::PASSKEY_OPTIONS, &forged).await, 403).await;

    // Not JSON; the right key's answer to another ceremony (another challenge); a right
    // answer beyond the passkey limit, 16 KB.
    let (spoilt, _) = ceremony(login.challenge(&mut browser).await);
    let not_json = login.submit(&mut browser, &spoilt, "not json").await;
    assert!(page(not_json, 401).await.contains(REJECTED));
    let (first, _) = ceremony(login.challenge(&mut browser).await);
    let (_, other) = key.sign(login.challenge(&mut browser).await);
    let crossed = login.submit(&mut browser, &first, &other).await;
    assert!(page(crossed, 401).await.contains(REJECTED));
    key.padding = 20 * 1024;
    let oversized = login.sign_in(&mut browser, &mut key).await;
    assert!(page(oversized, 401).await.contains(REJECTED));
    let failed = audited(&p, AuditEvent::Authentication, Outcome::Failure).await;
    assert_eq!(failed.len(), 3);

    // A right answer, then the same again while the flow waits for consent: the
    // ceremony is spent. Once the flow has ended, it is gone too.
    let (ceremony, answer) = large.sign(login.challenge(&mut browser).await);
    let signed = login.submit(&mut browser, &ceremony, &answer).await;
    assert!(sets_session(&signed));
    assert!(location(&signed).starts_with("/consent?"));
    let replayed = login.submit(&mut browser, &ceremony, &answer).await;
    assert!(page(replayed, 400).await.contains(CEREMONY_EXPIRED));
    let url = Url::parse(&p.follow(&mut browser, signed).await).unwrap();
    assert!(param(&url, "code").is_some());
    page(login.submit(&mut browser, &ceremony, &answer).await, 400).await;
}

#[tokio::test]
async fn account_forms_need_the_session_its_token_and_valid_input() {
    let (p, _, mut citizen) = enrolled().await;
    let mine = the_passkey(&p).await.id.to_string();

    // No session: back to the account page, which asks to sign in. A forged token: 403.
    let mut stranger = p.browser();
    for path in [paths::ENROL, paths::RENAME_PASSKEY, paths::DELETE_PASSKEY] {
        let fields = [("csrf", "forged"), ("id", mine.as_str()), ("label", "x")];
        let anonymous = stranger.post(path, &fields).await;
        assert_eq!(anonymous.status(), 303, "{path}");
        assert_eq!(location(&anonymous), paths::ACCOUNT);
        page(citizen.post(path, &fields).await, 403).await;
    }
    // The script's options request is answered in JSON, with the text to show in the
    // browser's language.
    for (browser, text) in [(&mut stranger, SIGN_IN_AGAIN), (&mut citizen, FORBIDDEN)] {
        let options = browser.post(paths::ENROL_OPTIONS, &[("csrf", "forged")]);
        assert_eq!(json_error(options.await).await, text);
    }
    let english = p.http.post(format!("{}{}", p.base, paths::ENROL_OPTIONS));
    let english = english.header(ACCEPT_LANGUAGE, "en").form(&[("csrf", "x")]);
    let text = json_error(english.send().await.unwrap()).await;
    assert_eq!(text, "To change your passkeys, please sign in again.");

    // Labels are 1 to 100 characters.
    for label in ["   ", &"x".repeat(101)] {
        let fields = [("id", mine.as_str()), ("label", label)];
        let renamed = account_form(&mut citizen, paths::RENAME_PASSKEY, &fields).await;
        assert_eq!(notice(&renamed), "label");
    }
    let fields = [("id", mine.as_str()), ("label", &"x".repeat(100))];
    let renamed = account_form(&mut citizen, paths::RENAME_PASSKEY, &fields).await;
    assert_eq!(notice(&renamed), "renamed");

    // Another citizen's passkey, or no passkey at all, cannot be renamed or deleted.
    let other = PersonalId::from_parts(1, Sex::Female, 1990, 4242).unwrap();
    let other = p.durable.create_account(&other).await.unwrap();
    let theirs = p.durable.add_passkey(NewPasskey {
        account_id: other.id,
        credential_id: vec![7; 16],
        label: "Theirs".to_owned(),
        passkey: serde_json::json!({}),
    });
    let theirs = theirs.await.unwrap().id.to_string();
    for id in [theirs.as_str(), "not-an-id"] {
        let fields = [("id", id), ("label", "Mine now")];
        let renamed = account_form(&mut citizen, paths::RENAME_PASSKEY, &fields).await;
        assert_eq!(notice(&renamed), "rejected");
        let deleted = account_form(&mut citizen, paths::DELETE_PASSKEY, &fields).await;
        assert_eq!(notice(&deleted), "rejected");
    }
    let kept = p.durable.passkeys(other.id).await.unwrap();
    assert_eq!(kept[0].label, "Theirs");
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_deleted() {
    let (p, _, mut citizen) = enrolled().await;
    let account = p.account().await;
    let passkey = the_passkey(&p).await;
    let id = passkey.id.to_string();

    let password = p.durable.password(account).await.unwrap().unwrap();
    p.durable.delete_password(account).await.unwrap();
    let refused = account_form(&mut citizen, paths::DELETE_PASSKEY, &[("id", &id)]).await;
    assert_eq!(notice(&refused), "last");
    assert!(listed(&account_page(&mut citizen).await, passkey.id).is_some());
    let kept = audited_once(&p, AuditEvent::CredentialRemoved, Outcome::Failure).await;
    assert_eq!(kept.subject, Some(account));

    p.durable
        .set_password(account, &password.phc)
        .await
        .unwrap();
    let deleted = account_form(&mut citizen, paths::DELETE_PASSKEY, &[("id", &id)]).await;
    assert_eq!(notice(&deleted), "deleted");
    assert!(
        account_page(&mut citizen)
            .await
            .contains("id=\"no-passkeys\"")
    );
    let removed = audited_once(&p, AuditEvent::CredentialRemoved, Outcome::Success).await;
    assert_eq!(removed.subject, Some(account));
}

#[tokio::test]
async fn a_cloned_authenticator_is_refused_and_audited() {
    let (p, mut key, _) = enrolled().await;
    let account = p.account().await;
    let (mut browser, login, _) = new_login(&p, AT_SUBSTANTIAL).await;
    assert_eq!(login.sign_in(&mut browser, &mut key).await.status(), 303);

    // The stored webauthn-rs `Passkey` keeps the signature counter at `cred.counter`:
    // 1 after the soft key's first assertion. A copy of the key that signed more often
    // makes it larger than what this key sends next.
    let passkey = the_passkey(&p).await;
    let mut stored = passkey.passkey.clone();
    assert_eq!(stored["cred"]["counter"], 1, "{stored}");
    stored["cred"]["counter"] = 1000.into();
    let now = time::OffsetDateTime::now_utc();
    p.durable
        .record_passkey_use(passkey.id, &passkey.passkey, &stored, now)
        .await
        .unwrap();

    let (mut browser, login, _) = new_login(&p, AT_SUBSTANTIAL).await;
    let refused = login.sign_in(&mut browser, &mut key).await;
    assert!(page(refused, 403).await.contains(CLONED));
    let suspected = audited_once(&p, AuditEvent::CredentialCloneSuspected, Outcome::Failure);
    assert_eq!(suspected.await.subject, Some(account));
}

#[tokio::test]
async fn passkey_changes_need_a_recent_sign_in() {
    let (p, _, mut citizen) = enrolled().await;
    let id = the_passkey(&p).await.id.to_string();

    // A second key's enrolment is answered in time, but posted after the sign-in has
    // grown older than 15 minutes plus a ceremony's lifetime (an enrolment started in
    // time may finish within its lifetime): the page still shows, changes wait for a new
    // sign-in.
    let options = account_form(&mut citizen, paths::ENROL_OPTIONS, &[]).await;
    let (ceremony, credential) = Key::new(&p).register(json(options).await);
    age_session(&p, &citizen, Duration::from_secs(21 * 60)).await;
    let html = account_page(&mut citizen).await;
    assert!(listed(&html, the_passkey(&p).await.id).is_some());
    let options = account_form(&mut citizen, paths::ENROL_OPTIONS, &[]).await;
    assert_eq!(json_error(options).await, SIGN_IN_AGAIN);
    let fields = [
        ("ceremony", ceremony.as_str()),
        ("label", "Second"),
        ("credential", &credential),
    ];
    let enrolled = account_form(&mut citizen, paths::ENROL, &fields).await;
    assert_eq!(notice(&enrolled), "reauth");
    for path in [paths::RENAME_PASSKEY, paths::DELETE_PASSKEY] {
        let changed = account_form(&mut citizen, path, &[("id", &id), ("label", "New")]).await;
        assert_eq!(notice(&changed), "reauth", "{path}");
    }
    assert_eq!(the_passkey(&p).await.label, "Phone");

    // Signing in again (the account page's `?login`, session or not) allows changes.
    let again = citizen.get(&format!("{}?login", paths::ACCOUNT)).await;
    assert!(location(&again).starts_with("/login?"));
    assert_eq!(p.follow(&mut citizen, again).await, paths::ACCOUNT);
    let fields = [("id", id.as_str()), ("label", "New")];
    let renamed = account_form(&mut citizen, paths::RENAME_PASSKEY, &fields).await;
    assert_eq!(notice(&renamed), "renamed");
}
