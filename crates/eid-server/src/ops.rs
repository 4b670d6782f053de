//! Operational endpoints: `/healthz` (the process is alive) and `/readyz` (its stores and
//! the population register answer). Both are cheap: a probe never scans the register.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use eid_core::registry::EmbeddedRegistry;
use eid_core::store::DurableStore;
use serde_json::{Value, json};

/// What the operational endpoints look at.
#[derive(Clone)]
pub struct OpsState {
    /// Accounts, credentials, consents, audit.
    pub durable: Arc<dyn DurableStore>,
    /// The population register.
    pub registry: Arc<EmbeddedRegistry>,
}

/// Routes `/healthz` and `/readyz`.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

async fn readyz(State(state): State<OpsState>) -> (StatusCode, Json<Value>) {
    let durable = match state.durable.ping().await {
        Ok(()) => json!({ "ok": true }),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: durable store unreachable");
            json!({ "ok": false })
        }
    };
    let register = match state.registry.ping().await {
        Ok(()) => json!({ "ok": true }),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: population register unreachable");
            json!({ "ok": false })
        }
    };
    let ready = durable["ok"] == true && register["ok"] == true;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": { "durable_store": durable, "register": register },
    });
    (status, Json(body))
}
