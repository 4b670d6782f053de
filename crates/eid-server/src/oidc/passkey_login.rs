//! Logging in with a passkey, within a pending flow of the login page: passwordless
//! (any discoverable passkey, also offered as autofill), with the passkeys of a typed
//! personal ID number, or as the step-up of a logged-in citizen.
//!
//! `POST /passkey/options` starts a ceremony bound to the flow and answers the options
//! for `navigator.credentials.get` as JSON; the page's script posts the browser's answer
//! to `POST /passkey/login` as a form, which continues the flow like a password login.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::PersonalId;
use eid_core::credential::passkey::PasskeyError;
use eid_core::ratelimit::Decision;
use eid_core::store::{AccountStatus, ClientId};

use super::authn::Method;
use super::authorize::{Pending, PostedForm, internal_page};
use super::lang::Lang;
use super::login::{form, sign_in, step_up_session};
use super::pages::{no_store, texts};
use super::{ClientIp, Oidc};

/// The ceremony context of a login within flow `p`: a ceremony started for one flow
/// cannot finish another.
fn context(p: &Pending) -> String {
    format!("login:{}", p.id)
}

/// Counts a ceremony started from `ip`; the answer to give instead when over the limit.
pub(super) async fn count_ceremony(oidc: &Oidc, ip: IpAddr, lang: Lang) -> Option<Response> {
    match oidc.ceremony_ip.hit(&ip.to_string()).await {
        Ok(Decision::Allowed { .. }) => None,
        Ok(Decision::Limited) => Some(json_error(
            StatusCode::TOO_MANY_REQUESTS,
            texts(lang).rate_limited,
        )),
        Err(err) => {
            tracing::error!(cause = %err, "request failed");
            Some(json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                texts(lang).internal,
            ))
        }
    }
}

/// A JSON error for the page's script, with a message for the citizen.
pub(super) fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        no_store(),
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// `POST /passkey/options` (form: `req`, `csrf`, optional `personal_id`). A typed number
/// gets its passkeys' credential IDs, which tells whether it has any: such requests count
/// against the client IP's login limit.
pub async fn options(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    PostedForm {
        pending: p,
        params,
        headers,
    }: PostedForm,
) -> Response {
    let t = texts(p.lang);
    if let Some(refusal) = count_ceremony(&oidc, ip, p.lang).await {
        return refusal;
    }
    let typed = params.get("personal_id").filter(|id| !id.is_empty());
    let account = match typed {
        Some(typed) => {
            let Ok(personal_id) = PersonalId::parse(typed) else {
                return json_error(StatusCode::BAD_REQUEST, t.bad_personal_id);
            };
            match oidc.login_ip.hit(&ip.to_string()).await {
                Ok(Decision::Allowed { .. }) => {}
                Ok(Decision::Limited) => {
                    return json_error(StatusCode::TOO_MANY_REQUESTS, t.rate_limited);
                }
                Err(err) => return internal_page(p.lang, &err),
            }
            match oidc.durable.find_account(&personal_id).await {
                Ok(account) => account.map(|a| a.id),
                Err(err) => return internal_page(p.lang, &err),
            }
        }
        None => match step_up_session(&oidc, &headers, &p).await {
            Ok(session) => session.map(|s| s.account),
            Err(err) => return internal_page(p.lang, &err),
        },
    };
    let records = match account {
        Some(account) => match oidc.durable.passkeys(account).await {
            Ok(records) => records,
            Err(err) => return internal_page(p.lang, &err),
        },
        None => Vec::new(),
    };
    let started = oidc
        .passkeys
        .start_login(&context(&p), account.map(|a| (a, records.as_slice())))
        .await;
    match started {
        Ok(challenge) => (no_store(), Json(challenge)).into_response(),
        Err(err) => internal_page(p.lang, &err),
    }
}

/// `POST /passkey/login` (form: `req`, `csrf`, `ceremony`, `credential`): checks the
/// browser's answer and, when it is right, logs the citizen in and continues the flow.
/// Each attempt counts against the client IP's login limit before it is checked.
pub async fn login(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    PostedForm {
        pending: p,
        params,
        headers,
    }: PostedForm,
) -> Response {
    let t = texts(p.lang);
    let refuse =
        async |status, message| form(&oidc, &headers, &p, status, None, Some(message)).await;
    match oidc.login_ip.hit(&ip.to_string()).await {
        Ok(Decision::Allowed { .. }) => {}
        Ok(Decision::Limited) => {
            oidc.metrics.login("rate_limited");
            return refuse(StatusCode::TOO_MANY_REQUESTS, t.rate_limited).await;
        }
        Err(err) => return internal_page(p.lang, &err),
    }
    let finished = oidc
        .passkeys
        .finish_login(
            &context(&p),
            params.get("ceremony").unwrap_or_default(),
            params.get("credential").unwrap_or_default(),
            oidc.durable.as_ref(),
        )
        .await;
    let client = p
        .request()
        .and_then(|r| ClientId::new(r.client_id.clone()).ok());
    let failure = |event, subject| {
        let mut record = AuditRecord::new(event, Actor::System, Outcome::Failure);
        record.relying_party = client.clone();
        record.subject = subject;
        record
    };
    let login = match finished {
        Ok(login) => login,
        Err(PasskeyError::PossibleClone { account, .. }) => {
            tracing::warn!("passkey refused: its signature counter went backwards");
            oidc.metrics.login("passkey_clone");
            let record = failure(AuditEvent::CredentialCloneSuspected, Some(account));
            if let Err(err) = oidc.audit.append(record).await {
                return internal_page(p.lang, &err);
            }
            return refuse(StatusCode::FORBIDDEN, t.passkey_clone).await;
        }
        Err(PasskeyError::Expired) => {
            oidc.metrics.login("passkey_expired");
            return refuse(StatusCode::BAD_REQUEST, t.passkey_expired).await;
        }
        Err(err @ (PasskeyError::Store(_) | PasskeyError::Config(_))) => {
            return internal_page(p.lang, &err);
        }
        Err(err) => {
            tracing::info!(reason = %err, "passkey login refused");
            oidc.metrics.login("passkey_rejected");
            if let Err(err) = oidc
                .audit
                .append(failure(AuditEvent::Authentication, None))
                .await
            {
                return internal_page(p.lang, &err);
            }
            return refuse(StatusCode::UNAUTHORIZED, t.passkey_rejected).await;
        }
    };
    let account = match oidc.durable.account(login.account).await {
        Ok(account) => account,
        Err(err) => return internal_page(p.lang, &err),
    };
    if account.status != AccountStatus::Active {
        oidc.metrics.login("inactive");
        let record = failure(AuditEvent::Authentication, Some(account.id));
        if let Err(err) = oidc.audit.append(record).await {
            return internal_page(p.lang, &err);
        }
        return refuse(StatusCode::FORBIDDEN, t.inactive).await;
    }
    sign_in(&oidc, &headers, p, &account, Method::Passkey(&login)).await
}
