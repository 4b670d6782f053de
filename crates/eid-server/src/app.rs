//! What `demo` and `serve` share: the router (operational routes, `/jwks.json`, the
//! OpenID provider, metrics) and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use eid_core::credential::password::PasswordHasher;
use eid_core::store::{DurableStore, EphemeralStore};
use eid_core::token::KeyRing;

use crate::metrics::Metrics;
use crate::oidc::{self, Backends, Oidc, Settings};
use crate::register::Register;
use crate::{metrics, ops};

/// What the application is built from.
pub struct Parts {
    /// The OpenID provider's settings.
    pub settings: Settings,
    /// The signing keys.
    pub keys: KeyRing,
    /// Accounts, credentials, consents, refresh tokens, audit.
    pub durable: Arc<dyn DurableStore>,
    /// Request state.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// The population register.
    pub registry: Register,
    /// Password and client secret hashing.
    pub hasher: PasswordHasher,
    /// Further routes (the demo's relying party), instrumented with the rest.
    pub extra: Router,
}

/// The whole application: `/healthz`, `/readyz`, `/jwks.json`, the OpenID provider, the
/// extra routes and `/metrics`, all instrumented (unmatched paths included).
pub fn build(parts: Parts) -> anyhow::Result<Router> {
    let jwks: Arc<str> = serde_json::to_string(&parts.keys.jwks())
        .context("cannot serialise the JWKS")?
        .into();
    let metrics = Metrics::new();
    let oidc = Oidc::new(
        parts.settings,
        parts.keys,
        Backends {
            durable: Arc::clone(&parts.durable),
            ephemeral: Arc::clone(&parts.ephemeral),
            registry: parts.registry.port(),
            hasher: parts.hasher,
            metrics: metrics.clone(),
        },
    )?;
    let ops = ops::OpsState {
        durable: parts.durable,
        ephemeral: parts.ephemeral,
        register: parts.registry,
    };
    // The JWKS is serialised once at start (a rotation on disk is published at the next
    // restart).
    let jwks_route = get(move || {
        let jwks = Arc::clone(&jwks);
        async move {
            (
                [
                    (header::CONTENT_TYPE, "application/jwk-set+json"),
                    (header::CACHE_CONTROL, "public, max-age=300"),
                ],
                jwks.to_string(),
            )
                .into_response()
        }
    });
    let app = ops::router(ops)
        .route(oidc::paths::JWKS, jwks_route)
        .merge(oidc::router(Arc::new(oidc)))
        .merge(parts.extra);
    Ok(metrics::instrument(app, metrics))
}

/// Serves `app` on `listener` until `shutdown` resolves, letting requests in flight finish.
/// Handlers see the peer address (for per-IP rate limits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("server failed")
}

/// Starts listening for SIGINT (Ctrl-C) and SIGTERM now; the future resolves on either.
/// Call it before announcing readiness: a signal that arrives before its handler is
/// installed would kill the process outright instead of shutting it down gracefully.
#[cfg(unix)]
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

/// Starts listening for Ctrl-C; the future resolves on it.
#[cfg(not(unix))]
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}
