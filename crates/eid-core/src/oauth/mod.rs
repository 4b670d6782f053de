//! OAuth 2.0 building blocks the authorization server uses: registered clients, PKCE and
//! single-use authorization codes.

mod client;
mod code;
mod pkce;

pub use client::{ClientAuth, ClientError, RegisteredClient};
pub use code::{CodeError, CodeGrant, CodeStore, MAX_CODE_LIFETIME};
pub use pkce::{CodeChallenge, PkceError};
