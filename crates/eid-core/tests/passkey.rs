//! Passkey ceremonies end to end: `eid_core::credential::passkey` against the software
//! passkey of `webauthn-authenticator-rs`, with passkeys in an in-memory SQLite store and
//! ceremonies in the memory store (and, for the cases that rest on the ceremony store,
//! Redis too).
//!
//! The relying party is `localhost` at `http://localhost:8080`, which webauthn-rs and
//! browsers accept without TLS. `SoftPasskey::new(true)` claims user verification (UV) and
//! never sets the backup flags (BE, BS): a device-bound key that verified its user.

#[allow(
    dead_code,
    reason = "the store suite's backends: this suite uses the SQLite and ephemeral ones"
)]
mod support;

use std::sync::Arc;
use std::time::Duration;

use eid_core::citizen::PersonalId;
use eid_core::credential::passkey::{
    Challenge, DEFAULT_CEREMONY_LIFETIME, Enrolled, MAX_RESPONSE, PasskeyError, PasskeyLogin,
    Passkeys,
};
use eid_core::store::{AccountId, EphemeralStore, MemoryEphemeral, PasskeyRecord, now};
use serde_json::json;
use support::Durable;
use url::Url;
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::prelude::{WebauthnAuthenticator as _, WebauthnCError};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, WebauthnError,
};
use webauthn_rs_proto::{AllowCredentials, ResidentKeyRequirement, UserVerificationPolicy};

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8080";
/// What the ceremonies are started for (a login flow, an enrolling session).
const CONTEXT: &str = "flow 1";
const EVIL_ORIGIN: &str = "http://evil.example";
const EVIL_RP_ID: &str = "evil.example";

/// Asserts that `result` failed with an error matching `pattern`.
macro_rules! assert_fails {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}

/// Who sends the authenticator's answer to the relying party.
#[derive(Clone, Copy)]
enum Client {
    /// A browser at [`ORIGIN`]: it refuses options for an RP ID that is not its domain
    /// (or a suffix of it), and writes its true origin into the client data.
    Browser,
    /// A forged client (malware, a phishing proxy): it lets the authenticator sign for
    /// any RP ID and writes `origin` into the client data.
    Forged { origin: &'static str },
}

/// A passkey authenticator. `SoftPasskey` signs only with a credential listed in
/// `allowCredentials` and returns no user handle; a discoverable credential needs both, so
/// this adds them: with an empty allow list the user picks the newest credential, and the
/// answer carries the user handle it was created with.
struct Device {
    soft: SoftPasskey,
    /// (credential ID, user handle) of each credential, oldest first.
    resident: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Device {
    fn new() -> Self {
        Self {
            soft: SoftPasskey::new(true),
            resident: Vec::new(),
        }
    }

    /// Creates a credential for `options`, handed over by `client`.
    fn create(
        &mut self,
        client: Client,
        options: CreationChallengeResponse,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        let user = options.public_key.user.id.clone();
        let answer = match client {
            Client::Browser => self.soft.do_registration(url(ORIGIN), options),
            Client::Forged { origin } => AuthenticatorBackend::perform_register(
                &mut self.soft,
                url(origin),
                options.public_key,
                60_000,
            ),
        }?;
        self.resident.push((answer.raw_id.clone(), user));
        Ok(answer)
    }

    /// Signs `options` with a credential, handed over by `client`.
    fn get(
        &mut self,
        client: Client,
        mut options: RequestChallengeResponse,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        if options.public_key.allow_credentials.is_empty() {
            let (newest, _) = self.resident.last().expect("a credential on the device");
            options.public_key.allow_credentials = vec![allow(newest)];
        }
        let mut answer = match client {
            Client::Browser => self.soft.do_authentication(url(ORIGIN), options),
            Client::Forged { origin } => AuthenticatorBackend::perform_auth(
                &mut self.soft,
                url(origin),
                options.public_key,
                60_000,
            ),
        }?;
        answer.response.user_handle = self
            .resident
            .iter()
            .find(|(id, _)| *id == answer.raw_id)
            .map(|(_, user)| user.clone());
        Ok(answer)
    }
}

/// The relying party, its stores, two citizens and a device.
struct Rp {
    passkeys: Passkeys,
    db: Durable,
    alice: AccountId,
    bob: AccountId,
    device: Device,
}

impl Rp {
    /// Ceremonies in memory, of the default lifetime.
    async fn new() -> Self {
        Self::with(Arc::new(MemoryEphemeral::new()), DEFAULT_CEREMONY_LIFETIME).await
    }

    async fn with(ceremonies: Arc<dyn EphemeralStore>, lifetime: Duration) -> Self {
        let passkeys =
            Passkeys::new(RP_ID, &url(ORIGIN), "eID", ceremonies, lifetime).expect("relying party");
        let db = support::sqlite_memory().await.expect("SQLite store");
        let alice = create_account(&db, "001099012345").await;
        let bob = create_account(&db, "079203001234").await;
        Self {
            passkeys,
            db,
            alice,
            bob,
            device: Device::new(),
        }
    }

    async fn start_registration(&self, account: AccountId) -> Challenge<CreationChallengeResponse> {
        let existing = self.db.store.passkeys(account).await.expect("passkeys");
        self.passkeys
            .start_registration(CONTEXT, account, "citizen", "Citizen", &existing)
            .await
            .expect("registration starts")
    }

    async fn finish_registration(
        &self,
        ceremony: &str,
        account: AccountId,
        answer: &(impl Answer + ?Sized),
    ) -> Result<Enrolled, PasskeyError> {
        self.passkeys
            .finish_registration(CONTEXT, ceremony, account, &answer.text(), "phone")
            .await
    }

    /// A login with `account`'s passkeys, or a discoverable one (`None`).
    async fn start_login(&self, account: Option<AccountId>) -> Challenge<RequestChallengeResponse> {
        let records = match account {
            Some(account) => self.db.store.passkeys(account).await.expect("passkeys"),
            None => Vec::new(),
        };
        self.passkeys
            .start_login(CONTEXT, account.map(|a| (a, records.as_slice())))
            .await
            .expect("login starts")
    }

    async fn finish_login(
        &self,
        ceremony: &str,
        answer: &(impl Answer + ?Sized),
    ) -> Result<PasskeyLogin, PasskeyError> {
        self.passkeys
            .finish_login(CONTEXT, ceremony, &answer.text(), &*self.db.store)
            .await
    }

    /// A started enrolment of `account` and the device's answer through the browser.
    async fn registration(&mut self, account: AccountId) -> (String, RegisterPublicKeyCredential) {
        let challenge = self.start_registration(account).await;
        let answer = self.device.create(Client::Browser, challenge.options);
        (challenge.ceremony, answer.expect("the device registers"))
    }

    /// A started login and the device's answer through the browser.
    async fn login_answer(&mut self, account: Option<AccountId>) -> (String, PublicKeyCredential) {
        let challenge = self.start_login(account).await;
        let answer = self.device.get(Client::Browser, challenge.options);
        (challenge.ceremony, answer.expect("the device signs"))
    }

    /// Enrols a new passkey of the device for `account` and stores it.
    async fn enrol(&mut self, account: AccountId) -> PasskeyRecord {
        let (ceremony, answer) = self.registration(account).await;
        let enrolled = self
            .finish_registration(&ceremony, account, &answer)
            .await
            .expect("enrolment");
        self.db.store.add_passkey(enrolled).await.expect("stored")
    }

    /// A whole login with the device.
    async fn login(&mut self, account: Option<AccountId>) -> Result<PasskeyLogin, PasskeyError> {
        let (ceremony, answer) = self.login_answer(account).await;
        self.finish_login(&ceremony, &answer).await
    }

    /// The passkey as stored now.
    async fn stored(&self, record: &PasskeyRecord) -> PasskeyRecord {
        let found = self.db.store.find_passkey(&record.credential_id).await;
        found.expect("store").expect("the passkey is stored")
    }

    /// Stores `counter` as the passkey's signature counter, as a login elsewhere would.
    async fn set_counter(&self, record: &PasskeyRecord, counter: u32) {
        let store = &self.db.store;
        let current = store.find_passkey(&record.credential_id).await;
        let current = current
            .expect("read the passkey")
            .expect("a stored passkey");
        let mut passkey = current.passkey.clone();
        passkey["cred"]["counter"] = json!(counter);
        let used = store.record_passkey_use(record.id, &current.passkey, &passkey, now());
        used.await.expect("counter stored");
    }
}

async fn create_account(db: &Durable, personal_id: &str) -> AccountId {
    let personal_id: PersonalId = personal_id.parse().expect("personal ID");
    let account = db.store.create_account(&personal_id).await;
    account.expect("account").id
}

fn url(text: &str) -> Url {
    Url::parse(text).expect("URL")
}

/// A browser's answer as the relying party receives it: JSON text.
trait Answer {
    fn text(&self) -> String;
}

impl Answer for str {
    fn text(&self) -> String {
        self.to_owned()
    }
}

impl Answer for RegisterPublicKeyCredential {
    fn text(&self) -> String {
        serde_json::to_string(self).expect("JSON")
    }
}

impl Answer for PublicKeyCredential {
    fn text(&self) -> String {
        serde_json::to_string(self).expect("JSON")
    }
}

fn allow(credential: &[u8]) -> AllowCredentials {
    AllowCredentials {
        type_: "public-key".to_owned(),
        id: credential.to_vec(),
        transports: None,
    }
}

/// A valid answer, padded with JSON whitespace to one byte over the size limit.
fn past_the_limit(answer: &impl Answer) -> String {
    let mut text = answer.text();
    text.push_str(&" ".repeat(MAX_RESPONSE + 1 - text.len()));
    text
}

/// The signature counter in a stored webauthn-rs `Passkey`.
fn counter(record: &PasskeyRecord) -> u64 {
    record.passkey["cred"]["counter"]
        .as_u64()
        .expect("a stored counter")
}

/// Checks a login with `record`, the first signature of a fresh device.
async fn assert_logged_in(rp: &Rp, login: &PasskeyLogin, record: &PasskeyRecord) {
    let expected = PasskeyLogin {
        account: record.account_id,
        passkey: record.id,
        user_verified: true,
        backup_eligible: false,
        backup_state: false,
    };
    assert_eq!(*login, expected);
    assert_eq!(
        login.amr(),
        ["hwk", "user", "mfa"],
        "a device-bound key, verified"
    );
    let stored = rp.stored(record).await;
    assert_eq!(
        (counter(record), counter(&stored)),
        (0, 1),
        "counter recorded"
    );
    assert_eq!(record.last_used_at, None);
    assert!(stored.last_used_at.is_some(), "use recorded");
}

/// Checks that `result` is the clone signal, naming `record` and its account.
fn assert_possible_clone(result: Result<PasskeyLogin, PasskeyError>, record: &PasskeyRecord) {
    match result {
        Err(PasskeyError::PossibleClone { account, passkey }) => {
            assert_eq!((account, passkey), (record.account_id, record.id));
        }
        other => panic!("expected PossibleClone, got {other:?}"),
    }
}

/// The cases whose outcome rests on the ceremony store, run on each backend.
macro_rules! on_each_ceremony_store {
    ($($case:ident),*) => {
        mod memory {
            on_each_ceremony_store!(@cases memory: $($case),*);
        }
        mod redis {
            on_each_ceremony_store!(@cases redis: $($case),*);
        }
    };
    (@cases $backend:ident: $($case:ident),*) => {$(
        #[tokio::test]
        async fn $case() {
            let Some(ceremonies) = crate::support::$backend().await else { return };
            crate::$case(ceremonies).await;
        }
    )*};
}

on_each_ceremony_store!(
    login_with_the_account_passkeys,
    discoverable_login,
    replayed_registration_is_expired,
    replayed_login_is_expired,
    ceremony_past_its_lifetime_is_expired
);

async fn login_with_the_account_passkeys(ceremonies: Arc<dyn EphemeralStore>) {
    let mut rp = Rp::with(ceremonies, DEFAULT_CEREMONY_LIFETIME).await;
    let record = rp.enrol(rp.alice).await;
    assert_eq!(record.account_id, rp.alice);
    let login = rp.login(Some(rp.alice)).await.expect("login");
    assert_logged_in(&rp, &login, &record).await;
}

async fn discoverable_login(ceremonies: Arc<dyn EphemeralStore>) {
    let mut rp = Rp::with(ceremonies, DEFAULT_CEREMONY_LIFETIME).await;
    let record = rp.enrol(rp.alice).await;
    let login = rp.login(None).await.expect("login");
    assert_logged_in(&rp, &login, &record).await;
}

async fn replayed_registration_is_expired(ceremonies: Arc<dyn EphemeralStore>) {
    let mut rp = Rp::with(ceremonies, DEFAULT_CEREMONY_LIFETIME).await;
    let (ceremony, answer) = rp.registration(rp.alice).await;
    let finish = async || rp.finish_registration(&ceremony, rp.alice, &answer).await;
    finish().await.expect("first finish");
    assert_fails!(finish().await, PasskeyError::Expired);
}

async fn replayed_login_is_expired(ceremonies: Arc<dyn EphemeralStore>) {
    let mut rp = Rp::with(ceremonies, DEFAULT_CEREMONY_LIFETIME).await;
    rp.enrol(rp.alice).await;
    let (ceremony, answer) = rp.login_answer(Some(rp.alice)).await;
    let finish = async || rp.finish_login(&ceremony, &answer).await;
    finish().await.expect("first finish");
    assert_fails!(finish().await, PasskeyError::Expired);
}

async fn ceremony_past_its_lifetime_is_expired(ceremonies: Arc<dyn EphemeralStore>) {
    let mut rp = Rp::with(ceremonies, Duration::from_secs(1)).await;
    rp.enrol(rp.alice).await;
    let (enrolment, registration) = rp.registration(rp.alice).await;
    let (login, assertion) = rp.login_answer(Some(rp.alice)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_fails!(
        rp.finish_registration(&enrolment, rp.alice, &registration)
            .await,
        PasskeyError::Expired
    );
    assert_fails!(
        rp.finish_login(&login, &assertion).await,
        PasskeyError::Expired
    );
}

#[test]
fn unusable_settings_are_config_errors() {
    let new = |rp_id: &str, lifetime| {
        let ceremonies = Arc::new(MemoryEphemeral::new());
        Passkeys::new(rp_id, &url(ORIGIN), "eID", ceremonies, lifetime).map(drop)
    };
    let (an_hour, other_site) = (Duration::from_secs(3600), "id.example.vn");
    assert_fails!(new(other_site, an_hour), PasskeyError::Config(_));
    assert_fails!(new(RP_ID, Duration::ZERO), PasskeyError::Config(_));
    let over_an_hour = an_hour + Duration::from_secs(1);
    assert_fails!(new(RP_ID, over_an_hour), PasskeyError::Config(_));
    new(RP_ID, an_hour).expect("an hour is allowed");
}

#[test]
fn amr_names_the_key_kind_and_verification() {
    let login = |backup_eligible, user_verified| PasskeyLogin {
        account: AccountId::new(),
        passkey: eid_core::store::PasskeyId::new(),
        user_verified,
        backup_eligible,
        backup_state: false,
    };
    assert_eq!(login(false, true).amr(), ["hwk", "user", "mfa"]);
    assert_eq!(login(true, true).amr(), ["swk", "user", "mfa"]);
    assert_eq!(login(true, false).amr(), ["swk", "user"]);
}

#[tokio::test]
async fn registration_prefers_a_discoverable_key_and_excludes_enrolled_ones() {
    let mut rp = Rp::new().await;
    let first = rp.start_registration(rp.alice).await.options.public_key;
    assert_eq!(first.exclude_credentials, None);
    assert_eq!(first.rp.id, RP_ID);
    assert_eq!(first.user.id, rp.alice.as_uuid().as_bytes());
    let selection = first
        .authenticator_selection
        .expect("authenticator selection");
    assert_eq!(
        selection.resident_key,
        Some(ResidentKeyRequirement::Preferred)
    );
    assert!(!selection.require_resident_key);
    assert_eq!(
        selection.user_verification,
        UserVerificationPolicy::Required
    );

    let record = rp.enrol(rp.alice).await;
    let second = rp.start_registration(rp.alice).await.options.public_key;
    let excluded: Vec<_> = second.exclude_credentials.unwrap_or_default();
    let excluded: Vec<_> = excluded.into_iter().map(|c| c.id).collect();
    assert_eq!(excluded, [record.credential_id]);
}

#[tokio::test]
async fn login_options_list_only_the_account_passkeys() {
    let mut rp = Rp::new().await;
    let record = rp.enrol(rp.alice).await;
    rp.enrol(rp.bob).await;
    let ids = |options: RequestChallengeResponse| {
        assert!(
            options.mediation.is_none(),
            "the page chooses the mediation"
        );
        let public_key = options.public_key;
        assert_eq!(
            public_key.user_verification,
            UserVerificationPolicy::Required
        );
        let allowed = public_key.allow_credentials.into_iter();
        allowed.map(|c| c.id).collect::<Vec<_>>()
    };
    let alice = rp.start_login(Some(rp.alice)).await.options;
    assert_eq!(ids(alice), [record.credential_id]);
    assert!(ids(rp.start_login(None).await.options).is_empty());
    let without = create_account(&rp.db, "001099000001").await;
    let refused = rp.start_login(Some(without)).await.options;
    assert!(ids(refused).is_empty(), "like a discoverable login");
}

#[tokio::test]
async fn ceremony_finished_in_another_context_is_wrong_context() {
    let mut rp = Rp::new().await;
    let (enrolment, registration) = rp.registration(rp.alice).await;
    let registration = registration.text();
    let other_flow =
        rp.passkeys
            .finish_registration("flow 2", &enrolment, rp.alice, &registration, "phone");
    assert_fails!(other_flow.await, PasskeyError::WrongContext);
    // The failed finish used the ceremony up.
    assert_fails!(
        rp.finish_registration(&enrolment, rp.alice, registration.as_str())
            .await,
        PasskeyError::Expired
    );

    rp.enrol(rp.alice).await;
    let (login, assertion) = rp.login_answer(Some(rp.alice)).await;
    assert_fails!(
        rp.passkeys
            .finish_login("flow 2", &login, &assertion.text(), &*rp.db.store)
            .await,
        PasskeyError::WrongContext
    );
}

#[tokio::test]
async fn registration_finished_as_a_login_is_wrong_context() {
    let mut rp = Rp::new().await;
    let (enrolment, registration) = rp.registration(rp.alice).await;
    assert_fails!(
        rp.finish_login(&enrolment, &registration).await,
        PasskeyError::WrongContext
    );
}

#[tokio::test]
async fn login_finished_as_a_registration_is_wrong_context() {
    let mut rp = Rp::new().await;
    rp.enrol(rp.alice).await;
    let (login, assertion) = rp.login_answer(Some(rp.alice)).await;
    assert_fails!(
        rp.finish_registration(&login, rp.alice, &assertion).await,
        PasskeyError::WrongContext
    );
}

#[tokio::test]
async fn registration_finished_for_another_account_is_wrong_context() {
    let mut rp = Rp::new().await;
    let (enrolment, registration) = rp.registration(rp.alice).await;
    assert_fails!(
        rp.finish_registration(&enrolment, rp.bob, &registration)
            .await,
        PasskeyError::WrongContext
    );
}

#[tokio::test]
async fn answer_to_another_ceremony_is_rejected() {
    let mut rp = Rp::new().await;
    let (_, registration) = rp.registration(rp.alice).await;
    let other = rp.start_registration(rp.alice).await.ceremony;
    assert_fails!(
        rp.finish_registration(&other, rp.alice, &registration)
            .await,
        PasskeyError::Rejected(WebauthnError::MismatchedChallenge)
    );

    rp.enrol(rp.alice).await;
    let (_, assertion) = rp.login_answer(Some(rp.alice)).await;
    let other = rp.start_login(Some(rp.alice)).await.ceremony;
    assert_fails!(
        rp.finish_login(&other, &assertion).await,
        PasskeyError::Rejected(WebauthnError::MismatchedChallenge)
    );
}

#[tokio::test]
async fn answer_from_another_origin_is_rejected() {
    let mut rp = Rp::new().await;
    let evil = Client::Forged {
        origin: EVIL_ORIGIN,
    };
    let enrolment = rp.start_registration(rp.alice).await;
    let registration = rp.device.create(evil, enrolment.options).expect("signed");
    assert_fails!(
        rp.finish_registration(&enrolment.ceremony, rp.alice, &registration)
            .await,
        PasskeyError::Rejected(WebauthnError::InvalidRPOrigin)
    );

    rp.enrol(rp.alice).await;
    let login = rp.start_login(Some(rp.alice)).await;
    let assertion = rp.device.get(evil, login.options).expect("signed");
    assert_fails!(
        rp.finish_login(&login.ceremony, &assertion).await,
        PasskeyError::Rejected(WebauthnError::InvalidRPOrigin)
    );
}

/// A browser will not let an authenticator sign for an RP ID that is not its page's
/// domain; a forged client will, and the relying party sees the RP ID hash is not its own.
#[tokio::test]
async fn answer_signed_for_another_rp_id_is_rejected() {
    let mut rp = Rp::new().await;
    let forged = Client::Forged { origin: ORIGIN };
    let mut enrolment = rp.start_registration(rp.alice).await;
    enrolment.options.public_key.rp.id = EVIL_RP_ID.to_owned();
    let refused = rp.device.create(Client::Browser, enrolment.options.clone());
    assert_eq!(refused.map(drop), Err(WebauthnCError::Security));
    let registration = rp.device.create(forged, enrolment.options).expect("signed");
    assert_fails!(
        rp.finish_registration(&enrolment.ceremony, rp.alice, &registration)
            .await,
        PasskeyError::Rejected(WebauthnError::InvalidRPIDHash)
    );

    rp.enrol(rp.alice).await;
    let mut login = rp.start_login(Some(rp.alice)).await;
    login.options.public_key.rp_id = EVIL_RP_ID.to_owned();
    let refused = rp.device.get(Client::Browser, login.options.clone());
    assert_eq!(refused.map(drop), Err(WebauthnCError::Security));
    let assertion = rp.device.get(forged, login.options).expect("signed");
    assert_fails!(
        rp.finish_login(&login.ceremony, &assertion).await,
        PasskeyError::Rejected(WebauthnError::InvalidRPIDHash)
    );
}

/// The client data is the browser's JSON: a broken one, or one naming the other ceremony
/// type, is refused.
#[tokio::test]
async fn malformed_client_data_is_rejected() {
    let mut rp = Rp::new().await;
    let (enrolment, mut registration) = rp.registration(rp.alice).await;
    registration.response.client_data_json = b"not json".to_vec();
    assert_fails!(
        rp.finish_registration(&enrolment, rp.alice, &registration)
            .await,
        PasskeyError::Rejected(WebauthnError::ParseJSONFailure(_))
    );

    let (enrolment, mut registration) = rp.registration(rp.alice).await;
    let client_data = &mut registration.response.client_data_json;
    let mut fields: serde_json::Value = serde_json::from_slice(client_data).expect("JSON");
    assert_eq!(fields["type"], "webauthn.create");
    fields["type"] = json!("webauthn.get");
    *client_data = serde_json::to_vec(&fields).expect("JSON");
    assert_fails!(
        rp.finish_registration(&enrolment, rp.alice, &registration)
            .await,
        PasskeyError::Rejected(WebauthnError::InvalidClientDataType)
    );

    rp.enrol(rp.alice).await;
    let (login, mut assertion) = rp.login_answer(Some(rp.alice)).await;
    assertion.response.client_data_json = b"not json".to_vec();
    assert_fails!(
        rp.finish_login(&login, &assertion).await,
        PasskeyError::Rejected(WebauthnError::ParseJSONFailure(_))
    );
}

#[tokio::test]
async fn unparsable_or_oversized_answer_is_malformed() {
    let mut rp = Rp::new().await;
    let (enrolment, _) = rp.registration(rp.alice).await;
    assert_fails!(
        rp.finish_registration(&enrolment, rp.alice, "not json")
            .await,
        PasskeyError::Malformed
    );

    let (enrolment, registration) = rp.registration(rp.alice).await;
    let oversized = past_the_limit(&registration);
    assert_fails!(
        rp.finish_registration(&enrolment, rp.alice, oversized.as_str())
            .await,
        PasskeyError::Malformed
    );

    rp.enrol(rp.alice).await;
    let (login, _) = rp.login_answer(Some(rp.alice)).await;
    assert_fails!(rp.finish_login(&login, "{}").await, PasskeyError::Malformed);
    let (login, assertion) = rp.login_answer(Some(rp.alice)).await;
    let oversized = past_the_limit(&assertion);
    assert_fails!(
        rp.finish_login(&login, oversized.as_str()).await,
        PasskeyError::Malformed
    );
}

/// A discoverable login learns the account from the user handle: without one the answer
/// is incomplete.
#[tokio::test]
async fn discoverable_answer_without_user_handle_is_malformed() {
    let mut rp = Rp::new().await;
    rp.enrol(rp.alice).await;
    let (login, mut assertion) = rp.login_answer(None).await;
    assertion.response.user_handle = None;
    assert_fails!(
        rp.finish_login(&login, &assertion).await,
        PasskeyError::Malformed
    );
}

#[tokio::test]
async fn deleted_passkey_is_unknown_credential() {
    let mut rp = Rp::new().await;
    let record = rp.enrol(rp.alice).await;
    let (login, assertion) = rp.login_answer(Some(rp.alice)).await;
    let deleted = rp.db.store.delete_passkey(rp.alice, record.id);
    deleted.await.expect("deleted");
    assert_fails!(
        rp.finish_login(&login, &assertion).await,
        PasskeyError::UnknownCredential
    );
}

#[tokio::test]
async fn passkey_of_another_account_is_wrong_account() {
    let mut rp = Rp::new().await;
    rp.enrol(rp.alice).await;
    let bobs = rp.enrol(rp.bob).await;
    let mut login = rp.start_login(Some(rp.alice)).await;
    login.options.public_key.allow_credentials = vec![allow(&bobs.credential_id)];
    let assertion = rp
        .device
        .get(Client::Browser, login.options)
        .expect("signed");
    assert_fails!(
        rp.finish_login(&login.ceremony, &assertion).await,
        PasskeyError::WrongAccount
    );
}

/// In a discoverable login, a user handle naming another account than the passkey's.
#[tokio::test]
async fn discoverable_answer_for_another_user_is_wrong_account() {
    let mut rp = Rp::new().await;
    rp.enrol(rp.alice).await;
    rp.enrol(rp.bob).await;
    let (login, mut assertion) = rp.login_answer(None).await;
    let alice = rp.alice.as_uuid().as_bytes().to_vec();
    assertion.response.user_handle = Some(alice);
    assert_fails!(
        rp.finish_login(&login, &assertion).await,
        PasskeyError::WrongAccount
    );
}

/// A login asked for an account without passkeys is discoverable (there is nothing to
/// list); another account's passkey then fails as it would for an account with some.
#[tokio::test]
async fn login_for_an_account_without_passkeys_is_wrong_account() {
    let mut rp = Rp::new().await;
    rp.enrol(rp.bob).await;
    let (login, assertion) = rp.login_answer(Some(rp.alice)).await;
    assert_fails!(
        rp.finish_login(&login, &assertion).await,
        PasskeyError::WrongAccount
    );
}

#[tokio::test]
async fn counter_that_did_not_grow_is_possible_clone() {
    let mut rp = Rp::new().await;
    let record = rp.enrol(rp.alice).await;
    rp.set_counter(&record, 1000).await;
    for account in [Some(rp.alice), None] {
        assert_possible_clone(rp.login(account).await, &record);
    }
    assert_eq!(counter(&rp.stored(&record).await), 1000, "not lowered");
}

/// The counter is checked against the stored one when the answer arrives: a login with the
/// genuine key may have raised it while this ceremony was pending.
#[tokio::test]
async fn counter_raised_during_the_ceremony_is_possible_clone() {
    let mut rp = Rp::new().await;
    let record = rp.enrol(rp.alice).await;
    for account in [Some(rp.alice), None] {
        let (login, assertion) = rp.login_answer(account).await;
        rp.set_counter(&record, 1000).await;
        assert_possible_clone(rp.finish_login(&login, &assertion).await, &record);
    }
}
