use eid_core::audit::AuditEvent;
use eid_core::credential::ekyc::EkycStatus;
use eid_core::credential::password::{PasswordParams, Verification};
use eid_core::registry::{EmbeddedRegistry, RegisterLocation, RegisterRecord, SyntheticPopulation};
use eid_core::store::{
    AccountStore as _, AuditStore as _, CredentialStore as _, EkycStore as _, SqliteStore,
};

use super::*;

const CITIZENS: u64 = 200;
const SEED: u64 = 5;

struct Fixture {
    durable: SqliteStore,
    registry: EmbeddedRegistry,
    hasher: PasswordHasher,
}

async fn fixture() -> Fixture {
    let registry = EmbeddedRegistry::open(RegisterLocation::Memory)
        .await
        .unwrap();
    registry.load_synthetic(CITIZENS, SEED).await.unwrap();
    // Small argon2 parameters: the tests check what is stored, not the cost.
    let params = PasswordParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    Fixture {
        durable: SqliteStore::in_memory().await.unwrap(),
        registry,
        hasher: PasswordHasher::new(params, 1, 4).unwrap(),
    }
}

/// The first citizen of the synthetic register whose record has `status`.
fn citizen(status: RecordStatus) -> RegisterRecord {
    SyntheticPopulation::new(CITIZENS, SEED)
        .unwrap()
        .map(Result::unwrap)
        .find(|record| record.status == status)
        .expect("the synthetic register has such a citizen")
}

fn password(text: &str) -> Password {
    Password::new(text).unwrap()
}

impl Fixture {
    async fn enrol(&self, id: &PersonalId, text: &str) -> anyhow::Result<Account> {
        enrol(
            &self.durable,
            &self.registry,
            &self.hasher,
            id,
            password(text),
        )
        .await
    }

    async fn accepts(&self, account: AccountId, text: &str) -> bool {
        let stored = self.durable.password(account).await.unwrap().unwrap();
        let verification = self.hasher.verify(password(text), &stored.phc).await;
        matches!(verification.unwrap(), Verification::Valid { .. })
    }

    async fn events(&self, account: AccountId) -> Vec<AuditEvent> {
        let mut entries = self.durable.audit_for_account(account, 100).await.unwrap();
        entries.reverse();
        entries
            .iter()
            .inspect(|entry| {
                assert_eq!(entry.record.actor, Actor::System);
                assert_eq!(entry.record.subject, Some(account));
            })
            .map(|entry| entry.record.event)
            .collect()
    }
}

#[tokio::test]
async fn an_active_citizen_is_enrolled_and_proofed() {
    let f = fixture().await;
    let record = citizen(RecordStatus::Active);
    let account = f
        .enrol(&record.personal_id, "correct horse battery")
        .await
        .unwrap();
    assert_eq!(account.personal_id, record.personal_id);
    assert!(f.accepts(account.id, "correct horse battery").await);
    assert!(!f.accepts(account.id, "wrong").await);

    let ekyc = f.durable.ekyc_records(account.id).await.unwrap();
    assert_eq!(ekyc.len(), 1);
    assert_eq!(ekyc[0].evidence, ProofingEvidence::RegisterMatch);
    assert_eq!(ekyc[0].loa, Loa::Substantial);
    assert_eq!(ekyc[0].status, EkycStatus::Active);
    assert_eq!(
        ekyc[0].expires_at - ekyc[0].issued_at,
        ENROLMENT_EKYC_VALIDITY
    );
    assert_eq!(
        f.events(account.id).await,
        [
            AuditEvent::AccountCreated,
            AuditEvent::CredentialAdded,
            AuditEvent::IdentityProofed
        ]
    );
    f.durable.verify_audit_chain().await.unwrap();
}

#[tokio::test]
async fn enrolling_again_only_replaces_the_password() {
    let f = fixture().await;
    let record = citizen(RecordStatus::Active);
    let first = f
        .enrol(&record.personal_id, "first password")
        .await
        .unwrap();
    let second = f
        .enrol(&record.personal_id, "second password")
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    assert!(f.accepts(first.id, "second password").await);
    assert!(!f.accepts(first.id, "first password").await);
    assert_eq!(f.durable.ekyc_records(first.id).await.unwrap().len(), 1);
    assert_eq!(
        f.events(first.id).await,
        [
            AuditEvent::AccountCreated,
            AuditEvent::CredentialAdded,
            AuditEvent::IdentityProofed,
            AuditEvent::CredentialAdded
        ]
    );
}

#[tokio::test]
async fn a_revoked_ekyc_record_is_replaced() {
    let f = fixture().await;
    let record = citizen(RecordStatus::Active);
    let account = f.enrol(&record.personal_id, "password").await.unwrap();
    let old = &f.durable.ekyc_records(account.id).await.unwrap()[0];
    f.durable
        .set_ekyc_status(old.id, EkycStatus::Revoked, OffsetDateTime::now_utc())
        .await
        .unwrap();
    f.enrol(&record.personal_id, "password").await.unwrap();
    let records = f.durable.ekyc_records(account.id).await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.is_valid_at(OffsetDateTime::now_utc()))
            .count(),
        1
    );
}

#[tokio::test]
async fn citizens_not_active_in_the_register_are_refused() {
    let f = fixture().await;
    for status in [RecordStatus::Deceased, RecordStatus::CardRevoked] {
        let record = citizen(status);
        let err = f
            .enrol(&record.personal_id, "password")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(status.as_str()), "{err}");
        assert!(err.contains(&record.personal_id.to_string()), "{err}");
        assert!(!err.contains(&record.personal_id.expose()), "{err}");
        let account = f.durable.find_account(&record.personal_id).await.unwrap();
        assert!(account.is_none());
    }
}

#[tokio::test]
async fn a_number_missing_from_the_register_is_refused() {
    let f = fixture().await;
    // The next citizen the generator would add is not in the register.
    let unknown = SyntheticPopulation::new(CITIZENS + 1, SEED)
        .unwrap()
        .last()
        .unwrap()
        .unwrap()
        .personal_id;
    let err = f.enrol(&unknown, "password").await.unwrap_err().to_string();
    assert!(err.contains("holds no citizen"), "{err}");
    assert!(!err.contains(&unknown.expose()), "{err}");
    assert!(f.durable.find_account(&unknown).await.unwrap().is_none());
}

#[tokio::test]
async fn suspending_and_resuming_is_audited_once_per_change() {
    let f = fixture().await;
    let record = citizen(RecordStatus::Active);
    let password = Password::new("correct horse battery staple").unwrap();
    let account = enrol(
        &f.durable,
        &f.registry,
        &f.hasher,
        &record.personal_id,
        password,
    )
    .await
    .unwrap();
    let id = &record.personal_id;
    assert!(
        set_status(&f.durable, id, AccountStatus::Suspended)
            .await
            .unwrap()
    );
    assert!(
        !set_status(&f.durable, id, AccountStatus::Suspended)
            .await
            .unwrap()
    );
    assert_eq!(
        f.durable.account(account.id).await.unwrap().status,
        AccountStatus::Suspended
    );
    assert!(
        set_status(&f.durable, id, AccountStatus::Active)
            .await
            .unwrap()
    );
    let changes = f
        .durable
        .audit_for_account(account.id, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.event == AuditEvent::AccountStatusChanged)
        .count();
    assert_eq!(changes, 2);
    let unknown = citizen(RecordStatus::Deceased);
    assert!(
        set_status(&f.durable, &unknown.personal_id, AccountStatus::Suspended)
            .await
            .is_err()
    );
}
