//! Client authentication at the token, PAR, introspection and revocation endpoints
//! (RFC 6749 section 2.3, OIDC Core 9): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523) and public clients (`none`). A client must use the one
//! method it registered, and exactly one method per request.
//!
//! Failed secret checks are counted per client id and source IP, and only the expensive
//! argon2id path is limited: a client presenting its right (cached) secret or a valid
//! assertion is never locked out by someone else's failures.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};
use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use eid_core::credential::password::{Password, PasswordError, Verification};
use eid_core::oauth::{ClientAuth, check_assertion_replay};
use eid_core::token::Audience;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::error::OAuthError;
use super::params::Params;
use super::{Client, Oidc};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 section 2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the request presented.
enum Presented<'a> {
    Basic(Zeroizing<String>),
    Post(&'a str),
    Assertion(&'a str),
    Nothing,
}

/// Authenticates the calling client, or answers `invalid_client` / `invalid_request`.
pub async fn authenticate<'a>(
    oidc: &'a Oidc,
    ip: IpAddr,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    let used = [
        basic.is_some(),
        params.has("client_secret"),
        params.has("client_assertion"),
    ];
    // RFC 6749 section 2.3: "The client MUST NOT use more than one authentication method
    // in each request."
    if used.iter().filter(|u| **u).count() > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    let is_basic = basic.is_some();
    let (claimed, presented) = if let Some((id, secret)) = basic {
        (id, Presented::Basic(secret))
    } else if let Some(assertion) = params.get("client_assertion") {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_request(
                "unsupported client_assertion_type",
            ));
        }
        let issuer = assertion_issuer(assertion)
            .ok_or_else(|| OAuthError::invalid_client("malformed client assertion"))?;
        (issuer, Presented::Assertion(assertion))
    } else {
        let id = params
            .get("client_id")
            .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
        match params.get("client_secret") {
            Some(secret) => (id.to_owned(), Presented::Post(secret)),
            None => (id.to_owned(), Presented::Nothing),
        }
    };
    let fail = |description| {
        let mut err = OAuthError::invalid_client(description);
        err.basic_challenge = is_basic;
        err
    };
    // RFC 7523 section 3 / RFC 6749 section 2.3.1: a client_id alongside must agree.
    if params.get("client_id").is_some_and(|id| id != claimed) {
        return Err(fail("client_id does not match the client authentication"));
    }
    let client = oidc
        .client(&claimed)
        .ok_or_else(|| fail("client authentication failed"))?;
    let ok = match (&client.reg.auth, presented) {
        (ClientAuth::SecretBasic { secret_phc }, Presented::Basic(secret)) => {
            secret_matches(oidc, client, ip, secret_phc, &secret).await?
        }
        (ClientAuth::SecretPost { secret_phc }, Presented::Post(secret)) => {
            secret_matches(oidc, client, ip, secret_phc, secret).await?
        }
        (ClientAuth::PrivateKeyJwt { .. }, Presented::Assertion(assertion)) => {
            assertion_valid(oidc, client, assertion).await?
        }
        (ClientAuth::None, Presented::Nothing) => true,
        _ => {
            return Err(fail(
                "not the client authentication method registered for this client",
            ));
        }
    };
    if ok {
        Ok(client)
    } else {
        Err(fail("client authentication failed"))
    }
}

/// The client id and secret of an `Authorization: Basic` header, each
/// form-urlencoded (RFC 6749 section 2.3.1).
fn basic_credentials(
    headers: &HeaderMap,
) -> Result<Option<(String, Zeroizing<String>)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        let mut err = OAuthError::invalid_client("malformed HTTP Basic credentials");
        err.basic_challenge = true;
        err
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let Some(encoded) = value
        .get(..6)
        .filter(|scheme| scheme.eq_ignore_ascii_case("basic "))
        .map(|_| value[6..].trim())
    else {
        return Ok(None);
    };
    let decoded = Zeroizing::new(Base64::decode_vec(encoded).map_err(|_| malformed())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    Ok(Some((form_decode(id), Zeroizing::new(form_decode(secret)))))
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("v={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The payload of a compact JWS, NOT verified: only to find which key verifies it.
pub(super) fn unverified_claims(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = Base64UrlUnpadded::decode_vec(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The `iss` of an assertion, read before verification to find the client's keys.
fn assertion_issuer(assertion: &str) -> Option<String> {
    unverified_claims(assertion)?
        .get("iss")?
        .as_str()
        .map(str::to_owned)
}

/// Checks a client secret against its argon2id hash. A secret that verified once is
/// remembered as its SHA-256 in memory and then compared in constant time: client
/// secrets are high-entropy (generated, 256 bits), so a fast hash does not weaken them,
/// and the token endpoint does not pay argon2id on every request. Wrong secrets are
/// counted per client and source IP; over the limit, the argon2id path is refused (the
/// secrets cannot be guessed; the limit keeps floods of wrong ones from burning CPU).
async fn secret_matches(
    oidc: &Oidc,
    client: &Client,
    ip: IpAddr,
    phc: &str,
    secret: &str,
) -> Result<bool, OAuthError> {
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let known = || {
        client
            .verified_secret
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|known| bool::from(known.ct_eq(&digest)))
    };
    if known() {
        return Ok(true);
    }
    // One argon2id check per client at a time: a burst of requests on a cold cache waits
    // for the first check instead of queueing a hash each (and overflowing the pool).
    let _verifying = client.verifying.lock().await;
    if known() {
        return Ok(true);
    }
    let subject = format!("{}|{ip}", client.reg.id.as_str());
    let limited = |e: eid_core::store::StoreError| OAuthError::internal(&e);
    if oidc
        .client_failures
        .is_limited(&subject)
        .await
        .map_err(limited)?
    {
        return Err(OAuthError::invalid_client(
            "too many failed client authentications; try again later",
        ));
    }
    let Ok(password) = Password::new(secret) else {
        return Ok(false);
    };
    match oidc.hasher.verify(password, phc).await {
        Ok(Verification::Valid { .. }) => {
            *client
                .verified_secret
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(digest);
            Ok(true)
        }
        Ok(Verification::Invalid) => {
            oidc.client_failures.hit(&subject).await.map_err(limited)?;
            Ok(false)
        }
        Err(PasswordError::Overloaded) => Err(OAuthError::unavailable()),
        Err(err) => Err(OAuthError::internal(&err)),
    }
}

/// Verifies a `private_key_jwt` assertion and records its `jti` (RFC 7523 section 3).
async fn assertion_valid(
    oidc: &Oidc,
    client: &Client,
    assertion: &str,
) -> Result<bool, OAuthError> {
    let Some(verifier) = &client.assertions else {
        return Ok(false);
    };
    let now = time::OffsetDateTime::now_utc();
    let Ok(claims) = verifier.verify_client_assertion_at(assertion, now) else {
        return Ok(false);
    };
    // draft-ietf-oauth-rfc7523bis section 4: the audience must be a single string (this
    // issuer or the token endpoint), so an assertion made for several servers, or
    // tricked into naming ours among others, is refused.
    if !matches!(claims.aud, Audience::One(_)) {
        return Ok(false);
    }
    match check_assertion_replay(oidc.ephemeral.as_ref(), &claims, now).await {
        Ok(()) => Ok(true),
        Err(eid_core::oauth::AssertionError::Replayed) => Ok(false),
        Err(err) => Err(OAuthError::internal(&err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = Base64::encode_string(b"my%20client:s%3Ac+r");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        let (id, secret) = basic_credentials(&headers).unwrap().unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("my client", "s:c r"));
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_credentials(&headers).is_err());
        headers.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(basic_credentials(&headers).unwrap().is_none());
    }

    #[test]
    fn assertion_issuer_is_read_without_trusting_it() {
        let payload = Base64UrlUnpadded::encode_string(br#"{"iss":"rp"}"#);
        assert_eq!(
            assertion_issuer(&format!("e30.{payload}.sig")).as_deref(),
            Some("rp")
        );
        assert_eq!(assertion_issuer("garbage"), None);
    }
}
