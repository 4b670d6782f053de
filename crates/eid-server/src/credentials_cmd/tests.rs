use eid_core::assurance::{Loa, ProofingEvidence};
use eid_core::store::{
    AccountStore as _, AuditStore as _, CredentialId, EkycStore as _, IssuedCredentialStore as _,
    NewCredential, SqliteStore,
};
use time::Duration;

use super::*;

const NUMBER: &str = "001099012345";

/// A store with one account, two eKYC records (one revoked) and a credential of each.
async fn fixture() -> (SqliteStore, EkycRecord, EkycRecord) {
    let store = SqliteStore::in_memory().await.unwrap();
    let account = store
        .create_account(&NUMBER.parse().unwrap())
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let record = |status| {
        let mut r = EkycRecord::issue(
            account.id,
            ProofingEvidence::RegisterMatch,
            Loa::Substantial,
            serde_json::Value::Null,
            now,
            now + Duration::days(365),
        )
        .unwrap();
        if status == EkycStatus::Revoked {
            r.set_status(status, now).unwrap();
        }
        r
    };
    let (live, revoked) = (record(EkycStatus::Active), record(EkycStatus::Revoked));
    for r in [&live, &revoked] {
        store.insert_ekyc(r).await.unwrap();
        store
            .insert_credential(&NewCredential {
                id: CredentialId::new(),
                account_id: account.id,
                ekyc_id: r.id,
                issued_at: now,
                expires_at: now + Duration::days(30),
            })
            .await
            .unwrap();
    }
    (store, live, revoked)
}

fn statuses(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.rsplit_once("status ").map(|(_, s)| s))
        .collect()
}

#[tokio::test]
async fn suspend_resume_and_revoke_move_only_the_records_that_can_move() {
    let (store, live, revoked) = fixture().await;
    let by_number = Target::Account(NUMBER.parse().unwrap());
    let now = OffsetDateTime::now_utc();

    let changed = set_status(&store, &by_number, EkycStatus::Suspended, now)
        .await
        .unwrap();
    assert_eq!(changed.iter().map(|r| r.id).collect::<Vec<_>>(), [live.id]);
    let lines = describe(&store, &by_number, now).await.unwrap();
    let mut seen = statuses(&lines);
    seen.sort_unstable();
    assert_eq!(seen, ["Invalid", "Suspended"]);
    assert!(
        set_status(&store, &by_number, EkycStatus::Suspended, now)
            .await
            .unwrap()
            .is_empty(),
        "nothing left to suspend"
    );

    let one = Target::Record(live.id);
    assert_eq!(
        set_status(&store, &one, EkycStatus::Active, now)
            .await
            .unwrap()
            .len(),
        1
    );
    let lines = describe(&store, &one, now).await.unwrap();
    assert_eq!(statuses(&lines), ["Valid"]);

    set_status(&store, &one, EkycStatus::Revoked, now)
        .await
        .unwrap();
    assert!(
        set_status(&store, &by_number, EkycStatus::Active, now)
            .await
            .unwrap()
            .is_empty(),
        "revoked is final"
    );
    assert_eq!(
        store.ekyc(revoked.id).await.unwrap().status,
        EkycStatus::Revoked
    );

    let audited = store.audit_entries(0, 100).await.unwrap();
    let changes = audited
        .iter()
        .filter(|e| e.record.event == AuditEvent::EkycStatusChanged)
        .count();
    assert_eq!(changes, 3, "suspend, resume, revoke");
}

#[tokio::test]
async fn unknown_targets_are_errors() {
    let (store, _, _) = fixture().await;
    let now = OffsetDateTime::now_utc();
    let nobody = Target::Account("079203001234".parse().unwrap());
    assert!(describe(&store, &nobody, now).await.is_err());
    let missing = Target::Record(EkycId::new());
    assert!(
        set_status(&store, &missing, EkycStatus::Revoked, now)
            .await
            .is_err()
    );
}
