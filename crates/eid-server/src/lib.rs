//! The eID daemon's pieces, used by the `eid-server` binary: command line, configuration,
//! the shared router, the OpenID provider, the `demo` and `serve` commands and the
//! administration tools.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod clients_cmd;
pub mod config;
pub mod credentials_cmd;
pub mod demo;
pub mod keyfile;
pub mod logging;
pub mod metrics;
pub mod oidc;
pub mod ops;
pub mod register;
pub mod registry_cmd;
pub mod registry_server;
pub mod saml;
pub mod saml_cmd;
pub mod serve;
pub mod status_watch;
