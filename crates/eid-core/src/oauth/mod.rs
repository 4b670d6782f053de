//! OAuth 2.0 building blocks the authorization server uses: PKCE and single-use
//! authorization codes.

mod code;
mod pkce;

pub use code::{CodeError, CodeGrant, CodeStore, MAX_CODE_LIFETIME};
pub use pkce::{CodeChallenge, PkceError};
