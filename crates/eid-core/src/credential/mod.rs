//! Credentials: what a citizen proves themselves with — passwords (argon2id) and passkeys
//! (WebAuthn) — the eKYC records that say how their identity was verified (with passive
//! authentication of the citizen ID card chip, [`chip`], and the outside face check,
//! [`face`]), and the verifiable credentials issued from them: SD-JWT VCs ([`sdjwt`]) whose
//! revocation and suspension are published in a Token Status List ([`status_list`]), issued
//! to a wallet that proved possession of its key ([`key_proof`]).

pub mod chip;
pub mod ekyc;
pub mod face;
mod jws;
pub mod key_proof;
pub mod passkey;
pub mod password;
pub mod sdjwt;
pub mod status_list;
