//! The SAML 2.0 identity provider's endpoints: metadata, single sign-on (Web Browser SSO
//! Profile, SAML Profiles 4.1, `AuthnRequest` by HTTP-Redirect or HTTP-POST, `Response`
//! by HTTP-POST) and single logout (SAML Profiles 4.4, HTTP-Redirect).
//!
//! A verified `AuthnRequest` becomes an [`AuthRequest`] answered through a SAML
//! [`Reply`]: from there the citizen's session, login, passkey step-up and consent are
//! exactly those of OpenID Connect (`ForceAuthn` is `prompt=login`, `IsPassive` is
//! `prompt=none`, the requested eIDAS levels are `acr_values`), and the last step posts a
//! signed response to the service provider instead of redirecting with a code.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_core::assurance::{EIDAS_HIGH, EIDAS_LOW, EIDAS_SUBSTANTIAL, Loa};
use eid_core::ratelimit::Decision;
use eid_core::release::format_scopes;
use eid_core::store::{AccountId, hex};
use eid_core::token::{RelyingParty, SectorId, SubjectType};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::authorize::{accept_language, begin, internal_page};
use super::error::{AuthzError, see_other};
use super::flow;
use super::lang::Lang;
use super::pages::{self, texts};
use super::params::Params;
use super::request::{AuthRequest, Prompt, Reply};
use super::session::{self, Browser, Session, cookie, flow_cookie, session_cookie};
use super::userinfo::{Unreleased, release_to};
use super::{ClientIp, Oidc, ServiceProviders};
use crate::saml::bindings::{Binding, BindingError, Incoming};
use crate::saml::keys::{KeyKind, SigningKey};
use crate::saml::logout::{LogoutAnswer, logout_response_url};
use crate::saml::messages::{AuthnRequest, CLOCK_SKEW, Comparison, LogoutRequest, MAX_REQUEST_AGE};
use crate::saml::metadata::{IdpDescription, idp_metadata};
use crate::saml::response::{Addressee, Authenticated, Status, new_id, response};
use crate::saml::sp::ServiceProvider;
use crate::saml::xml::Element;
use crate::saml::{NameIdFormat, paths, status};

/// How long signed metadata is served before it is signed afresh.
const METADATA_REFRESH: time::Duration = time::Duration::days(1);

/// What the identity provider is configured with.
pub struct SamlSettings {
    /// The entity ID (by default the metadata URL).
    pub entity_id: String,
    /// The RSA signing key and certificate.
    pub key: SigningKey,
    /// The ECDSA P-256 signing key and certificate, for service providers that support
    /// ECDSA-SHA256.
    pub ecdsa_key: Option<SigningKey>,
    /// The registered service providers.
    pub service_providers: Vec<ServiceProvider>,
}

impl std::fmt::Debug for SamlSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlSettings")
            .field("entity_id", &self.entity_id)
            .field("service_providers", &self.service_providers.len())
            .finish_non_exhaustive()
    }
}

/// The identity provider, part of [`Oidc`].
pub(super) struct SamlIdp {
    entity_id: String,
    key: SigningKey,
    ecdsa_key: Option<SigningKey>,
    sps: ServiceProviders,
    /// The signed metadata and when it was signed.
    metadata: Mutex<Option<(OffsetDateTime, Arc<str>)>>,
    /// Signature verifications running at once (one per core): xmlsec's work per request
    /// is bounded, but requests come from anyone.
    verifications: Arc<tokio::sync::Semaphore>,
}

impl SamlIdp {
    pub(super) fn new(settings: SamlSettings) -> Self {
        let sps: HashMap<String, ServiceProvider> = settings
            .service_providers
            .into_iter()
            .map(|sp| (sp.entity_id().to_owned(), sp))
            .collect();
        Self {
            entity_id: settings.entity_id,
            key: settings.key,
            ecdsa_key: settings.ecdsa_key,
            sps,
            metadata: Mutex::new(None),
            verifications: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
        }
    }

    pub(super) fn service_provider(&self, entity_id: &str) -> Option<&ServiceProvider> {
        self.sps.get(entity_id)
    }

    /// The key that signs for `sp`: its algorithm's (configuration checked that an ECDSA
    /// key exists when one is chosen).
    fn key_for(&self, sp: Option<&ServiceProvider>) -> &SigningKey {
        match (sp.map(|sp| sp.signature), &self.ecdsa_key) {
            (Some(KeyKind::EcP256), Some(key)) => key,
            _ => &self.key,
        }
    }
}

/// What answering a SAML request needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlReply {
    /// The `AuthnRequest`'s `ID` (`InResponseTo`).
    pub request_id: String,
    /// The assertion consumer service, from the metadata.
    pub acs_url: String,
    /// `RelayState`, echoed.
    pub relay_state: Option<String>,
    /// The `NameID` format to issue.
    pub name_id_format: NameIdFormat,
    /// The levels the assertion may state, ascending: the request's
    /// `RequestedAuthnContext` (all levels without one).
    pub levels: Vec<Loa>,
}

/// The eIDAS level URI of `loa` (what `AuthnContextClassRef` states).
fn eidas_uri(loa: Loa) -> &'static str {
    match loa {
        Loa::Low => EIDAS_LOW,
        Loa::Substantial => EIDAS_SUBSTANTIAL,
        Loa::High => EIDAS_HIGH,
    }
}

/// The levels an assertion may state for a `RequestedAuthnContext` (SAML Core
/// 3.3.2.2.1), `None` when none can satisfy it. Class references that are not levels
/// (neither the eIDAS URIs nor the configured `acr` names) are ignored.
fn acceptable_levels(oidc: &Oidc, req: &AuthnRequest) -> Option<Vec<Loa>> {
    let Some(ctx) = &req.requested_context else {
        return Some(Loa::ALL.to_vec());
    };
    let named: Vec<Loa> = ctx
        .class_refs
        .iter()
        .filter_map(|c| oidc.tokens.acr_table().loa_of(c))
        .collect();
    let lowest = named.iter().min().copied()?;
    let highest = named.iter().max().copied()?;
    let levels: Vec<Loa> = Loa::ALL
        .into_iter()
        .filter(|l| match ctx.comparison {
            // A stronger authentication meets a weaker level's requirements, so "exact"
            // is met by stating the strongest requested level the session reaches.
            Comparison::Exact => named.contains(l),
            Comparison::Minimum => *l >= lowest,
            Comparison::Better => *l > highest,
            Comparison::Maximum => *l <= highest,
        })
        .collect();
    (!levels.is_empty()).then_some(levels)
}

/// The level to state for a session at `achieved`: the strongest acceptable level it
/// reaches.
fn stated_level(levels: &[Loa], achieved: Option<Loa>) -> Option<Loa> {
    let achieved = achieved?;
    levels.iter().copied().filter(|l| *l <= achieved).max()
}

fn bad_request(lang: Lang, reason: &dyn std::fmt::Display) -> Response {
    let message = format!("{} ({reason})", texts(lang).expired);
    pages::error(StatusCode::BAD_REQUEST, lang, &message)
}

fn not_enabled() -> Response {
    (StatusCode::NOT_FOUND, "SAML is not enabled").into_response()
}

/// `GET /saml/metadata`: the signed metadata.
pub async fn metadata(State(oidc): State<Arc<Oidc>>) -> Response {
    let Some(idp) = &oidc.saml else {
        return not_enabled();
    };
    let now = OffsetDateTime::now_utc();
    let cached = {
        let cache = idp.metadata.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|(at, _)| now - *at < METADATA_REFRESH)
            .map(|(_, doc)| Arc::clone(doc))
    };
    let document = match cached {
        Some(document) => document,
        None => {
            let (sso, slo) = (oidc.endpoint(paths::SSO), oidc.endpoint(paths::SLO));
            let description = IdpDescription {
                entity_id: &idp.entity_id,
                sso_url: &sso,
                slo_url: &slo,
                want_requests_signed: idp.sps.values().any(|sp| sp.require_signed_requests),
                levels: &[EIDAS_LOW, EIDAS_SUBSTANTIAL, EIDAS_HIGH],
            };
            let keys: Vec<&SigningKey> = std::iter::once(&idp.key).chain(&idp.ecdsa_key).collect();
            let document: Arc<str> = match idp_metadata(&description, &keys, now) {
                Ok(doc) => doc.into(),
                Err(err) => {
                    tracing::error!(cause = %err, "cannot sign the SAML metadata");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            };
            *idp.metadata.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((now, Arc::clone(&document)));
            document
        }
    };
    (
        [
            (header::CONTENT_TYPE, "application/samlmetadata+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        document.to_string(),
    )
        .into_response()
}

/// `GET /saml/sso`: an `AuthnRequest` by HTTP-Redirect.
pub async fn sso_redirect(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let incoming = Incoming::from_redirect(query.as_deref().unwrap_or_default(), "SAMLRequest");
    sso(&oidc, ip, &headers, incoming).await
}

/// `POST /saml/sso`: an `AuthnRequest` by HTTP-POST.
pub async fn sso_post(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = match Params::parse(&body) {
        Ok(params) => match params.get("SAMLRequest") {
            Some(message) => Incoming::from_post(message, params.get("RelayState")),
            None => Err(BindingError::Missing("SAMLRequest")),
        },
        Err(_) => Err(BindingError::Malformed("not a form")),
    };
    sso(&oidc, ip, &headers, incoming).await
}

/// `GET /saml/sso/continue?ticket=…`: a request that arrived by HTTP-POST, continued in
/// a same-site navigation. The service provider's page posts cross-site, and the session
/// cookie (`SameSite=Lax`) is only sent with top-level `GET`s: answering the `POST` itself
/// would never see the citizen's session.
pub async fn sso_continue(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::choose(None, accept_language(&headers));
    if oidc.saml.is_none() {
        return not_enabled();
    }
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let ticket = params.get("ticket").unwrap_or_default();
    let browser = cookie(&headers, flow_cookie(oidc.secure_cookies));
    let store = oidc.ephemeral.as_ref();
    let loaded = flow::load::<AuthRequest>(store, CONTINUE, ticket, browser.as_ref()).await;
    let auth = match loaded {
        Ok(Some(flow)) => flow.payload,
        Ok(None) => return bad_request(lang, &"the ticket is unknown, used or another browser's"),
        Err(err) => return internal_page(lang, &err),
    };
    // Single use: only the taker continues.
    match flow::finish(store, CONTINUE, ticket).await {
        Ok(true) => begin(&oidc, &headers, auth).await,
        Ok(false) => bad_request(lang, &"the ticket is unknown, used or another browser's"),
        Err(err) => internal_page(lang, &err),
    }
}

/// The flow kind of POSTed requests waiting for their same-site continuation.
const CONTINUE: &str = "saml-continue";

/// A received message, verified: the element to consume, its service provider, its
/// `RelayState`, and whether it was signed.
struct Received<'a> {
    root: Element,
    sp: &'a ServiceProvider,
    relay_state: Option<String>,
    signed: bool,
    binding: Binding,
}

/// Reads a message from a registered service provider: counted per client IP, its
/// signature verified with the provider's certificates (required when `must_sign` or
/// when the provider must sign) on a blocking thread (xmlsec is synchronous). A failure
/// is an error page (SAML Profiles 4.1.3.5: nothing may go to an unverified address).
async fn receive<'a>(
    oidc: &'a Oidc,
    ip: IpAddr,
    incoming: Result<Incoming, BindingError>,
    must_sign: bool,
    lang: Lang,
) -> Result<Received<'a>, Response> {
    let refuse = |reason: &dyn std::fmt::Display| bad_request(lang, reason);
    let Some(idp) = &oidc.saml else {
        return Err(not_enabled());
    };
    match oidc.saml_ip.hit(&ip.to_string()).await {
        Ok(Decision::Allowed { .. }) => {}
        Ok(Decision::Limited) => {
            let message = texts(lang).rate_limited;
            return Err(pages::error(StatusCode::TOO_MANY_REQUESTS, lang, message));
        }
        Err(err) => return Err(internal_page(lang, &err)),
    }
    let incoming = incoming.map_err(|err| refuse(&err))?;
    let Some(sp) = incoming
        .claimed_issuer()
        .and_then(|issuer| idp.service_provider(issuer))
    else {
        return Err(refuse(&"unknown service provider"));
    };
    let relay_state = incoming.relay_state.clone();
    let binding = incoming.binding;
    let certs = sp.metadata.signing.clone();
    let required = must_sign || sp.require_signed_requests;
    let permit = match Arc::clone(&idp.verifications).acquire_owned().await {
        Ok(permit) => permit,
        Err(err) => return Err(internal_page(lang, &err)),
    };
    let verified = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        incoming.verified(&certs, required)
    })
    .await;
    let (root, signed) = match verified {
        Ok(Ok(verified)) => verified,
        Ok(Err(err)) => return Err(refuse(&err)),
        Err(err) => return Err(internal_page(lang, &err)),
    };
    Ok(Received {
        root,
        sp,
        relay_state,
        signed,
        binding,
    })
}

/// The checks every request from `sp` gets once parsed: it names `sp` as issuer (the one
/// whose key verified it), names `endpoint` as `Destination` (Bindings 3.4.5.2 and
/// 3.5.5.2: a signed message MUST name it, and whenever present it must be this
/// endpoint), and was never received before (SAML Profiles 4.1.4.5 for `AuthnRequest`;
/// the same for `LogoutRequest`): its ID is remembered for as long as a request is
/// accepted.
async fn accept(
    oidc: &Oidc,
    received: &Received<'_>,
    header: (&str, &str, Option<&str>),
    endpoint: &str,
    lang: Lang,
) -> Result<(), Response> {
    let refuse = |reason: &dyn std::fmt::Display| bad_request(lang, reason);
    let (issuer, id, destination) = header;
    if issuer != received.sp.entity_id() {
        return Err(refuse(&"the signed request names another issuer"));
    }
    match destination {
        Some(destination) if destination != endpoint => {
            return Err(refuse(&"Destination is not this endpoint"));
        }
        None if received.signed => return Err(refuse(&"a signed request must carry Destination")),
        _ => {}
    }
    let key = format!(
        "saml-request:{}",
        hex(&Sha256::digest(format!("{endpoint}\n{issuer}\n{id}")))
    );
    let ttl = (MAX_REQUEST_AGE + CLOCK_SKEW).unsigned_abs();
    match oidc.ephemeral.put_if_absent(&key, b"1", ttl).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(refuse(&"this request was already received")),
        Err(err) => Err(internal_page(lang, &err)),
    }
}

async fn sso(
    oidc: &Oidc,
    ip: IpAddr,
    headers: &HeaderMap,
    incoming: Result<Incoming, BindingError>,
) -> Response {
    let lang = Lang::choose(None, accept_language(headers));
    let received = match receive(oidc, ip, incoming, false, lang).await {
        Ok(received) => received,
        Err(page) => return page,
    };
    let req = match AuthnRequest::from_element(&received.root, OffsetDateTime::now_utc()) {
        Ok(req) => req,
        Err(err) => return bad_request(lang, &err),
    };
    let endpoint = oidc.endpoint(paths::SSO);
    let header = (
        req.issuer.as_str(),
        req.id.as_str(),
        req.destination.as_deref(),
    );
    if let Err(page) = accept(oidc, &received, header, &endpoint, lang).await {
        return page;
    }
    let sp = received.sp;
    let Some(acs_url) = sp.metadata.acs_for(&req) else {
        return bad_request(
            lang,
            &"the assertion consumer service is not in the metadata",
        );
    };
    let mut reply = SamlReply {
        request_id: req.id.clone(),
        acs_url: acs_url.to_owned(),
        relay_state: received.relay_state.clone(),
        name_id_format: sp.default_name_id_format,
        levels: Loa::ALL.to_vec(),
    };
    // SAML Core 3.4.1.1: another SPNameQualifier asks for an affiliation's identifier,
    // which this provider does not issue.
    let qualified = req
        .sp_name_qualifier
        .as_deref()
        .is_none_or(|q| q == sp.entity_id());
    let format = match &req.name_id_format {
        None => Some(sp.default_name_id_format),
        Some(_) => req.name_id_format(),
    };
    let refusal = match (format, acceptable_levels(oidc, &req)) {
        (Some(format), Some(levels)) if qualified => {
            reply.name_id_format = format;
            reply.levels = levels;
            None
        }
        (Some(_), None) if qualified => Some(Status {
            code: status::RESPONDER,
            detail: Some(status::NO_AUTHN_CONTEXT),
            message: "the requested authentication context cannot be provided",
        }),
        _ => Some(Status {
            code: status::REQUESTER,
            detail: Some(status::INVALID_NAMEID_POLICY),
            message: "unsupported NameID policy",
        }),
    };
    if let Some(refusal) = refusal {
        return respond_status(oidc, sp.entity_id(), &reply, &refusal, lang);
    }
    let auth = AuthRequest {
        client_id: sp.entity_id().to_owned(),
        scope: format_scopes(&sp.scopes),
        prompt: Prompt {
            none: req.is_passive,
            login: req.force_authn,
            consent: false,
        },
        max_age: None,
        login_hint: None,
        ui_locales: None,
        min_loa: reply.levels.first().copied(),
        hint_sub: None,
        reply: Reply::Saml(reply),
    };
    match received.binding {
        Binding::Redirect => begin(oidc, headers, auth).await,
        Binding::Post => continue_same_site(oidc, headers, &auth, lang).await,
    }
}

/// Files `auth` as a single-use flow bound to this browser (its `eid_flow` cookie, set
/// now if it had none) and sends the browser to [`sso_continue`].
async fn continue_same_site(
    oidc: &Oidc,
    headers: &HeaderMap,
    auth: &AuthRequest,
    lang: Lang,
) -> Response {
    let browser = Browser::of(headers, oidc.secure_cookies);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let created = flow::create(oidc.ephemeral.as_ref(), CONTINUE, auth, &browser.id, now);
    match created.await {
        Ok((ticket, _)) => {
            let mut response =
                see_other(&format!("{}?ticket={}", paths::CONTINUE, ticket.expose()));
            browser.remember(&mut response, oidc.secure_cookies);
            response
        }
        Err(err) => internal_page(lang, &err),
    }
}

/// Posts a signed assertion for `session` to the service provider (the end of a
/// successful flow): the attributes of the consented scopes, read from the register now
/// and audited by name.
pub(super) async fn respond(
    oidc: &Oidc,
    req: &AuthRequest,
    reply: &SamlReply,
    session: &Session,
    lang: Lang,
) -> Response {
    match assertion_response(oidc, req, reply, session).await {
        Ok(Ok(xml)) => post_page(lang, reply, &xml),
        Ok(Err(unreleased)) => {
            let message = match unreleased {
                Unreleased::NotFound => "the citizen's record cannot be released",
                Unreleased::Unavailable => "the population register cannot be reached",
            };
            let s = Status {
                code: status::RESPONDER,
                detail: Some(status::AUTHN_FAILED),
                message,
            };
            respond_status(oidc, &req.client_id, reply, &s, lang)
        }
        Err(err) => internal_page(lang, &err),
    }
}

async fn assertion_response(
    oidc: &Oidc,
    req: &AuthRequest,
    reply: &SamlReply,
    session: &Session,
) -> anyhow::Result<Result<String, Unreleased>> {
    let idp = oidc
        .saml
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("SAML is off"))?;
    let sp = idp
        .service_provider(&req.client_id)
        .ok_or_else(|| anyhow::anyhow!("the service provider is no longer registered"))?;
    let level = stated_level(&reply.levels, session.loa)
        .ok_or_else(|| anyhow::anyhow!("the session does not reach the requested level"))?;
    let account = oidc.durable.account(session.account).await?;
    let released = match release_to(oidc, &account, &req.client_id, &req.scopes(), "saml").await? {
        Ok(released) => released,
        Err(unreleased) => return Ok(Err(unreleased)),
    };
    let persistent = persistent_id(oidc, &req.client_id, session.account)?;
    let name_id = match reply.name_id_format {
        NameIdFormat::Persistent => persistent.clone(),
        NameIdFormat::Transient => new_id(),
    };
    let attributes = sp
        .attribute_profile
        .attributes(&released.claims, &format!("VN/VN/{persistent}"));
    let session_index = new_id();
    let authn_instant = OffsetDateTime::from_unix_timestamp(session.auth_time)?;
    let who = Authenticated {
        name_id: &name_id,
        name_id_format: reply.name_id_format,
        authn_instant,
        session_index: &session_index,
        context_class: eidas_uri(level),
        attributes: &attributes,
    };
    let to = addressee(idp, &req.client_id, reply);
    let now = OffsetDateTime::now_utc();
    let encrypt_to = sp.encrypt_to.as_ref();
    let key = idp.key_for(Some(sp));
    Ok(Ok(response(&to, Ok(&who), now, key, encrypt_to)?))
}

/// The persistent, pairwise `NameID` of `account` at service provider `sp`: the
/// pairwise subject (OIDC Core 8.1's construction, salted like every `sub`) of a sector
/// derived from the entity ID.
fn persistent_id(oidc: &Oidc, sp: &str, account: AccountId) -> anyhow::Result<String> {
    // Its own sector namespace, so no SAML NameID equals an OIDC `sub` (whose sectors are
    // host names), and a hash, so entity IDs are told apart exactly (sectors are
    // lower-cased).
    let sector = format!("saml:{}", hex(&Sha256::digest(sp.as_bytes())));
    let pairwise = RelyingParty {
        client_id: sp.to_owned(),
        subject_type: SubjectType::Pairwise(SectorId::new(sector)?),
    };
    Ok(oidc.tokens.subject(&pairwise, account.as_uuid()))
}

fn addressee<'a>(idp: &'a SamlIdp, sp: &'a str, reply: &'a SamlReply) -> Addressee<'a> {
    Addressee {
        issuer: &idp.entity_id,
        audience: sp,
        acs_url: &reply.acs_url,
        in_response_to: &reply.request_id,
    }
}

fn post_page(lang: Lang, reply: &SamlReply, xml: &str) -> Response {
    use base64ct::{Base64, Encoding as _};
    let encoded = Base64::encode_string(xml.as_bytes());
    let mut fields = vec![("SAMLResponse", encoded.as_str())];
    if let Some(relay) = &reply.relay_state {
        fields.push(("RelayState", relay.as_str()));
    }
    pages::saml_post(lang, &reply.acs_url, &fields)
}

/// Posts a signed response carrying `status` (no assertion) to the service provider.
fn respond_status(
    oidc: &Oidc,
    sp: &str,
    reply: &SamlReply,
    status: &Status,
    lang: Lang,
) -> Response {
    let Some(idp) = &oidc.saml else {
        return not_enabled();
    };
    let to = addressee(idp, sp, reply);
    let key = idp.key_for(idp.service_provider(sp));
    match response(&to, Err(status), OffsetDateTime::now_utc(), key, None) {
        Ok(xml) => post_page(lang, reply, &xml),
        Err(err) => internal_page(lang, &err),
    }
}

/// Answers a failed request with the SAML status matching the OAuth error (SAML Core
/// 3.2.2.2): `IsPassive` and interaction needed is `NoPassive`, an unreachable level is
/// `NoAuthnContext`, a refused consent is `RequestDenied`.
pub(super) fn respond_error(
    oidc: &Oidc,
    req: &AuthRequest,
    reply: &SamlReply,
    err: &AuthzError,
    lang: Lang,
) -> Response {
    let (detail, message) = match err.code {
        "login_required" | "interaction_required" | "consent_required" => {
            (status::NO_PASSIVE, "the citizen would have to interact")
        }
        "unmet_authentication_requirements" => (
            status::NO_AUTHN_CONTEXT,
            "the requested level of assurance cannot be reached",
        ),
        "access_denied" => (status::REQUEST_DENIED, "the citizen refused consent"),
        _ => (
            status::AUTHN_FAILED,
            "the citizen could not be authenticated",
        ),
    };
    let s = Status {
        code: status::RESPONDER,
        detail: Some(detail),
        message,
    };
    respond_status(oidc, &req.client_id, reply, &s, lang)
}

/// `GET /saml/slo`: a `LogoutRequest` by HTTP-Redirect (SAML Profiles 4.4.4.1). The
/// request must come from a registered service provider, signed; when
/// it names the browser's citizen the session ends, and the browser returns to the
/// service provider's single logout service with a signed `LogoutResponse`. Other service
/// providers the citizen visited are not called (no front-channel propagation).
pub async fn slo_redirect(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::choose(None, accept_language(&headers));
    let Some(idp) = &oidc.saml else {
        return not_enabled();
    };
    let incoming = Incoming::from_redirect(query.as_deref().unwrap_or_default(), "SAMLRequest");
    // SAML Profiles 4.4.4.1: a LogoutRequest by the front-channel bindings MUST be signed
    // (else any site could log a citizen out).
    let received = match receive(&oidc, ip, incoming, true, lang).await {
        Ok(received) => received,
        Err(page) => return page,
    };
    let sp = received.sp;
    let Some(slo) = &sp.metadata.slo else {
        return bad_request(lang, &"the service provider has no single logout service");
    };
    let req = match LogoutRequest::from_element(&received.root, OffsetDateTime::now_utc()) {
        Ok(req) => req,
        Err(err) => return bad_request(lang, &err),
    };
    let endpoint = oidc.endpoint(paths::SLO);
    let header = (
        req.issuer.as_str(),
        req.id.as_str(),
        req.destination.as_deref(),
    );
    if let Err(page) = accept(&oidc, &received, header, &endpoint, lang).await {
        return page;
    }
    let relay_state = received.relay_state.clone();
    // The browser's session ends when the request names its citizen: by the persistent
    // NameID this provider gave the service provider. Another NameID is
    // `UnknownPrincipal` (SAML Core 3.7.3.2) and changes nothing.
    let unknown = Status {
        code: status::REQUESTER,
        detail: Some(status::UNKNOWN_PRINCIPAL),
        message: "the NameID is not the citizen of this session",
    };
    let mut outcome = None;
    if let Some(value) = cookie(&headers, session_cookie(oidc.secure_cookies)) {
        let session = match session::load(oidc.ephemeral.as_ref(), &value).await {
            Ok(session) => session,
            Err(err) => return internal_page(lang, &err),
        };
        // A transient NameID is not kept: it is taken as naming the session. Any other
        // format is compared as the persistent NameID (the only other one issued here).
        let transient = req.name_id_format.as_deref() == Some(NameIdFormat::Transient.uri());
        let named = match &session {
            Some(s) if !transient => match persistent_id(&oidc, sp.entity_id(), s.account) {
                Ok(id) => id == req.name_id,
                Err(err) => return internal_page(lang, &err),
            },
            _ => true,
        };
        if !named {
            outcome = Some(&unknown);
        } else if let Err(err) = session::end(oidc.ephemeral.as_ref(), &value).await {
            return internal_page(lang, &err);
        }
    }
    let answer = LogoutAnswer {
        issuer: &idp.entity_id,
        destination: &slo.response_url,
        in_response_to: &req.id,
        status: outcome,
        relay_state: relay_state.as_deref(),
    };
    match logout_response_url(&answer, idp.key_for(Some(sp)), OffsetDateTime::now_utc()) {
        Ok(url) => {
            let mut response = see_other(&url);
            if outcome.is_none() {
                let name = session_cookie(oidc.secure_cookies);
                session::set_cookie(&mut response, name, None, oidc.secure_cookies);
            }
            response
        }
        Err(err) => internal_page(lang, &err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stated_level_is_the_strongest_acceptable_one_reached() {
        let all = Loa::ALL.to_vec();
        assert_eq!(stated_level(&all, Some(Loa::High)), Some(Loa::High));
        assert_eq!(stated_level(&all, None), None);
        let exact = vec![Loa::Substantial];
        assert_eq!(
            stated_level(&exact, Some(Loa::High)),
            Some(Loa::Substantial)
        );
        assert_eq!(stated_level(&exact, Some(Loa::Low)), None);
        let up_to_substantial = vec![Loa::Low, Loa::Substantial];
        assert_eq!(
            stated_level(&up_to_substantial, Some(Loa::High)),
            Some(Loa::Substantial)
        );
    }
}
