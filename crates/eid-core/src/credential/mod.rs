//! Credentials: what a citizen proves themselves with — passwords (argon2id) and passkeys
//! (WebAuthn) — the
//! eKYC records that say how their identity was verified, and passive authentication of the
//! citizen ID card chip.

pub mod chip;
pub mod ekyc;
pub mod face;
pub mod passkey;
pub mod password;
