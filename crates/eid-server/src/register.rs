//! The daemon's population register: the embedded SQLite file or a register served over gRPC
//! (`[register]` in the configuration), opened once and shared by the pages, the readiness
//! probe and the status watcher.

use std::sync::Arc;

use anyhow::Context as _;
use eid_core::registry::grpc::{GrpcRegistry, GrpcRegistryConfig, RetryPolicy};
use eid_core::registry::{EmbeddedRegistry, PopulationRegistry, RegisterLocation};

use crate::config::RegisterConfig;

/// The register the daemon asks.
#[derive(Debug, Clone)]
pub enum Register {
    /// The embedded SQLite register (a local file: part of the daemon's own readiness).
    Embedded(Arc<EmbeddedRegistry>),
    /// A register reached over gRPC (a remote service: its outages do not make the daemon
    /// unready, see [`Register::ready`]).
    Grpc(Arc<GrpcRegistry>),
}

impl Register {
    /// Opens the configured register. A gRPC client connects lazily, so a register that is
    /// down at start-up does not stop the daemon (the status watcher logs it).
    pub async fn open(config: &RegisterConfig) -> anyhow::Result<Self> {
        Ok(match config {
            RegisterConfig::File(file) => Self::Embedded(Arc::new(
                EmbeddedRegistry::open(RegisterLocation::File(file.clone()))
                    .await
                    .with_context(|| format!("cannot open the register {}", file.display()))?,
            )),
            RegisterConfig::Grpc(grpc) => {
                let mut client = GrpcRegistryConfig::new(grpc.endpoint.clone());
                client.bearer_token = Some(grpc.token.expose().to_owned());
                client.timeout = grpc.timeout;
                client.connect_timeout = grpc.connect_timeout;
                client.retry = RetryPolicy {
                    max_attempts: grpc.max_attempts,
                    ..RetryPolicy::default()
                };
                Self::Grpc(Arc::new(
                    GrpcRegistry::new(client).context("cannot set up the gRPC register client")?,
                ))
            }
        })
    }

    /// The register as the port the pages call.
    pub fn port(&self) -> Arc<dyn PopulationRegistry> {
        match self {
            Self::Embedded(registry) => registry.clone(),
            Self::Grpc(registry) => registry.clone(),
        }
    }

    /// One line for the start-up banner: the embedded register's size, or the gRPC register
    /// (never its token).
    pub async fn describe(&self) -> anyhow::Result<String> {
        Ok(match self {
            Self::Embedded(registry) => format!("{} citizens", registry.count().await?),
            Self::Grpc(_) => "gRPC (status watcher started)".to_owned(),
        })
    }

    /// The readiness probe: `(reachable, affects readiness)`.
    ///
    /// The embedded register is a local file: if it cannot be read the instance is broken
    /// and should leave the load balancer. A gRPC register is another service: when it is
    /// down every instance is equally affected, and taking them all out of rotation would
    /// also stop password and passkey logins, which do not need it. So it is reported
    /// (the client's circuit breaker: no network round trip per probe) but does not make
    /// the daemon unready; enrolment answers "try later" meanwhile.
    pub async fn ready(&self) -> (bool, bool) {
        match self {
            Self::Embedded(registry) => {
                let ok = registry
                    .ping()
                    .await
                    .inspect_err(
                        |err| tracing::warn!(error = %err, "readiness: register unreachable"),
                    )
                    .is_ok();
                (ok, true)
            }
            Self::Grpc(registry) => (!registry.is_circuit_open(), false),
        }
    }
}
