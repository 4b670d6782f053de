//! The login page: the 12-digit personal ID number and the password, with attempts
//! counted per account and per client IP before the password is checked. The page also
//! offers passkeys (see [`super::passkey_login`]) and, when a relying party asks for more
//! than the session's level, becomes the step-up form.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::PersonalId;
use eid_core::credential::password::{Password, PasswordError, Verification};
use eid_core::ratelimit::Decision;
use eid_core::store::{Account, AccountStatus, ClientId, StoreError};

use super::authn::{self, Method};
use super::authorize::{
    Pending, PostedForm, bind, client_name, current_session, internal_page, proceed,
    replace_session, shown,
};
use super::pages::{self, LoginPage, texts};
use super::session::{Session, session_cookie, set_cookie};
use super::{ClientIp, Oidc};

/// `GET /login?req=...`.
pub async fn login_page(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match shown(&oidc, &headers, query).await {
        Ok(p) => {
            let hint = p.request().and_then(|r| r.login_hint.clone());
            form(&oidc, &headers, &p, StatusCode::OK, hint.as_deref(), None).await
        }
        Err(page) => page,
    }
}

/// The session the citizen must step up from, if the flow `p` waits for a passkey
/// confirmation: a session of the flow's account below the requested level.
pub(super) async fn step_up_session(
    oidc: &Oidc,
    headers: &HeaderMap,
    p: &Pending,
) -> Result<Option<Session>, StoreError> {
    let Some(min) = p.request().and_then(|r| r.min_loa) else {
        return Ok(None);
    };
    let session = current_session(oidc, headers).await?;
    Ok(session
        .filter(|s| p.flow.payload.account == Some(s.account) && s.loa.is_none_or(|loa| loa < min)))
}

/// The login page of `p` (or its step-up form), with `personal_id` filled in and an
/// `error` shown.
pub(super) async fn form(
    oidc: &Oidc,
    headers: &HeaderMap,
    p: &Pending,
    status: StatusCode,
    personal_id: Option<&str>,
    error: Option<&str>,
) -> Response {
    let step_up = match step_up_session(oidc, headers, p).await {
        Ok(session) => session.is_some(),
        Err(err) => return internal_page(p.lang, &err),
    };
    let (name, origins) = client_name(oidc, p.request(), p.lang);
    pages::login(
        status,
        &LoginPage {
            lang: p.lang,
            client_name: name,
            req: &p.id,
            csrf: &p.flow.csrf,
            personal_id,
            error,
            form_target: origins,
            step_up,
        },
    )
}

/// How a login attempt ended, when it did not succeed.
enum LoginFailure {
    Malformed,
    RateLimited,
    BadCredentials,
    Inactive,
    Overloaded,
}

/// `POST /login`: checks the personal ID number and password, starts a session and
/// continues the authorization.
pub async fn login_submit(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    PostedForm {
        pending: p,
        params,
        headers,
    }: PostedForm,
) -> Response {
    let typed_id = params.get("personal_id").unwrap_or_default();
    let password = params.get("password").unwrap_or_default();
    let client = p.request().map(|r| r.client_id.clone());
    let account = match login(&oidc, &ip.to_string(), typed_id, password, client).await {
        Ok(Ok(account)) => account,
        Ok(Err(failure)) => {
            let t = texts(p.lang);
            let (status, message) = match failure {
                LoginFailure::Malformed => (StatusCode::BAD_REQUEST, t.bad_personal_id),
                LoginFailure::RateLimited => (StatusCode::TOO_MANY_REQUESTS, t.rate_limited),
                LoginFailure::BadCredentials => (StatusCode::UNAUTHORIZED, t.bad_credentials),
                LoginFailure::Inactive => (StatusCode::FORBIDDEN, t.inactive),
                LoginFailure::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, t.internal),
            };
            let shown_id = typed_id.len() <= 12 && typed_id.bytes().all(|b| b.is_ascii_digit());
            let shown_id = shown_id.then_some(typed_id);
            return form(&oidc, &headers, &p, status, shown_id, Some(message)).await;
        }
        Err(err) => return internal_page(p.lang, &err),
    };
    sign_in(&oidc, &headers, p, &account, Method::Password).await
}

/// Starts the session of `account`, who just authenticated with `method` within the flow
/// `p`, and continues the flow. A passkey used where the flow waits for a step-up adds to
/// the session stepped up from (see [`authn::new_session`]).
pub(super) async fn sign_in(
    oidc: &Oidc,
    headers: &HeaderMap,
    mut p: Pending,
    account: &Account,
    method: Method<'_>,
) -> Response {
    let stepped_up_from = match method {
        Method::Passkey(_) => match step_up_session(oidc, headers, &p).await {
            Ok(session) => session,
            Err(err) => return internal_page(p.lang, &err),
        },
        Method::Password => None,
    };
    let session = match authn::new_session(oidc, account, method, stepped_up_from.as_ref()).await {
        Ok(session) => session,
        Err(err) => return internal_page(p.lang, &err),
    };
    match bind(oidc, &mut p, account.id).await {
        Ok(true) => {}
        Ok(false) => return pages::error(StatusCode::BAD_REQUEST, p.lang, texts(p.lang).expired),
        Err(err) => return internal_page(p.lang, &err),
    }
    let value = match replace_session(oidc, headers, &session).await {
        Ok(value) => value,
        Err(err) => return internal_page(p.lang, &err),
    };
    let mut response = proceed(oidc, p, &session, false).await;
    set_cookie(
        &mut response,
        session_cookie(oidc.secure_cookies),
        Some(value.expose()),
        oidc.secure_cookies,
    );
    response
}

/// Authenticates `typed_id` with `password`. Each attempt is counted per account and per
/// IP before the password is checked (so concurrent guesses cannot all slip under the
/// limit); a success clears the account's count.
async fn login(
    oidc: &Oidc,
    ip: &str,
    typed_id: &str,
    password: &str,
    client: Option<String>,
) -> anyhow::Result<Result<Account, LoginFailure>> {
    let Ok(personal_id) = PersonalId::parse(typed_id) else {
        oidc.metrics.login("malformed");
        return Ok(Err(LoginFailure::Malformed));
    };
    let account_key = personal_id.expose();
    let by_ip = oidc.login_ip.hit(ip).await?;
    let by_account = oidc.login_account.hit(&account_key).await?;
    if by_ip == Decision::Limited || by_account == Decision::Limited {
        oidc.metrics.login("rate_limited");
        return Ok(Err(LoginFailure::RateLimited));
    }
    let account = oidc.durable.find_account(&personal_id).await?;
    let stored = match &account {
        Some(account) => oidc.durable.password(account.id).await?,
        None => None,
    };
    let verification = match (Password::new(password), &stored) {
        (Ok(password), Some(stored)) => oidc.hasher.verify(password, &stored.phc).await,
        (Ok(password), None) => oidc.hasher.verify_unknown_account(password).await,
        (Err(_), _) => Ok(Verification::Invalid),
    };
    let verification = match verification {
        Ok(verification) => verification,
        Err(PasswordError::Overloaded) => {
            oidc.metrics.login("overloaded");
            return Ok(Err(LoginFailure::Overloaded));
        }
        Err(err) => return Err(err.into()),
    };
    let mut record = AuditRecord::new(AuditEvent::Authentication, Actor::System, Outcome::Failure);
    record.relying_party = client.and_then(|c| ClientId::new(c).ok());
    record.subject = account.as_ref().map(|a| a.id);
    match (verification, account) {
        (Verification::Valid { rehash }, Some(account)) => {
            if account.status != AccountStatus::Active {
                oidc.metrics.login("inactive");
                oidc.audit.append(record).await?;
                return Ok(Err(LoginFailure::Inactive));
            }
            oidc.login_account.reset(&account_key).await?;
            if let Some(phc) = rehash {
                oidc.durable.set_password(account.id, &phc).await?;
            }
            Ok(Ok(account))
        }
        _ => {
            oidc.metrics.login("bad_credentials");
            oidc.audit.append(record).await?;
            Ok(Err(LoginFailure::BadCredentials))
        }
    }
}
