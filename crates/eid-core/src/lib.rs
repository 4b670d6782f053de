//! eid-core: the domain of the eID service — citizen identity, the population register,
//! levels of assurance, tokens, credentials, stores and the audit log. No HTTP, no FFI,
//! no global state.

pub mod assurance;
pub mod audit;
pub mod citizen;
pub mod credential;
pub mod oauth;
pub mod ratelimit;
pub mod registry;
pub mod release;
pub mod store;
pub mod token;
