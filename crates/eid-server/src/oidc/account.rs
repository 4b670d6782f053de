//! The citizen's account page: their passkeys (enrol, rename, delete) and recent activity.
//!
//! Changing passkeys needs a sign-in within [`REAUTH_AFTER`] (a stolen session cookie
//! alone cannot plant a passkey); forms carry the session's CSRF token; every change is
//! audited and reported on the page; deleting the citizen's last way to sign in is
//! refused.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use eid_core::assurance::Loa;
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::credential::passkey::PasskeyError;
use eid_core::store::{AccountId, AccountStatus, PasskeyId, StoreError, Unique};
use eid_core::token::OpaqueToken;
use time::macros::format_description;

use super::authorize::{Authorization, accept_language, internal_page, start_flow, unix_now};
use super::error::see_other;
use super::lang::Lang;
use super::pages::{self, Activity, PasskeyRow, no_store, notice, texts};
use super::params::Params;
use super::passkey_login::{count_ceremony, json_error};
use super::session::{self, Session, cookie, csrf_matches, csrf_token, session_cookie};
use super::{ClientIp, Oidc, paths};

/// Passkeys can be changed this long after signing in; later, the citizen signs in again.
pub const REAUTH_AFTER: Duration = Duration::from_secs(15 * 60);
/// How long one credential change holds the account's change lock at most.
const CHANGE_LOCK: Duration = Duration::from_secs(30);
/// Activity entries shown.
const ACTIVITY: u32 = 10;

/// A signed-in citizen on the account pages.
pub(super) struct Citizen {
    pub(super) session: Session,
    cookie: OpaqueToken,
    pub(super) lang: Lang,
}

impl Citizen {
    fn context(&self) -> String {
        format!("enrol:{}", csrf_token(&self.cookie))
    }

    /// Whether the citizen signed in within `window`.
    fn signed_in_within(&self, window: Duration) -> bool {
        let age = unix_now().saturating_sub(self.session.auth_time);
        u64::try_from(age).is_ok_and(|age| age <= window.as_secs())
    }

    pub(super) fn audit(&self, event: AuditEvent, outcome: Outcome) -> AuditRecord {
        let mut record = AuditRecord::new(event, Actor::Account(self.session.account), outcome);
        record.subject = Some(self.session.account);
        record
    }
}

/// The citizen signed in with `headers`' session; a suspended or locked account counts
/// as signed out, as everywhere else.
async fn citizen(oidc: &Oidc, headers: &HeaderMap) -> Result<Option<Citizen>, StoreError> {
    let lang = Lang::choose(None, accept_language(headers));
    let Some(cookie) = cookie(headers, session_cookie(oidc.secure_cookies)) else {
        return Ok(None);
    };
    let Some(session) = session::load(oidc.ephemeral.as_ref(), &cookie).await? else {
        return Ok(None);
    };
    if oidc.durable.account(session.account).await?.status != AccountStatus::Active {
        return Ok(None);
    }
    Ok(Some(Citizen {
        session,
        cookie,
        lang,
    }))
}

/// Sends the browser to the login page, to come back here signed in.
async fn sign_in(oidc: &Oidc, headers: &HeaderMap, lang: Lang) -> Response {
    let pending = Authorization {
        request: None,
        account: None,
    };
    start_flow(oidc, headers, &pending, paths::LOGIN, lang).await
}

/// `GET /account[?notice=…|?login]`: `?login` signs in again, even with a session.
pub async fn account_page(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::choose(None, accept_language(&headers));
    let query = query.unwrap_or_default();
    let params = Params::parse(query.as_bytes()).unwrap_or_default();
    // `Params` drops parameters without a value (RFC 6749 section 3.1), so `?login` is
    // looked for by name.
    let login = url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "login");
    let citizen = match citizen(&oidc, &headers).await {
        Ok(Some(citizen)) if !login => citizen,
        Ok(_) => return sign_in(&oidc, &headers, lang).await,
        Err(err) => return internal_page(lang, &err),
    };
    match show(&oidc, &citizen, params.get("notice")).await {
        Ok(page) => page,
        Err(err) => internal_page(lang, &err),
    }
}

async fn show(oidc: &Oidc, c: &Citizen, code: Option<&str>) -> anyhow::Result<Response> {
    let account = c.session.account;
    let day = format_description!("[year]-[month]-[day]");
    let minute = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let passkeys: Vec<PasskeyRow> = oidc
        .durable
        .passkeys(account)
        .await?
        .into_iter()
        .map(|k| PasskeyRow {
            id: k.id.to_string(),
            label: k.label,
            added: k.created_at.format(&day).unwrap_or_default(),
            last_used: k.last_used_at.and_then(|at| at.format(&minute).ok()),
        })
        .collect();
    let activity: Vec<Activity> = oidc
        .durable
        .audit_for_account(account, ACTIVITY)
        .await?
        .into_iter()
        .map(|entry| Activity {
            at: entry.at.format(&minute).unwrap_or_default(),
            event: entry.record.event.as_str(),
            failed: entry.record.outcome == Outcome::Failure,
            client: entry.record.relying_party.map(|c| {
                oidc.relying_party_name(c.as_str())
                    .unwrap_or(c.as_str())
                    .to_owned()
            }),
        })
        .collect();
    let masked = oidc.durable.account(account).await?.personal_id.to_string();
    let level = c.session.loa.map(|loa| {
        let index = Loa::ALL.iter().position(|l| *l == loa).unwrap_or_default();
        format!(
            "{} ({})",
            texts(c.lang).levels[index],
            oidc.tokens.acr_table().acr(loa)
        )
    });
    let problem = matches!(
        code,
        Some("duplicate" | "rejected" | "expired" | "last" | "label" | "reauth" | "busy")
    );
    let notice = code.and_then(|code| notice(c.lang, code));
    let reauth = code == Some("reauth");
    Ok(pages::account(&pages::AccountPage {
        lang: c.lang,
        csrf: &csrf_token(&c.cookie),
        masked_id: &masked,
        level: level.as_deref(),
        passkeys: &passkeys,
        activity: &activity,
        notice: notice.map(|text| (text, problem)),
        reauth,
        chip: oidc.chip.is_some(),
    }))
}

/// Back to the account page with a notice.
fn told(code: &str) -> Response {
    see_other(&format!("{}?notice={code}", paths::ACCOUNT))
}

/// Why a form of the account page is not acted on.
pub(super) enum Refused {
    /// No live session of an active account.
    SignedOut,
    /// The form is malformed or lacks the session's CSRF token.
    Forbidden,
    /// The sign-in is too old for this change.
    Reauth,
    /// The store failed.
    Failed(StoreError),
}

impl Refused {
    /// The answer to a form.
    pub(super) fn page(self, lang: Lang) -> Response {
        match self {
            Refused::SignedOut => see_other(paths::ACCOUNT),
            Refused::Forbidden => pages::error(StatusCode::FORBIDDEN, lang, texts(lang).forbidden),
            Refused::Reauth => told("reauth"),
            Refused::Failed(err) => internal_page(lang, &err),
        }
    }

    /// The answer to the page's script.
    fn json(self, lang: Lang) -> Response {
        match self {
            Refused::Forbidden => json_error(StatusCode::FORBIDDEN, texts(lang).forbidden),
            // The session ended or is too old: the citizen signs in (again).
            Refused::SignedOut | Refused::Reauth => json_error(
                StatusCode::FORBIDDEN,
                notice(lang, "reauth").unwrap_or_default(),
            ),
            Refused::Failed(err) => {
                tracing::error!(cause = %err, "request failed");
                json_error(StatusCode::INTERNAL_SERVER_ERROR, texts(lang).internal)
            }
        }
    }
}

/// A form of the account page, checked: a session, its CSRF token, a sign-in within
/// `window`. Else why not, with the page's language.
pub(super) async fn checked(
    oidc: &Oidc,
    headers: &HeaderMap,
    body: &[u8],
    window: Duration,
) -> Result<(Citizen, Params), (Refused, Lang)> {
    let lang = Lang::choose(None, accept_language(headers));
    let params = Params::parse(body).map_err(|_| (Refused::Forbidden, lang))?;
    let citizen = match citizen(oidc, headers).await {
        Ok(Some(citizen)) => citizen,
        Ok(None) => return Err((Refused::SignedOut, lang)),
        Err(err) => return Err((Refused::Failed(err), lang)),
    };
    if !csrf_matches(&citizen.cookie, params.get("csrf").unwrap_or_default()) {
        return Err((Refused::Forbidden, lang));
    }
    if !citizen.signed_in_within(window) {
        return Err((Refused::Reauth, lang));
    }
    Ok((citizen, params))
}

/// `POST /account/passkeys/options` (form: `csrf`): starts enrolling a passkey; answers
/// the options for `navigator.credentials.create` as JSON, or a JSON error with the text
/// for the page to show (to sign in again when the sign-in is too old).
pub async fn enrol_options(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = match checked(&oidc, &headers, &body, REAUTH_AFTER).await {
        Ok((c, _)) => c,
        Err((refused, lang)) => return refused.json(lang),
    };
    if let Some(refusal) = count_ceremony(&oidc, ip, c.lang).await {
        return refusal;
    }
    let account = c.session.account;
    let started = async {
        let existing = oidc.durable.passkeys(account).await?;
        let masked = oidc.durable.account(account).await?.personal_id.to_string();
        oidc.passkeys
            .start_registration(&c.context(), account, &masked, &masked, &existing)
            .await
    };
    match started.await {
        Ok(challenge) => (no_store(), Json(challenge)).into_response(),
        Err(err) => internal_page(c.lang, &err),
    }
}

/// `POST /account/passkeys` (form: `csrf`, `ceremony`, `label`, `credential`): finishes
/// the enrolment and stores the passkey.
pub async fn enrol(State(oidc): State<Arc<Oidc>>, headers: HeaderMap, body: Bytes) -> Response {
    // The sign-in was recent when the ceremony started (enrol_options checked it): the
    // ceremony may take its lifetime, and the device has made the key by now.
    let window = REAUTH_AFTER + oidc.passkeys.ceremony_lifetime();
    let (c, params) = match checked(&oidc, &headers, &body, window).await {
        Ok(checked) => checked,
        Err((refused, lang)) => return refused.page(lang),
    };
    let label = params.get("label").unwrap_or_default().trim();
    let finished = oidc
        .passkeys
        .finish_registration(
            &c.context(),
            params.get("ceremony").unwrap_or_default(),
            c.session.account,
            params.get("credential").unwrap_or_default(),
            label,
        )
        .await;
    let enrolled = match finished {
        Ok(enrolled) => enrolled,
        Err(PasskeyError::Expired) => return told("expired"),
        Err(err @ (PasskeyError::Store(_) | PasskeyError::Config(_))) => {
            return internal_page(c.lang, &err);
        }
        Err(err) => {
            tracing::info!(reason = %err, "passkey enrolment refused");
            return audited(
                &oidc,
                &c,
                AuditEvent::CredentialAdded,
                Outcome::Failure,
                "rejected",
            )
            .await;
        }
    };
    match oidc.durable.add_passkey(enrolled).await {
        Ok(_) => {
            audited(
                &oidc,
                &c,
                AuditEvent::CredentialAdded,
                Outcome::Success,
                "added",
            )
            .await
        }
        Err(StoreError::InvalidLabel) => told("label"),
        Err(StoreError::Duplicate(Unique::CredentialId)) => {
            audited(
                &oidc,
                &c,
                AuditEvent::CredentialAdded,
                Outcome::Failure,
                "duplicate",
            )
            .await
        }
        Err(err) => internal_page(c.lang, &err),
    }
}

/// Audits a change (or refused change) and tells the citizen.
async fn audited(
    oidc: &Oidc,
    c: &Citizen,
    event: AuditEvent,
    outcome: Outcome,
    code: &str,
) -> Response {
    match oidc.audit.append(c.audit(event, outcome)).await {
        Ok(_) => told(code),
        Err(err) => internal_page(c.lang, &err),
    }
}

/// The passkey a form names, if it is one of the citizen's.
fn passkey_id(params: &Params) -> Option<PasskeyId> {
    params.get("id").and_then(|id| id.parse().ok())
}

/// `POST /account/passkeys/rename` (form: `csrf`, `id`, `label`).
pub async fn rename(State(oidc): State<Arc<Oidc>>, headers: HeaderMap, body: Bytes) -> Response {
    let (c, params) = match checked(&oidc, &headers, &body, REAUTH_AFTER).await {
        Ok(checked) => checked,
        Err((refused, lang)) => return refused.page(lang),
    };
    let Some(id) = passkey_id(&params) else {
        return told("rejected");
    };
    let label = params.get("label").unwrap_or_default().trim();
    match oidc
        .durable
        .rename_passkey(c.session.account, id, label)
        .await
    {
        Ok(()) => {
            audited(
                &oidc,
                &c,
                AuditEvent::CredentialRenamed,
                Outcome::Success,
                "renamed",
            )
            .await
        }
        Err(StoreError::InvalidLabel) => told("label"),
        Err(StoreError::NotFound(_)) => told("rejected"),
        Err(err) => internal_page(c.lang, &err),
    }
}

/// `POST /account/passkeys/delete` (form: `csrf`, `id`). Refused when it is the
/// citizen's last way to sign in (no password, no other passkey). Changes to one
/// account's credentials are serialised by a lock in the ephemeral store, so two
/// concurrent deletions cannot both pass the check, on any instance.
pub async fn delete(State(oidc): State<Arc<Oidc>>, headers: HeaderMap, body: Bytes) -> Response {
    let (c, params) = match checked(&oidc, &headers, &body, REAUTH_AFTER).await {
        Ok(checked) => checked,
        Err((refused, lang)) => return refused.page(lang),
    };
    let Some(id) = passkey_id(&params) else {
        return told("rejected");
    };
    let account = c.session.account;
    let lock = format!("lock:credentials:{account}");
    match oidc.ephemeral.put_if_absent(&lock, b"1", CHANGE_LOCK).await {
        Ok(true) => {}
        Ok(false) => return told("busy"),
        Err(err) => return internal_page(c.lang, &err),
    }
    // Audited before the lock is released, so a failure to release cannot lose the record.
    let response = match delete_unless_last(&oidc, account, id).await {
        Ok(deleted) => {
            let (outcome, code) = if deleted {
                (Outcome::Success, "deleted")
            } else {
                (Outcome::Failure, "last")
            };
            audited(&oidc, &c, AuditEvent::CredentialRemoved, outcome, code).await
        }
        Err(StoreError::NotFound(_)) => told("rejected"),
        Err(err) => internal_page(c.lang, &err),
    };
    match oidc.ephemeral.delete(&lock).await {
        Ok(_) => response,
        Err(err) => internal_page(c.lang, &err),
    }
}

/// Deletes passkey `id` of `account` unless the account would be left without a way to
/// sign in; `false` if refused.
async fn delete_unless_last(
    oidc: &Oidc,
    account: AccountId,
    id: PasskeyId,
) -> Result<bool, StoreError> {
    let has_password = oidc.durable.password(account).await?.is_some();
    let others = oidc
        .durable
        .passkeys(account)
        .await?
        .iter()
        .filter(|k| k.id != id)
        .count();
    if !has_password && others == 0 {
        return Ok(false);
    }
    oidc.durable.delete_passkey(account, id).await?;
    Ok(true)
}
