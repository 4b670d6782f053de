//! Citizen credentials: passwords (argon2id) and eKYC records.

pub mod password;
