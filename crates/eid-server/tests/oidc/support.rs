//! An OpenID provider served in-process on a real socket, with registered clients and an
//! enrolled citizen, and a tiny browser (cookie jar, manual redirects) to drive it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::audit::AuditRecord;
use eid_core::citizen::PersonalId;
use eid_core::credential::password::{Password, PasswordHasher, PasswordParams};
use eid_core::oauth::{ClientAuth, RegisteredClient};
use eid_core::registry::{
    EmbeddedRegistry, RecordStatus, RegisterLocation, RegisterRecord, SyntheticPopulation,
};
use eid_core::release::Scope;
use eid_core::store::{
    AccountId, ClientId, DurableStore, EphemeralStore, MemoryEphemeral, RedisEphemeral, SqliteStore,
};
use eid_core::token::{
    KeyRing, OpaqueToken, PairwiseSalt, SigningKey, TokenIssuer, TokenVerifier, VerificationKeys,
};
use eid_server::oidc::{
    ChipSettings, Limits, PasskeySettings, SESSION_LIFETIME, SamlSettings, Settings,
};
use eid_server::register::Register;
use eid_server::{accounts, app};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

/// The relying parties' redirect URI.
pub const RP: &str = "http://localhost:9999/cb";
/// Where they go after logout.
pub const RP_LOGOUT: &str = "http://localhost:9999/bye";
/// The confidential clients' secret.
pub const SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret-s3cret-00";

/// Cheap argon2id parameters for tests (the server refuses them only in its config).
fn fast_hasher() -> PasswordHasher {
    PasswordHasher::new(
        PasswordParams {
            m_kib: 1024,
            t: 1,
            p: 1,
        },
        2,
        64,
    )
    .expect("hasher")
}

/// Redis for a test, or `None` (skip) outside CI when it is unreachable.
pub async fn redis(prefix: &str) -> Option<Arc<dyn EphemeralStore>> {
    let url =
        std::env::var("EID_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match RedisEphemeral::connect(
        &url,
        &format!("eid-test:{prefix}:{}:", uuid::Uuid::new_v4()),
    )
    .await
    {
        Ok(store) => Some(Arc::new(store)),
        Err(err) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "Redis is unreachable and CI=true: {err}"
            );
            eprintln!("skipping: Redis is unreachable ({err})");
            None
        }
    }
}

/// A running provider.
pub struct Provider {
    /// Where to send requests (`http://127.0.0.1:PORT`).
    pub base: String,
    /// The issuer (`http://localhost:PORT`).
    pub issuer: String,
    /// An HTTP client that does not follow redirects.
    pub http: reqwest::Client,
    /// The enrolled citizen's personal ID number and password.
    pub citizen: (String, String),
    /// The `private_key_jwt` client's key.
    pub rp_key: SigningKey,
    /// The durable store, to inspect the audit log.
    pub durable: Arc<dyn DurableStore>,
    /// The ephemeral store (sessions, flows, ceremonies), to stage what HTTP cannot.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// The enrolled citizen's register record.
    pub record: RegisterRecord,
}

/// Builder options.
pub struct Options {
    /// The ephemeral store (memory by default).
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// Authorization code lifetime.
    pub code_lifetime: Duration,
    /// The chip path (disabled by default).
    pub chip: Option<ChipSettings>,
    /// Rate limits.
    pub limits: Limits,
    /// The SAML identity provider (disabled by default).
    pub saml: Option<SamlSettings>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ephemeral: Arc::new(MemoryEphemeral::new()),
            code_lifetime: Duration::from_secs(60),
            chip: None,
            limits: Limits::default(),
            saml: None,
        }
    }
}

fn client(id: &str, auth: ClientAuth, require_par: bool) -> RegisteredClient {
    RegisteredClient::new(
        ClientId::new(id).unwrap(),
        format!("Client {id}"),
        vec![RP.to_owned()],
        auth,
        true,
        Scope::ALL.into_iter().collect::<BTreeSet<_>>(),
        require_par,
    )
    .unwrap()
    .with_post_logout_redirect_uris(vec![RP_LOGOUT.to_owned()])
    .unwrap()
}

impl Provider {
    /// Starts a provider with default options.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// Starts a provider.
    pub async fn start_with(options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://localhost:{port}");
        let hasher = fast_hasher();
        let durable: Arc<dyn DurableStore> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let registry = Arc::new(
            EmbeddedRegistry::open(RegisterLocation::Memory)
                .await
                .unwrap(),
        );
        registry.load_synthetic(20, 3).await.unwrap();
        let record = SyntheticPopulation::new(20, 3)
            .unwrap()
            .map(Result::unwrap)
            .find(|r| r.status == RecordStatus::Active)
            .unwrap();
        let password = "correct horse battery staple";
        accounts::enrol(
            durable.as_ref(),
            registry.as_ref(),
            &hasher,
            &record.personal_id,
            Password::new(password).unwrap(),
        )
        .await
        .unwrap();
        let phc = hasher.hash(Password::new(SECRET).unwrap()).await.unwrap();
        let rp_key = SigningKey::generate().unwrap();
        let jwks = serde_json::json!({ "keys": [rp_key.jwk()] }).to_string();
        let clients = vec![
            client(
                "basic",
                ClientAuth::SecretBasic {
                    secret_phc: phc.clone(),
                },
                false,
            )
            .with_client_credentials()
            .unwrap(),
            client(
                "post",
                ClientAuth::SecretPost {
                    secret_phc: phc.clone(),
                },
                false,
            ),
            client("jwt", ClientAuth::PrivateKeyJwt { jwks }, false),
            client("public", ClientAuth::None, false),
            client("pushed", ClientAuth::SecretBasic { secret_phc: phc }, true),
        ];
        let router = app::build(app::Parts {
            settings: Settings {
                issuer: issuer.clone(),
                clients,
                pairwise_salt: PairwiseSalt::new(&[7; 32]).unwrap(),
                id_token_lifetime: TokenIssuer::DEFAULT_ID_TOKEN_LIFETIME,
                access_token_lifetime: TokenIssuer::DEFAULT_ACCESS_TOKEN_LIFETIME,
                refresh_token_lifetime: time::Duration::hours(1),
                code_lifetime: options.code_lifetime,
                session_lifetime: SESSION_LIFETIME,
                limits: options.limits,
                passkeys: PasskeySettings::default(),
                chip: options.chip,
                saml: options.saml,
            },
            keys: KeyRing::generate().unwrap(),
            durable: Arc::clone(&durable),
            ephemeral: Arc::clone(&options.ephemeral),
            registry: Register::Embedded(registry),
            hasher,
            extra: axum::Router::new(),
        })
        .unwrap();
        tokio::spawn(app::serve(listener, router, std::future::pending()));
        Self {
            base: format!("http://127.0.0.1:{port}"),
            issuer,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            citizen: (record.personal_id.expose(), password.to_owned()),
            rp_key,
            durable,
            ephemeral: options.ephemeral,
            record,
        }
    }

    /// The enrolled citizen's account.
    pub async fn account(&self) -> AccountId {
        let id = PersonalId::parse(&self.citizen.0).unwrap();
        self.durable.find_account(&id).await.unwrap().unwrap().id
    }

    /// Verifies the tokens the provider issues to `audience` against its published keys.
    pub async fn verifier(&self, audience: &str) -> TokenVerifier {
        let jwks = self.http.get(format!("{}/jwks.json", self.base)).send();
        let jwks = jwks.await.unwrap().text().await.unwrap();
        let keys = VerificationKeys::from_json(&jwks).unwrap();
        TokenVerifier::new(keys, &self.issuer, audience, time::Duration::ZERO).unwrap()
    }

    /// Every record of the audit log, oldest first.
    pub async fn audit(&self) -> Vec<AuditRecord> {
        let entries = self.durable.audit_entries(0, 1000).await.unwrap();
        entries.into_iter().map(|e| e.record).collect()
    }

    /// A new browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser {
            base: self.base.clone(),
            http: self.http.clone(),
            jar: BTreeMap::new(),
        }
    }

    /// `POST {path}` with a form, optionally with HTTP Basic credentials.
    pub async fn post(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send().await.unwrap()
    }

    /// A signed `private_key_jwt` assertion of the `jwt` client.
    pub fn assertion(&self, jti: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = serde_json::json!({
            "iss": "jwt", "sub": "jwt", "aud": format!("{}/token", self.issuer),
            "jti": jti, "iat": now, "exp": now + 60,
        });
        self.rp_key.sign("JWT", &claims).unwrap()
    }

    /// Logs the citizen in through `browser` for an authorization request with `query`
    /// and returns the redirect to the client.
    pub async fn login(&self, browser: &mut Browser, query: &str) -> Url {
        let response = browser.authorize(query).await;
        Url::parse(&self.follow(browser, response).await).unwrap()
    }

    /// Follows the redirect `response` through the login page (with the citizen's
    /// password) and the consent page (allowing), and returns where the flow ends: the
    /// client's redirect URI, or another page of the provider (such as `/account`).
    pub async fn follow(&self, browser: &mut Browser, mut response: reqwest::Response) -> String {
        loop {
            assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
            let location = location(&response);
            if !location.starts_with("/login?") && !location.starts_with("/consent?") {
                return location;
            }
            let page = browser.get(&location).await;
            let html = page.text().await.unwrap();
            let (req, csrf) = (hidden(&html, "req"), hidden(&html, "csrf"));
            response = if location.starts_with("/login") {
                let (id, password) = &self.citizen;
                browser.submit_login(&req, &csrf, id, password).await
            } else {
                let form = [
                    ("req", req.as_str()),
                    ("csrf", &csrf),
                    ("decision", "allow"),
                ];
                browser.post("/consent", &form).await
            };
        }
    }
}

/// A browser: a cookie jar over the provider's client.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    jar: BTreeMap<String, String>,
}

impl Browser {
    fn cookies(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The value of cookie `name`, if the browser has it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// `GET` a path (or the path of an absolute URL).
    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookies())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// `GET /authorize` with `query`.
    pub async fn authorize(&mut self, query: &str) -> reqwest::Response {
        self.get(&format!("/authorize?{query}")).await
    }

    /// Posts the login form of flow `req`.
    pub async fn submit_login(
        &mut self,
        req: &str,
        csrf: &str,
        personal_id: &str,
        password: &str,
    ) -> reqwest::Response {
        let form = [
            ("req", req),
            ("csrf", csrf),
            ("personal_id", personal_id),
            ("password", password),
        ];
        self.post("/login", &form).await
    }

    /// `POST` a form.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookies())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }
}

/// The `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// A query parameter of `url`.
pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = OpaqueToken::generate().expose().to_owned();
    let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An authorization request query for `client` with `challenge` and extra parameters.
pub fn authorize_query(client: &str, challenge: &str, extra: &str) -> String {
    format!(
        "client_id={client}&response_type=code&scope=openid%20profile%20birthdate\
         &redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256\
         &state=st4te&nonce=n0nce{extra}",
        url::form_urlencoded::byte_serialize(RP.as_bytes()).collect::<String>()
    )
}

/// The JSON body of a response.
pub async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}
