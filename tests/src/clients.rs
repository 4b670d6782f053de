//! Registered relying parties and how they authenticate at the token endpoint, as
//! `[[clients]]` tables of the configuration.

use std::path::PathBuf;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use base64ct::{Base64UrlUnpadded, Encoding as _};
use p256::elliptic_curve::Generate as _;
use serde_json::{Value, json};

use crate::random::random_text;

/// A client's token endpoint authentication, with what the client needs to perform it.
pub enum Auth {
    /// client_secret_basic or client_secret_post, with the plaintext secret.
    Secret {
        /// The method's name.
        method: &'static str,
        /// The plaintext secret (the configuration holds its argon2id hash).
        secret: String,
    },
    /// private_key_jwt, with the private JWK file and the public JWKS.
    PrivateKeyJwt {
        /// Where the private JWK is written.
        key_file: PathBuf,
        /// The public key set registered for the client.
        jwks: Value,
    },
    /// A public client.
    None,
}

impl Auth {
    /// A shared-secret method with a new random secret.
    pub fn secret(method: &'static str) -> Self {
        Auth::Secret {
            method,
            secret: random_text(),
        }
    }

    /// A new ES256 key pair: the private JWK is written to `key_file`.
    pub fn private_key_jwt(key_file: PathBuf) -> Self {
        let secret = p256::SecretKey::generate_from_rng(&mut rand::rng());
        let point = secret.public_key().to_sec1_bytes();
        assert!(point.len() == 65 && point[0] == 4, "an uncompressed point");
        let public = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "interop-1",
            "x": Base64UrlUnpadded::encode_string(&point[1..33]),
            "y": Base64UrlUnpadded::encode_string(&point[33..]),
        });
        let mut private = public.clone();
        private["d"] = json!(Base64UrlUnpadded::encode_string(&secret.to_bytes()));
        std::fs::write(&key_file, private.to_string()).expect("write the client key");
        Auth::PrivateKeyJwt {
            key_file,
            jwks: json!({ "keys": [public] }),
        }
    }

    /// The `token_endpoint_auth_method` name.
    pub fn method(&self) -> &'static str {
        match self {
            Auth::Secret { method, .. } => method,
            Auth::PrivateKeyJwt { .. } => "private_key_jwt",
            Auth::None => "none",
        }
    }

    /// The `[[clients]]` lines for this authentication.
    fn toml(&self) -> String {
        match self {
            Auth::Secret { secret, .. } => {
                let params = Params::new(19_456, 2, 1, None).expect("argon2 params");
                let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password(secret.as_bytes())
                    .expect("hash the client secret");
                format!("client_secret_hash = {:?}\n", hash.to_string())
            }
            Auth::PrivateKeyJwt { jwks, .. } => format!("jwks = '{jwks}'\n"),
            Auth::None => String::new(),
        }
    }
}

/// A registered relying party. Each has its own redirect host, so its own pairwise sector.
pub struct Rp {
    /// Its client id.
    pub client_id: &'static str,
    /// How it authenticates.
    pub auth: Auth,
    /// The scopes it may request.
    pub scopes: &'static [&'static str],
    /// Whether it must push its authorization requests (RFC 9126).
    pub require_par: bool,
}

impl Rp {
    /// Its one redirect URI.
    pub fn redirect_uri(&self) -> String {
        format!("https://{}.example/cb", self.client_id)
    }

    /// Its one post-logout redirect URI.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("https://{}.example/logged-out", self.client_id)
    }

    /// Its `[[clients]]` table.
    pub fn toml(&self) -> String {
        format!(
            "[[clients]]\nclient_id = {id:?}\nname = \"Interop {id}\"\nredirect_uris = [{redirect:?}]\n\
             post_logout_redirect_uris = [{logout:?}]\ntoken_endpoint_auth_method = {method:?}\n\
             scopes = {scopes:?}\nrequire_par = {par}\n{auth}",
            id = self.client_id,
            redirect = self.redirect_uri(),
            logout = self.post_logout_redirect_uri(),
            method = self.auth.method(),
            scopes = self.scopes,
            par = self.require_par,
            auth = self.auth.toml(),
        )
    }
}
