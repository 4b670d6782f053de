//! The register contract over real gRPC: `eid-server registry serve` in its own process,
//! eid-core's gRPC client in the test, and `WatchStatus` fed by `eid-server registry
//! record-change` in a third process.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eid_core::citizen::PersonalId;
use eid_core::registry::grpc::{BreakerPolicy, GrpcRegistry, GrpcRegistryConfig, RetryPolicy};
use eid_core::registry::{
    Attribute, Authorisation, EmbeddedRegistry, IdentityClaims, Match, PopulationRegistry,
    RecordStatus, RegisterLocation, RegistryError, StatusChange, StatusChangeKind,
};
use time::macros::date;

const TOKEN: &str = "register-test-token";

const CSV: &str = "\
personal_id,family_name,middle_names,given_name,birth_date,sex,place_of_birth,nationality,status
001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active
079085000001,Trần,Văn,An,1985-01-02,male,TP. Hồ Chí Minh,VN,deceased
";

fn id(digits: &str) -> PersonalId {
    PersonalId::parse(digits).unwrap()
}

fn huong() -> IdentityClaims {
    IdentityClaims {
        family_name: Some("Nguyễn".into()),
        middle_names: Some("Thị".into()),
        given_name: Some("Hương".into()),
        birth_date: Some(date!(1990 - 05 - 17)),
        ..IdentityClaims::new(id("001190123489"))
    }
}

async fn write_register(path: &Path) {
    let registry = EmbeddedRegistry::open(RegisterLocation::File(path.to_owned()))
        .await
        .unwrap();
    registry.load_csv(CSV.as_bytes()).await.unwrap();
}

/// `eid-server registry serve` on a free loopback port; killed on drop.
struct RegisterProcess {
    child: Child,
    endpoint: String,
}

impl RegisterProcess {
    fn start(register: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eid-server"))
            .args(["registry", "serve", "--listen", "127.0.0.1:0", "--register"])
            .arg(register)
            .env("EID_REGISTRY_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run eid-server registry serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        assert!(line.contains("2 citizens"), "{line}");
        Self {
            child,
            endpoint: format!("http://{address}"),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RegisterProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn client(endpoint: &str, token: Option<&str>) -> GrpcRegistry {
    let mut config = GrpcRegistryConfig::new(endpoint);
    config.bearer_token = token.map(str::to_owned);
    config.retry = RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    };
    config.breaker = BreakerPolicy {
        failure_threshold: 4,
        cool_down: Duration::from_secs(600),
    };
    GrpcRegistry::new(config).unwrap()
}

#[tokio::test]
async fn the_register_process_answers_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("register.sqlite");
    write_register(&file).await;
    let mut server = RegisterProcess::start(&file);
    let registry = client(&server.endpoint, Some(TOKEN));

    // Match.
    let answer = registry.verify(&huong()).await.unwrap();
    assert!(answer.confirms(&[Attribute::FamilyName, Attribute::BirthDate]));
    assert_eq!(answer.status(), Some(RecordStatus::Active));

    // Mismatch: named, with no value.
    let mut wrong = huong();
    wrong.given_name = Some("Hường".into());
    let answer = registry.verify(&wrong).await.unwrap();
    assert_eq!(answer.mismatched(), vec![Attribute::GivenName]);
    assert!(!answer.confirms(&[]));

    // Rectified spelling.
    let mut upper = huong();
    upper.family_name = Some("NGUYỄN".into());
    assert!(registry.verify(&upper).await.unwrap().needs_rectification());

    // Unknown number.
    let unknown = IdentityClaims::new(id("001190123490"));
    assert_eq!(
        registry.verify(&unknown).await.unwrap(),
        Match::UnknownNumber
    );
    let auth = Authorisation::new("eid-server/enroll", "ekyc-enrolment").unwrap();
    assert!(matches!(
        registry.fetch(&id("001190123490"), &auth).await,
        Err(RegistryError::NotFound)
    ));

    // Deceased: reported, refused.
    let deceased = IdentityClaims {
        family_name: Some("Trần".into()),
        ..IdentityClaims::new(id("079085000001"))
    };
    let answer = registry.verify(&deceased).await.unwrap();
    assert_eq!(answer.status(), Some(RecordStatus::Deceased));
    assert!(!answer.confirms(&[Attribute::FamilyName]));

    // Authorised fetch returns the register's spelling.
    let record = registry.fetch(&id("001190123489"), &auth).await.unwrap();
    assert_eq!(record.identity.given_name, "Hương");
    assert_eq!(record.identity.place_of_birth, "Hà Nội");

    // Wrong or missing token.
    for bad in [
        client(&server.endpoint, Some("not-the-token")),
        client(&server.endpoint, None),
    ] {
        assert!(
            matches!(
                bad.verify(&huong()).await,
                Err(RegistryError::Unauthenticated(_))
            ),
            "a call without the token must be refused"
        );
        assert!(
            !bad.is_circuit_open(),
            "a refusal is an answer, not an outage"
        );
    }

    // Register down: each call makes 2 failed attempts; after 4 the circuit opens and the
    // next call is refused without reaching the network.
    server.stop();
    for _ in 0..2 {
        match registry.verify(&huong()).await {
            Err(RegistryError::Unavailable(reason)) => {
                assert!(!reason.contains("circuit"), "{reason}")
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
    assert!(registry.is_circuit_open());
    match registry.verify(&huong()).await {
        Err(RegistryError::Unavailable(reason)) => assert!(reason.contains("circuit"), "{reason}"),
        other => panic!("expected an open circuit, got {other:?}"),
    }
}

/// Runs `eid-server registry record-change` on `register`; its stdout, or its stderr as the
/// error.
fn record_change(register: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_eid-server"))
        .args(["registry", "record-change", "--register"])
        .arg(register)
        .args(args)
        .output()
        .expect("run eid-server registry record-change");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(text(&out.stderr))
    }
}

async fn next_change(watch: &mut eid_core::registry::grpc::StatusWatch) -> StatusChange {
    tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .expect("a change within 30 s")
        .expect("an open stream")
        .unwrap()
}

#[tokio::test]
async fn watch_status_streams_changes_recorded_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("register.sqlite");
    write_register(&file).await;
    let server = RegisterProcess::start(&file);
    let client = client(&server.endpoint, Some(TOKEN));
    let mut live = client.watch_status(None).await.unwrap();

    let out = record_change(&file, &["001190123489", "deceased"]).unwrap();
    assert_eq!(out.trim(), "change 1 recorded: deceased");
    let deceased = StatusChange {
        sequence: 1,
        personal_id: id("001190123489"),
        kind: StatusChangeKind::Deceased,
        status: RecordStatus::Deceased,
    };
    assert_eq!(next_change(&mut live).await, deceased);
    // The record changed with the log entry.
    match client.verify(&huong()).await.unwrap() {
        Match::Found(record) => assert_eq!(record.status(), RecordStatus::Deceased),
        other => panic!("expected the record, got {other:?}"),
    }

    let out = record_change(
        &file,
        &[
            "079085000001",
            "number-replaced",
            "--new-number",
            "079085000002",
        ],
    )
    .unwrap();
    assert_eq!(out.trim(), "change 2 recorded: number-replaced");
    let replaced = StatusChange {
        sequence: 2,
        personal_id: id("079085000001"),
        kind: StatusChangeKind::NumberReplaced {
            replacement: id("079085000002"),
        },
        status: RecordStatus::Deceased,
    };
    assert_eq!(next_change(&mut live).await, replaced);
    let moved = IdentityClaims::new(id("079085000002"));
    assert!(matches!(client.verify(&moved).await, Ok(Match::Found(_))));
    let old = IdentityClaims::new(id("079085000001"));
    assert!(matches!(
        client.verify(&old).await,
        Ok(Match::UnknownNumber)
    ));

    // A watcher resuming after a sequence gets the logged changes after it, then live ones.
    let mut resumed = client.watch_status(Some(1)).await.unwrap();
    assert_eq!(next_change(&mut resumed).await, replaced);
    let mut from_start = client.watch_status(Some(0)).await.unwrap();
    assert_eq!(next_change(&mut from_start).await, deceased);
    assert_eq!(next_change(&mut from_start).await, replaced);
    record_change(&file, &["079085000002", "card-revoked"]).unwrap();
    for watch in [&mut live, &mut resumed, &mut from_start] {
        let change = next_change(watch).await;
        assert_eq!(
            (change.sequence, change.kind),
            (3, StatusChangeKind::CardRevoked)
        );
    }

    // Refused changes leave no trace in the log.
    for (args, message) in [
        (&["001190123488", "deceased"][..], "no record"),
        (&["001190123489", "number-replaced"][..], "--new-number"),
        (
            &["001190123489", "deceased", "--new-number", "001190123490"][..],
            "only with",
        ),
        // Taken by the replaced record.
        (
            &[
                "001190123489",
                "number-replaced",
                "--new-number",
                "079085000002",
            ][..],
            "inconsistent",
        ),
        (
            &[
                "001190123489",
                "number-replaced",
                "--new-number",
                "001190123489",
            ][..],
            "being replaced",
        ),
        (&["00119012348", "deceased"][..], "personal ID number"),
    ] {
        let err = record_change(&file, args).expect_err(message);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let mut after = client.watch_status(Some(3)).await.unwrap();
    record_change(&file, &["001190123489", "card-revoked"]).unwrap();
    assert_eq!(
        next_change(&mut after).await.sequence,
        4,
        "no refused change was logged"
    );

    // Without the token, no stream.
    let anonymous = self::client(&server.endpoint, None);
    assert!(matches!(
        anonymous.watch_status(None).await,
        Err(RegistryError::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn a_replacement_number_already_in_the_register_is_refused() {
    let registry = EmbeddedRegistry::open(RegisterLocation::Memory)
        .await
        .unwrap();
    registry.load_csv(CSV.as_bytes()).await.unwrap();
    // Same birth year and sex as 079085000001, so consistent, but taken after the first move.
    let first = StatusChangeKind::NumberReplaced {
        replacement: id("079085000002"),
    };
    registry
        .record_change(&id("079085000001"), first)
        .await
        .unwrap();
    registry
        .record_change(&id("079085000002"), StatusChangeKind::Deceased)
        .await
        .unwrap();
    let back = StatusChangeKind::NumberReplaced {
        replacement: id("079085000002"),
    };
    // 079085000001 no longer exists.
    assert!(matches!(
        registry.record_change(&id("079085000001"), back).await,
        Err(RegistryError::NotFound)
    ));
    registry
        .load_csv(
            "personal_id,family_name,middle_names,given_name,birth_date,sex,place_of_birth,\
             nationality,status\n079085000003,Lê,,Bình,1985-03-04,male,Huế,VN,active\n"
                .as_bytes(),
        )
        .await
        .unwrap();
    assert!(matches!(
        registry.record_change(&id("079085000003"), back).await,
        Err(RegistryError::NumberTaken)
    ));
    assert_eq!(registry.last_change().await.unwrap(), 2);
    let log = registry.changes_after(0, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].kind, StatusChangeKind::Deceased);
}

#[test]
fn registry_serve_requires_a_token_and_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.sqlite");
    let run = |token: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_eid-server"));
        command
            .args(["registry", "serve", "--listen", "127.0.0.1:0", "--register"])
            .arg(&missing)
            .env_remove("EID_REGISTRY_TOKEN");
        if let Some(token) = token {
            command.env("EID_REGISTRY_TOKEN", token);
        }
        command.output().unwrap()
    };
    let out = run(None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("EID_REGISTRY_TOKEN"));
    let out = run(Some(TOKEN));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a register file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!missing.exists(), "no empty register is created");
}

/// A register that answers `UNAVAILABLE` to the first `VerifyIdentity` and `INVALID_ARGUMENT`
/// to every `GetCitizen`, counting the calls.
#[derive(Default, Clone)]
struct Flaky {
    verify_calls: std::sync::Arc<std::sync::atomic::AtomicU32>,
    fetch_calls: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

#[tonic::async_trait]
impl eid_proto::registry::v1::population_registry_server::PopulationRegistry for Flaky {
    async fn verify_identity(
        &self,
        _: tonic::Request<eid_proto::registry::v1::VerifyIdentityRequest>,
    ) -> Result<tonic::Response<eid_proto::registry::v1::VerifyIdentityResponse>, tonic::Status>
    {
        use std::sync::atomic::Ordering;
        if self.verify_calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(tonic::Status::unavailable("warming up"));
        }
        Ok(tonic::Response::new(Default::default()))
    }

    async fn get_citizen(
        &self,
        _: tonic::Request<eid_proto::registry::v1::GetCitizenRequest>,
    ) -> Result<tonic::Response<eid_proto::registry::v1::GetCitizenResponse>, tonic::Status> {
        self.fetch_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(tonic::Status::invalid_argument("no"))
    }

    type WatchStatusStream =
        tokio_stream::Empty<Result<eid_proto::registry::v1::WatchStatusResponse, tonic::Status>>;

    async fn watch_status(
        &self,
        _: tonic::Request<eid_proto::registry::v1::WatchStatusRequest>,
    ) -> Result<tonic::Response<Self::WatchStatusStream>, tonic::Status> {
        Ok(tonic::Response::new(tokio_stream::empty()))
    }
}

#[tokio::test]
async fn only_unavailable_is_retried() {
    use std::sync::atomic::Ordering;
    let flaky = Flaky::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                eid_proto::registry::v1::population_registry_server::PopulationRegistryServer::new(
                    flaky.clone(),
                ),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let registry = client(&endpoint, None);
    assert_eq!(
        registry.verify(&huong()).await.unwrap(),
        Match::UnknownNumber
    );
    assert_eq!(flaky.verify_calls.load(Ordering::SeqCst), 2, "one retry");
    let auth = Authorisation::new("test", "retry").unwrap();
    assert!(matches!(
        registry.fetch(&id("001190123489"), &auth).await,
        Err(RegistryError::Rejected { .. })
    ));
    assert_eq!(flaky.fetch_calls.load(Ordering::SeqCst), 1, "no retry");
    assert!(!registry.is_circuit_open());
    server.abort();
}

/// Every error of the register process carries `google.rpc` details: the reason, the field
/// at fault; a watcher resuming beyond the change log is refused instead of skipping.
#[tokio::test]
async fn errors_carry_standard_details() {
    use eid_proto::registry::v1 as pb;
    use pb::population_registry_client::PopulationRegistryClient;
    use tonic_types::StatusExt as _;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("register.sqlite");
    write_register(&file).await;
    let server = RegisterProcess::start(&file);
    let mut raw = PopulationRegistryClient::connect(server.endpoint.clone())
        .await
        .unwrap();
    fn with_token<T>(token: &str, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let value = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
        request
    }
    let reason = |status: &tonic::Status| {
        let info = status.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(info.domain, "registry.eid");
        info.reason
    };
    let field = |status: &tonic::Status| {
        let bad = status.get_details_bad_request().expect("a BadRequest");
        bad.field_violations[0].field.clone()
    };

    let wrong = raw
        .verify_identity(with_token("wrong", pb::VerifyIdentityRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    assert_eq!(reason(&wrong), "TOKEN_WRONG");

    let no_claims = raw
        .verify_identity(with_token(TOKEN, pb::VerifyIdentityRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(no_claims.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        (reason(&no_claims), field(&no_claims)),
        ("INVALID_FIELD".into(), "claims".into())
    );

    let anonymous = pb::GetCitizenRequest {
        personal_id: "001190123489".into(),
        caller: String::new(),
        purpose: "ekyc".into(),
    };
    let anonymous = raw
        .get_citizen(with_token(TOKEN, anonymous))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        (reason(&anonymous), field(&anonymous)),
        ("MISSING_AUTHORISATION".into(), "caller".into())
    );

    // The log is empty: resuming after change 5 means another log was followed.
    let ahead = pb::WatchStatusRequest {
        after_sequence: Some(5),
    };
    let ahead = raw
        .watch_status(with_token(TOKEN, ahead))
        .await
        .unwrap_err();
    assert_eq!(ahead.code(), tonic::Code::OutOfRange);
    assert_eq!(reason(&ahead), "CURSOR_AHEAD");
    // eid-core's client reports the reason with the error.
    let registry = client(&server.endpoint, Some(TOKEN));
    match registry.watch_status(Some(5)).await {
        Err(RegistryError::Rejected { code, message }) => {
            assert_eq!(code, "OutOfRange");
            assert!(message.contains("[CURSOR_AHEAD]"), "{message}");
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}
