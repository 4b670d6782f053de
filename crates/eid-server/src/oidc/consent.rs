//! The consent page: what the relying party asks to receive, allowed or denied by the
//! citizen who authenticated in the flow. A consent is recorded (and audited) only when
//! the request is then answered with a code.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use eid_core::audit::{Actor, AttributeName, AuditEvent, AuditRecord, Outcome};
use eid_core::store::ClientId;

use super::authorize::{
    AUTHZ, Pending, PostedForm, answer_error, client_name, current_session, internal_page, proceed,
    shared, shown,
};
use super::error::{AuthzError, see_other};
use super::flow;
use super::pages::{self, texts};
use super::request::AuthRequest;
use super::session::Session;
use super::{Oidc, paths};

/// The session of the citizen the flow belongs to, or the redirect to log in again. A
/// sign-in to the account page has nothing to consent to.
async fn citizen<'p>(
    oidc: &Oidc,
    headers: &HeaderMap,
    p: &'p Pending,
) -> Result<(Session, &'p AuthRequest), Response> {
    let Some(req) = p.request() else {
        return Err(pages::error(
            StatusCode::BAD_REQUEST,
            p.lang,
            texts(p.lang).expired,
        ));
    };
    match current_session(oidc, headers).await {
        Ok(Some(session)) if p.is_for(&session) => Ok((session, req)),
        Ok(_) => Err(see_other(&format!("{}?req={}", paths::LOGIN, p.id))),
        Err(err) => Err(internal_page(p.lang, &err)),
    }
}

/// `GET /consent?req=...`.
pub async fn consent_page(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let p = match shown(&oidc, &headers, query).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let req = match citizen(&oidc, &headers, &p).await {
        Ok((_, req)) => req,
        Err(page) => return page,
    };
    let (names, _) = shared(req);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (name, origins) = client_name(&oidc, Some(req), p.lang);
    pages::consent(p.lang, name, &p.id, &p.flow.csrf, &names, origins)
}

/// `POST /consent`: the citizen's decision.
pub async fn consent_submit(
    State(oidc): State<Arc<Oidc>>,
    PostedForm {
        pending: p,
        params,
        headers,
    }: PostedForm,
) -> Response {
    let (session, req) = match citizen(&oidc, &headers, &p).await {
        Ok((session, req)) => (session, req.clone()),
        Err(page) => return page,
    };
    match params.get("decision") {
        Some("allow") => proceed(&oidc, p, &session, true).await,
        Some("deny") => match flow::finish(oidc.ephemeral.as_ref(), AUTHZ, &p.id).await {
            Ok(true) => answer_error(
                &oidc,
                &req,
                AuthzError::new("access_denied", "the citizen refused consent"),
                p.lang,
            ),
            Ok(false) => pages::error(StatusCode::BAD_REQUEST, p.lang, texts(p.lang).expired),
            Err(err) => internal_page(p.lang, &err),
        },
        _ => pages::error(StatusCode::BAD_REQUEST, p.lang, texts(p.lang).forbidden),
    }
}

/// Records (and audits) the consent `req` asked `session`'s citizen for.
pub(super) async fn record(
    oidc: &Oidc,
    session: &Session,
    req: &AuthRequest,
) -> anyhow::Result<()> {
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
    oidc.audit.append(record).await?;
    Ok(())
}
