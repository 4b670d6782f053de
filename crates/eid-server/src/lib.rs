//! The eID daemon's pieces, used by the `eid-server` binary: command line, configuration,
//! the shared router and the `demo` and `serve` commands.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod keyfile;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod registry_cmd;
pub mod serve;
