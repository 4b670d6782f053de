//! Credentials: what a citizen proves themselves with — passwords (argon2id) and passkeys
//! (WebAuthn) — the eKYC records that say how their identity was verified, and the
//! verifiable credentials issued from them: SD-JWT VCs ([`sdjwt`]) whose revocation and
//! suspension are published in a Token Status List ([`status_list`]).

pub mod ekyc;
mod jws;
pub mod passkey;
pub mod password;
pub mod sdjwt;
pub mod status_list;
