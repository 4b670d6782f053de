//! The reference population register server: `proto/eid/registry/v1/registry.proto` over the
//! embedded SQLite register, for development, tests and benchmarks (`eid-server registry
//! serve`). A national register runs its own implementation of the same contract.
//!
//! - Every call must carry `authorization: Bearer <token>`; an interceptor compares it with
//!   the configured token in constant time and answers `UNAUTHENTICATED` otherwise.
//! - `GetCitizen` requires a caller and a purpose and logs both (never the number nor any
//!   attribute).
//! - `WatchStatus` streams the changes published on a [`StatusFeed`] from the moment of the
//!   call on. The feed is fed in-process by whoever holds it ([`StatusFeed::publish`], e.g. a
//!   test); publishing does not change the SQLite records. A watcher that falls more than
//!   [`StatusFeed::CAPACITY`] changes behind gets `ABORTED` and should re-subscribe.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;
use eid_core::citizen::PersonalId;
use eid_core::registry::grpc::convert;
use eid_core::registry::{
    Authorisation, EmbeddedRegistry, PopulationRegistry as _, RecordStatus, RegistryError,
    StatusChange, StatusChangeKind,
};
use eid_proto::registry::v1 as pb;
use pb::population_registry_server::{PopulationRegistry, PopulationRegistryServer};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

/// The in-process source of the status changes that `WatchStatus` streams.
#[derive(Debug, Clone)]
pub struct StatusFeed {
    sender: broadcast::Sender<StatusChange>,
    sequence: Arc<AtomicU64>,
}

impl Default for StatusFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusFeed {
    /// Changes a watcher may lag behind before its stream ends with `ABORTED`.
    pub const CAPACITY: usize = 1024;

    /// A feed with no watcher yet.
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(Self::CAPACITY).0,
            sequence: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Publishes a change of `personal_id` to every current watcher, numbered from 1 in
    /// publication order, and returns it. The record's status after the change is deceased
    /// or card revoked for those kinds, active for a replaced number (the citizen lives on
    /// under the new one).
    pub fn publish(&self, personal_id: PersonalId, kind: StatusChangeKind) -> StatusChange {
        let status = match kind {
            StatusChangeKind::Deceased => RecordStatus::Deceased,
            StatusChangeKind::CardRevoked => RecordStatus::CardRevoked,
            StatusChangeKind::NumberReplaced { .. } => RecordStatus::Active,
        };
        let change = StatusChange {
            sequence: self.sequence.fetch_add(1, Ordering::Relaxed) + 1,
            personal_id,
            kind,
            status,
        };
        // No watcher is not an error: the change is simply not streamed to anyone.
        let _ = self.sender.send(change.clone());
        change
    }

    /// Number of open `WatchStatus` streams.
    pub fn watchers(&self) -> usize {
        self.sender.receiver_count()
    }
}

/// Serves the register on `listener` until `shutdown` completes. Calls must carry
/// `authorization: Bearer <token>`; the token must not be blank.
pub async fn serve(
    listener: TcpListener,
    registry: EmbeddedRegistry,
    token: &str,
    feed: StatusFeed,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    if token.trim().is_empty() {
        bail!("the register's bearer token is empty");
    }
    let token: Arc<Zeroizing<String>> = Arc::new(Zeroizing::new(token.to_owned()));
    let service = PopulationRegistryServer::with_interceptor(
        RegisterService { registry, feed },
        move |request: Request<()>| check_token(&token, request),
    );
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

fn check_token(expected: &str, request: Request<()>) -> Result<Request<()>, Status> {
    let presented = request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(request),
        Some(_) => Err(Status::unauthenticated("wrong bearer token")),
        None => Err(Status::unauthenticated("a bearer token is required")),
    }
}

/// The status code of a register error (the table in `registry.proto`).
fn status_of(error: RegistryError) -> Status {
    match error {
        RegistryError::InconsistentClaims(_) | RegistryError::InvalidAuthorisation(_) => {
            Status::invalid_argument(error.to_string())
        }
        RegistryError::NotFound => Status::not_found(error.to_string()),
        RegistryError::Timeout => Status::deadline_exceeded(error.to_string()),
        RegistryError::Storage(ref source) => {
            tracing::error!(error = %source, "register storage failed");
            Status::unavailable("the register's storage is unavailable")
        }
        other => {
            tracing::error!(error = %other, "register failed");
            Status::internal("the register failed")
        }
    }
}

struct RegisterService {
    registry: EmbeddedRegistry,
    feed: StatusFeed,
}

type ChangeStream = Pin<Box<dyn Stream<Item = Result<pb::WatchStatusResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PopulationRegistry for RegisterService {
    async fn verify_identity(
        &self,
        request: Request<pb::VerifyIdentityRequest>,
    ) -> Result<Response<pb::VerifyIdentityResponse>, Status> {
        let claims = request
            .into_inner()
            .claims
            .ok_or_else(|| Status::invalid_argument("claims are required"))?;
        let claims =
            convert::claims_from_proto(claims).map_err(|e| Status::invalid_argument(e.0))?;
        let answer = self.registry.verify(&claims).await.map_err(status_of)?;
        Ok(Response::new(convert::match_to_proto(&answer)))
    }

    async fn get_citizen(
        &self,
        request: Request<pb::GetCitizenRequest>,
    ) -> Result<Response<pb::GetCitizenResponse>, Status> {
        let request = request.into_inner();
        let authorisation =
            Authorisation::new(request.caller, request.purpose).map_err(status_of)?;
        let id = PersonalId::parse(&request.personal_id)
            .map_err(|e| Status::invalid_argument(format!("personal_id: {e}")))?;
        tracing::info!(
            caller = authorisation.caller(),
            purpose = authorisation.purpose(),
            "GetCitizen"
        );
        let record = self
            .registry
            .fetch(&id, &authorisation)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::GetCitizenResponse {
            citizen: Some(convert::record_to_proto(&record)),
        }))
    }

    type WatchStatusStream = ChangeStream;

    async fn watch_status(
        &self,
        _request: Request<pb::WatchStatusRequest>,
    ) -> Result<Response<Self::WatchStatusStream>, Status> {
        let changes =
            BroadcastStream::new(self.feed.sender.subscribe()).map(|change| match change {
                Ok(change) => Ok(convert::change_to_proto(&change)),
                Err(BroadcastStreamRecvError::Lagged(missed)) => Err(Status::aborted(format!(
                    "the watcher fell {missed} changes behind: subscribe again"
                ))),
            });
        Ok(Response::new(Box::pin(changes)))
    }
}
