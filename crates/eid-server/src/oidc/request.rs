//! Validating an authorization request (OIDC Core 3.1.2.1, RFC 6749 section 4.1.1,
//! RFC 7636, RFC 9126) into an [`AuthRequest`].
//!
//! Validation has two stages. First the client and its redirect URI: until both are
//! verified, no error may go back to the redirect URI (RFC 6749 section 4.1.2.1: the
//! server "MUST NOT automatically redirect the user-agent to the invalid redirection
//! URI"), so those failures are shown on a page. Everything after that is an error sent
//! to the verified redirect URI with the request's `state` (OIDC Core 3.1.2.6).

use std::collections::BTreeSet;

use eid_core::assurance::{AcrTable, Loa};
use eid_core::oauth::{CodeChallenge, RegisteredClient};
use eid_core::release::{Scope, format_scopes, parse_scopes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::AuthzError;
use super::params::Params;

/// The prefix of `request_uri` values this server issues (RFC 9126 section 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The `prompt` values of a request (OIDC Core 3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login` (or `select_account`): the citizen must authenticate again.
    pub login: bool,
    /// `consent`: the citizen must be asked for consent again.
    pub consent: bool,
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client (for SAML, the service provider's entity ID).
    pub client_id: String,
    /// Granted scopes, space-separated (`openid` included for OpenID Connect).
    pub scope: String,
    /// Where and how the request is answered.
    pub reply: Reply,
    /// Prompt flags.
    pub prompt: Prompt,
    /// Maximum authentication age in seconds.
    pub max_age: Option<u64>,
    /// A well-formed personal ID number to prefill.
    pub login_hint: Option<String>,
    /// Preferred languages of the pages.
    pub ui_locales: Option<String>,
    /// The lowest level that satisfies the request's `acr_values` or essential `acr`.
    pub min_loa: Option<Loa>,
    /// The `sub` of the request's `id_token_hint`: a session of another citizen does not
    /// satisfy the request (OIDC Core 3.1.2.1).
    pub hint_sub: Option<String>,
}

/// How a request is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// OAuth 2.0: a code (or an error) sent to the client's redirect URI.
    Redirect(RedirectReply),
    /// SAML 2.0: a `<Response>` posted to the service provider.
    Saml(crate::oidc::saml_sso::SamlReply),
}

/// What an OAuth 2.0 answer needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectReply {
    /// The registered redirect URI the request named.
    pub redirect_uri: String,
    /// Echoed in the response.
    pub state: Option<String>,
    /// Echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge (S256).
    pub challenge: CodeChallenge,
}

impl AuthRequest {
    /// The granted scopes.
    pub fn scopes(&self) -> BTreeSet<Scope> {
        parse_scopes(&self.scope).unwrap_or_default()
    }
}

/// Validates everything after the client and redirect URI (which the caller checked).
/// `hint_subject` verifies an `id_token_hint` issued to this client and returns its `sub`.
pub fn validate(
    client: &RegisteredClient,
    redirect_uri: &str,
    params: &Params,
    acr: &AcrTable,
    hint_subject: &dyn Fn(&str) -> Option<String>,
) -> Result<AuthRequest, AuthzError> {
    if params.has("request") {
        return Err(AuthzError::new(
            "request_not_supported",
            "request objects are not supported; use pushed authorization requests",
        ));
    }
    if params.has("request_uri") {
        return Err(AuthzError::invalid_request(
            "request_uri is not allowed here",
        ));
    }
    if params.has("registration") {
        return Err(AuthzError::new(
            "registration_not_supported",
            "the registration parameter is not supported",
        ));
    }
    match params.get("response_type") {
        None => return Err(AuthzError::invalid_request("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(AuthzError::new(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(AuthzError::invalid_request(
            "only response_mode=query is supported",
        ));
    }
    let scopes = scopes(client, params.get("scope"))?;
    // RFC 7636 section 4.4.1: a missing challenge or an unsupported method is
    // invalid_request; every client must use S256 (RFC 9700 section 2.1.1).
    let challenge = CodeChallenge::from_request(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )
    .map_err(|_| {
        AuthzError::invalid_request(
            "PKCE is required: code_challenge with code_challenge_method=S256",
        )
    })?;
    let prompt = prompt(params.get("prompt"))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) if v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(v.parse::<u64>().map_err(|_| bad_max_age())?)
        }
        Some(_) => return Err(bad_max_age()),
    };
    let login_hint = params
        .get("login_hint")
        .filter(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned);
    let min_loa = requested_loa(params, acr)?;
    let hint_sub = match params.get("id_token_hint") {
        None => None,
        Some(hint) => Some(hint_subject(hint).ok_or_else(|| {
            AuthzError::invalid_request("id_token_hint is not an ID token issued to this client")
        })?),
    };
    Ok(AuthRequest {
        client_id: client.id.as_str().to_owned(),
        scope: format_scopes(&scopes),
        reply: Reply::Redirect(RedirectReply {
            redirect_uri: redirect_uri.to_owned(),
            state: params.get("state").map(str::to_owned),
            nonce: params.get("nonce").map(str::to_owned),
            challenge,
        }),
        prompt,
        max_age,
        login_hint,
        ui_locales: params.get("ui_locales").map(str::to_owned),
        min_loa,
        hint_sub,
    })
}

fn bad_max_age() -> AuthzError {
    AuthzError::invalid_request("max_age must be a non-negative integer")
}

fn scopes(client: &RegisteredClient, scope: Option<&str>) -> Result<BTreeSet<Scope>, AuthzError> {
    let invalid = |d| AuthzError::new("invalid_scope", d);
    let scopes = parse_scopes(scope.ok_or_else(|| invalid("scope is required"))?)
        .map_err(|_| invalid("unknown or malformed scope"))?;
    // OIDC Core 3.1.2.1: "OpenID Connect requests MUST contain the openid scope value."
    if !scopes.contains(&Scope::OpenId) {
        return Err(invalid("the openid scope is required"));
    }
    if !scopes.is_subset(&client.scopes) {
        return Err(invalid("a requested scope is not allowed for this client"));
    }
    Ok(scopes)
}

fn prompt(value: Option<&str>) -> Result<Prompt, AuthzError> {
    let mut prompt = Prompt::default();
    let Some(value) = value else {
        return Ok(prompt);
    };
    for word in value.split(' ') {
        match word {
            "none" => prompt.none = true,
            "login" | "select_account" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => return Err(AuthzError::invalid_request("unsupported prompt value")),
        }
    }
    // OIDC Core 3.1.2.1: "If this parameter contains none with any other value, an error
    // is returned."
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(AuthzError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// The level the request needs: the lowest level named in `acr_values` (any listed value
/// is acceptable), raised to the lowest level named by an essential `acr` claim request
/// (OIDC Core 5.5.1.1). Unknown `acr_values` are ignored; an essential `acr` with no known
/// value cannot be met.
fn requested_loa(params: &Params, acr: &AcrTable) -> Result<Option<Loa>, AuthzError> {
    let voluntary = params
        .get("acr_values")
        .and_then(|v| v.split(' ').filter_map(|a| acr.loa_of(a)).min());
    let essential = match params.get("claims") {
        None => None,
        Some(claims) => essential_acr(claims, acr)?,
    };
    Ok(voluntary.max(essential))
}

fn essential_acr(claims: &str, acr: &AcrTable) -> Result<Option<Loa>, AuthzError> {
    let claims: Value = serde_json::from_str(claims)
        .map_err(|_| AuthzError::invalid_request("claims is not a valid JSON object"))?;
    if !claims.is_object() {
        return Err(AuthzError::invalid_request(
            "claims is not a valid JSON object",
        ));
    }
    let mut level = None;
    for member in ["id_token", "userinfo"] {
        let Some(request) = claims.get(member).and_then(|m| m.get("acr")) else {
            continue;
        };
        if request.get("essential") != Some(&Value::Bool(true)) {
            continue;
        }
        let values: Vec<&str> = match (request.get("value"), request.get("values")) {
            (Some(Value::String(v)), _) => vec![v.as_str()],
            (_, Some(Value::Array(vs))) => vs.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        let lowest = values
            .iter()
            .filter_map(|v| acr.loa_of(v))
            .min()
            .ok_or(AuthzError::new(
                "unmet_authentication_requirements",
                "no requested acr value is supported",
            ))?;
        level = level.max(Some(lowest));
    }
    Ok(level)
}

#[cfg(test)]
mod tests {
    use eid_core::assurance::{EIDAS_HIGH, EIDAS_LOW, EIDAS_SUBSTANTIAL};
    use eid_core::oauth::ClientAuth;
    use eid_core::store::ClientId;

    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const RP: &str = "https://rp.example/cb";

    fn client() -> RegisteredClient {
        RegisteredClient::new(
            ClientId::new("rp").unwrap(),
            "RP",
            vec![RP.into()],
            ClientAuth::None,
            true,
            [Scope::OpenId, Scope::Profile].into(),
            false,
        )
        .unwrap()
    }

    fn check(extra: &str) -> Result<AuthRequest, AuthzError> {
        let query = format!(
            "response_type=code&scope=openid%20profile&code_challenge={CHALLENGE}\
             &code_challenge_method=S256&state=s&nonce=n{extra}"
        );
        let params = Params::parse(query.as_bytes()).unwrap();
        validate(&client(), RP, &params, &AcrTable::default(), &|_| None)
    }

    fn code_of(extra: &str) -> &'static str {
        check(extra).unwrap_err().code
    }

    #[test]
    fn a_good_request_validates() {
        let req = check("&prompt=login&max_age=60&login_hint=001099012345&ui_locales=en").unwrap();
        assert_eq!(req.scope, "openid profile");
        let Reply::Redirect(reply) = &req.reply else {
            panic!("an OAuth request is answered by redirect");
        };
        assert_eq!(
            (reply.state.as_deref(), reply.nonce.as_deref()),
            (Some("s"), Some("n"))
        );
        assert!(req.prompt.login && !req.prompt.none);
        assert_eq!(req.max_age, Some(60));
        assert_eq!(req.login_hint.as_deref(), Some("001099012345"));
        assert_eq!(req.min_loa, None);
        assert!(check("&login_hint=abc").unwrap().login_hint.is_none());
    }

    #[test]
    fn bad_requests_get_the_spec_error() {
        assert_eq!(code_of("&request=x"), "request_not_supported");
        assert_eq!(code_of("&registration=x"), "registration_not_supported");
        assert_eq!(code_of("&request_uri=x"), "invalid_request");
        assert_eq!(code_of("&response_mode=fragment"), "invalid_request");
        assert_eq!(code_of("&prompt=none%20login"), "invalid_request");
        assert_eq!(code_of("&prompt=bogus"), "invalid_request");
        assert_eq!(code_of("&max_age=-1"), "invalid_request");
        assert_eq!(code_of("&claims=%7Bnot"), "invalid_request");
        assert_eq!(code_of("&id_token_hint=eyJ.x.y"), "invalid_request");
        let params = |q: &str| Params::parse(q.as_bytes()).unwrap();
        let run = |q: &str| {
            validate(&client(), RP, &params(q), &AcrTable::default(), &|_| None)
                .unwrap_err()
                .code
        };
        let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
        assert_eq!(run(&format!("scope=openid{pkce}")), "invalid_request");
        assert_eq!(
            run(&format!("response_type=token&scope=openid{pkce}")),
            "unsupported_response_type"
        );
        assert_eq!(run(&format!("response_type=code{pkce}")), "invalid_scope");
        assert_eq!(
            run(&format!("response_type=code&scope=profile{pkce}")),
            "invalid_scope"
        );
        assert_eq!(
            run(&format!(
                "response_type=code&scope=openid%20personal_id{pkce}"
            )),
            "invalid_scope"
        );
        assert_eq!(run("response_type=code&scope=openid"), "invalid_request");
        assert_eq!(
            run(&format!(
                "response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=plain"
            )),
            "invalid_request"
        );
    }

    #[test]
    fn requested_levels_come_from_acr_values_and_essential_claims() {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let acr_values = format!(
            "&acr_values={}",
            enc(&format!("unknown {EIDAS_HIGH} {EIDAS_SUBSTANTIAL}"))
        );
        assert_eq!(check(&acr_values).unwrap().min_loa, Some(Loa::Substantial));
        let essential = format!(
            "&claims={}",
            enc(&format!(
                r#"{{"id_token":{{"acr":{{"essential":true,"values":["{EIDAS_HIGH}"]}}}}}}"#
            ))
        );
        assert_eq!(check(&essential).unwrap().min_loa, Some(Loa::High));
        let both = format!("{essential}&acr_values={}", enc(EIDAS_LOW));
        assert_eq!(check(&both).unwrap().min_loa, Some(Loa::High));
        let voluntary = format!(
            "&claims={}",
            enc(&format!(
                r#"{{"id_token":{{"acr":{{"values":["{EIDAS_HIGH}"]}}}}}}"#
            ))
        );
        assert_eq!(check(&voluntary).unwrap().min_loa, None);
        let unknown = format!(
            "&claims={}",
            enc(r#"{"userinfo":{"acr":{"essential":true,"value":"urn:unknown"}}}"#)
        );
        assert_eq!(code_of(&unknown), "unmet_authentication_requirements");
    }
}
