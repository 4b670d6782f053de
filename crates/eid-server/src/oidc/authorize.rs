//! The authorization endpoint and the decisions of a pending authorization.
//!
//! `/authorize` validates the request (see [`super::request`]), then either answers at
//! once (a live session that satisfies the request, consent on file) or files the request
//! as a pending flow and sends the browser to `/login` or `/consent` (see [`super::login`]
//! and [`super::consent`]). Those pages post back with the flow id and its CSRF token; the
//! flow is bound to the browser's `eid_flow` cookie. The last step takes the flow and
//! redirects to the client with a single-use code.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_core::oauth::CodeGrant;
use eid_core::store::{AccountId, AccountStatus, ClientId, StoreError};
use eid_core::token::OpaqueToken;
use serde::{Deserialize, Serialize};

use super::error::{AuthzError, redirect_error, redirect_url, see_other};
use super::flow::{self, Flow};
use super::lang::Lang;
use super::pages::{self, texts};
use super::params::{Params, RawParams};
use super::request::{self, AuthRequest, RedirectReply, Reply};
use super::session::{self, Browser, Session, cookie, flow_cookie, session_cookie};
use super::{Oidc, authn, par, paths, saml_sso};

/// The flow kind of pending authorizations.
pub(super) const AUTHZ: &str = "authz";

/// A pending authorization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Authorization {
    /// The validated request; `None` when the citizen signs in to their own account page.
    pub request: Option<AuthRequest>,
    /// The account whose authentication satisfies this request: set when the citizen
    /// logs in within the flow (or had a fresh session when it started). Later steps
    /// need the same account's session, and count it as fresh for `prompt=login` and
    /// `max_age`.
    pub account: Option<AccountId>,
}

/// `GET` or `POST /authorize` (OIDC Core 3.1.2.1: both methods MUST be supported).
pub async fn authorize_endpoint(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    params: RawParams,
) -> Response {
    authorize(&oidc, &headers, &params.raw).await
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
        let hint = |token: &str| client.id_token_subject(token);
        match request::validate(
            &client.reg,
            redirect_uri,
            &params,
            oidc.tokens.acr_table(),
            &hint,
        ) {
            Ok(req) => req,
            Err(err) => return redirect_error(redirect_uri, err, state, &oidc.issuer),
        }
    };
    begin(oidc, headers, req).await
}

/// Answers a validated request at once or files it as a pending flow (the part of
/// `/authorize` shared with SAML single sign-on).
pub(super) async fn begin(oidc: &Oidc, headers: &HeaderMap, req: AuthRequest) -> Response {
    let lang = Lang::choose(req.ui_locales.as_deref(), accept_language(headers));
    let session = match current_session(oidc, headers).await {
        Ok(session) => session,
        Err(err) => return internal_page(lang, &err),
    };
    let next = match decide(oidc, session.as_ref(), &req, None, false).await {
        Ok(next) => next,
        Err(err) => return internal_page(lang, &err),
    };
    let (page, account) = match next {
        Next::Issue(session) => return answer(oidc, &req, &session, lang).await,
        Next::Fail(err) => return answer_error(oidc, &req, err, lang),
        Next::Login => (paths::LOGIN, None),
        Next::StepUp(account) => (paths::LOGIN, Some(account)),
        Next::Consent(account) => (paths::CONSENT, Some(account)),
    };
    let pending = Authorization {
        request: Some(req),
        account,
    };
    start_flow(oidc, headers, &pending, page, lang).await
}

/// Files `pending` as a new flow bound to this browser and sends the browser to `page`.
pub(super) async fn start_flow(
    oidc: &Oidc,
    headers: &HeaderMap,
    pending: &Authorization,
    page: &str,
    lang: Lang,
) -> Response {
    let browser = Browser::of(headers, oidc.secure_cookies);
    let created = flow::create(
        oidc.ephemeral.as_ref(),
        AUTHZ,
        pending,
        &browser.id,
        unix_now(),
    );
    let id = match created.await {
        Ok((id, _)) => id,
        Err(err) => return internal_page(lang, &err),
    };
    let mut response = see_other(&format!("{page}?req={}", id.expose()));
    browser.remember(&mut response, oidc.secure_cookies);
    response
}

/// What a request needs next.
pub(super) enum Next {
    /// The citizen must log in.
    Login,
    /// The citizen (this account) must consent.
    Consent(AccountId),
    /// The citizen (this account) must confirm with a passkey to reach the requested level.
    StepUp(AccountId),
    /// A code can be issued for this session.
    Issue(Session),
    /// The request fails with this error.
    Fail(AuthzError),
}

/// Decides the next step of `req` for `session`. `satisfied_by` is the account whose
/// authentication within the flow already satisfies the request; `consented` is true
/// right after the citizen agreed on the consent page.
pub(super) async fn decide(
    oidc: &Oidc,
    session: Option<&Session>,
    req: &AuthRequest,
    satisfied_by: Option<AccountId>,
    consented: bool,
) -> Result<Next, StoreError> {
    let session = match session {
        Some(s) if satisfied_by == Some(s.account) || fresh(oidc, s, req) => Some(s),
        _ => None,
    };
    // A suspended or locked account no longer signs in anywhere, session or not.
    let session = match session {
        Some(s) if oidc.durable.account(s.account).await?.status == AccountStatus::Active => {
            Some(s)
        }
        _ => None,
    };
    let Some(session) = session else {
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
        // A passkey login reaches the account's proofing level: step up when that is
        // enough, else the level cannot be met (OpenID Connect Core 1.0 incorporating
        // errata set 2, section 5.5.1.1; the error code is from OpenID Connect Core
        // Unmet Authentication Requirements 1.0).
        let reachable = authn::passkey_reaches(oidc, session.account, min).await?;
        return Ok(match (reachable, req.prompt.none) {
            (true, false) => Next::StepUp(session.account),
            // OIDC Core 3.1.2.6: prompt=none and the citizen would have to interact.
            (true, true) => Next::Fail(AuthzError::new(
                "interaction_required",
                "the citizen must confirm with a passkey",
            )),
            (false, _) => Next::Fail(AuthzError::new(
                "unmet_authentication_requirements",
                "the requested level of assurance cannot be reached",
            )),
        });
    }
    if !consented && (req.prompt.consent || !consent_on_file(oidc, session, req).await?) {
        return Ok(if req.prompt.none {
            Next::Fail(AuthzError::new(
                "consent_required",
                "the citizen has not consented",
            ))
        } else {
            Next::Consent(session.account)
        });
    }
    Ok(Next::Issue(session.clone()))
}

/// Whether a session that predates the request satisfies it: no `prompt=login`, not older
/// than `max_age` (OIDC Core 3.1.2.1), and the citizen `id_token_hint` names.
fn fresh(oidc: &Oidc, session: &Session, req: &AuthRequest) -> bool {
    let recent = req.max_age.is_none_or(|max| {
        unix_now().saturating_sub(session.auth_time) <= i64::try_from(max).unwrap_or(i64::MAX)
    });
    let hinted = match (&req.hint_sub, oidc.client(&req.client_id)) {
        (None, _) => true,
        (Some(sub), Some(client)) => {
            oidc.tokens
                .subject(&client.relying_party(), session.account.as_uuid())
                == *sub
        }
        (Some(_), None) => false,
    };
    !req.prompt.login && recent && hinted
}

/// The scope and claim names a request asks the citizen to share.
pub(super) fn shared(req: &AuthRequest) -> (BTreeSet<String>, BTreeSet<String>) {
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
) -> Result<bool, StoreError> {
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
) -> Result<Option<Session>, StoreError> {
    match cookie(headers, session_cookie(oidc.secure_cookies)) {
        Some(value) => session::load(oidc.ephemeral.as_ref(), &value).await,
        None => Ok(None),
    }
}

/// Answers `req` for `session`: a code for an OAuth client, an assertion for a SAML
/// service provider.
async fn answer(oidc: &Oidc, req: &AuthRequest, session: &Session, lang: Lang) -> Response {
    match &req.reply {
        Reply::Redirect(reply) => issue_code(oidc, req, reply, session, lang).await,
        Reply::Saml(reply) => saml_sso::respond(oidc, req, reply, session, lang).await,
    }
}

/// Answers `req` with `err`: by redirect to an OAuth client (with its `state`), as a
/// SAML status to a service provider.
pub(super) fn answer_error(
    oidc: &Oidc,
    req: &AuthRequest,
    err: AuthzError,
    lang: Lang,
) -> Response {
    match &req.reply {
        Reply::Redirect(reply) => redirect_error(
            &reply.redirect_uri,
            err,
            reply.state.as_deref(),
            &oidc.issuer,
        ),
        Reply::Saml(reply) => saml_sso::respond_error(oidc, req, reply, &err, lang),
    }
}

/// Issues a code for `req` and redirects to the client with it.
async fn issue_code(
    oidc: &Oidc,
    req: &AuthRequest,
    reply: &RedirectReply,
    session: &Session,
    lang: Lang,
) -> Response {
    let grant = CodeGrant {
        client_id: req.client_id.clone(),
        redirect_uri: reply.redirect_uri.clone(),
        account: session.account,
        scope: req.scope.clone(),
        nonce: reply.nonce.clone(),
        challenge: reply.challenge.clone(),
        auth_time: session.auth_time,
        loa: session.loa,
        amr: session.amr.clone(),
    };
    let code = match oidc.codes.issue(&grant).await {
        Ok(code) => code,
        Err(err) => return internal_page(lang, &err),
    };
    match redirect_url(
        &reply.redirect_uri,
        &[("code", code.expose())],
        reply.state.as_deref(),
        &oidc.issuer,
    ) {
        Some(url) => see_other(url.as_str()),
        None => internal_page(lang, &"unusable redirect URI"),
    }
}

/// A pending authorization loaded for a page or a form.
pub(super) struct Pending {
    pub id: String,
    pub flow: Flow<Authorization>,
    pub lang: Lang,
}

impl Pending {
    /// The relying party's request (`None` for a sign-in to the account page).
    pub fn request(&self) -> Option<&AuthRequest> {
        self.flow.payload.request.as_ref()
    }

    /// Whether `session` belongs to the account the flow is bound to (if it is bound).
    pub fn is_for(&self, session: &Session) -> bool {
        self.flow
            .payload
            .account
            .is_none_or(|account| account == session.account)
    }
}

/// Loads the flow named by `req` for this browser, or the page to answer instead.
async fn pending(oidc: &Oidc, headers: &HeaderMap, params: &Params) -> Result<Pending, Response> {
    let lang = Lang::choose(None, accept_language(headers));
    let id = params.get("req").unwrap_or_default();
    let browser = cookie(headers, flow_cookie(oidc.secure_cookies));
    let loaded = flow::load::<Authorization>(oidc.ephemeral.as_ref(), AUTHZ, id, browser.as_ref());
    match loaded.await {
        Ok(Some(flow)) => Ok(Pending {
            id: id.to_owned(),
            lang: Lang::choose(
                flow.payload
                    .request
                    .as_ref()
                    .and_then(|r| r.ui_locales.as_deref()),
                accept_language(headers),
            ),
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

/// The pending flow named by a page's query string.
pub(super) async fn shown(
    oidc: &Oidc,
    headers: &HeaderMap,
    query: Option<String>,
) -> Result<Pending, Response> {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    pending(oidc, headers, &params).await
}

/// A posted form of a pending flow, checked: the flow exists for this browser and the
/// form carries its CSRF token.
pub(super) async fn posted(
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

/// A posted form of a pending flow, checked as [`posted`] does: the extractor of the
/// flows' form handlers (the request's headers come with it).
pub(super) struct PostedForm {
    pub pending: Pending,
    pub params: Params,
    pub headers: HeaderMap,
}

impl FromRequest<Arc<Oidc>> for PostedForm {
    type Rejection = Response;

    async fn from_request(request: Request, oidc: &Arc<Oidc>) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, oidc)
            .await
            .map_err(IntoResponse::into_response)?;
        let (pending, params) = posted(oidc, &headers, &body).await?;
        Ok(Self {
            pending,
            params,
            headers,
        })
    }
}

/// The client's display name and its redirect origins (for the pages' `form-action`);
/// for a sign-in to the account page, the page's name.
pub(super) fn client_name<'a>(
    oidc: &'a Oidc,
    req: Option<&AuthRequest>,
    lang: Lang,
) -> (&'a str, Option<&'a str>) {
    let Some(req) = req else {
        return (texts(lang).account_title, None);
    };
    if let Reply::Saml(_) = req.reply {
        // The answer is a page of its own (posting to the service provider).
        return (oidc.relying_party_name(&req.client_id).unwrap_or("?"), None);
    }
    oidc.client(&req.client_id).map_or(("?", None), |c| {
        (c.reg.name.as_str(), Some(c.origins.as_str()))
    })
}

/// Binds the flow to `account` (it logged in within the flow); `false` if the flow has
/// ended meanwhile.
pub(super) async fn bind(
    oidc: &Oidc,
    p: &mut Pending,
    account: AccountId,
) -> Result<bool, StoreError> {
    p.flow.payload.account = Some(account);
    flow::update(oidc.ephemeral.as_ref(), AUTHZ, &p.id, &p.flow).await
}

/// Continues a pending authorization once the citizen has `session`; `consented` is true
/// when the citizen has just agreed, and the consent is recorded only if the request is
/// then answered with a code.
pub(super) async fn proceed(
    oidc: &Oidc,
    p: Pending,
    session: &Session,
    consented: bool,
) -> Response {
    let Some(req) = p.request() else {
        // A sign-in to the account page: done.
        return match flow::finish(oidc.ephemeral.as_ref(), AUTHZ, &p.id).await {
            Ok(_) => see_other(paths::ACCOUNT),
            Err(err) => internal_page(p.lang, &err),
        };
    };
    let next = match decide(oidc, Some(session), req, p.flow.payload.account, consented).await {
        Ok(next) => next,
        Err(err) => return internal_page(p.lang, &err),
    };
    let outcome = match next {
        Next::Issue(session) => Ok(session),
        Next::Fail(err) => Err(err),
        Next::Consent(_) => return see_other(&format!("{}?req={}", paths::CONSENT, p.id)),
        Next::Login | Next::StepUp(_) => {
            return see_other(&format!("{}?req={}", paths::LOGIN, p.id));
        }
    };
    // The flow ends here: take it, so a concurrent submission cannot answer it twice.
    match flow::finish(oidc.ephemeral.as_ref(), AUTHZ, &p.id).await {
        Ok(true) => {}
        Ok(false) => {
            return pages::error(StatusCode::BAD_REQUEST, p.lang, texts(p.lang).expired);
        }
        Err(err) => return internal_page(p.lang, &err),
    }
    match outcome {
        Ok(session) => {
            if consented && let Err(err) = super::consent::record(oidc, &session, req).await {
                return internal_page(p.lang, &err);
            }
            answer(oidc, req, &session, p.lang).await
        }
        Err(err) => answer_error(oidc, req, err, p.lang),
    }
}

/// Ends the session `headers` carry, if any, and starts `session` in its place (a new
/// value at every login: no session fixation); returns the new cookie value.
pub(super) async fn replace_session(
    oidc: &Oidc,
    headers: &HeaderMap,
    session: &Session,
) -> Result<OpaqueToken, StoreError> {
    if let Some(old) = cookie(headers, session_cookie(oidc.secure_cookies)) {
        session::end(oidc.ephemeral.as_ref(), &old).await?;
    }
    session::start(oidc.ephemeral.as_ref(), session, oidc.session_lifetime).await
}
