//! Operational endpoints: `/healthz` (the process is alive) and `/readyz` (its durable and
//! ephemeral stores answer, and the embedded register when it is one). Both are cheap: a
//! probe never scans the register. A gRPC register's reachability is reported but does not
//! make the daemon unready ([`Register::ready`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use eid_core::store::{DurableStore, EphemeralStore};
use serde_json::{Value, json};

use crate::register::Register;

/// What the operational endpoints look at.
#[derive(Clone)]
pub struct OpsState {
    /// Accounts, credentials, consents, audit.
    pub durable: Arc<dyn DurableStore>,
    /// Sessions and short-lived state.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// The population register.
    pub register: Register,
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
    let durable = check("durable store", state.durable.ping().await);
    let ephemeral = check("ephemeral store", state.ephemeral.ping().await);
    let (register, register_required) = state.register.ready().await;
    let ready = durable && ephemeral && (register || !register_required);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {
            "durable_store": { "ok": durable },
            "ephemeral_store": { "ok": ephemeral },
            "register": { "ok": register, "required": register_required },
        },
    });
    (status, Json(body))
}

/// Whether a probe succeeded; a failure is logged (without detail to the client).
fn check<E: std::fmt::Display>(what: &str, result: Result<(), E>) -> bool {
    result
        .inspect_err(|err| tracing::warn!(error = %err, "readiness: {what} unreachable"))
        .is_ok()
}
