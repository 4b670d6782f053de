//! What `demo` and `serve` share: the router (operational routes, `/jwks.json`,
//! metrics) and graceful shutdown.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use eid_core::token::KeyRing;

use crate::{metrics, ops};

/// The public JWKS document of `keys`, serialised once at start (a rotation on disk is
/// published at the next restart).
pub fn jwks_json(keys: &KeyRing) -> anyhow::Result<String> {
    serde_json::to_string(&keys.jwks()).context("cannot serialise the JWKS")
}

/// The whole application: `/healthz`, `/readyz`, `/jwks.json` and `/metrics`, instrumented.
pub fn router(ops: ops::OpsState, jwks: String) -> Router {
    let jwks: Arc<str> = jwks.into();
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
    metrics::instrument(ops::router(ops).route("/jwks.json", jwks_route))
}

/// Serves `app` on `listener` until SIGINT or SIGTERM, letting requests in flight finish.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> anyhow::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
