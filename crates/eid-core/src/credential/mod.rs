//! Credentials: what a citizen proves themselves with — passwords (argon2id) and passkeys
//! (WebAuthn) — and the
//! eKYC records that say how their identity was verified.

pub mod ekyc;
pub mod face;
pub mod passkey;
pub mod password;
