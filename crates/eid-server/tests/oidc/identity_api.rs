//! The back-end gRPC API (`proto/eid/v1/identity.proto`) on the provider's listener, called
//! with the generated tonic client: client authentication, token introspection, claim
//! verification with the citizen's consent, and the refusals.

use eid_core::audit::AuditEvent;
use eid_core::registry::{RecordStatus, SyntheticPopulation};
use eid_core::store::ClientId;
use eid_proto::v1 as pb;
use pb::identity_service_client::IdentityServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request};

use super::support::{Provider, SECRET};
use super::{code_for, redeem};

/// The HTTP Basic `authorization` metadata of `client` with `secret`.
fn basic(client: &str, secret: &str) -> MetadataValue<tonic::metadata::Ascii> {
    use base64ct::{Base64, Encoding as _};
    let encoded = Base64::encode_string(format!("{client}:{secret}").as_bytes());
    format!("Basic {encoded}").parse().unwrap()
}

async fn api(p: &Provider) -> IdentityServiceClient<Channel> {
    IdentityServiceClient::connect(p.base.clone())
        .await
        .unwrap()
}

/// `message` as the `basic` client.
fn as_basic<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", basic("basic", SECRET));
    request
}

/// `GetCredentialStatus` of the reference (`uri`, `index`), as the `basic` client.
pub(super) async fn credential_status(
    p: &Provider,
    uri: &str,
    index: u64,
) -> Result<pb::CredentialStatus, tonic::Status> {
    let request = as_basic(pb::GetCredentialStatusRequest {
        status_list_uri: uri.to_owned(),
        index,
    });
    let answer = api(p).await.get_credential_status(request).await?;
    Ok(answer.into_inner().status())
}

fn introspect(token: &str) -> pb::IntrospectTokenRequest {
    pb::IntrospectTokenRequest {
        token: token.to_owned(),
    }
}

/// Tokens of the enrolled citizen for the `basic` client (scopes openid profile birthdate).
async fn tokens(p: &Provider) -> serde_json::Value {
    let mut browser = p.browser();
    let (code, verifier) = code_for(p, &mut browser).await;
    super::json(redeem(p, "basic", &code, &verifier).await).await
}

#[tokio::test]
async fn introspection_over_grpc_matches_the_http_endpoint() {
    let p = Provider::start().await;
    let tokens = tokens(&p).await;
    let access = tokens["access_token"].as_str().unwrap();
    let mut api = api(&p).await;

    let answer = api
        .introspect_token(as_basic(introspect(access)))
        .await
        .unwrap()
        .into_inner();
    let http = super::introspect(&p, access).await;
    assert!(answer.active);
    assert_eq!(answer.token_type(), pb::TokenType::AccessToken);
    assert_eq!(answer.sub, http["sub"].as_str().unwrap());
    assert_eq!(answer.scope, "openid profile birthdate");
    assert_eq!(answer.client_id, "basic");
    assert_eq!(answer.acr, "http://eidas.europa.eu/LoA/low");
    assert_eq!(answer.iss, p.issuer);
    assert!(answer.exp > answer.iat && answer.auth_time > 0);

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let answer = api
        .introspect_token(as_basic(introspect(refresh)))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.active);
    assert_eq!(answer.token_type(), pb::TokenType::RefreshToken);

    // private_key_jwt through the `client-assertion` metadata: another client's token is
    // inactive, and nothing else is said about it.
    let mut request = Request::new(introspect(access));
    let assertion = p.assertion("grpc-assertion-1");
    request
        .metadata_mut()
        .insert("client-assertion", assertion.parse().unwrap());
    let foreign = api.introspect_token(request).await.unwrap().into_inner();
    assert_eq!(foreign, pb::IntrospectTokenResponse::default());
    // The same assertion again is a replay (RFC 7523 section 3, `jti`).
    let mut replay = Request::new(introspect(access));
    replay
        .metadata_mut()
        .insert("client-assertion", assertion.parse().unwrap());
    let err = api.introspect_token(replay).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let garbage = api
        .introspect_token(as_basic(introspect("not-a-token")))
        .await
        .unwrap()
        .into_inner();
    assert!(!garbage.active);
}

#[tokio::test]
async fn calls_without_a_confidential_client_are_refused() {
    let p = Provider::start().await;
    let mut api = api(&p).await;
    let cases: [(&str, Option<MetadataValue<_>>); 4] = [
        ("no credentials", None),
        ("wrong secret", Some(basic("basic", "wrong-secret"))),
        ("unknown client", Some(basic("nobody", SECRET))),
        ("not Basic", Some("Bearer abc".parse().unwrap())),
    ];
    for (case, authorization) in cases {
        let mut request = Request::new(introspect("x"));
        if let Some(value) = authorization {
            request.metadata_mut().insert("authorization", value);
        }
        let err = api.introspect_token(request).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{case}");
    }
    // A public client has no credential to present.
    let mut public = Request::new(introspect("x"));
    public
        .metadata_mut()
        .insert("authorization", basic("public", ""));
    let err = api.introspect_token(public).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // Two methods at once (RFC 6749 section 2.3).
    let mut both = as_basic(introspect("x"));
    both.metadata_mut()
        .insert("client-assertion", p.assertion("both").parse().unwrap());
    assert_eq!(
        api.introspect_token(both).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // Empty and oversized tokens, an oversized message.
    let err = api
        .introspect_token(as_basic(introspect("")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = api
        .introspect_token(as_basic(introspect(&"a".repeat(9000))))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = api
        .introspect_token(as_basic(introspect(&"a".repeat(20_000))))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange);

    // The gRPC routes take only the service's paths: other unknown paths stay 404.
    for path in ["/no-such-page", "/eid.v1.Other/Call"] {
        let response = p.http.get(format!("{}{path}", p.base)).send().await;
        assert_eq!(response.unwrap().status(), 404, "{path}");
    }
}

/// The enrolled citizen's register record (the provider's first active synthetic citizen).
fn citizen() -> eid_core::registry::RegisterRecord {
    SyntheticPopulation::new(20, 3)
        .unwrap()
        .map(Result::unwrap)
        .find(|r| r.status == RecordStatus::Active)
        .unwrap()
}

fn verify(consent: &str, claims: pb::Claims) -> Request<pb::VerifyClaimsRequest> {
    as_basic(pb::VerifyClaimsRequest {
        consent_reference: consent.to_owned(),
        claims: Some(claims),
    })
}

#[tokio::test]
async fn claims_are_verified_within_the_citizens_consent() {
    let p = Provider::start().await;
    let tokens = tokens(&p).await;
    let access = tokens["access_token"].as_str().unwrap();
    let mut api = api(&p).await;
    let record = citizen();
    let id = &record.identity;
    let birthdate = id.birth_date.to_string();

    // Right names (one in other case) and birth date; sex is outside the granted scopes.
    let answer = api
        .verify_claims(verify(
            access,
            pb::Claims {
                family_name: id.family_name.to_uppercase(),
                middle_name: id.middle_names.clone(),
                given_name: id.given_name.clone(),
                birthdate: birthdate.clone(),
                sex: pb::Sex::Female.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.family_name(), pb::ClaimOutcome::Matched);
    assert_eq!(answer.middle_name(), pb::ClaimOutcome::Matched);
    assert_eq!(answer.given_name(), pb::ClaimOutcome::Matched);
    assert_eq!(answer.birthdate(), pb::ClaimOutcome::Matched);
    assert_eq!(answer.sex(), pb::ClaimOutcome::NotConsented);
    assert!(answer.record_active);

    // A wrong given name; a birth date the number's digits contradict (another century's
    // year); unclaimed fields stay unspecified.
    let answer = api
        .verify_claims(verify(
            access,
            pb::Claims {
                given_name: format!("{}x", id.given_name),
                birthdate: format!("{}", id.birth_date.year() - 100) + &birthdate[4..],
                ..pb::Claims::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.given_name(), pb::ClaimOutcome::Mismatched);
    assert_eq!(answer.birthdate(), pb::ClaimOutcome::Mismatched);
    assert_eq!(answer.family_name(), pb::ClaimOutcome::Unspecified);

    // Each comparison is in the citizen's audit trail, by claim name, never by value.
    let audited: Vec<_> = p
        .audit()
        .await
        .into_iter()
        .filter(|r| {
            r.event == AuditEvent::DataReleased
                && r.attributes
                    .iter()
                    .any(|a| a.as_str().starts_with("verified:"))
        })
        .collect();
    assert_eq!(audited.len(), 2);
    let names: Vec<&str> = audited[1].attributes.iter().map(|a| a.as_str()).collect();
    assert_eq!(names, ["verified:birthdate", "verified:given_name"]);

    // Bad inputs.
    for (case, claims) in [
        ("no claim", pb::Claims::default()),
        (
            "bad date",
            pb::Claims {
                birthdate: "17/05/1990".into(),
                ..pb::Claims::default()
            },
        ),
        (
            "long name",
            pb::Claims {
                given_name: "a".repeat(300),
                ..pb::Claims::default()
            },
        ),
        (
            "unknown sex",
            pb::Claims {
                sex: 7,
                ..pb::Claims::default()
            },
        ),
    ] {
        let err = api.verify_claims(verify(access, claims)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{case}");
    }
    let names = pb::Claims {
        given_name: id.given_name.clone(),
        ..pb::Claims::default()
    };
    let err = api
        .verify_claims(verify("", names.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Not a consent: a forged token, or the citizen's token presented by another client.
    let err = api
        .verify_claims(verify("not-a-token", names.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut foreign = Request::new(pb::VerifyClaimsRequest {
        consent_reference: access.to_owned(),
        claims: Some(names.clone()),
    });
    foreign
        .metadata_mut()
        .insert("authorization", basic("pushed", SECRET));
    let err = api.verify_claims(foreign).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A withdrawn consent stops the checks while the token still lives.
    p.durable
        .revoke_consent(p.account().await, &ClientId::new("basic").unwrap())
        .await
        .unwrap();
    let err = api.verify_claims(verify(access, names)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}
