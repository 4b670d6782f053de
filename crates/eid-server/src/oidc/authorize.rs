//! The authorization endpoint and the citizen's login and consent pages.
//!
//! `/authorize` validates the request (see [`super::request`]), then either answers at
//! once (a live session that satisfies the request, consent on file) or files the request
//! as a pending flow and sends the browser to `/login` or `/consent`. Those pages post back
//! with the flow id and its CSRF token; the flow is bound to the browser's `eid_flow`
//! cookie. The last step takes the flow and redirects to the client with a single-use code.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use eid_core::assurance::{Authenticator, Loa};
use eid_core::audit::{Actor, AttributeName, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::PersonalId;
use eid_core::credential::password::{Password, Verification};
use eid_core::oauth::CodeGrant;
use eid_core::store::{Account, AccountStatus, ClientId};
use eid_core::token::OpaqueToken;
use std::sync::Arc;

use super::error::{AuthzError, redirect_error, redirect_url, see_other};
use super::flow::{self, Flow};
use super::lang::Lang;
use super::pages::{self, LoginPage, texts};
use super::params::Params;
use super::request::{self, AuthRequest};
use super::session::{self, FLOW_COOKIE, SESSION_COOKIE, Session, cookie, set_cookie};
use super::{Oidc, client_ip, par, paths};

/// The flow kind of pending authorizations.
const AUTHZ: &str = "authz";

/// `GET /authorize`.
pub async fn authorize_get(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    authorize(&oidc, &headers, query.unwrap_or_default().as_bytes()).await
}

/// `POST /authorize` (OIDC Core 3.1.2.1: both methods MUST be supported).
pub async fn authorize_post(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize(&oidc, &headers, &body).await
}

pub(super) fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

pub(super) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An error page for a failure on our side (the cause is logged, never shown).
pub(super) fn internal_page(lang: Lang, cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(%cause, "request failed");
    pages::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        texts(lang).internal,
    )
}

/// An error page for a request that cannot be answered by redirect.
fn bad_request_page(lang: Lang, reason: &str) -> Response {
    let message = format!("{} ({reason})", texts(lang).expired);
    pages::error(StatusCode::BAD_REQUEST, lang, &message)
}

async fn authorize(oidc: &Oidc, headers: &HeaderMap, raw: &[u8]) -> Response {
    let lang = Lang::choose(None, accept_language(headers));
    let params = match Params::parse(raw) {
        Ok(params) => params,
        Err(err) => return bad_request_page(lang, &err.to_string()),
    };
    // Stage one: client and redirect URI, else an error page (RFC 6749 section 4.1.2.1).
    let Some(client) = params.get("client_id").and_then(|id| oidc.client(id)) else {
        return bad_request_page(lang, "unknown or missing client_id");
    };
    let req = if let Some(uri) = params.get("request_uri") {
        // RFC 9126 section 4: the pushed request stands for the whole request.
        match par::take(oidc, &client.reg.id, uri).await {
            Ok(Some(req)) => req,
            Ok(None) => return bad_request_page(lang, "request_uri is invalid or expired"),
            Err(err) => return internal_page(lang, &err),
        }
    } else {
        let redirect_uri = match client.reg.redirect_uri(params.get("redirect_uri")) {
            Ok(uri) => uri,
            Err(err) => return bad_request_page(lang, &err.to_string()),
        };
        let state = params.get("state");
        if client.reg.require_par {
            // RFC 9126 section 6: this client's requests must be pushed.
            let err =
                AuthzError::invalid_request("this client must use pushed authorization requests");
            return redirect_error(redirect_uri, err, state, &oidc.issuer);
        }
        match request::validate(&client.reg, redirect_uri, &params, oidc.tokens.acr_table()) {
            Ok(req) => req,
            Err(err) => return redirect_error(redirect_uri, err, state, &oidc.issuer),
        }
    };
    let lang = Lang::choose(req.ui_locales.as_deref(), accept_language(headers));
    let now = unix_now();
    let session = match current_session(oidc, headers).await {
        Ok(session) => session,
        Err(err) => return internal_page(lang, &err),
    };
    let next = match decide(oidc, session.as_ref(), &req, now, false).await {
        Ok(next) => next,
        Err(err) => return internal_page(lang, &err),
    };
    let page = match next {
        Next::Issue(session) => return issue_code(oidc, &req, &session, lang).await,
        Next::Fail(err) => {
            return redirect_error(&req.redirect_uri, err, req.state.as_deref(), &oidc.issuer);
        }
        Next::Login => paths::LOGIN,
        Next::Consent => paths::CONSENT,
    };
    let (browser, new_cookie) = match cookie(headers, FLOW_COOKIE) {
        Some(browser) => (browser, false),
        None => (OpaqueToken::generate(), true),
    };
    let id = match flow::create(oidc.ephemeral.as_ref(), AUTHZ, &req, &browser, now).await {
        Ok((id, _)) => id,
        Err(err) => return internal_page(lang, &err),
    };
    let mut response = see_other(&format!("{page}?req={}", id.expose()));
    if new_cookie {
        set_cookie(
            &mut response,
            FLOW_COOKIE,
            Some(browser.expose()),
            oidc.secure_cookies,
        );
    }
    response
}

/// What a request needs next.
enum Next {
    /// The citizen must log in.
    Login,
    /// The citizen must consent.
    Consent,
    /// A code can be issued for this session.
    Issue(Session),
    /// The request fails with this error.
    Fail(AuthzError),
}

/// Decides the next step of `req` (filed at `created_at`) for `session`. `consented` is
/// true right after the citizen agreed on the consent page.
async fn decide(
    oidc: &Oidc,
    session: Option<&Session>,
    req: &AuthRequest,
    created_at: i64,
    consented: bool,
) -> Result<Next, eid_core::store::StoreError> {
    let now = unix_now();
    let fresh = |s: &Session| {
        let reauthenticated = !req.prompt.login || s.auth_time >= created_at;
        // OIDC Core 3.1.2.1 max_age: re-authenticate when the last authentication is older.
        let recent = req.max_age.is_none_or(|max| {
            now.saturating_sub(s.auth_time) <= i64::try_from(max).unwrap_or(i64::MAX)
        });
        reauthenticated && recent
    };
    let Some(session) = session.filter(|s| fresh(s)) else {
        // OIDC Core 3.1.2.6: prompt=none and the citizen would have to log in.
        return Ok(if req.prompt.none {
            Next::Fail(AuthzError::new(
                "login_required",
                "the citizen is not logged in",
            ))
        } else {
            Next::Login
        });
    };
    if let Some(min) = req.min_loa
        && session.loa.is_none_or(|loa| loa < min)
    {
        // No stronger authenticator is available to step up with: OIDC Core 5.5.1.1 /
        // OpenID Connect Core errata "unmet_authentication_requirements".
        return Ok(Next::Fail(AuthzError::new(
            "unmet_authentication_requirements",
            "the requested level of assurance cannot be reached",
        )));
    }
    if !consented && (req.prompt.consent || !consent_on_file(oidc, session, req).await?) {
        return Ok(if req.prompt.none {
            Next::Fail(AuthzError::new(
                "consent_required",
                "the citizen has not consented",
            ))
        } else {
            Next::Consent
        });
    }
    Ok(Next::Issue(session.clone()))
}

/// The scope and claim names a request asks the citizen to share.
fn shared(req: &AuthRequest) -> (BTreeSet<String>, BTreeSet<String>) {
    let scopes = req.scopes();
    let names = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    let claims = scopes
        .iter()
        .flat_map(|s| s.claims())
        .map(|c| (*c).to_owned())
        .collect();
    (names, claims)
}

async fn consent_on_file(
    oidc: &Oidc,
    session: &Session,
    req: &AuthRequest,
) -> Result<bool, eid_core::store::StoreError> {
    let client = ClientId::new(req.client_id.clone())?;
    let Some(consent) = oidc.durable.consent(session.account, &client).await? else {
        return Ok(false);
    };
    let (scopes, claims) = shared(req);
    Ok(consent.covers(
        scopes.iter().map(String::as_str),
        claims.iter().map(String::as_str),
    ))
}

pub(super) async fn current_session(
    oidc: &Oidc,
    headers: &HeaderMap,
) -> Result<Option<Session>, eid_core::store::StoreError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(value) => session::load(oidc.ephemeral.as_ref(), &value).await,
        None => Ok(None),
    }
}

/// Issues a code for `req` and redirects to the client with it.
async fn issue_code(oidc: &Oidc, req: &AuthRequest, session: &Session, lang: Lang) -> Response {
    let grant = CodeGrant {
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        account: session.account,
        scope: req.scope.clone(),
        nonce: req.nonce.clone(),
        challenge: req.challenge.clone(),
        auth_time: session.auth_time,
        loa: session.loa,
        amr: session.amr.clone(),
    };
    let code = match oidc.codes.issue(&grant).await {
        Ok(code) => code,
        Err(err) => return internal_page(lang, &err),
    };
    match redirect_url(
        &req.redirect_uri,
        &[("code", code.expose())],
        req.state.as_deref(),
        &oidc.issuer,
    ) {
        Some(url) => see_other(url.as_str()),
        None => internal_page(lang, &"unusable redirect URI"),
    }
}

/// A pending authorization loaded for a page or a form.
struct Pending {
    id: String,
    flow: Flow<AuthRequest>,
    lang: Lang,
}

/// Loads the flow named by `req` for this browser, or the page to answer instead.
async fn pending(oidc: &Oidc, headers: &HeaderMap, params: &Params) -> Result<Pending, Response> {
    let lang = Lang::choose(None, accept_language(headers));
    let id = params.get("req").unwrap_or_default();
    let browser = cookie(headers, FLOW_COOKIE);
    match flow::load::<AuthRequest>(oidc.ephemeral.as_ref(), AUTHZ, id, browser.as_ref()).await {
        Ok(Some(flow)) => Ok(Pending {
            id: id.to_owned(),
            lang: Lang::choose(flow.payload.ui_locales.as_deref(), accept_language(headers)),
            flow,
        }),
        Ok(None) => Err(pages::error(
            StatusCode::BAD_REQUEST,
            lang,
            texts(lang).expired,
        )),
        Err(err) => Err(internal_page(lang, &err)),
    }
}

/// A posted form of a pending flow, checked: the flow exists for this browser and the
/// form carries its CSRF token.
async fn posted(
    oidc: &Oidc,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Pending, Params), Response> {
    let lang = Lang::choose(None, accept_language(headers));
    let params = Params::parse(body)
        .map_err(|_| pages::error(StatusCode::BAD_REQUEST, lang, texts(lang).forbidden))?;
    let pending = pending(oidc, headers, &params).await?;
    if !pending
        .flow
        .csrf_matches(params.get("csrf").unwrap_or_default())
    {
        let lang = pending.lang;
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            lang,
            texts(lang).forbidden,
        ));
    }
    Ok((pending, params))
}

fn client_name<'a>(oidc: &'a Oidc, req: &AuthRequest) -> (&'a str, Option<&'a str>) {
    oidc.client(&req.client_id).map_or(("?", None), |c| {
        (c.reg.name.as_str(), Some(c.origins.as_str()))
    })
}

/// `GET /login?req=...`.
pub async fn login_page(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let p = match pending(&oidc, &headers, &params).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let (name, origins) = client_name(&oidc, &p.flow.payload);
    pages::login(
        StatusCode::OK,
        &LoginPage {
            lang: p.lang,
            client_name: name,
            req: &p.id,
            csrf: &p.flow.csrf,
            personal_id: p.flow.payload.login_hint.as_deref(),
            error: None,
            form_target: origins,
        },
    )
}

/// How a login attempt ended, when it did not succeed.
enum LoginFailure {
    Malformed,
    RateLimited,
    BadCredentials,
    Inactive,
}

/// `POST /login`: checks the personal ID number and password, starts a session and
/// continues the authorization.
pub async fn login_submit(
    State(oidc): State<Arc<Oidc>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (p, params) = match posted(&oidc, &headers, &body).await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let peer = peer.map_or(
        SocketAddr::from(([0, 0, 0, 0], 0)),
        |Extension(ConnectInfo(a))| a,
    );
    let ip = client_ip(peer, &headers).to_string();
    let typed_id = params.get("personal_id").unwrap_or_default();
    let outcome = login(
        &oidc,
        &ip,
        typed_id,
        params.get("password").unwrap_or_default(),
        &p.flow.payload,
    )
    .await;
    let account = match outcome {
        Ok(Ok(account)) => account,
        Ok(Err(failure)) => {
            let t = texts(p.lang);
            let (status, message) = match failure {
                LoginFailure::Malformed => (StatusCode::BAD_REQUEST, t.bad_personal_id),
                LoginFailure::RateLimited => (StatusCode::TOO_MANY_REQUESTS, t.rate_limited),
                LoginFailure::BadCredentials => (StatusCode::UNAUTHORIZED, t.bad_credentials),
                LoginFailure::Inactive => (StatusCode::FORBIDDEN, t.inactive),
            };
            let (name, origins) = client_name(&oidc, &p.flow.payload);
            let shown_id = typed_id.len() <= 12 && typed_id.bytes().all(|b| b.is_ascii_digit());
            return pages::login(
                status,
                &LoginPage {
                    lang: p.lang,
                    client_name: name,
                    req: &p.id,
                    csrf: &p.flow.csrf,
                    personal_id: shown_id.then_some(typed_id),
                    error: Some(message),
                    form_target: origins,
                },
            );
        }
        Err(err) => return internal_page(p.lang, &err),
    };
    let session = match new_session(&oidc, &account).await {
        Ok(session) => session,
        Err(err) => return internal_page(p.lang, &err),
    };
    // A new session value on every login (no session fixation); the old one ends.
    if let Some(old) = cookie(&headers, SESSION_COOKIE)
        && let Err(err) = session::end(oidc.ephemeral.as_ref(), &old).await
    {
        return internal_page(p.lang, &err);
    }
    let value = match session::start(oidc.ephemeral.as_ref(), &session, oidc.session_lifetime).await
    {
        Ok(value) => value,
        Err(err) => return internal_page(p.lang, &err),
    };
    let mut response = proceed(&oidc, p, &session, false).await;
    set_cookie(
        &mut response,
        SESSION_COOKIE,
        Some(value.expose()),
        oidc.secure_cookies,
    );
    response
}

/// Authenticates `typed_id` with `password`, counting failures per account and per IP.
async fn login(
    oidc: &Oidc,
    ip: &str,
    typed_id: &str,
    password: &str,
    req: &AuthRequest,
) -> anyhow::Result<Result<Account, LoginFailure>> {
    let Ok(personal_id) = PersonalId::parse(typed_id) else {
        oidc.metrics.login("malformed");
        return Ok(Err(LoginFailure::Malformed));
    };
    let account_key = personal_id.expose();
    if oidc.login_ip.is_limited(ip).await? || oidc.login_account.is_limited(&account_key).await? {
        oidc.metrics.login("rate_limited");
        return Ok(Err(LoginFailure::RateLimited));
    }
    let account = oidc.durable.find_account(&personal_id).await?;
    let stored = match &account {
        Some(account) => oidc.durable.password(account.id).await?,
        None => None,
    };
    let verification = match (Password::new(password), &stored) {
        (Ok(password), Some(stored)) => oidc.hasher.verify(password, &stored.phc).await?,
        (Ok(password), None) => oidc.hasher.verify_unknown_account(password).await?,
        (Err(_), _) => Verification::Invalid,
    };
    let client = ClientId::new(req.client_id.clone()).ok();
    let mut record = AuditRecord::new(AuditEvent::Authentication, Actor::System, Outcome::Failure);
    record.relying_party = client;
    record.subject = account.as_ref().map(|a| a.id);
    match (verification, account) {
        (Verification::Valid { rehash }, Some(account)) => {
            if account.status != AccountStatus::Active {
                oidc.metrics.login("inactive");
                oidc.durable.append_audit(record).await?;
                return Ok(Err(LoginFailure::Inactive));
            }
            oidc.login_account.reset(&account_key).await?;
            if let Some(phc) = rehash {
                oidc.durable.set_password(account.id, &phc).await?;
            }
            Ok(Ok(account))
        }
        _ => {
            oidc.login_ip.hit(ip).await?;
            oidc.login_account.hit(&account_key).await?;
            oidc.metrics.login("bad_credentials");
            oidc.durable.append_audit(record).await?;
            Ok(Err(LoginFailure::BadCredentials))
        }
    }
}

/// The session of a password login to `account`: its level is the weaker of the
/// account's best valid identity proofing and what a password supports.
async fn new_session(oidc: &Oidc, account: &Account) -> anyhow::Result<Session> {
    let now = time::OffsetDateTime::now_utc();
    let proofed = oidc
        .durable
        .ekyc_records(account.id)
        .await?
        .into_iter()
        .filter(|r| r.is_valid_at(now))
        .map(|r| r.loa)
        .max();
    let loa: Option<Loa> = proofed.map(|p| p.min(Authenticator::Password.cap()));
    let session = Session {
        account: account.id,
        auth_time: now.unix_timestamp(),
        loa,
        amr: vec!["pwd".to_owned()],
    };
    let mut record = AuditRecord::new(
        AuditEvent::Authentication,
        Actor::Account(account.id),
        Outcome::Success,
    );
    record.subject = Some(account.id);
    record.loa = loa;
    oidc.durable.append_audit(record).await?;
    oidc.metrics.login("success");
    Ok(session)
}

/// Continues a pending authorization once the citizen has `session`.
async fn proceed(oidc: &Oidc, p: Pending, session: &Session, consented: bool) -> Response {
    let req = &p.flow.payload;
    let next = match decide(oidc, Some(session), req, p.flow.created_at, consented).await {
        Ok(next) => next,
        Err(err) => return internal_page(p.lang, &err),
    };
    if let Next::Consent = next {
        return see_other(&format!("{}?req={}", paths::CONSENT, p.id));
    }
    // The flow ends here: take it, so a concurrent submission cannot answer it twice.
    match flow::finish(oidc.ephemeral.as_ref(), AUTHZ, &p.id).await {
        Ok(true) => {}
        Ok(false) => return pages::error(StatusCode::BAD_REQUEST, p.lang, texts(p.lang).expired),
        Err(err) => return internal_page(p.lang, &err),
    }
    match next {
        Next::Issue(session) => issue_code(oidc, req, &session, p.lang).await,
        Next::Fail(err) => {
            redirect_error(&req.redirect_uri, err, req.state.as_deref(), &oidc.issuer)
        }
        Next::Login | Next::Consent => internal_page(p.lang, &"login loop"),
    }
}

/// `GET /consent?req=...`.
pub async fn consent_page(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let p = match pending(&oidc, &headers, &params).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    match current_session(&oidc, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return see_other(&format!("{}?req={}", paths::LOGIN, p.id)),
        Err(err) => return internal_page(p.lang, &err),
    }
    let (names, _) = shared(&p.flow.payload);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (name, origins) = client_name(&oidc, &p.flow.payload);
    pages::consent(p.lang, name, &p.id, &p.flow.csrf, &names, origins)
}

/// `POST /consent`: records the citizen's decision and answers the client.
pub async fn consent_submit(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (p, params) = match posted(&oidc, &headers, &body).await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let session = match current_session(&oidc, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => return see_other(&format!("{}?req={}", paths::LOGIN, p.id)),
        Err(err) => return internal_page(p.lang, &err),
    };
    let req = &p.flow.payload;
    let allowed = match params.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return pages::error(StatusCode::BAD_REQUEST, p.lang, texts(p.lang).forbidden),
    };
    if !allowed {
        return match flow::finish(oidc.ephemeral.as_ref(), AUTHZ, &p.id).await {
            Ok(true) => redirect_error(
                &req.redirect_uri,
                AuthzError::new("access_denied", "the citizen refused consent"),
                req.state.as_deref(),
                &oidc.issuer,
            ),
            Ok(false) => pages::error(StatusCode::BAD_REQUEST, p.lang, texts(p.lang).expired),
            Err(err) => internal_page(p.lang, &err),
        };
    }
    if let Err(err) = record_consent(&oidc, &session, req).await {
        return internal_page(p.lang, &err);
    }
    proceed(&oidc, p, &session, true).await
}

async fn record_consent(oidc: &Oidc, session: &Session, req: &AuthRequest) -> anyhow::Result<()> {
    let client = ClientId::new(req.client_id.clone())?;
    let (scopes, claims) = shared(req);
    oidc.durable
        .grant_consent(session.account, &client, &scopes, &claims)
        .await?;
    let mut record = AuditRecord::new(
        AuditEvent::ConsentGranted,
        Actor::Account(session.account),
        Outcome::Success,
    );
    record.subject = Some(session.account);
    record.relying_party = Some(client);
    record.attributes = claims
        .iter()
        .filter_map(|c| AttributeName::new(c.as_str()).ok())
        .collect();
    oidc.durable.append_audit(record).await?;
    Ok(())
}
