//! The daemon on a population register in another process: `eid-server serve` configured
//! with `[register] grpc_endpoint`, `eid-server registry serve` as the register, and
//! `eid-server registry record-change` changing citizens' statuses in the register file.
//!
//! Over HTTP: self-enrolment on a match, refusals (mismatch, unknown number, deceased);
//! the register killed → enrolment answers its "try later" page while a password login
//! keeps working; a death recorded while the register is down reaches the daemon once it
//! is back (the watcher resumes after the last change it handled): the account is
//! suspended (its live access token inactive, logins refused) and its eKYC record
//! suspended.
//!
//! Needs PostgreSQL and Redis: when one is missing the test fails if `CI=true` and
//! otherwise prints `skipping: …` and passes.

use std::path::Path;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::audit::AuditEvent;
use eid_core::credential::ekyc::EkycStatus;
use eid_core::registry::{RecordStatus, RegisterRecord, SyntheticPopulation};
use eid_core::store::{AccountStatus, DurableStore, PostgresStore};
use eid_e2e::browser::{Browser, redirect, text};
use eid_e2e::citizen::{CITIZENS, SEED};
use eid_e2e::clients::{Auth, Rp};
use eid_e2e::daemon::free_port;
use eid_e2e::deployment::Deployment;
use eid_e2e::random::{random_bytes, random_text};
use eid_e2e::register::{RegisterProcess, record_change};
use eid_e2e::stores::{StoreUrls, Stores};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

/// The enrolment page's refusal texts (Vietnamese, the default language).
const NO_MATCH: &str = "không khớp với Cơ sở dữ liệu quốc gia về dân cư";
const REGISTER_DOWN: &str = "Hiện không kết nối được Cơ sở dữ liệu quốc gia về dân cư";

/// How long the daemon may take to act on a register change (it polls nothing itself; the
/// register tails its log and the watcher reconnects with backoff).
const PATIENCE: Duration = Duration::from_secs(120);

fn active_citizens() -> Vec<RegisterRecord> {
    SyntheticPopulation::new(CITIZENS, SEED)
        .expect("synthetic population")
        .map(|record| record.expect("synthetic citizen"))
        .filter(|record| record.status == RecordStatus::Active)
        .collect()
}

/// The enrolment form's fields claiming `record`'s identity, with `password` twice.
fn enrol_fields<'a>(record: &'a RegisterRecord, password: &'a str) -> Vec<(&'static str, String)> {
    let id = &record.identity;
    vec![
        ("personal_id", record.personal_id.expose()),
        ("family_name", id.family_name.clone()),
        ("middle_names", id.middle_names.clone()),
        ("given_name", id.given_name.clone()),
        ("birth_date", id.birth_date.to_string()),
        ("sex", id.sex.as_str().to_owned()),
        ("place_of_birth", id.place_of_birth.clone()),
        ("password", password.to_owned()),
        ("password_again", password.to_owned()),
    ]
}

/// The daemon, its relying party and a browser-less HTTP client.
struct Service {
    base: String,
    http: reqwest::Client,
    rp: Rp,
    secret: String,
}

impl Service {
    /// Opens `/enrol` in a new browser and submits `fields`.
    async fn enrol(&self, fields: &[(&'static str, String)]) -> reqwest::Response {
        let mut browser = Browser::new(&self.http);
        let form = browser.form(&format!("{}/enrol", self.base)).await;
        let fields: Vec<(&'static str, &str)> =
            fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        browser
            .post(&format!("{}/enrol", self.base), &form, &fields)
            .await
    }

    /// A password login through the relying party's code flow: the token response, or the
    /// login page's refusal (status and body).
    async fn login(
        &self,
        record: &RegisterRecord,
        password: &str,
    ) -> Result<Value, (StatusCode, String)> {
        let mut browser = Browser::new(&self.http);
        let verifier = Base64UrlUnpadded::encode_string(&random_bytes::<32>());
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        let mut url = Url::parse(&format!("{}/authorize", self.base)).expect("a URL");
        url.query_pairs_mut()
            .append_pair("client_id", self.rp.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("redirect_uri", &self.rp.redirect_uri())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", "s");
        let login = redirect(browser.get(url.as_str()).await).await;
        assert!(login.starts_with("/login"), "{login}");
        let form = browser.form(&format!("{}{login}", self.base)).await;
        let personal_id = record.personal_id.expose();
        let response = browser
            .post(
                &format!("{}/login", self.base),
                &form,
                &[("personal_id", &personal_id), ("password", password)],
            )
            .await;
        if response.status() != StatusCode::SEE_OTHER {
            return Err((response.status(), text(response).await));
        }
        let mut callback = redirect(response).await;
        // The consent page, unless nothing beyond `openid` needs consent.
        if callback.starts_with("/consent") {
            let form = browser.form(&format!("{}{callback}", self.base)).await;
            callback = browser
                .submit(
                    &format!("{}/consent", self.base),
                    &form,
                    &[("decision", "allow")],
                )
                .await;
        }
        let callback = Url::parse(&callback).expect("a redirect to the client");
        let code = callback
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        let response = self
            .post(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &self.rp.redirect_uri()),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        Ok(response.json().await.expect("token JSON"))
    }

    /// `POST {base}{path}` with client_secret_basic.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .basic_auth(self.rp.client_id, Some(&self.secret))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// Whether introspection (RFC 7662) reports `token` active.
    async fn active(&self, token: &str) -> bool {
        let response = self.post("/introspect", &[("token", token)]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let about: Value = response.json().await.expect("introspection JSON");
        about["active"].as_bool().expect("an active member")
    }
}

async fn scenario(dir: &Path, stores: &StoreUrls) {
    let port = free_port();
    let register_port = std::iter::repeat_with(free_port)
        .find(|p| *p != port)
        .expect("a second port");
    let deployment = Deployment::new(dir, stores, format!("http://localhost:{port}"));
    let register = deployment.register_file();
    let token = random_text();
    let token_file = dir.join("register.token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write the token file");
    let secret = random_text();
    let rp = Rp {
        client_id: "rp-register",
        auth: Auth::Secret {
            method: "client_secret_basic",
            secret: secret.clone(),
        },
        scopes: &["openid"],
        require_par: false,
    };
    let config = deployment.write_config_with_register(
        port,
        std::slice::from_ref(&rp),
        &format!(
            "grpc_endpoint = \"http://127.0.0.1:{register_port}\"\ntoken_file = {:?}",
            token_file.display().to_string()
        ),
    );
    let citizens = active_citizens();
    let (newcomer, latecomer, dead) = (&citizens[0], &citizens[1], &citizens[2]);
    record_change(&register, &[&dead.personal_id.expose(), "deceased"]);

    // The daemon starts although the register is not up yet.
    let daemon = deployment.start(&config);
    let service = Service {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
        rp,
        secret,
    };
    let ready: Value = service
        .http
        .get(format!("{}/readyz", service.base))
        .send()
        .await
        .expect("GET /readyz")
        .json()
        .await
        .expect("readiness JSON");
    assert_eq!(ready["checks"]["register"]["required"], false, "{ready}");
    let server = RegisterProcess::start(&register, register_port, &token);

    // A full match enrols (the circuit breaker may still be open from the start-up
    // attempts: retry the "try later" answer until the register is reached).
    let password = random_text();
    let started = Instant::now();
    let enrolled = loop {
        let response = service.enrol(&enrol_fields(newcomer, &password)).await;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE || started.elapsed() > PATIENCE {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(enrolled.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect(enrolled).await, "/account?notice=enrolled");

    // Refusals: a wrong name and an unknown number look alike; a deceased record is refused.
    let mut wrong_name = enrol_fields(latecomer, &password);
    wrong_name[3].1.push('x');
    let mut unknown = enrol_fields(latecomer, &password);
    let digits = latecomer.personal_id.expose();
    unknown[0].1 = format!(
        "{}{:06}",
        &digits[..6],
        (digits[6..].parse::<u32>().expect("digits") + 500_000) % 1_000_000
    );
    for (case, fields) in [
        ("wrong given name", wrong_name),
        ("unknown number", unknown),
    ] {
        let refused = service.enrol(&fields).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{case}");
        assert!(text(refused).await.contains(NO_MATCH), "{case}");
    }
    let refused = service.enrol(&enrol_fields(dead, &password)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "deceased");

    // A live access token of the enrolled citizen.
    let tokens = service.login(newcomer, &password).await.expect("a login");
    let access = tokens["access_token"].as_str().expect("an access token");
    assert!(service.active(access).await);

    // The register goes down: enrolment says "try later", password logins go on.
    server.kill();
    let refused = service.enrol(&enrol_fields(latecomer, &password)).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(refused).await.contains(REGISTER_DOWN));
    service
        .login(newcomer, &password)
        .await
        .expect("a password login while the register is down");
    // UserInfo reads the claims from the register: "try later", the token stays valid.
    let response = service
        .http
        .get(format!("{}/userinfo", service.base))
        .bearer_auth(access)
        .send()
        .await
        .expect("GET /userinfo");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("an error JSON");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert!(service.active(access).await);

    // The citizen dies while the register is down; the change waits in the register's log.
    record_change(&register, &[&newcomer.personal_id.expose(), "deceased"]);
    let _server = RegisterProcess::start(&register, register_port, &token);
    let started = Instant::now();
    while service.active(access).await {
        assert!(
            started.elapsed() < PATIENCE,
            "the daemon did not act on the register's change"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, page) = service
        .login(newcomer, &password)
        .await
        .expect_err("a suspended account cannot log in");
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");

    // The store: account and eKYC record suspended, audited; the cursor past both changes.
    let durable: Box<dyn DurableStore> = Box::new(
        PostgresStore::connect(&stores.durable)
            .await
            .expect("the durable store"),
    );
    let account = durable
        .find_account(&newcomer.personal_id)
        .await
        .expect("the store")
        .expect("the account");
    assert_eq!(account.status, AccountStatus::Suspended);
    let ekyc = durable.ekyc_records(account.id).await.expect("the store");
    assert_eq!(ekyc.len(), 1);
    assert_eq!(ekyc[0].status, EkycStatus::Suspended);
    let events: Vec<_> = durable
        .audit_for_account(account.id, 100)
        .await
        .expect("the audit log")
        .into_iter()
        .map(|entry| entry.record.event)
        .collect();
    for event in [
        AuditEvent::RegisterStatusChanged,
        AuditEvent::AccountStatusChanged,
        AuditEvent::EkycStatusChanged,
    ] {
        assert!(events.contains(&event), "{event:?} in {events:?}");
    }
    assert_eq!(
        durable.register_watch_cursor().await.expect("the cursor"),
        2
    );
    durable
        .verify_audit_chain()
        .await
        .expect("an intact audit chain");
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_follows_a_register_in_another_process() {
    if let Some(stores) = Stores::prepare("register_grpc").await {
        stores
            .run(|dir, urls| tokio::runtime::Handle::current().block_on(scenario(dir, urls)))
            .await;
    }
}
