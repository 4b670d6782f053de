//! Registered relying parties (OAuth clients) and the checks made against their
//! registration: exact `redirect_uri` and `post_logout_redirect_uri` matching, the sector
//! of their pairwise `sub`, and whether they may use the client credentials grant.

use std::collections::BTreeSet;
use std::fmt;

use url::Url;

use crate::release::Scope;
use crate::store::ClientId;
use crate::token::{SectorId, SubjectType};

/// How a client authenticates at the token endpoint (OIDC Core 9).
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client secret, checked against an argon2id PHC hash.
    SecretBasic {
        /// argon2id PHC string of the secret.
        secret_phc: String,
    },
    /// The secret in the request body, checked against an argon2id PHC hash.
    SecretPost {
        /// argon2id PHC string of the secret.
        secret_phc: String,
    },
    /// A JWT signed with one of the client's keys (RFC 7523).
    PrivateKeyJwt {
        /// The client's public keys, a JWKS document.
        jwks: String,
    },
    /// A public client: no authentication, PKCE only.
    None,
}

impl ClientAuth {
    /// The `token_endpoint_auth_method` name.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::SecretBasic { .. } => "client_secret_basic",
            ClientAuth::SecretPost { .. } => "client_secret_post",
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
            ClientAuth::None => "none",
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

/// A registration that cannot be accepted, or a request that does not fit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A redirect URI is not an absolute URL, has a fragment, or is not `https` (plain
    /// `http` is allowed for `localhost` only).
    #[error(
        "redirect URI {0:?}: must be an absolute https URL without fragment (http only for localhost)"
    )]
    BadRedirectUri(String),
    /// No redirect URI is registered.
    #[error("at least one redirect URI is required")]
    NoRedirectUri,
    /// A pairwise client's redirect URIs are on several hosts, so the sector is ambiguous
    /// (OIDC Core 8.1 would need a `sector_identifier_uri`).
    #[error("redirect URIs on several hosts: a pairwise client needs them on one host")]
    SeveralSectors,
    /// The request has no `redirect_uri` (OIDC Core 3.1.2.1: REQUIRED).
    #[error("redirect_uri is required")]
    MissingRedirectUri,
    /// The request's `redirect_uri` is not registered for this client.
    #[error("redirect_uri is not registered for this client")]
    UnregisteredRedirectUri,
    /// A post-logout redirect URI breaks the rules of redirect URIs.
    #[error(
        "post-logout redirect URI {0:?}: must be an absolute https URL without fragment (http \
         only for localhost)"
    )]
    BadPostLogoutRedirectUri(String),
    /// The logout request's `post_logout_redirect_uri` is not registered for this client.
    #[error("post_logout_redirect_uri is not registered for this client")]
    UnregisteredPostLogoutRedirectUri,
    /// A public client asked for the client credentials grant, which needs a confidential
    /// client.
    #[error("a public client (no client authentication) cannot use the client_credentials grant")]
    PublicClientCredentials,
}

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    /// The `client_id`.
    pub id: ClientId,
    /// Display name for consent pages.
    pub name: String,
    redirect_uris: Vec<String>,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
    /// Pairwise (per sector) or public `sub`.
    pub subject_type: SubjectType,
    /// Scopes the client may ask for.
    pub scopes: BTreeSet<Scope>,
    /// Whether authorization requests must come through PAR (RFC 9126 section 6).
    pub require_par: bool,
    post_logout_redirect_uris: Vec<String>,
    /// Whether the client may use the client credentials grant (RFC 6749 section 4.4).
    /// Set it with [`with_client_credentials`](Self::with_client_credentials), which
    /// refuses public clients.
    pub allow_client_credentials: bool,
}

impl RegisteredClient {
    /// A registration, checked: redirect URIs absolute, `https` (or `http://localhost`),
    /// without fragment (RFC 6749 section 3.1.2); a pairwise client's sector is the one
    /// host of its redirect URIs (OIDC Core 8.1).
    pub fn new(
        id: ClientId,
        name: impl Into<String>,
        redirect_uris: Vec<String>,
        auth: ClientAuth,
        pairwise: bool,
        scopes: BTreeSet<Scope>,
        require_par: bool,
    ) -> Result<Self, ClientError> {
        let mut hosts = BTreeSet::new();
        for uri in &redirect_uris {
            hosts.insert(web_host(uri).ok_or_else(|| ClientError::BadRedirectUri(uri.clone()))?);
        }
        let subject_type = if pairwise {
            let mut hosts = hosts.into_iter();
            let host = hosts.next().ok_or(ClientError::NoRedirectUri)?;
            if hosts.next().is_some() {
                return Err(ClientError::SeveralSectors);
            }
            SubjectType::Pairwise(SectorId::new(host).map_err(|_| ClientError::NoRedirectUri)?)
        } else if redirect_uris.is_empty() {
            return Err(ClientError::NoRedirectUri);
        } else {
            SubjectType::Public
        };
        Ok(Self {
            id,
            name: name.into(),
            redirect_uris,
            auth,
            subject_type,
            scopes,
            require_par,
            post_logout_redirect_uris: Vec::new(),
            allow_client_credentials: false,
        })
    }

    /// Registers the URIs the client may be sent to after logout, checked like redirect
    /// URIs (absolute, `https` or `http://localhost`, no fragment).
    pub fn with_post_logout_redirect_uris(
        mut self,
        uris: Vec<String>,
    ) -> Result<Self, ClientError> {
        if let Some(bad) = uris.iter().find(|uri| web_host(uri).is_none()) {
            return Err(ClientError::BadPostLogoutRedirectUri(bad.clone()));
        }
        self.post_logout_redirect_uris = uris;
        Ok(self)
    }

    /// Allows the client credentials grant. RFC 6749 section 4.4: it "MUST only be used by
    /// confidential clients", so a public client is refused.
    pub fn with_client_credentials(mut self) -> Result<Self, ClientError> {
        if !self.is_confidential() {
            return Err(ClientError::PublicClientCredentials);
        }
        self.allow_client_credentials = true;
        Ok(self)
    }

    /// The registered redirect URIs.
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// The request's `redirect_uri` if it is registered: compared as exact strings (OIDC
    /// Core 3.1.2.1 "MUST exactly match"; RFC 9700 section 4.1.3), never by prefix or
    /// after normalisation.
    pub fn redirect_uri<'a>(&self, requested: Option<&'a str>) -> Result<&'a str, ClientError> {
        let requested = requested.ok_or(ClientError::MissingRedirectUri)?;
        if self.redirect_uris.iter().any(|uri| uri == requested) {
            Ok(requested)
        } else {
            Err(ClientError::UnregisteredRedirectUri)
        }
    }

    /// The registered post-logout redirect URIs.
    pub fn post_logout_redirect_uris(&self) -> &[String] {
        &self.post_logout_redirect_uris
    }

    /// The logout request's `post_logout_redirect_uri` if it is registered, compared as
    /// exact strings: OIDC RP-Initiated Logout 1.0 section 2 (the value "MUST have been
    /// previously registered with the OP") and section 3 (redirect only on an exact match
    /// with a registered value).
    pub fn post_logout_redirect_uri(&self, requested: &str) -> Result<&str, ClientError> {
        self.post_logout_redirect_uris
            .iter()
            .find(|uri| *uri == requested)
            .map(String::as_str)
            .ok_or(ClientError::UnregisteredPostLogoutRedirectUri)
    }

    /// Whether the client has to authenticate at the token endpoint.
    pub fn is_confidential(&self) -> bool {
        self.auth != ClientAuth::None
    }
}

/// The host of an acceptable redirect URI: absolute, `https` (or `http://localhost`),
/// without fragment or credentials; `None` if it is not acceptable.
fn web_host(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let secure = match url.scheme() {
        "https" => true,
        "http" => host == "localhost",
        _ => false,
    };
    let clean = url.fragment().is_none() && url.username().is_empty() && url.password().is_none();
    (secure && clean).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str], pairwise: bool) -> Result<RegisteredClient, ClientError> {
        RegisteredClient::new(
            ClientId::new("bank").unwrap(),
            "Bank",
            uris.iter().map(|u| u.to_string()).collect(),
            ClientAuth::SecretBasic {
                secret_phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
            pairwise,
            BTreeSet::from([Scope::OpenId, Scope::Profile]),
            false,
        )
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(
            &["https://bank.example.vn/cb", "https://bank.example.vn/cb2"],
            true,
        )
        .unwrap();
        assert_eq!(
            c.redirect_uri(Some("https://bank.example.vn/cb")),
            Ok("https://bank.example.vn/cb")
        );
        for near_miss in [
            "https://bank.example.vn/cb/",
            "https://bank.example.vn/cb?x=1",
            "https://BANK.example.vn/cb",
            "https://bank.example.vn:443/cb",
            "https://bank.example.vn/c",
            "https://bank.example.vn/cb#frag",
            "http://bank.example.vn/cb",
            "https://evil.example/cb",
        ] {
            assert_eq!(
                c.redirect_uri(Some(near_miss)),
                Err(ClientError::UnregisteredRedirectUri),
                "{near_miss}"
            );
        }
        assert_eq!(c.redirect_uri(None), Err(ClientError::MissingRedirectUri));
    }

    #[test]
    fn registrations_are_checked() {
        for bad in [
            "http://bank.example.vn/cb",
            "https://bank.example.vn/cb#x",
            "/relative",
            "javascript:alert(1)",
            "https://user@bank.example.vn/cb",
        ] {
            assert!(
                matches!(client(&[bad], true), Err(ClientError::BadRedirectUri(_))),
                "{bad}"
            );
        }
        assert!(client(&["http://localhost:3000/cb"], true).is_ok());
        assert_eq!(client(&[], true), Err(ClientError::NoRedirectUri));
        assert_eq!(client(&[], false), Err(ClientError::NoRedirectUri));
        assert_eq!(
            client(&["https://a.example/cb", "https://b.example/cb"], true),
            Err(ClientError::SeveralSectors)
        );
        let public = client(&["https://a.example/cb", "https://b.example/cb"], false).unwrap();
        assert_eq!(public.subject_type, SubjectType::Public);
    }

    #[test]
    fn post_logout_redirect_uris_match_exactly() {
        let c = client(&["https://bank.example.vn/cb"], true)
            .unwrap()
            .with_post_logout_redirect_uris(vec![
                "https://bank.example.vn/bye".into(),
                "http://localhost:3000/bye".into(),
            ])
            .unwrap();
        assert_eq!(c.post_logout_redirect_uris().len(), 2);
        assert_eq!(
            c.post_logout_redirect_uri("https://bank.example.vn/bye"),
            Ok("https://bank.example.vn/bye")
        );
        for near_miss in [
            "https://bank.example.vn/bye/",
            "https://bank.example.vn/bye?x=1",
            "https://BANK.example.vn/bye",
            "https://bank.example.vn/cb",
            "http://localhost:3001/bye",
            "",
        ] {
            assert_eq!(
                c.post_logout_redirect_uri(near_miss),
                Err(ClientError::UnregisteredPostLogoutRedirectUri),
                "{near_miss}"
            );
        }
        let none = client(&["https://bank.example.vn/cb"], true).unwrap();
        assert!(none.post_logout_redirect_uris().is_empty());
        assert_eq!(
            none.post_logout_redirect_uri("https://bank.example.vn/bye"),
            Err(ClientError::UnregisteredPostLogoutRedirectUri)
        );
    }

    #[test]
    fn post_logout_redirect_uris_are_checked_like_redirect_uris() {
        for bad in [
            "http://bank.example.vn/bye",
            "https://bank.example.vn/bye#x",
            "/bye",
            "javascript:alert(1)",
            "https://user:pw@bank.example.vn/bye",
        ] {
            let registered = client(&["https://bank.example.vn/cb"], true)
                .unwrap()
                .with_post_logout_redirect_uris(vec![
                    "https://bank.example.vn/ok".into(),
                    bad.into(),
                ]);
            assert_eq!(
                registered,
                Err(ClientError::BadPostLogoutRedirectUri(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_confidential_clients_get_client_credentials() {
        let confidential = client(&["https://bank.example.vn/cb"], true).unwrap();
        assert!(!confidential.allow_client_credentials);
        assert!(
            confidential
                .with_client_credentials()
                .unwrap()
                .allow_client_credentials
        );
        let public = RegisteredClient::new(
            ClientId::new("app").unwrap(),
            "App",
            vec!["http://localhost:7000/cb".into()],
            ClientAuth::None,
            false,
            BTreeSet::from([Scope::OpenId]),
            false,
        )
        .unwrap();
        assert_eq!(
            public.with_client_credentials(),
            Err(ClientError::PublicClientCredentials)
        );
    }

    #[test]
    fn the_pairwise_sector_is_the_redirect_host() {
        let c = client(&["https://Bank.Example.vn/cb"], true).unwrap();
        assert_eq!(
            c.subject_type,
            SubjectType::Pairwise(SectorId::new("bank.example.vn").unwrap())
        );
        assert!(c.is_confidential());
        assert_eq!(format!("{:?}", c.auth), "client_secret_basic");
    }
}
