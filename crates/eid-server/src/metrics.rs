//! Prometheus metrics: `/metrics` in the OpenMetrics text format, and a middleware that
//! counts every request and times it by route.
//!
//! Routes are labelled by their pattern (`MatchedPath`), never by the raw path, so a client
//! cannot create unbounded label values; requests that match no route share `unmatched`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The OpenMetrics text content type.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoaLabels {
    loa: &'static str,
}

/// The daemon's metrics. Cheap to clone; clones share the counters.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    logins: Family<OutcomeLabels, Counter>,
    tokens: Family<LoaLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Counts one login attempt by `outcome` (`success`, `bad_credentials`, `rate_limited`,
    /// `inactive`).
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts one issuance of tokens at level `loa` (`low`, `substantial`, `high`, or `none`
    /// for tokens without a citizen or level).
    pub fn token_issued(&self, loa: &'static str) {
        self.tokens.get_or_create(&LoaLabels { loa }).inc();
    }

    /// Registers the HTTP and authentication metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("eid");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests handled, by method, route and status",
            requests.clone(),
        );
        // 0.25 ms to about 8 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to produce a response, by method and route",
            latency.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register("logins", "Login attempts, by outcome", logins.clone());
        let tokens = Family::<LoaLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Token responses issued, by level of assurance",
            tokens.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            logins,
            tokens,
        }
    }

    /// The current values in the OpenMetrics text format.
    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Adds `GET /metrics` to `app` and counts and times every request of `app` (the metrics
/// endpoint included).
pub fn instrument(app: Router, metrics: Metrics) -> Router {
    app.merge(
        Router::new()
            .route("/metrics", get(endpoint))
            .with_state(metrics.clone()),
    )
    .layer(middleware::from_fn_with_state(metrics, track))
}

/// `GET /metrics`.
async fn endpoint(State(metrics): State<Metrics>) -> Response {
    match metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Middleware: counts and times each request.
async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let route_labels = RouteLabels { method, route };
    metrics
        .latency
        .get_or_create(&route_labels)
        .observe(started.elapsed().as_secs_f64());
    let labels = RequestLabels {
        method: route_labels.method,
        route: route_labels.route,
        status: response.status().as_u16(),
    };
    metrics.requests.get_or_create(&labels).inc();
    response
}
