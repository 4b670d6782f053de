//! The demo's own relying party: a registered client whose redirect URI is a page of the
//! demo itself, so that a newcomer can log in from a browser with nothing else running.
//! The page shows the code it received and the exact `curl` command that redeems it.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::credential::password::{Password, PasswordHasher};
use eid_core::oauth::{ClientAuth, RegisteredClient};
use eid_core::release::Scope;
use eid_core::store::ClientId;
use eid_core::token::OpaqueToken;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::oidc::escape;

/// The demo client's id.
pub const CLIENT_ID: &str = "demo-rp";
/// Where the demo client receives codes, relative to the issuer.
pub const CALLBACK: &str = "/demo/callback";

/// The demo relying party and its secrets (printed at start: this is a local demo).
pub struct DemoRp {
    /// Its registration.
    pub client: RegisteredClient,
    /// Its client secret.
    pub secret: String,
    /// Its redirect URI.
    pub redirect_uri: String,
    /// A PKCE verifier for the printed authorization URL.
    pub verifier: String,
    /// The authorization URL to open in a browser.
    pub authorize_url: String,
    issuer: String,
}

impl DemoRp {
    /// Registers the demo client at `issuer` with a fresh secret.
    pub async fn new(issuer: &str, hasher: &PasswordHasher) -> anyhow::Result<Self> {
        let secret = OpaqueToken::generate().expose().to_owned();
        let phc = hasher
            .hash(Password::new(secret.as_str())?)
            .await
            .context("cannot hash the demo client secret")?;
        let redirect_uri = format!("{issuer}{CALLBACK}");
        let client = RegisteredClient::new(
            ClientId::new(CLIENT_ID)?,
            "Demo relying party",
            vec![redirect_uri.clone()],
            ClientAuth::SecretBasic { secret_phc: phc },
            true,
            Scope::ALL.into_iter().collect::<BTreeSet<_>>(),
            false,
        )?
        .with_post_logout_redirect_uris(vec![redirect_uri.clone()])?;
        let verifier = OpaqueToken::generate().expose().to_owned();
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        let mut url = url::Url::parse(&format!("{issuer}/authorize"))?;
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile birthdate gender")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", "demo")
            .append_pair("nonce", "demo-nonce");
        Ok(Self {
            client,
            secret,
            redirect_uri,
            verifier,
            authorize_url: url.into(),
            issuer: issuer.to_owned(),
        })
    }

    /// The callback page's route.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(CALLBACK, get(callback))
            .with_state(self)
    }
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(State(rp): State<Arc<DemoRp>>, Query(q): Query<Callback>) -> Response {
    let body = match (&q.code, &q.error) {
        (Some(code), _) => format!(
            "<p>Authorization code received (state <code>{state}</code>). Redeem it within a \
             minute, once:</p><pre>curl -s -u {id}:{secret} -d grant_type=authorization_code \
             -d code={code} \\\n  --data-urlencode redirect_uri={redirect} -d code_verifier={verifier} \
             \\\n  {issuer}/token</pre>",
            state = escape(q.state.as_deref().unwrap_or("")),
            id = CLIENT_ID,
            secret = escape(&rp.secret),
            code = escape(code),
            redirect = escape(&rp.redirect_uri),
            verifier = escape(&rp.verifier),
            issuer = escape(&rp.issuer),
        ),
        (None, Some(error)) => format!(
            "<p>The provider answered with an error: <code>{}</code> {}</p>",
            escape(error),
            escape(q.error_description.as_deref().unwrap_or(""))
        ),
        (None, None) => "<p>Nothing to show: this page receives the demo's authorization \
                         responses.</p>"
            .to_owned(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo relying \
         party</title></head><body><h1>Demo relying party</h1>{body}</body></html>"
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ],
        html,
    )
        .into_response()
}
