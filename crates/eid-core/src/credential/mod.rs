//! Credentials: what a citizen proves themselves with.

pub mod ekyc;
