//! The `[[clients]]` table: registered relying parties, validated into
//! [`RegisteredClient`]s.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr as _;

use eid_core::oauth::{ClientAuth, RegisteredClient};
use eid_core::release::Scope;
use eid_core::store::ClientId;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{Errors, check_web_url};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClient {
    client_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    client_secret_hash: Option<String>,
    /// Present only to refuse it with a clear message.
    client_secret: Option<IgnoredAny>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    subject_type: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(default)]
    require_par: bool,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    client_credentials: bool,
}

pub(super) fn clients(raw: Vec<RawClient>, errors: &mut Errors) -> Option<Vec<RegisteredClient>> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    let mut complete = true;
    for (i, raw) in raw.into_iter().enumerate() {
        let at = format!("clients[{i}]");
        if let Some(id) = &raw.client_id
            && !seen.insert(id.clone())
        {
            errors.add(format!("{at}.client_id"), "is used by an earlier client");
        }
        match client(&at, raw, errors) {
            Some(c) => out.push(c),
            None => complete = false,
        }
    }
    complete.then_some(out)
}

fn client(at: &str, raw: RawClient, errors: &mut Errors) -> Option<RegisteredClient> {
    let client_id = errors
        .required(&format!("{at}.client_id"), raw.client_id, "an identifier")
        .and_then(|id| {
            ClientId::new(id)
                .map_err(|_| {
                    errors.add(
                        format!("{at}.client_id"),
                        "must be 1 to 255 printable ASCII characters without spaces and \
                         without a personal ID number",
                    )
                })
                .ok()
        });
    let name = errors
        .required(&format!("{at}.name"), raw.name, "shown to citizens")
        .filter(|name| {
            let ok = !name.trim().is_empty();
            if !ok {
                errors.add(format!("{at}.name"), "must not be empty");
            }
            ok
        });
    if raw.redirect_uris.is_empty() {
        errors.add(format!("{at}.redirect_uris"), "must list at least one URI");
    }
    let uris_ok = raw
        .redirect_uris
        .iter()
        .enumerate()
        .map(|(j, uri)| check_web_url(&format!("{at}.redirect_uris[{j}]"), uri, errors))
        .fold(!raw.redirect_uris.is_empty(), |ok, uri| ok & uri.is_some());
    // OIDC RP-Initiated Logout 1.0 section 3: compared by exact match with these values.
    let logout_uris_ok = raw
        .post_logout_redirect_uris
        .iter()
        .enumerate()
        .map(|(j, uri)| check_web_url(&format!("{at}.post_logout_redirect_uris[{j}]"), uri, errors))
        .fold(true, |ok, uri| ok & uri.is_some());
    // RFC 6749 section 4.4: the client credentials grant is for confidential clients only.
    let grant_ok =
        !(raw.client_credentials && raw.token_endpoint_auth_method.as_deref() == Some("none"));
    if !grant_ok {
        errors.add(
            format!("{at}.client_credentials"),
            "needs a confidential client: a client with token_endpoint_auth_method = none \
             cannot use the client_credentials grant",
        );
    }
    let auth = client_auth(
        at,
        raw.token_endpoint_auth_method.as_deref(),
        raw.client_secret_hash,
        raw.client_secret.is_some(),
        raw.jwks,
        raw.jwks_uri,
        errors,
    );
    let pairwise = match raw.subject_type.as_deref() {
        None | Some("pairwise") => Some(true),
        Some("public") => Some(false),
        Some(_) => {
            errors.add(format!("{at}.subject_type"), "must be pairwise or public");
            None
        }
    };
    let scopes = raw.scopes.unwrap_or_else(|| vec!["openid".to_owned()]);
    let mut parsed = BTreeSet::new();
    let mut scopes_ok = true;
    for (j, scope) in scopes.iter().enumerate() {
        match Scope::from_str(scope) {
            Ok(s) => {
                parsed.insert(s);
            }
            Err(_) => {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                errors.add(
                    format!("{at}.scopes[{j}]"),
                    format!("unknown scope {scope:?} (known: {})", known.join(", ")),
                );
                scopes_ok = false;
            }
        }
    }
    if scopes_ok && !parsed.contains(&Scope::OpenId) {
        errors.add(format!("{at}.scopes"), "must include openid");
        scopes_ok = false;
    }
    if !(uris_ok && scopes_ok && logout_uris_ok && grant_ok) {
        return None;
    }
    let client = RegisteredClient::new(
        client_id?,
        name?,
        raw.redirect_uris,
        auth?,
        pairwise?,
        parsed,
        raw.require_par,
    )
    .map_err(|err| errors.add(format!("{at}.redirect_uris"), err.to_string()))
    .ok()?
    .with_post_logout_redirect_uris(raw.post_logout_redirect_uris)
    .map_err(|err| errors.add(format!("{at}.post_logout_redirect_uris"), err.to_string()))
    .ok()?;
    if raw.client_credentials {
        return client
            .with_client_credentials()
            .map_err(|err| errors.add(format!("{at}.client_credentials"), err.to_string()))
            .ok();
    }
    Some(client)
}

fn client_auth(
    at: &str,
    method: Option<&str>,
    secret_hash: Option<String>,
    plaintext_secret: bool,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    errors: &mut Errors,
) -> Option<ClientAuth> {
    if plaintext_secret {
        errors.add(
            format!("{at}.client_secret"),
            "a plaintext secret is refused: give client_secret_hash, the secret's argon2id \
             PHC hash",
        );
    }
    let field = format!("{at}.token_endpoint_auth_method");
    let needs_secret = matches!(method, Some("client_secret_basic" | "client_secret_post"));
    let needs_jwks = method == Some("private_key_jwt");
    if !needs_secret && secret_hash.is_some() {
        errors.add(
            format!("{at}.client_secret_hash"),
            "is used only with client_secret_basic or client_secret_post",
        );
    }
    if !needs_jwks && (jwks.is_some() || jwks_uri.is_some()) {
        errors.add(format!("{at}.jwks"), "is used only with private_key_jwt");
    }
    match method {
        Some("client_secret_basic") => {
            let secret_phc = secret(at, secret_hash, errors)?;
            Some(ClientAuth::SecretBasic { secret_phc })
        }
        Some("client_secret_post") => {
            let secret_phc = secret(at, secret_hash, errors)?;
            Some(ClientAuth::SecretPost { secret_phc })
        }
        Some("private_key_jwt") => {
            let jwks = client_jwks(at, jwks, jwks_uri, errors)?;
            Some(ClientAuth::PrivateKeyJwt { jwks })
        }
        Some("none") => Some(ClientAuth::None),
        Some(_) => {
            errors.add(
                field,
                "must be client_secret_basic, client_secret_post, private_key_jwt or none",
            );
            None
        }
        None => {
            errors.add(
                field,
                "required (client_secret_basic, client_secret_post, private_key_jwt or none)",
            );
            None
        }
    }
}

/// Checks a client secret's argon2id PHC hash.
fn secret(at: &str, secret_hash: Option<String>, errors: &mut Errors) -> Option<String> {
    let field = format!("{at}.client_secret_hash");
    let Some(hash) = secret_hash else {
        errors.add(field, "required (the secret's argon2id PHC hash)");
        return None;
    };
    match argon2::PasswordHash::new(&hash) {
        Ok(h) if h.algorithm.as_str() == argon2::ARGON2ID_IDENT.as_str() => Some(hash),
        _ => {
            errors.add(field, "must be an argon2id PHC hash ($argon2id$v=19$…)");
            None
        }
    }
}

/// The inline JWKS of a `private_key_jwt` client.
fn client_jwks(
    at: &str,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    errors: &mut Errors,
) -> Option<String> {
    if jwks_uri.is_some() {
        errors.add(
            format!("{at}.jwks_uri"),
            "is not supported yet: give the keys inline in jwks",
        );
        return None;
    }
    let Some(text) = jwks else {
        errors.add(
            format!("{at}.jwks"),
            "private_key_jwt needs the client's keys in jwks (a JSON Web Key Set)",
        );
        return None;
    };
    let has_keys = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|doc| doc.get("keys")?.as_array().map(|k| !k.is_empty()))
        .unwrap_or(false);
    if !has_keys {
        errors.add(
            format!("{at}.jwks"),
            "must be a JSON Web Key Set with at least one key",
        );
        return None;
    }
    Some(text)
}
