//! The daemon's gRPC API for relying parties' back-end services
//! (`proto/eid/v1/identity.proto`), served on the HTTP listener (HTTP/2) next to the OpenID
//! provider.
//!
//! Every call authenticates the calling relying party as the token endpoint does (the same
//! client registry, methods and failure limits): `authorization: Basic …` for
//! `client_secret_basic`, `client-assertion: <JWT>` metadata for `private_key_jwt`. Public
//! clients are refused, as at the introspection endpoint (RFC 7662 section 2.1).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use eid_core::audit::{Actor, AttributeName, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::{PersonalId, Sex};
use eid_core::credential::status_list::TokenStatus;
use eid_core::registry::{
    Attribute, AttributeOutcome, IdentityClaims, Match, RecordMatch, RecordStatus, RegistryError,
};
use eid_core::release::{Scope, parse_scopes};
use eid_core::store::{AccountStatus, ClientId};
use eid_proto::v1 as pb;
use pb::identity_service_server::{IdentityService, IdentityServiceServer};
use serde_json::Value;
use time::Date;
use time::macros::format_description;
use tonic::server::NamedService as _;
use tonic::{Request, Response, Status};

use super::client_auth::{JWT_BEARER, authenticate};
use super::error::OAuthError;
use super::params::Params;
use super::{Client, Oidc, client_ip};

/// Largest request message: a token or consent reference and five short claims.
const MAX_MESSAGE: usize = 16 * 1024;
/// Longest token, consent reference or status list URI accepted.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Longest claimed name.
const MAX_NAME_LEN: usize = 256;

/// The gRPC routes, to merge into the daemon's router: the service's own path prefix only
/// (tonic's `Routes` would add a fallback answering every unknown path with a gRPC status,
/// hiding the daemon's 404s).
pub fn routes(oidc: Arc<Oidc>) -> axum::Router {
    let service =
        IdentityServiceServer::new(IdentityApi { oidc }).max_decoding_message_size(MAX_MESSAGE);
    let path = format!(
        "/{}/{{*method}}",
        IdentityServiceServer::<IdentityApi>::NAME
    );
    axum::Router::new().route_service(&path, service)
}

struct IdentityApi {
    oidc: Arc<Oidc>,
}

impl IdentityApi {
    /// The authenticated, confidential client making `request`.
    async fn caller<T>(&self, request: &Request<T>) -> Result<&Client, Status> {
        let headers = request.metadata().clone().into_headers();
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |info| info.0);
        let params = client_assertion_params(request.metadata())?;
        let client = authenticate(&self.oidc, client_ip(peer, &headers), &headers, &params)
            .await
            .map_err(status_of)?;
        if !client.reg.is_confidential() {
            return Err(Status::unauthenticated(
                "this API is for confidential clients",
            ));
        }
        Ok(client)
    }
}

/// The `client-assertion` metadata as the token endpoint's form parameters (RFC 7523
/// section 2.2), or no parameters.
fn client_assertion_params(metadata: &tonic::metadata::MetadataMap) -> Result<Params, Status> {
    let malformed = || Status::unauthenticated("malformed client assertion");
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    if let Some(assertion) = metadata.get("client-assertion") {
        let assertion = assertion.to_str().map_err(|_| malformed())?;
        form.append_pair("client_assertion_type", JWT_BEARER)
            .append_pair("client_assertion", assertion);
    }
    Params::parse(form.finish().as_bytes()).map_err(|_| malformed())
}

/// The gRPC status of a client authentication or server failure.
fn status_of(err: OAuthError) -> Status {
    match err.status {
        StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(err.description),
        StatusCode::INTERNAL_SERVER_ERROR => Status::internal(err.description),
        _ => Status::unauthenticated(err.description),
    }
}

fn internal(cause: &dyn std::fmt::Display) -> Status {
    tracing::error!(%cause, "identity API call failed");
    Status::internal("internal error")
}

fn checked_token(token: &str, what: &'static str) -> Result<(), Status> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(Status::invalid_argument(format!(
            "{what} must be 1 to {MAX_TOKEN_LEN} bytes"
        )));
    }
    Ok(())
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn introspect_token(
        &self,
        request: Request<pb::IntrospectTokenRequest>,
    ) -> Result<Response<pb::IntrospectTokenResponse>, Status> {
        let client = self.caller(&request).await?;
        let token = &request.get_ref().token;
        checked_token(token, "token")?;
        let answer = self
            .oidc
            .introspection_for(client, token)
            .await
            .map_err(|e| internal(&e))?;
        Ok(Response::new(introspection_to_proto(&answer)))
    }

    async fn get_credential_status(
        &self,
        request: Request<pb::GetCredentialStatusRequest>,
    ) -> Result<Response<pb::GetCredentialStatusResponse>, Status> {
        self.caller(&request).await?;
        let request = request.into_inner();
        checked_token(&request.status_list_uri, "status_list_uri")?;
        let status = self
            .oidc
            .credential_status(&request.status_list_uri, request.index)
            .await
            .map_err(|e| internal(&*e))?
            .ok_or_else(|| Status::not_found("no credential of this issuer has this reference"))?;
        let status = match status {
            TokenStatus::Valid => pb::CredentialStatus::Valid,
            TokenStatus::Suspended => pb::CredentialStatus::Suspended,
            // This issuer assigns no other value; anything else is not in force.
            TokenStatus::Invalid | TokenStatus::Other(_) => pb::CredentialStatus::Invalid,
        };
        Ok(Response::new(pb::GetCredentialStatusResponse {
            status: status.into(),
        }))
    }

    async fn verify_claims(
        &self,
        request: Request<pb::VerifyClaimsRequest>,
    ) -> Result<Response<pb::VerifyClaimsResponse>, Status> {
        let client = self.caller(&request).await?;
        let request = request.into_inner();
        checked_token(&request.consent_reference, "consent_reference")?;
        let claimed = Claimed::parse(request.claims.unwrap_or_default())?;
        self.verify(client, &request.consent_reference, claimed)
            .await
            .map(Response::new)
    }
}

/// The RFC 7662 JSON answer as the gRPC message.
fn introspection_to_proto(answer: &Value) -> pb::IntrospectTokenResponse {
    if answer["active"] != Value::Bool(true) {
        return pb::IntrospectTokenResponse::default();
    }
    let text = |name: &str| answer[name].as_str().unwrap_or_default().to_owned();
    let number = |name: &str| answer[name].as_i64().unwrap_or_default();
    let token_type = match answer["token_type"].as_str() {
        Some("refresh_token") => pb::TokenType::RefreshToken,
        _ => pb::TokenType::AccessToken,
    };
    pb::IntrospectTokenResponse {
        active: true,
        token_type: token_type.into(),
        scope: text("scope"),
        client_id: text("client_id"),
        sub: text("sub"),
        acr: text("acr"),
        exp: number("exp"),
        iat: number("iat"),
        auth_time: number("auth_time"),
        iss: text("iss"),
    }
}

/// The claims of a `VerifyClaims` request, checked.
#[derive(Default)]
struct Claimed {
    family_name: Option<String>,
    middle_names: Option<String>,
    given_name: Option<String>,
    birth_date: Option<Date>,
    sex: Option<Sex>,
}

impl Claimed {
    fn parse(claims: pb::Claims) -> Result<Self, Status> {
        let name = |value: String, what: &str| -> Result<Option<String>, Status> {
            match value.chars().count() {
                0 => Ok(None),
                n if n > MAX_NAME_LEN => Err(Status::invalid_argument(format!(
                    "{what} is longer than {MAX_NAME_LEN} characters"
                ))),
                _ => Ok(Some(value)),
            }
        };
        let birth_date = match claims.birthdate.as_str() {
            "" => None,
            text => Some(
                Date::parse(text, format_description!("[year]-[month]-[day]"))
                    .map_err(|_| Status::invalid_argument("birthdate must be YYYY-MM-DD"))?,
            ),
        };
        let sex = match pb::Sex::try_from(claims.sex) {
            Ok(pb::Sex::Unspecified) => None,
            Ok(pb::Sex::Male) => Some(Sex::Male),
            Ok(pb::Sex::Female) => Some(Sex::Female),
            Err(_) => return Err(Status::invalid_argument("unknown sex")),
        };
        let claimed = Self {
            family_name: name(claims.family_name, "family_name")?,
            middle_names: name(claims.middle_name, "middle_name")?,
            given_name: name(claims.given_name, "given_name")?,
            birth_date,
            sex,
        };
        if claimed.attributes().next().is_none() {
            return Err(Status::invalid_argument("no claim to verify"));
        }
        Ok(claimed)
    }

    /// The claimed attributes.
    fn attributes(&self) -> impl Iterator<Item = Attribute> + '_ {
        [
            (Attribute::FamilyName, self.family_name.is_some()),
            (Attribute::MiddleNames, self.middle_names.is_some()),
            (Attribute::GivenName, self.given_name.is_some()),
            (Attribute::BirthDate, self.birth_date.is_some()),
            (Attribute::Sex, self.sex.is_some()),
        ]
        .into_iter()
        .filter_map(|(attribute, claimed)| claimed.then_some(attribute))
    }

    /// Drops the claims the granted `scopes` do not cover, returning them.
    fn keep_consented(&mut self, scopes: &[Scope]) -> Vec<Attribute> {
        let mut dropped = Vec::new();
        let mut keep = |scope: Scope, attribute: Attribute, claimed: bool| {
            let allowed = scopes.contains(&scope);
            if claimed && !allowed {
                dropped.push(attribute);
            }
            allowed
        };
        if !keep(
            Scope::Profile,
            Attribute::FamilyName,
            self.family_name.is_some(),
        ) {
            self.family_name = None;
        }
        if !keep(
            Scope::Profile,
            Attribute::MiddleNames,
            self.middle_names.is_some(),
        ) {
            self.middle_names = None;
        }
        if !keep(
            Scope::Profile,
            Attribute::GivenName,
            self.given_name.is_some(),
        ) {
            self.given_name = None;
        }
        if !keep(
            Scope::Birthdate,
            Attribute::BirthDate,
            self.birth_date.is_some(),
        ) {
            self.birth_date = None;
        }
        if !keep(Scope::Gender, Attribute::Sex, self.sex.is_some()) {
            self.sex = None;
        }
        dropped
    }
}

/// The OpenID Connect claim name of a compared attribute (for the audit log).
fn claim_name(attribute: Attribute) -> &'static str {
    match attribute {
        Attribute::FamilyName => "family_name",
        Attribute::MiddleNames => "middle_name",
        Attribute::GivenName => "given_name",
        Attribute::BirthDate => "birthdate",
        _ => "gender",
    }
}

fn outcome_to_proto(outcome: AttributeOutcome) -> i32 {
    match outcome {
        AttributeOutcome::Matched | AttributeOutcome::MatchedAfterNormalisation => {
            pb::ClaimOutcome::Matched
        }
        AttributeOutcome::Mismatched => pb::ClaimOutcome::Mismatched,
        AttributeOutcome::NotProvided => pb::ClaimOutcome::Unspecified,
    }
    .into()
}

impl IdentityApi {
    /// `VerifyClaims`: the consent reference must be a live access token of `client` whose
    /// citizen's consent is still in force; only the claims its scopes cover are compared,
    /// with the register's match-only `verify`.
    async fn verify(
        &self,
        client: &Client,
        consent_reference: &str,
        mut claimed: Claimed,
    ) -> Result<pb::VerifyClaimsResponse, Status> {
        let oidc = &self.oidc;
        let refused = || {
            Status::permission_denied(
                "the consent reference is not a live access token of this client",
            )
        };
        let (claims, record) = oidc
            .live_access_token(consent_reference)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(refused)?;
        let account_id = match record.account {
            Some(account) if record.client_id == client.reg.id.as_str() => account,
            _ => return Err(refused()),
        };
        let account = oidc
            .durable
            .account(account_id)
            .await
            .map_err(|e| internal(&e))?;
        if account.status != AccountStatus::Active {
            return Err(refused());
        }
        // The token's scopes as granted, and the citizen's consent still covering them (a
        // withdrawn consent stops the checks even while the token lives).
        let scopes: Vec<Scope> = parse_scopes(&claims.scope)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let consent = oidc
            .durable
            .consent(account_id, &client.reg.id)
            .await
            .map_err(|e| internal(&e))?;
        if !consent.is_some_and(|c| c.covers(scopes.iter().map(|s| s.as_str()), [])) {
            return Err(Status::permission_denied(
                "the citizen's consent to this client is withdrawn",
            ));
        }
        let not_consented = claimed.keep_consented(&scopes);
        let mut response = pb::VerifyClaimsResponse::default();
        if claimed.attributes().next().is_some() {
            let compared: Vec<Attribute> = claimed.attributes().collect();
            let (record, contradicted) = self.compare(account.personal_id, claimed).await?;
            let outcome = |attribute| {
                outcome_to_proto(if contradicted.contains(&attribute) {
                    AttributeOutcome::Mismatched
                } else {
                    record.outcome(attribute)
                })
            };
            response.family_name = outcome(Attribute::FamilyName);
            response.middle_name = outcome(Attribute::MiddleNames);
            response.given_name = outcome(Attribute::GivenName);
            response.birthdate = outcome(Attribute::BirthDate);
            response.sex = outcome(Attribute::Sex);
            response.record_active = record.status() == RecordStatus::Active;
            self.audit(client, account_id, &compared).await?;
        }
        for attribute in not_consented {
            let field = match attribute {
                Attribute::FamilyName => &mut response.family_name,
                Attribute::MiddleNames => &mut response.middle_name,
                Attribute::GivenName => &mut response.given_name,
                Attribute::BirthDate => &mut response.birthdate,
                _ => &mut response.sex,
            };
            *field = pb::ClaimOutcome::NotConsented.into();
        }
        Ok(response)
    }

    /// The register's match-only answer for the claims about the citizen numbered `id`,
    /// and the claims that contradict the number's own digits (a birth date or sex that
    /// cannot match: they are not sent to the register and count as mismatched).
    async fn compare(
        &self,
        id: PersonalId,
        claimed: Claimed,
    ) -> Result<(RecordMatch, Vec<Attribute>), Status> {
        let mut contradicted = Vec::new();
        let birth_date = claimed.birth_date.filter(|date| {
            let consistent = id.check_birth_date(*date).is_ok();
            if !consistent {
                contradicted.push(Attribute::BirthDate);
            }
            consistent
        });
        let sex = claimed.sex.filter(|sex| {
            let consistent = id.check_sex(*sex).is_ok();
            if !consistent {
                contradicted.push(Attribute::Sex);
            }
            consistent
        });
        let claims = IdentityClaims {
            family_name: claimed.family_name,
            middle_names: claimed.middle_names,
            given_name: claimed.given_name,
            birth_date,
            sex,
            ..IdentityClaims::new(id)
        };
        match self.oidc.registry.verify(&claims).await {
            Ok(Match::Found(record)) => Ok((record, contradicted)),
            // The number no longer identifies anyone (replaced): nothing can be confirmed.
            Ok(Match::UnknownNumber) => Err(Status::failed_precondition(
                "the citizen's record is no longer in the population register",
            )),
            Err(RegistryError::Timeout | RegistryError::Unavailable(_)) => Err(
                Status::unavailable("the population register cannot answer now; try again later"),
            ),
            Err(err) => Err(internal(&err)),
        }
    }

    /// Records in the audit log that `client` learned whether `compared` match.
    async fn audit(
        &self,
        client: &Client,
        account: eid_core::store::AccountId,
        compared: &[Attribute],
    ) -> Result<(), Status> {
        let client_id = ClientId::new(client.reg.id.as_str()).map_err(|e| internal(&e))?;
        let mut audit = AuditRecord::new(
            AuditEvent::DataReleased,
            Actor::Client(client_id.clone()),
            Outcome::Success,
        );
        audit.subject = Some(account);
        audit.relying_party = Some(client_id);
        for attribute in compared {
            let name = format!("verified:{}", claim_name(*attribute));
            audit
                .attributes
                .insert(AttributeName::new(name).map_err(|e| internal(&e))?);
        }
        self.oidc
            .audit
            .append(audit)
            .await
            .map_err(|e| internal(&e))
    }
}
