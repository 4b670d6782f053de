//! The OpenID Connect provider: discovery, authorization (with pushed requests), the
//! citizen's login (password or passkey, with passkey step-up), consent and account
//! pages, the token endpoint, UserInfo, introspection, revocation and RP-initiated logout;
//! and, as a credential issuer, the citizen's identity issued to their wallet as an SD-JWT
//! VC (OpenID4VCI) with its status published in Token Status Lists.
//!
//! Every piece of request state (pending authorizations, sessions, codes, PAR objects,
//! rate-limit counters, replay caches, access-token records) lives in the ephemeral store,
//! so any instance can serve any step of a flow.

mod access;
mod account;
mod audit_writer;
mod authn;
mod authorize;
mod chip;
mod client_auth;
mod consent;
mod discovery;
mod enrol;
mod error;
mod flow;
mod identity_api;
mod lang;
mod login;
mod logout;
mod pages;
mod par;
mod params;
mod passkey_login;
mod request;
mod saml_sso;
mod session;
mod status_lists;
mod token;
mod userinfo;
mod vci;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts as RequestParts;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use eid_core::credential::chip::TrustList;
use eid_core::credential::face::FaceVendor;
use eid_core::credential::passkey::Passkeys;
use eid_core::credential::password::PasswordHasher;
use eid_core::oauth::{ClientAuth, CodeStore, RegisteredClient};
use eid_core::ratelimit::{RateLimit, RateLimiter};
use eid_core::registry::PopulationRegistry;
use eid_core::store::{DurableStore, EphemeralStore};
use eid_core::token::{
    KeyRing, PairwiseSalt, RelyingParty, TokenIssuer, TokenVerifier, VerificationKeys,
};
use time::Duration;

use crate::metrics::Metrics;

pub use pages::escape;
pub use saml_sso::{SamlReply, SamlSettings};

/// The registered SAML service providers by entity ID.
type ServiceProviders = HashMap<String, crate::saml::sp::ServiceProvider>;

/// How long a citizen stays logged in.
pub const SESSION_LIFETIME: StdDuration = StdDuration::from_secs(8 * 3600);

/// Largest request body any endpoint accepts.
const MAX_BODY: usize = 64 * 1024;
/// Clock skew tolerated on client assertions.
const ASSERTION_LEEWAY: Duration = Duration::seconds(60);

/// Endpoint paths, relative to the issuer.
pub mod paths {
    /// Discovery (OIDC Discovery 1.0 section 4).
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    /// The public keys.
    pub const JWKS: &str = "/jwks.json";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/authorize";
    /// Pushed authorization requests (RFC 9126).
    pub const PAR: &str = "/par";
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// UserInfo endpoint.
    pub const USERINFO: &str = "/userinfo";
    /// Token introspection (RFC 7662).
    pub const INTROSPECT: &str = "/introspect";
    /// Token revocation (RFC 7009).
    pub const REVOKE: &str = "/revoke";
    /// RP-initiated logout.
    pub const LOGOUT: &str = "/logout";
    /// The login page.
    pub const LOGIN: &str = "/login";
    /// The consent page.
    pub const CONSENT: &str = "/consent";
    /// Starts a passkey login (JSON options for `navigator.credentials.get`).
    pub const PASSKEY_OPTIONS: &str = "/passkey/options";
    /// Finishes a passkey login.
    pub const PASSKEY_LOGIN: &str = "/passkey/login";
    /// The citizen's account page.
    pub const ACCOUNT: &str = "/account";
    /// Self-enrolment (eKYC by register match).
    pub const ENROL_ACCOUNT: &str = "/enrol";
    /// Starts enrolling a passkey (JSON options for `navigator.credentials.create`).
    pub const ENROL_OPTIONS: &str = "/account/passkeys/options";
    /// Finishes enrolling a passkey.
    pub const ENROL: &str = "/account/passkeys";
    /// Renames a passkey.
    pub const RENAME_PASSKEY: &str = "/account/passkeys/rename";
    /// Deletes a passkey.
    pub const DELETE_PASSKEY: &str = "/account/passkeys/delete";
    /// Starts a chip check: issues the phone app's upload ticket (account page form).
    pub const CHIP_START: &str = "/account/chip";
    /// The phone app's upload of the card's chip data (JSON API, bearer ticket).
    pub const CHIP_UPLOAD: &str = "/ekyc/chip";
    /// Credential Issuer Metadata (OpenID4VCI 1.0 section 12.2.2).
    pub const CREDENTIAL_ISSUER_METADATA: &str = "/.well-known/openid-credential-issuer";
    /// JWT VC Issuer Metadata: the credential issuer's keys (SD-JWT VC draft).
    pub const JWT_VC_ISSUER: &str = "/.well-known/jwt-vc-issuer";
    /// Nonce Endpoint (OpenID4VCI 1.0 section 7).
    pub const NONCE: &str = "/nonce";
    /// Credential Endpoint (OpenID4VCI 1.0 section 8).
    pub const CREDENTIAL: &str = "/credential";
    /// Status List Tokens, `/status-lists/{n}` (draft-ietf-oauth-status-list).
    pub const STATUS_LISTS: &str = "/status-lists";
}

/// WebAuthn settings. The relying party ID is the issuer's host and the only origin
/// accepted is the issuer's.
#[derive(Debug, Clone)]
pub struct PasskeySettings {
    /// The service's name in the browser's passkey prompts.
    pub rp_name: String,
    /// How long a ceremony (enrolment or login) may take.
    pub ceremony_lifetime: StdDuration,
}

impl Default for PasskeySettings {
    fn default() -> Self {
        Self {
            rp_name: "eID".to_owned(),
            ceremony_lifetime: eid_core::credential::passkey::DEFAULT_CEREMONY_LIFETIME,
        }
    }
}

/// The chip path to level high: passive authentication of the citizen ID card's chip
/// against the trust list, and the face matching vendor's signed result.
pub struct ChipSettings {
    /// The CSCA certificates (and their CRLs) the Document Signers must chain to.
    pub trust: TrustList,
    /// The face matching vendor whose signed results are accepted.
    pub face: FaceVendor,
    /// How long an upload ticket may wait for the phone app.
    pub ticket_lifetime: StdDuration,
}

impl ChipSettings {
    /// The default upload ticket lifetime.
    pub const DEFAULT_TICKET_LIFETIME: StdDuration = StdDuration::from_secs(10 * 60);
}

impl std::fmt::Debug for ChipSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChipSettings")
            .field("ticket_lifetime", &self.ticket_lifetime)
            .finish_non_exhaustive()
    }
}

/// Login and client authentication limits, counted in the ephemeral store.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Login attempts per personal ID number (a success clears the count); beyond it the
    /// account is locked out for the rest of the window.
    pub per_account: RateLimit,
    /// Login attempts per client IP address.
    pub per_ip: RateLimit,
    /// Wrong client secrets per client id and source IP.
    pub per_client: RateLimit,
    /// Passkey ceremonies started per client IP (each keeps a state in the ephemeral
    /// store for the ceremony lifetime).
    pub ceremonies_per_ip: RateLimit,
    /// Enrolment attempts per personal ID number.
    pub enrolments_per_number: RateLimit,
    /// Enrolment attempts per client IP.
    pub enrolments_per_ip: RateLimit,
    /// Chip checks (tickets issued and uploads) per account.
    pub chip_checks_per_account: RateLimit,
    /// Chip uploads per client IP.
    pub chip_checks_per_ip: RateLimit,
    /// Credential issuance nonces (`POST /nonce`) per client IP (each is kept until it
    /// is used or expires).
    pub nonces_per_ip: RateLimit,
    /// Status List Token requests per client IP (each is built from the durable store and
    /// signed; relying parties need one per list per `ttl`).
    pub status_lists_per_ip: RateLimit,
    /// Credentials issued (`POST /credential`) per account: each adds a permanent status
    /// list entry and fetches the register record.
    pub credentials_per_account: RateLimit,
    /// SAML requests (single sign-on and logout) per client IP: each signed one costs a
    /// signature verification.
    pub saml_requests_per_ip: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_account: RateLimit {
                max: 5,
                window: StdDuration::from_secs(15 * 60),
            },
            per_ip: RateLimit {
                max: 100,
                window: StdDuration::from_secs(15 * 60),
            },
            per_client: RateLimit {
                max: 20,
                window: StdDuration::from_secs(5 * 60),
            },
            ceremonies_per_ip: RateLimit {
                max: 300,
                window: StdDuration::from_secs(15 * 60),
            },
            enrolments_per_number: RateLimit {
                max: 5,
                window: StdDuration::from_secs(3600),
            },
            enrolments_per_ip: RateLimit {
                max: 20,
                window: StdDuration::from_secs(3600),
            },
            chip_checks_per_account: RateLimit {
                max: 10,
                window: StdDuration::from_secs(3600),
            },
            chip_checks_per_ip: RateLimit {
                max: 30,
                window: StdDuration::from_secs(3600),
            },
            nonces_per_ip: RateLimit {
                max: 300,
                window: StdDuration::from_secs(15 * 60),
            },
            status_lists_per_ip: RateLimit {
                max: 600,
                window: StdDuration::from_secs(15 * 60),
            },
            credentials_per_account: RateLimit {
                max: 10,
                window: StdDuration::from_secs(24 * 3600),
            },
            saml_requests_per_ip: RateLimit {
                max: 600,
                window: StdDuration::from_secs(15 * 60),
            },
        }
    }
}

/// What the provider needs besides its stores.
pub struct Settings {
    /// The issuer identifier (no trailing slash).
    pub issuer: String,
    /// The registered relying parties.
    pub clients: Vec<RegisteredClient>,
    /// Salt of the pairwise `sub` (the same on every instance, forever).
    pub pairwise_salt: PairwiseSalt,
    /// ID token lifetime.
    pub id_token_lifetime: Duration,
    /// Access token lifetime.
    pub access_token_lifetime: Duration,
    /// Refresh token family lifetime.
    pub refresh_token_lifetime: Duration,
    /// Authorization code lifetime.
    pub code_lifetime: StdDuration,
    /// Citizen session lifetime.
    pub session_lifetime: StdDuration,
    /// Rate limits.
    pub limits: Limits,
    /// Passkeys.
    pub passkeys: PasskeySettings,
    /// The chip path to level high; `None`: disabled.
    pub chip: Option<ChipSettings>,
    /// The SAML identity provider; `None`: disabled.
    pub saml: Option<SamlSettings>,
}

/// A registered client with what is precomputed for it.
struct Client {
    reg: RegisteredClient,
    /// Verifies its `private_key_jwt` assertions.
    assertions: Option<TokenVerifier>,
    /// Verifies ID tokens issued to it (as `id_token_hint`).
    id_tokens: TokenVerifier,
    /// SHA-256 of the secret last verified with argon2id: a high-entropy secret is then
    /// checked in constant time without re-running argon2id on every request.
    verified_secret: Mutex<Option<[u8; 32]>>,
    /// Held while a secret of this client is checked with argon2id.
    verifying: tokio::sync::Mutex<()>,
    /// The origins of its redirect URIs, for the pages' `form-action`.
    origins: String,
}

impl Client {
    /// The `sub` of an ID token this server issued to this client (an `id_token_hint`).
    /// RP-Initiated Logout 1.0 section 2: the OP "SHOULD accept ID Tokens when the RP
    /// identified by the ID Token's aud claim ... had a recent session ... even when the
    /// exp time has passed", so the token is checked as of its own issue time: signature,
    /// issuer and audience still have to be right.
    fn id_token_subject(&self, hint: &str) -> Option<String> {
        let iat = client_auth::unverified_claims(hint)?.get("iat")?.as_i64()?;
        let at = time::OffsetDateTime::from_unix_timestamp(iat).ok()?;
        self.id_tokens
            .verify_id_token_at(hint, None, None, at)
            .ok()
            .map(|claims| claims.sub)
    }

    /// The client as the token issuer sees it.
    fn relying_party(&self) -> RelyingParty {
        RelyingParty {
            client_id: self.reg.id.as_str().to_owned(),
            subject_type: self.reg.subject_type.clone(),
        }
    }
}

/// The provider: shared by every request.
pub struct Oidc {
    issuer: String,
    secure_cookies: bool,
    clients: HashMap<String, Client>,
    keys: KeyRing,
    tokens: TokenIssuer,
    /// Verifies this issuer's access tokens (audience: the issuer).
    access_tokens: TokenVerifier,
    durable: Arc<dyn DurableStore>,
    /// Group-commits audit records to the durable store.
    audit: audit_writer::AuditWriter,
    ephemeral: Arc<dyn EphemeralStore>,
    registry: Arc<dyn PopulationRegistry>,
    codes: CodeStore,
    passkeys: Passkeys,
    hasher: PasswordHasher,
    login_account: RateLimiter,
    login_ip: RateLimiter,
    client_failures: RateLimiter,
    ceremony_ip: RateLimiter,
    enrol_number: RateLimiter,
    enrol_ip: RateLimiter,
    /// The chip path, if enabled.
    chip: Option<ChipSettings>,
    /// The SAML identity provider, if enabled.
    saml: Option<saml_sso::SamlIdp>,
    chip_account: RateLimiter,
    chip_ip: RateLimiter,
    nonce_ip: RateLimiter,
    status_list_ip: RateLimiter,
    credential_account: RateLimiter,
    saml_ip: RateLimiter,
    refresh_lifetime: Duration,
    session_lifetime: StdDuration,
    metrics: Metrics,
    /// The discovery document, serialised once.
    discovery: String,
    /// The Credential Issuer Metadata, serialised once.
    credential_issuer_metadata: String,
}

/// The stores and services the provider works with.
pub struct Backends {
    /// Accounts, credentials, consents, refresh tokens, audit.
    pub durable: Arc<dyn DurableStore>,
    /// Request state.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// The population register.
    pub registry: Arc<dyn PopulationRegistry>,
    /// Password (and client secret) hashing.
    pub hasher: PasswordHasher,
    /// Metrics to count logins and tokens in.
    pub metrics: Metrics,
}

impl Oidc {
    /// Builds the provider (on a Tokio runtime: it starts the audit writer task).
    pub fn new(settings: Settings, keys: KeyRing, backends: Backends) -> anyhow::Result<Self> {
        let issuer = settings.issuer.trim_end_matches('/').to_owned();
        let jwks =
            VerificationKeys::from_jwk_set(&keys.jwks()).context("cannot read the signing keys")?;
        let endpoint = |path: &str| format!("{issuer}{path}");
        // Assertions name the issuer (draft-ietf-oauth-rfc7523bis) or, as RFC 7523
        // section 3 item 3 and OIDC Core 9 had it, the token endpoint.
        let assertion_audiences = [issuer.clone(), endpoint(paths::TOKEN)];
        let audiences: Vec<&str> = assertion_audiences.iter().map(String::as_str).collect();
        let mut clients = HashMap::new();
        for reg in settings.clients {
            let assertions = match &reg.auth {
                ClientAuth::PrivateKeyJwt { jwks } => Some(
                    TokenVerifier::for_client_assertions(
                        VerificationKeys::from_json(jwks)
                            .with_context(|| format!("client {}: bad jwks", reg.id.as_str()))?,
                        reg.id.as_str(),
                        &audiences,
                        ASSERTION_LEEWAY,
                    )
                    .context("cannot build an assertion verifier")?,
                ),
                _ => None,
            };
            let id_tokens =
                TokenVerifier::new(jwks.clone(), &issuer, reg.id.as_str(), Duration::ZERO)
                    .context("cannot build an ID token verifier")?;
            let mut origins: Vec<String> = reg
                .redirect_uris()
                .iter()
                .filter_map(|uri| pages::origin_of(uri))
                .collect();
            origins.sort();
            origins.dedup();
            clients.insert(
                reg.id.as_str().to_owned(),
                Client {
                    assertions,
                    id_tokens,
                    verified_secret: Mutex::new(None),
                    verifying: tokio::sync::Mutex::new(()),
                    origins: origins.join(" "),
                    reg,
                },
            );
        }
        let tokens = TokenIssuer::new(issuer.clone(), settings.pairwise_salt)
            .with_lifetimes(settings.id_token_lifetime, settings.access_token_lifetime)
            .context("bad token lifetimes")?;
        let access_tokens = TokenVerifier::new(jwks, &issuer, &issuer, Duration::ZERO)
            .context("cannot build the access token verifier")?;
        let ephemeral = backends.ephemeral;
        let codes = CodeStore::new(Arc::clone(&ephemeral), settings.code_lifetime)
            .context("bad authorization code lifetime")?;
        let limiter = |name, limit| RateLimiter::new(Arc::clone(&ephemeral), name, limit);
        let origin = url::Url::parse(&issuer).context("the issuer is not a URL")?;
        let rp_id = origin
            .host_str()
            .context("the issuer has no host")?
            .to_owned();
        let passkeys = Passkeys::new(
            &rp_id,
            &origin,
            &settings.passkeys.rp_name,
            Arc::clone(&ephemeral),
            settings.passkeys.ceremony_lifetime,
        )
        .context("cannot set up passkeys (WebAuthn)")?;
        let mut oidc = Self {
            secure_cookies: issuer.starts_with("https://"),
            login_account: limiter("login-account", settings.limits.per_account),
            login_ip: limiter("login-ip", settings.limits.per_ip),
            client_failures: limiter("client-auth", settings.limits.per_client),
            ceremony_ip: limiter("passkey-ceremony-ip", settings.limits.ceremonies_per_ip),
            enrol_number: limiter("enrol-number", settings.limits.enrolments_per_number),
            enrol_ip: limiter("enrol-ip", settings.limits.enrolments_per_ip),
            chip: settings.chip,
            saml: settings.saml.map(saml_sso::SamlIdp::new),
            saml_ip: limiter("saml-ip", settings.limits.saml_requests_per_ip),
            chip_account: limiter("chip-account", settings.limits.chip_checks_per_account),
            chip_ip: limiter("chip-ip", settings.limits.chip_checks_per_ip),
            nonce_ip: limiter("vci-nonce-ip", settings.limits.nonces_per_ip),
            status_list_ip: limiter("status-list-ip", settings.limits.status_lists_per_ip),
            credential_account: limiter(
                "vci-credential-account",
                settings.limits.credentials_per_account,
            ),
            issuer,
            clients,
            keys,
            tokens,
            access_tokens,
            audit: audit_writer::AuditWriter::start(Arc::clone(&backends.durable)),
            durable: backends.durable,
            registry: backends.registry,
            codes,
            passkeys,
            hasher: backends.hasher,
            refresh_lifetime: settings.refresh_token_lifetime,
            session_lifetime: settings.session_lifetime,
            metrics: backends.metrics,
            ephemeral,
            discovery: String::new(),
            credential_issuer_metadata: String::new(),
        };
        oidc.discovery = discovery::metadata(&oidc).to_string();
        oidc.credential_issuer_metadata = vci::issuer_metadata(&oidc).to_string();
        Ok(oidc)
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id)
    }

    /// The display name of a relying party: an OAuth client or a SAML service provider.
    fn relying_party_name(&self, id: &str) -> Option<&str> {
        self.client(id).map(|c| c.reg.name.as_str()).or_else(|| {
            self.saml
                .as_ref()
                .and_then(|idp| idp.service_provider(id))
                .map(|sp| sp.name.as_str())
        })
    }
}

/// The provider's routes, and the gRPC back-end API (`identity_api`).
pub fn router(oidc: Arc<Oidc>) -> Router {
    Router::new()
        .route(paths::DISCOVERY, get(discovery::configuration))
        .route(
            paths::AUTHORIZE,
            get(authorize::authorize_endpoint).post(authorize::authorize_endpoint),
        )
        .route(paths::PAR, post(par::push))
        .route(
            paths::LOGIN,
            get(login::login_page).post(login::login_submit),
        )
        .route(
            paths::CONSENT,
            get(consent::consent_page).post(consent::consent_submit),
        )
        .route(paths::PASSKEY_OPTIONS, post(passkey_login::options))
        .route(paths::PASSKEY_LOGIN, post(passkey_login::login))
        .route(paths::ACCOUNT, get(account::account_page))
        .route(
            paths::ENROL_ACCOUNT,
            get(enrol::enrol_page).post(enrol::enrol_submit),
        )
        .route(paths::ENROL_OPTIONS, post(account::enrol_options))
        .route(paths::ENROL, post(account::enrol))
        .route(paths::RENAME_PASSKEY, post(account::rename))
        .route(paths::DELETE_PASSKEY, post(account::delete))
        .route(paths::CHIP_START, post(chip::start))
        .route(paths::TOKEN, post(token::token))
        .route(
            paths::USERINFO,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(paths::INTROSPECT, post(access::introspect))
        .route(paths::REVOKE, post(access::revoke))
        .route(
            paths::LOGOUT,
            get(logout::logout_endpoint).post(logout::logout_endpoint),
        )
        .route(paths::CREDENTIAL_ISSUER_METADATA, get(vci::metadata))
        .route(paths::JWT_VC_ISSUER, get(status_lists::jwt_vc_issuer))
        .route(paths::NONCE, post(vci::nonce))
        .route(paths::CREDENTIAL, post(vci::credential))
        .route(
            &format!("{}/{{list}}", paths::STATUS_LISTS),
            get(status_lists::status_list),
        )
        .route(pages::CSS_PATH, get(stylesheet))
        .route(pages::SCRIPT_PATH, get(script))
        .route(pages::AUTOPOST_PATH, get(autopost))
        .route(crate::saml::paths::METADATA, get(saml_sso::metadata))
        .route(
            crate::saml::paths::SSO,
            get(saml_sso::sso_redirect).post(saml_sso::sso_post),
        )
        .route(crate::saml::paths::CONTINUE, get(saml_sso::sso_continue))
        .route(crate::saml::paths::SLO, get(saml_sso::slo_redirect))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::clone(&oidc))
        .merge(chip::routes(Arc::clone(&oidc)))
        .merge(identity_api::routes(oidc))
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    static_file("text/css; charset=utf-8", pages::CSS)
}

async fn script() -> impl axum::response::IntoResponse {
    static_file("text/javascript; charset=utf-8", pages::SCRIPT)
}

async fn autopost() -> impl axum::response::IntoResponse {
    static_file("text/javascript; charset=utf-8", pages::AUTOPOST)
}

fn static_file(
    content_type: &'static str,
    body: &'static str,
) -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

/// The client's IP address (see [`client_ip`]), for rate limits.
pub(super) struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut RequestParts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |info| info.0);
        Ok(Self(client_ip(peer, &parts.headers)))
    }
}

/// The client's IP address for rate limits: the peer, or — when the peer is a reverse
/// proxy on the loopback interface — the last address that proxy appended to
/// `X-Forwarded-For` (the only entry it vouches for).
fn client_ip(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if peer.ip().is_loopback()
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
    {
        return forwarded;
    }
    peer.ip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_trusted_from_a_local_proxy_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(
            client_ip(local, &headers),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(remote, &headers), remote.ip());
        assert_eq!(client_ip(local, &HeaderMap::new()), local.ip());
    }
}
