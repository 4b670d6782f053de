//! OAuth 2.0 building blocks the authorization server uses: registered clients, PKCE,
//! single-use authorization codes and client assertion replay checks.

mod assertion;
mod client;
mod code;
mod pkce;

pub use assertion::{AssertionError, check_assertion_replay};
pub use client::{ClientAuth, ClientError, RegisteredClient};
pub use code::{CodeError, CodeGrant, CodeStore, MAX_CODE_LIFETIME};
pub use pkce::{CodeChallenge, PkceError};
