//! A [`PopulationRegistry`] over gRPC: the client of `proto/eid/registry/v1/registry.proto`.
//!
//! Each attempt has a deadline ([`GrpcRegistryConfig::timeout`], sent as `grpc-timeout` and
//! enforced locally). Only `UNAVAILABLE` (or a broken connection) is retried, with exponential backoff
//! ([`RetryPolicy`]); a [`CircuitBreaker`] counts consecutive failed attempts (unavailable
//! or timed out) and, once open, refuses calls at once with
//! [`RegistryError::Unavailable`] until a half-open trial succeeds. Any answer from the
//! register, a refusal included, counts as a success for the breaker.
//!
//! The client authenticates with a bearer token sent as `authorization: Bearer …` metadata
//! (marked sensitive, so tonic does not log it).
//!
//! Status codes map to [`RegistryError`]: `NOT_FOUND` → [`RegistryError::NotFound`],
//! `DEADLINE_EXCEEDED` or the local deadline → [`RegistryError::Timeout`], `UNAVAILABLE`
//! (after the retries) → [`RegistryError::Unavailable`], `UNAUTHENTICATED` and
//! `PERMISSION_DENIED` → [`RegistryError::Unauthenticated`], any other →
//! [`RegistryError::Rejected`]; an answer that breaks the contract →
//! [`RegistryError::Protocol`].

pub mod convert;
mod resilience;

use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use eid_proto::registry::v1 as pb;
use pb::population_registry_client::PopulationRegistryClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt as _;

pub use resilience::{BreakerPolicy, CircuitBreaker, CircuitOpen, RetryPolicy};

use super::{
    Authorisation, IdentityClaims, Match, PopulationRegistry, RegisterRecord, RegistryError,
    StatusChange,
};
use crate::citizen::PersonalId;

/// The longest wait between two attempts, whatever the register asks in its `RetryInfo`.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// How to reach and call the register.
#[derive(Clone)]
pub struct GrpcRegistryConfig {
    /// The register's URI, e.g. `http://register.internal:50051`.
    pub endpoint: String,
    /// The bearer token sent with every call, if the register requires one.
    pub bearer_token: Option<String>,
    /// The deadline of one attempt.
    pub timeout: Duration,
    /// The deadline of establishing a connection.
    pub connect_timeout: Duration,
    /// Retries on `UNAVAILABLE`.
    pub retry: RetryPolicy,
    /// The circuit breaker.
    pub breaker: BreakerPolicy,
}

impl std::fmt::Debug for GrpcRegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcRegistryConfig")
            .field("endpoint", &self.endpoint)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "[redacted]"),
            )
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .finish()
    }
}

impl GrpcRegistryConfig {
    /// A configuration for `endpoint` with no token, a 2 s attempt deadline, a 1 s connect
    /// deadline, and the default retry and breaker policies.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            bearer_token: None,
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
        }
    }
}

/// A configuration the client cannot use.
#[derive(Debug, thiserror::Error)]
pub enum GrpcConfigError {
    /// The endpoint is not a valid URI.
    #[error("invalid register endpoint: {0}")]
    Endpoint(#[source] tonic::transport::Error),
    /// The token holds characters that gRPC metadata cannot carry.
    #[error("the register bearer token must be visible ASCII")]
    Token,
}

/// The gRPC register client. Cheap to share behind an `Arc`; calls run concurrently over one
/// HTTP/2 connection.
#[derive(Debug)]
pub struct GrpcRegistry {
    client: PopulationRegistryClient<Channel>,
    authorization: Option<AsciiMetadataValue>,
    timeout: Duration,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
}

impl GrpcRegistry {
    /// A client for `config`. Connects lazily, on the first call (so a register that is down
    /// at start-up is not fatal); must be called inside a Tokio runtime.
    pub fn new(config: GrpcRegistryConfig) -> Result<Self, GrpcConfigError> {
        let channel = Endpoint::from_shared(config.endpoint)
            .map_err(GrpcConfigError::Endpoint)?
            .connect_timeout(config.connect_timeout)
            // HTTP/2 pings (also while idle) and TCP keepalive: a connection that died
            // silently fails the calls and the `WatchStatus` stream instead of hanging them.
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .connect_lazy();
        let authorization = config
            .bearer_token
            .map(|token| {
                let mut value = MetadataValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| GrpcConfigError::Token)?;
                value.set_sensitive(true);
                Ok(value)
            })
            .transpose()?;
        Ok(Self {
            client: PopulationRegistryClient::new(channel),
            authorization,
            timeout: config.timeout,
            retry: config.retry,
            breaker: CircuitBreaker::new(config.breaker),
        })
    }

    /// True while the circuit breaker refuses calls (for readiness checks).
    pub fn is_circuit_open(&self) -> bool {
        self.breaker.is_open(Instant::now())
    }

    fn request<T>(&self, message: T, deadline: bool) -> Request<T> {
        let mut request = Request::new(message);
        if deadline {
            request.set_timeout(self.timeout);
        }
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        request
    }

    /// Runs one call with the deadline, the retries and the breaker.
    async fn call<T, R, F, Fut>(
        &self,
        message: T,
        deadline: bool,
        send: F,
    ) -> Result<R, RegistryError>
    where
        T: Clone,
        F: Fn(PopulationRegistryClient<Channel>, Request<T>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let mut last = String::new();
        let mut asked_delay = None;
        for attempt in 0..self.retry.max_attempts.max(1) {
            if attempt > 0 {
                // The register's `RetryInfo`, when longer than our backoff (capped).
                let delay = self.retry.backoff(attempt - 1);
                let asked = asked_delay.take().unwrap_or_default();
                tokio::time::sleep(delay.max(asked).min(MAX_RETRY_DELAY)).await;
            }
            self.breaker
                .admit(Instant::now())
                .map_err(|open| RegistryError::Unavailable(open.to_string()))?;
            let sent = send(self.client.clone(), self.request(message.clone(), deadline));
            match tokio::time::timeout(self.timeout, sent).await {
                Ok(Ok(response)) => {
                    self.breaker.record_success();
                    return Ok(response.into_inner());
                }
                Ok(Err(status)) if is_unreachable(&status) => {
                    self.breaker.record_failure(Instant::now());
                    last = status.message().to_owned();
                    asked_delay = status
                        .get_details_retry_info()
                        .and_then(|info| info.retry_delay);
                }
                Ok(Err(status)) if status.code() == Code::DeadlineExceeded => {
                    self.breaker.record_failure(Instant::now());
                    return Err(RegistryError::Timeout);
                }
                Ok(Err(status)) => {
                    self.breaker.record_success();
                    return Err(error_of(&status));
                }
                Err(_elapsed) => {
                    self.breaker.record_failure(Instant::now());
                    return Err(RegistryError::Timeout);
                }
            }
        }
        Err(RegistryError::Unavailable(last))
    }

    /// Subscribes to the register's status changes (see [`StatusWatch`]): those with a
    /// sequence number above `after` first when it is given (resuming after the last change
    /// handled), then new ones. Opening the stream goes through the retries and the breaker;
    /// the stream itself has no deadline.
    pub async fn watch_status(&self, after: Option<u64>) -> Result<StatusWatch, RegistryError> {
        let stream = self
            .call(
                pb::WatchStatusRequest {
                    after_sequence: after,
                },
                false,
                |mut client, request| async move { client.watch_status(request).await },
            )
            .await?;
        Ok(StatusWatch { stream })
    }
}

/// `UNAVAILABLE`, or a broken connection, which tonic reports as `UNKNOWN` with the transport
/// error as its source (e.g. the register's process died between two calls). Both are
/// retried: the register's calls are reads, safe to repeat.
fn is_unreachable(status: &Status) -> bool {
    status.code() == Code::Unavailable
        || std::error::Error::source(status)
            .is_some_and(|source| source.is::<tonic::transport::Error>())
}

/// The [`RegistryError`] of a status code other than `UNAVAILABLE` (see the module docs).
fn error_of(status: &Status) -> RegistryError {
    let mut message = status.message().to_owned();
    // The reason and the field at fault of the standard error details, when sent.
    if let Some(info) = status.get_details_error_info() {
        message = format!("{message} [{}]", info.reason);
    }
    if let Some(bad) = status.get_details_bad_request() {
        for violation in bad.field_violations {
            message = format!("{message} [field {}]", violation.field);
        }
    }
    match status.code() {
        Code::NotFound => RegistryError::NotFound,
        Code::DeadlineExceeded => RegistryError::Timeout,
        Code::Unavailable => RegistryError::Unavailable(message),
        Code::Unauthenticated | Code::PermissionDenied => RegistryError::Unauthenticated(message),
        code => RegistryError::Rejected {
            code: format!("{code:?}"),
            message,
        },
    }
}

fn protocol(e: convert::InvalidMessage) -> RegistryError {
    RegistryError::Protocol(e.0)
}

#[async_trait]
impl PopulationRegistry for GrpcRegistry {
    async fn verify(&self, claims: &IdentityClaims) -> Result<Match, RegistryError> {
        // Refuse a contradictory claim here, as the register would, without a round trip.
        claims.check_consistent()?;
        let request = pb::VerifyIdentityRequest {
            claims: Some(convert::claims_to_proto(claims)),
        };
        let response = self
            .call(request, true, |mut client, request| async move {
                client.verify_identity(request).await
            })
            .await?;
        convert::match_from_proto(response).map_err(protocol)
    }

    async fn fetch(
        &self,
        id: &PersonalId,
        authorisation: &Authorisation,
    ) -> Result<RegisterRecord, RegistryError> {
        let request = pb::GetCitizenRequest {
            personal_id: id.expose(),
            caller: authorisation.caller().to_owned(),
            purpose: authorisation.purpose().to_owned(),
        };
        let response = self
            .call(request, true, |mut client, request| async move {
                client.get_citizen(request).await
            })
            .await?;
        let citizen = response
            .citizen
            .ok_or_else(|| RegistryError::Protocol("GetCitizen answered no citizen".into()))?;
        let record = convert::record_from_proto(citizen).map_err(protocol)?;
        if record.personal_id != *id {
            return Err(RegistryError::Protocol(
                "GetCitizen answered another citizen".into(),
            ));
        }
        Ok(record)
    }
}

/// The register's stream of status changes.
#[derive(Debug)]
pub struct StatusWatch {
    stream: tonic::Streaming<pb::WatchStatusResponse>,
}

impl StatusWatch {
    /// The next change; `None` when the register closed the stream. A watcher that fell
    /// behind gets [`RegistryError::Rejected`] with code `Aborted`, and a broken connection
    /// [`RegistryError::Unavailable`]: subscribe again.
    pub async fn next(&mut self) -> Option<Result<StatusChange, RegistryError>> {
        match self.stream.message().await {
            Ok(Some(change)) => Some(convert::change_from_proto(change).map_err(protocol)),
            Ok(None) => None,
            Err(status) if is_unreachable(&status) => {
                Some(Err(RegistryError::Unavailable(status.message().to_owned())))
            }
            Err(status) => Some(Err(error_of(&status))),
        }
    }
}
