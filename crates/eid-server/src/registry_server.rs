//! The reference population register server: `proto/eid/registry/v1/registry.proto` over the
//! embedded SQLite register, for development, tests and benchmarks (`eid-server registry
//! serve`). A national register runs its own implementation of the same contract.
//!
//! - Every call must carry `authorization: Bearer <token>`; an interceptor compares it with
//!   the configured token in constant time and answers `UNAUTHENTICATED` otherwise.
//! - `GetCitizen` requires a caller and a purpose and logs both (never the number nor any
//!   attribute).
//! - `WatchStatus` streams the register's change log (`status_changes` in the register file,
//!   written by [`EmbeddedRegistry::record_change`], e.g. from another process by `eid-server
//!   registry record-change`). A [`StatusFeed`] tails the log every [`StatusFeed::POLL`] and
//!   broadcasts new changes to the watchers; a watcher that sends `after_sequence` first
//!   gets the logged changes after it, then the broadcast ones, without gap or repeat. A
//!   watcher that falls more than [`StatusFeed::CAPACITY`] changes behind gets `ABORTED`
//!   and should re-subscribe with the last sequence it handled.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use eid_core::citizen::PersonalId;
use eid_core::registry::grpc::convert;
use eid_core::registry::{
    Authorisation, EmbeddedRegistry, PopulationRegistry as _, RegistryError, StatusChange,
};
use eid_proto::registry::v1 as pb;
use pb::population_registry_server::{PopulationRegistry, PopulationRegistryServer};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};
use zeroize::Zeroizing;

/// Broadcasts the changes appended to the register's change log to the `WatchStatus`
/// streams.
#[derive(Debug, Clone)]
pub struct StatusFeed {
    sender: broadcast::Sender<StatusChange>,
}

impl StatusFeed {
    /// Changes a watcher may lag behind before its stream ends with `ABORTED`.
    pub const CAPACITY: usize = 1024;
    /// How often the change log is read for new changes.
    pub const POLL: Duration = Duration::from_millis(200);
    /// Changes read from the log per query.
    const PAGE: u32 = 500;

    fn new() -> Self {
        Self {
            sender: broadcast::channel(Self::CAPACITY).0,
        }
    }

    /// Publishes every change logged after `last`, in order, polling forever. A failed read
    /// is logged and retried at the next poll.
    async fn tail(self, registry: EmbeddedRegistry, mut last: u64) {
        let mut poll = tokio::time::interval(Self::POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            poll.tick().await;
            loop {
                let changes = match registry.changes_after(last, Self::PAGE).await {
                    Ok(changes) => changes,
                    Err(err) => {
                        tracing::error!(error = %err, "cannot read the register's change log");
                        break;
                    }
                };
                let Some(newest) = changes.last() else { break };
                last = newest.sequence;
                for change in changes {
                    // No watcher is not an error: the change stays in the log.
                    let _ = self.sender.send(change);
                }
            }
        }
    }
}

/// Serves the register on `listener` until `shutdown` completes. Calls must carry
/// `authorization: Bearer <token>`; the token must not be blank.
pub async fn serve(
    listener: TcpListener,
    registry: EmbeddedRegistry,
    token: &str,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    if token.trim().is_empty() {
        bail!("the register's bearer token is empty");
    }
    let token: Arc<Zeroizing<String>> = Arc::new(Zeroizing::new(token.to_owned()));
    let feed = StatusFeed::new();
    let tailer = tokio::spawn(
        feed.clone()
            .tail(registry.clone(), registry.last_change().await?),
    );
    let service = PopulationRegistryServer::with_interceptor(
        RegisterService { registry, feed },
        move |request: Request<()>| check_token(&token, request),
    );
    // HTTP/2 pings and TCP keepalive: a `WatchStatus` stream over a connection that died
    // silently (a firewall dropping idle state) ends in an error instead of hanging.
    let served = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await;
    tailer.abort();
    Ok(served?)
}

fn check_token(expected: &str, request: Request<()>) -> Result<Request<()>, Status> {
    let presented = request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(request),
        Some(_) => Err(failure(
            Code::Unauthenticated,
            "wrong bearer token",
            Reason::TokenWrong,
        )),
        None => Err(failure(
            Code::Unauthenticated,
            "a bearer token is required",
            Reason::TokenMissing,
        )),
    }
}

/// Why a call failed: the `reason` of the `google.rpc.ErrorInfo` detail every error status
/// carries (the list in `registry.proto`).
#[derive(Debug, Clone, Copy)]
enum Reason {
    TokenMissing,
    TokenWrong,
    InvalidField,
    InconsistentClaims,
    MissingAuthorisation,
    NotFound,
    Timeout,
    StorageUnavailable,
    WatcherLagged,
    CursorAhead,
    Internal,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::TokenMissing => "TOKEN_MISSING",
            Reason::TokenWrong => "TOKEN_WRONG",
            Reason::InvalidField => "INVALID_FIELD",
            Reason::InconsistentClaims => "INCONSISTENT_CLAIMS",
            Reason::MissingAuthorisation => "MISSING_AUTHORISATION",
            Reason::NotFound => "NOT_FOUND",
            Reason::Timeout => "TIMEOUT",
            Reason::StorageUnavailable => "STORAGE_UNAVAILABLE",
            Reason::WatcherLagged => "WATCHER_LAGGED",
            Reason::CursorAhead => "CURSOR_AHEAD",
            Reason::Internal => "INTERNAL",
        }
    }
}

/// The `ErrorInfo` domain of this register's errors.
const ERROR_DOMAIN: &str = "registry.eid";
/// How long a caller should wait before retrying an `UNAVAILABLE` answer (`RetryInfo`).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A status with the standard error details (`google.rpc.ErrorInfo`, plus `RetryInfo` for
/// `UNAVAILABLE`).
fn failure(code: Code, message: impl Into<String>, reason: Reason) -> Status {
    let mut details = ErrorDetails::with_error_info(reason.as_str(), ERROR_DOMAIN, HashMap::new());
    if code == Code::Unavailable {
        details.set_retry_info(Some(RETRY_AFTER));
    }
    Status::with_error_details(code, message, details)
}

/// An `INVALID_ARGUMENT` status naming the request `field` at fault
/// (`google.rpc.BadRequest`) besides its reason.
fn invalid_field(field: &str, message: impl Into<String>, reason: Reason) -> Status {
    let message = message.into();
    let mut details = ErrorDetails::with_error_info(reason.as_str(), ERROR_DOMAIN, HashMap::new());
    details.add_bad_request_violation(field, message.clone());
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// The status of a register error (the table in `registry.proto`).
fn status_of(error: RegistryError) -> Status {
    match error {
        RegistryError::InconsistentClaims(_) => {
            invalid_field("claims", error.to_string(), Reason::InconsistentClaims)
        }
        RegistryError::InvalidAuthorisation(field) => {
            invalid_field(field, error.to_string(), Reason::MissingAuthorisation)
        }
        RegistryError::NotFound => failure(Code::NotFound, error.to_string(), Reason::NotFound),
        RegistryError::Timeout => {
            failure(Code::DeadlineExceeded, error.to_string(), Reason::Timeout)
        }
        RegistryError::Storage(ref source) => {
            tracing::error!(error = %source, "register storage failed");
            failure(
                Code::Unavailable,
                "the register's storage is unavailable",
                Reason::StorageUnavailable,
            )
        }
        other => {
            tracing::error!(error = %other, "register failed");
            failure(Code::Internal, "the register failed", Reason::Internal)
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
            .ok_or_else(|| invalid_field("claims", "claims are required", Reason::InvalidField))?;
        let claims = convert::claims_from_proto(claims)
            .map_err(|e| invalid_field("claims", e.0, Reason::InvalidField))?;
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
            .map_err(|e| invalid_field("personal_id", e.to_string(), Reason::InvalidField))?;
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
        request: Request<pb::WatchStatusRequest>,
    ) -> Result<Response<Self::WatchStatusStream>, Status> {
        // Subscribe before reading the log: a change committed meanwhile is then in the log
        // read, or in the broadcast, or both (and sent once).
        let live = self.feed.sender.subscribe();
        let Some(after) = request.into_inner().after_sequence else {
            return Ok(Response::new(Box::pin(
                BroadcastStream::new(live).map(live_change),
            )));
        };
        // A cursor beyond the log means the register's log is not the one the watcher
        // followed (a restored or regenerated register): streaming from there would silently
        // skip the changes numbered up to the cursor.
        let last = self.registry.last_change().await.map_err(status_of)?;
        if after > last {
            return Err(failure(
                Code::OutOfRange,
                format!(
                    "after_sequence {after} is beyond the register's last change {last}: \
                     the change log was replaced; reconcile before following it"
                ),
                Reason::CursorAhead,
            ));
        }
        let (sender, receiver) = mpsc::channel(StatusFeed::PAGE as usize);
        tokio::spawn(resume(self.registry.clone(), after, live, sender));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// A broadcast change as a `WatchStatus` message; a lagging watcher's stream ends here.
fn live_change(
    change: Result<StatusChange, BroadcastStreamRecvError>,
) -> Result<pb::WatchStatusResponse, Status> {
    match change {
        Ok(change) => Ok(convert::change_to_proto(&change)),
        Err(BroadcastStreamRecvError::Lagged(missed)) => Err(failure(
            Code::Aborted,
            format!("the watcher fell {missed} changes behind: subscribe again"),
            Reason::WatcherLagged,
        )),
    }
}

/// Sends a resuming watcher the logged changes after `after`, then the live ones it has not
/// had yet, until it goes away or its stream fails.
async fn resume(
    registry: EmbeddedRegistry,
    mut after: u64,
    live: broadcast::Receiver<StatusChange>,
    watcher: mpsc::Sender<Result<pb::WatchStatusResponse, Status>>,
) {
    loop {
        let changes = match registry.changes_after(after, StatusFeed::PAGE).await {
            Ok(changes) => changes,
            Err(err) => {
                let _ = watcher.send(Err(status_of(err))).await;
                return;
            }
        };
        if changes.is_empty() {
            break;
        }
        for change in changes {
            after = change.sequence;
            if watcher
                .send(Ok(convert::change_to_proto(&change)))
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let mut live = BroadcastStream::new(live);
    while let Some(change) = live.next().await {
        if matches!(&change, Ok(change) if change.sequence <= after) {
            continue;
        }
        let failed = change.is_err();
        if watcher.send(live_change(change)).await.is_err() || failed {
            return;
        }
    }
}
