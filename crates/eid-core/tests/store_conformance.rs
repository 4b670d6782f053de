//! One conformance suite for every store implementation: the durable stores (SQLite in
//! memory and in a file, PostgreSQL) and the ephemeral stores (memory, Redis).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use eid_core::assurance::{Loa, ProofingEvidence};
use eid_core::audit::{
    Actor, AttributeName, AuditError, AuditEvent, AuditRecord, BreakReason, ChainBreak, ChainHead,
    Outcome,
};
use eid_core::citizen::PersonalId;
use eid_core::credential::ekyc::{EkycError, EkycRecord, EkycStatus};
use eid_core::credential::status_list::TokenStatus;
use eid_core::oauth::{
    AssertionError, CodeChallenge, CodeError, CodeGrant, CodeStore, MAX_CODE_LIFETIME,
    check_assertion_replay,
};
use eid_core::ratelimit::{Decision, RateLimit, RateLimiter};
use eid_core::store::{
    AccountId, AccountStatus, ClientId, CredentialId, DurableStore, EkycId, Entity, EntrySource,
    EphemeralStore, MAX_TTL, NewCredential, NewPasskey, PasskeyId, RefreshGrant,
    STATUS_LIST_CAPACITY, StoreError, Unique, entry_status, now,
};
use eid_core::token::{ClientAssertionClaims, OpaqueToken, RefreshToken, RefreshTokenHash};
use serde_json::json;
use support::Durable;

const PID: &str = "001099012345";
const PID2: &str = "079203001234";

fn pid(digits: &str) -> PersonalId {
    digits.parse().expect("valid test number")
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn client(id: &str) -> ClientId {
    ClientId::new(id).unwrap()
}

/// Durable cases: each takes a fresh store.
mod durable {
    use super::*;

    pub async fn accounts(db: &Durable) {
        let s = &db.store;
        let a = s.create_account(&pid(PID)).await.unwrap();
        assert_eq!(a.status, AccountStatus::Active);
        assert_eq!(s.account(a.id).await.unwrap(), a);
        assert_eq!(s.find_account(&pid(PID)).await.unwrap(), Some(a.clone()));
        assert_eq!(s.find_account(&pid(PID2)).await.unwrap(), None);
        assert!(matches!(
            s.create_account(&pid(PID)).await,
            Err(StoreError::Duplicate(Unique::PersonalId))
        ));

        s.set_account_status(a.id, AccountStatus::Locked)
            .await
            .unwrap();
        assert_eq!(s.account(a.id).await.unwrap().status, AccountStatus::Locked);
        s.set_account_status(a.id, AccountStatus::Suspended)
            .await
            .unwrap();
        assert_eq!(
            s.account(a.id).await.unwrap().status,
            AccountStatus::Suspended
        );

        let missing = AccountId::new();
        assert!(matches!(
            s.account(missing).await,
            Err(StoreError::NotFound(Entity::Account))
        ));
        assert!(matches!(
            s.set_account_status(missing, AccountStatus::Active).await,
            Err(StoreError::NotFound(Entity::Account))
        ));
        s.delete_account(a.id).await.unwrap();
        assert!(matches!(
            s.delete_account(a.id).await,
            Err(StoreError::NotFound(Entity::Account))
        ));
        assert_eq!(s.find_account(&pid(PID)).await.unwrap(), None);
        s.create_account(&pid(PID)).await.unwrap();
    }

    pub async fn passwords(db: &Durable) {
        let s = &db.store;
        let missing = AccountId::new();
        assert!(matches!(
            s.set_password(missing, "$argon2id$x").await,
            Err(StoreError::NotFound(Entity::Account))
        ));
        let a = s.create_account(&pid(PID)).await.unwrap().id;
        assert_eq!(s.password(a).await.unwrap(), None);
        s.set_password(a, "$argon2id$first").await.unwrap();
        let first = s.password(a).await.unwrap().unwrap();
        assert_eq!(first.phc, "$argon2id$first");
        s.set_password(a, "$argon2id$second").await.unwrap();
        let second = s.password(a).await.unwrap().unwrap();
        assert_eq!(second.phc, "$argon2id$second");
        assert!(second.updated_at >= first.updated_at);
        s.delete_password(a).await.unwrap();
        assert_eq!(s.password(a).await.unwrap(), None);
        assert!(matches!(
            s.delete_password(a).await,
            Err(StoreError::NotFound(Entity::Password))
        ));
    }

    pub async fn passkeys(db: &Durable) {
        let s = &db.store;
        let a = s.create_account(&pid(PID)).await.unwrap().id;
        let b = s.create_account(&pid(PID2)).await.unwrap().id;
        let new = |account, cred: &[u8], label: &str| NewPasskey {
            account_id: account,
            credential_id: cred.to_vec(),
            label: label.to_owned(),
            passkey: json!({"cred": {"counter": 0}}),
        };
        let k1 = s.add_passkey(new(a, b"cred-1", "phone")).await.unwrap();
        let k2 = s.add_passkey(new(a, b"cred-2", "laptop")).await.unwrap();
        assert!(matches!(
            s.add_passkey(new(b, b"cred-1", "copy")).await,
            Err(StoreError::Duplicate(Unique::CredentialId))
        ));
        assert!(matches!(
            s.add_passkey(new(AccountId::new(), b"cred-3", "x")).await,
            Err(StoreError::NotFound(Entity::Account))
        ));
        assert!(matches!(
            s.add_passkey(new(a, b"cred-4", " ")).await,
            Err(StoreError::InvalidLabel)
        ));

        assert_eq!(s.passkeys(a).await.unwrap(), vec![k1.clone(), k2.clone()]);
        assert!(s.passkeys(b).await.unwrap().is_empty());
        assert_eq!(s.find_passkey(b"cred-2").await.unwrap(), Some(k2.clone()));
        assert_eq!(s.find_passkey(b"nope").await.unwrap(), None);

        s.rename_passkey(a, k1.id, "old phone").await.unwrap();
        assert!(matches!(
            s.rename_passkey(b, k1.id, "stolen").await,
            Err(StoreError::NotFound(Entity::Passkey))
        ));
        assert!(matches!(
            s.rename_passkey(a, k1.id, "").await,
            Err(StoreError::InvalidLabel)
        ));

        let used = now();
        let counter_7 = json!({"cred": {"counter": 7}});
        s.record_passkey_use(k1.id, &k1.passkey, &counter_7, used)
            .await
            .unwrap();
        let k1_now = s.find_passkey(b"cred-1").await.unwrap().unwrap();
        assert_eq!(k1_now.label, "old phone");
        assert_eq!(k1_now.passkey, counter_7);
        assert_eq!(k1_now.last_used_at, Some(used));
        // A use checked against an older state loses: the counter never goes back.
        assert!(matches!(
            s.record_passkey_use(k1.id, &k1.passkey, &json!({"cred": {"counter": 5}}), used)
                .await,
            Err(StoreError::Contention)
        ));
        assert_eq!(
            s.find_passkey(b"cred-1").await.unwrap().unwrap().passkey,
            counter_7
        );
        assert!(matches!(
            s.record_passkey_use(PasskeyId::new(), &json!({}), &json!({}), used)
                .await,
            Err(StoreError::NotFound(Entity::Passkey))
        ));

        assert!(matches!(
            s.delete_passkey(b, k2.id).await,
            Err(StoreError::NotFound(Entity::Passkey))
        ));
        s.delete_passkey(a, k2.id).await.unwrap();
        assert_eq!(s.passkeys(a).await.unwrap(), vec![k1_now]);
        s.delete_account(a).await.unwrap();
        assert_eq!(
            s.find_passkey(b"cred-1").await.unwrap(),
            None,
            "passkeys go with the account"
        );
    }

    pub async fn consents(db: &Durable) {
        let s = &db.store;
        let (rp1, rp2) = (client("rp-one"), client("https://rp.two/saml"));
        assert!(matches!(
            s.grant_consent(AccountId::new(), &rp1, &set(&["openid"]), &set(&[]))
                .await,
            Err(StoreError::NotFound(Entity::Account))
        ));
        let a = s.create_account(&pid(PID)).await.unwrap().id;
        assert_eq!(s.consent(a, &rp1).await.unwrap(), None);

        let c = s
            .grant_consent(a, &rp1, &set(&["openid", "profile"]), &set(&["birthdate"]))
            .await
            .unwrap();
        assert_eq!(
            (c.scopes.clone(), c.claims.clone(), c.revoked_at),
            (set(&["openid", "profile"]), set(&["birthdate"]), None)
        );
        let merged = s
            .grant_consent(a, &rp1, &set(&["openid", "address"]), &set(&["given_name"]))
            .await
            .unwrap();
        assert_eq!(merged.scopes, set(&["address", "openid", "profile"]));
        assert_eq!(merged.claims, set(&["birthdate", "given_name"]));
        assert!(merged.granted_at >= c.granted_at);
        assert_eq!(s.consent(a, &rp1).await.unwrap(), Some(merged.clone()));
        s.grant_consent(a, &rp2, &set(&["openid"]), &set(&[]))
            .await
            .unwrap();
        let all = s.consents(a).await.unwrap();
        let clients: Vec<&str> = all.iter().map(|c| c.client_id.as_str()).collect();
        assert_eq!(clients, ["https://rp.two/saml", "rp-one"]);
        assert_eq!(all[1], merged);

        s.revoke_consent(a, &rp1).await.unwrap();
        let revoked = s.consent(a, &rp1).await.unwrap().unwrap();
        assert!(
            revoked.revoked_at.is_some() && revoked.scopes.is_empty() && revoked.claims.is_empty()
        );
        assert!(!revoked.covers(["openid"], []));
        assert!(matches!(
            s.revoke_consent(a, &rp1).await,
            Err(StoreError::NotFound(Entity::Consent))
        ));
        assert!(matches!(
            s.revoke_consent(a, &client("never")).await,
            Err(StoreError::NotFound(Entity::Consent))
        ));
        assert_eq!(
            s.consent(a, &rp2).await.unwrap().unwrap().scopes,
            set(&["openid"]),
            "other consents stay"
        );

        let fresh = s
            .grant_consent(a, &rp1, &set(&["openid"]), &set(&[]))
            .await
            .unwrap();
        assert_eq!(
            (fresh.scopes, fresh.claims, fresh.revoked_at),
            (set(&["openid"]), set(&[]), None)
        );
    }

    pub async fn ekyc(db: &Durable) {
        let s = &db.store;
        let a = s.create_account(&pid(PID)).await.unwrap().id;
        let t0 = now();
        let issue = |account, evidence, loa, at: time::OffsetDateTime| {
            EkycRecord::issue(
                account,
                evidence,
                loa,
                json!({"register": ["birthdate", "family_name"]}),
                at,
                at + time::Duration::days(365),
            )
            .unwrap()
        };
        let older = issue(a, ProofingEvidence::RegisterMatch, Loa::Substantial, t0);
        let newer = issue(
            a,
            ProofingEvidence::RegisterAndChip,
            Loa::High,
            t0 + time::Duration::seconds(1),
        );
        s.insert_ekyc(&older).await.unwrap();
        s.insert_ekyc(&newer).await.unwrap();
        assert!(matches!(
            s.insert_ekyc(&older).await,
            Err(StoreError::Duplicate(Unique::Id))
        ));
        let orphan = issue(AccountId::new(), ProofingEvidence::InPerson, Loa::High, t0);
        assert!(matches!(
            s.insert_ekyc(&orphan).await,
            Err(StoreError::NotFound(Entity::Account))
        ));

        assert_eq!(s.ekyc(older.id).await.unwrap(), older);
        assert_eq!(
            s.ekyc_records(a).await.unwrap(),
            vec![newer.clone(), older.clone()]
        );
        assert!(matches!(
            s.ekyc(EkycId::new()).await,
            Err(StoreError::NotFound(Entity::Ekyc))
        ));

        let t1 = t0 + time::Duration::hours(1);
        let suspended = s
            .set_ekyc_status(older.id, EkycStatus::Suspended, t1)
            .await
            .unwrap();
        assert_eq!(
            (suspended.status, suspended.status_changed_at),
            (EkycStatus::Suspended, t1)
        );
        assert_eq!(s.ekyc(older.id).await.unwrap(), suspended);
        s.set_ekyc_status(older.id, EkycStatus::Active, t1)
            .await
            .unwrap();
        s.set_ekyc_status(older.id, EkycStatus::Revoked, t1)
            .await
            .unwrap();
        assert!(matches!(
            s.set_ekyc_status(older.id, EkycStatus::Active, t1).await,
            Err(StoreError::Ekyc(EkycError::InvalidTransition {
                from: EkycStatus::Revoked,
                to: EkycStatus::Active
            }))
        ));
        assert_eq!(s.ekyc(older.id).await.unwrap().status, EkycStatus::Revoked);
        assert!(matches!(
            s.set_ekyc_status(EkycId::new(), EkycStatus::Revoked, t1)
                .await,
            Err(StoreError::NotFound(Entity::Ekyc))
        ));
        s.delete_account(a).await.unwrap();
        assert!(
            s.ekyc_records(a).await.unwrap().is_empty(),
            "records go with the account"
        );
    }

    fn record(i: u32) -> AuditRecord {
        let account = AccountId::new();
        let mut r = AuditRecord::new(
            AuditEvent::DataReleased,
            Actor::Account(account),
            Outcome::Success,
        );
        r.subject = Some(account);
        r.relying_party = Some(client(&format!("rp-{i}")));
        r.attributes = ["birthdate", "given_name"]
            .map(|n| AttributeName::new(n).unwrap())
            .into();
        r.loa = Some(Loa::Substantial);
        r
    }

    async fn append(s: &dyn DurableStore, n: u32) {
        for i in 0..n {
            s.append_audit(record(i)).await.unwrap();
        }
    }

    fn broken(seq: u64, reason: BreakReason) -> ChainBreak {
        ChainBreak { seq, reason }
    }

    async fn chain_break(s: &dyn DurableStore) -> ChainBreak {
        match s.verify_audit_chain().await {
            Err(StoreError::Audit(AuditError::ChainBroken(b))) => b,
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    pub async fn audit_log(db: &Durable) {
        let s = &*db.store;
        assert_eq!(s.verify_audit_chain().await.unwrap(), ChainHead::default());
        let first = s.append_audit(record(0)).await.unwrap();
        assert_eq!((first.seq, first.prev_hash), (1, [0; 32]));
        let system = AuditRecord::new(AuditEvent::TokenIssued, Actor::System, Outcome::Failure);
        let second = s.append_audit(system).await.unwrap();
        let client_actor = AuditRecord::new(
            AuditEvent::Authentication,
            Actor::Client(client("rp")),
            Outcome::Success,
        );
        let third = s.append_audit(client_actor).await.unwrap();
        assert_eq!(second.prev_hash, first.hash);
        assert_eq!(
            s.audit_entries(0, 10).await.unwrap(),
            vec![first.clone(), second.clone(), third.clone()]
        );
        assert_eq!(s.audit_entries(1, 1).await.unwrap(), vec![second.clone()]);
        assert_eq!(s.audit_head().await.unwrap(), third.head());
        assert_eq!(s.verify_audit_chain().await.unwrap(), third.head());

        let subject = first.record.subject.unwrap();
        assert_eq!(
            s.audit_for_account(subject, 10).await.unwrap(),
            vec![first.clone()]
        );
        let mut by_actor = AuditRecord::new(
            AuditEvent::ConsentRevoked,
            Actor::Account(subject),
            Outcome::Success,
        );
        by_actor.relying_party = Some(client("rp-0"));
        let fourth = s.append_audit(by_actor).await.unwrap();
        assert_eq!(
            s.audit_for_account(subject, 10).await.unwrap(),
            vec![fourth, first]
        );
        assert!(
            s.audit_for_account(AccountId::new(), 10)
                .await
                .unwrap()
                .is_empty()
        );
        s.ping().await.unwrap();
    }

    pub async fn audit_detects_edits(db: &Durable) {
        append(&*db.store, 5).await;
        db.exec("UPDATE audit_log SET outcome = 'failure' WHERE seq = 3")
            .await;
        assert_eq!(
            chain_break(&*db.store).await,
            broken(3, BreakReason::Altered)
        );
    }

    pub async fn audit_detects_removal(db: &Durable) {
        append(&*db.store, 5).await;
        db.exec("DELETE FROM audit_log WHERE seq = 2").await;
        assert_eq!(
            chain_break(&*db.store).await,
            broken(2, BreakReason::Missing)
        );
    }

    pub async fn audit_detects_reordering(db: &Durable) {
        append(&*db.store, 5).await;
        for sql in [
            "UPDATE audit_log SET seq = -1 WHERE seq = 2",
            "UPDATE audit_log SET seq = 2 WHERE seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE seq = -1",
        ] {
            db.exec(sql).await;
        }
        assert_eq!(
            chain_break(&*db.store).await,
            broken(2, BreakReason::Unlinked)
        );
    }

    pub async fn audit_detects_truncation(db: &Durable) {
        append(&*db.store, 5).await;
        db.exec("DELETE FROM audit_log WHERE seq = 5").await;
        assert_eq!(
            chain_break(&*db.store).await,
            broken(5, BreakReason::HeadMismatch)
        );
    }

    /// Rows written around the append path (not covered by the chain head) are never read:
    /// the citizen's page cannot show an entry the chain does not vouch for.
    pub async fn audit_ignores_rows_outside_the_chain(db: &Durable) {
        append(&*db.store, 3).await;
        let subject = db.store.audit_entries(0, 1).await.unwrap()[0]
            .record
            .subject
            .unwrap();
        for seq in ["99", "-5"] {
            let sql = format!(
                "INSERT INTO audit_log (seq, at, event, actor_kind, actor_id, subject, \
                 relying_party, attributes, loa, outcome, prev_hash, hash) \
                 SELECT {seq}, at, event, actor_kind, actor_id, subject, relying_party, \
                 attributes, loa, outcome, prev_hash, hash FROM audit_log WHERE seq = 1"
            );
            db.exec(&sql).await;
        }
        let seqs = |entries: Vec<eid_core::audit::AuditEntry>| {
            entries.into_iter().map(|e| e.seq).collect::<Vec<_>>()
        };
        assert_eq!(
            seqs(db.store.audit_entries(0, 10).await.unwrap()),
            [1, 2, 3]
        );
        assert_eq!(
            seqs(db.store.audit_for_account(subject, 10).await.unwrap()),
            [1]
        );
        assert!(db.store.verify_audit_chain().await.is_ok());
    }

    pub async fn audit_batches(db: &Durable) {
        let s = &*db.store;
        let first = s.append_audit(record(0)).await.unwrap();
        let batch = s
            .append_audit_batch((1..4).map(record).collect())
            .await
            .unwrap();
        assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(batch[0].prev_hash, first.hash);
        assert_eq!(batch[2].prev_hash, batch[1].hash);
        assert!(s.append_audit_batch(Vec::new()).await.unwrap().is_empty());
        assert_eq!(s.verify_audit_chain().await.unwrap(), batch[2].head());
        // Batches and single appends from concurrent writers keep one chain.
        let tasks: Vec<_> = db
            .handles(4)
            .await
            .into_iter()
            .map(|store| {
                tokio::spawn(async move {
                    store
                        .append_audit_batch((0..5).map(record).collect())
                        .await
                        .unwrap();
                    store.append_audit(record(9)).await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(s.verify_audit_chain().await.unwrap().seq, 4 + 4 * 6);
    }

    pub async fn audit_concurrent_appends(db: &Durable) {
        const TASKS: u32 = 8;
        const EACH: u32 = 10;
        let tasks: Vec<_> = db
            .handles(TASKS as usize)
            .await
            .into_iter()
            .map(|store| tokio::spawn(async move { append(&*store, EACH).await }))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let head = db.store.verify_audit_chain().await.unwrap();
        assert_eq!(head.seq, u64::from(TASKS * EACH));
    }

    fn ekyc_record(account: AccountId, at: time::OffsetDateTime) -> EkycRecord {
        EkycRecord::issue(
            account,
            ProofingEvidence::RegisterMatch,
            Loa::Substantial,
            json!({"register": "match"}),
            at,
            at + time::Duration::days(365),
        )
        .unwrap()
    }

    fn new_credential(record: &EkycRecord, at: time::OffsetDateTime) -> NewCredential {
        NewCredential {
            id: CredentialId::new(),
            account_id: record.account_id,
            ekyc_id: record.id,
            issued_at: at,
            expires_at: at + time::Duration::days(30),
        }
    }

    pub async fn issued_credentials(db: &Durable) {
        let s = &db.store;
        let a = s.create_account(&pid(PID)).await.unwrap().id;
        let t0 = now();
        let record = ekyc_record(a, t0);
        s.insert_ekyc(&record).await.unwrap();
        assert_eq!(s.status_list_count().await.unwrap(), 0);

        let mut issued = Vec::new();
        for i in 0..3 {
            let new = new_credential(&record, t0 + time::Duration::seconds(i));
            let c = s.insert_credential(&new).await.unwrap();
            assert_eq!((c.id, c.account_id, c.ekyc_id), (new.id, a, record.id));
            assert_eq!((c.list, c.issued_at), (1, new.issued_at));
            assert!(c.index < STATUS_LIST_CAPACITY);
            issued.push(c);
        }
        assert!(matches!(
            s.insert_credential(&NewCredential {
                id: issued[0].id,
                ..new_credential(&record, t0)
            })
            .await,
            Err(StoreError::Duplicate(Unique::Id))
        ));
        let newest_first: Vec<_> = issued.iter().rev().cloned().collect();
        assert_eq!(s.credentials(a).await.unwrap(), newest_first);
        assert_eq!(
            s.credentials_of_ekyc(record.id).await.unwrap(),
            newest_first
        );
        assert!(s.credentials(AccountId::new()).await.unwrap().is_empty());
        assert_eq!(s.status_list_count().await.unwrap(), 1);

        // Each entry reads its eKYC record and account, as they change.
        let statuses = |sources: Vec<EntrySource>| {
            sources
                .iter()
                .map(|e| (e.index, entry_status(e, t0).value()))
                .collect::<BTreeSet<_>>()
        };
        let all = |status: TokenStatus| issued.iter().map(|c| (c.index, status.value())).collect();
        assert_eq!(
            statuses(s.status_list_sources(1).await.unwrap()),
            all(TokenStatus::Valid)
        );
        let one = s.status_entry(1, issued[1].index).await.unwrap().unwrap();
        assert_eq!(
            (one.index, one.account, one.ekyc),
            (
                issued[1].index,
                Some(AccountStatus::Active),
                Some((EkycStatus::Active, record.expires_at))
            )
        );
        let unused = (0..4)
            .find(|i| issued.iter().all(|c| c.index != *i))
            .unwrap();
        assert_eq!(s.status_entry(1, unused).await.unwrap(), None);
        assert_eq!(s.status_entry(2, issued[1].index).await.unwrap(), None);
        s.set_ekyc_status(record.id, EkycStatus::Suspended, t0)
            .await
            .unwrap();
        assert_eq!(
            statuses(s.status_list_sources(1).await.unwrap()),
            all(TokenStatus::Suspended)
        );
        // Deleting the account keeps the rows (their indices are never reused), and
        // their entries read INVALID.
        s.delete_account(a).await.unwrap();
        let sources = s.status_list_sources(1).await.unwrap();
        assert!(
            sources
                .iter()
                .all(|e| e.ekyc.is_none() && e.account.is_none())
        );
        assert_eq!(statuses(sources), all(TokenStatus::Invalid));
        assert!(s.status_list_sources(2).await.unwrap().is_empty());

        // New credentials go to the newest list.
        db.exec(&format!(
            "UPDATE issued_credentials SET list_id = 5 WHERE list_id = 1 AND idx = {}",
            issued[0].index
        ))
        .await;
        assert_eq!(s.status_list_count().await.unwrap(), 5);
        let c = s
            .insert_credential(&new_credential(&record, t0))
            .await
            .unwrap();
        assert_eq!(c.list, 5);
    }

    pub async fn issued_credentials_concurrent(db: &Durable) {
        const TASKS: usize = 8;
        const EACH: usize = 10;
        let s = &db.store;
        let a = s.create_account(&pid(PID)).await.unwrap().id;
        let record = ekyc_record(a, now());
        s.insert_ekyc(&record).await.unwrap();
        let tasks: Vec<_> = db
            .handles(TASKS)
            .await
            .into_iter()
            .map(|store| {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for _ in 0..EACH {
                        let new = new_credential(&record, now());
                        out.push(store.insert_credential(&new).await.unwrap());
                    }
                    out
                })
            })
            .collect();
        let mut entries = BTreeSet::new();
        for t in tasks {
            for c in t.await.unwrap() {
                assert!(entries.insert((c.list, c.index)), "entry given twice");
            }
        }
        assert_eq!(entries.len(), TASKS * EACH);
        assert_eq!(s.credentials(a).await.unwrap().len(), TASKS * EACH);
        // Drawn at random: not the first indices in order (a sequential allocator's).
        let indices: BTreeSet<u32> = entries.iter().map(|(_, i)| *i).collect();
        let sequential: BTreeSet<u32> = (0..(TASKS * EACH) as u32).collect();
        assert_ne!(indices, sequential);
    }

    fn grant(account: AccountId, expires_in: time::Duration) -> RefreshGrant {
        RefreshGrant {
            family: uuid::Uuid::new_v4(),
            account,
            client: client("bank"),
            scope: "openid profile".into(),
            loa: Some(Loa::Substantial),
            amr: vec!["pwd".into()],
            auth_time: now(),
            expires_at: now() + expires_in,
        }
    }

    fn hash() -> RefreshTokenHash {
        RefreshToken::generate().hash()
    }

    pub async fn refresh_tokens(db: &Durable) {
        let s = &*db.store;
        let account = s.create_account(&pid(PID)).await.unwrap().id;
        let g = grant(account, time::Duration::hours(1));
        let (t1, t2, t3, t4) = (hash(), hash(), hash(), hash());
        s.insert_refresh_token(&t1, &g).await.unwrap();
        assert_eq!(s.refresh_grant(&t1, now()).await.unwrap(), Some(g.clone()));
        assert!(matches!(
            s.insert_refresh_token(&t1, &g).await,
            Err(StoreError::Duplicate(Unique::Id))
        ));

        // Rotation: the old token is spent, the new one carries the same grant.
        assert_eq!(s.rotate_refresh_token(&t1, &t2, now()).await.unwrap(), g);
        assert_eq!(s.refresh_grant(&t1, now()).await.unwrap(), None);
        assert_eq!(s.refresh_grant(&t2, now()).await.unwrap(), Some(g.clone()));

        // Reuse of a spent token revokes the family, successor included.
        assert!(matches!(
            s.rotate_refresh_token(&t1, &t3, now()).await,
            Err(StoreError::RefreshTokenReused { family }) if family == g.family
        ));
        assert_eq!(s.refresh_grant(&t2, now()).await.unwrap(), None);
        assert!(matches!(
            s.rotate_refresh_token(&t2, &t4, now()).await,
            Err(StoreError::NotFound(Entity::RefreshToken))
        ));
        assert!(matches!(
            s.rotate_refresh_token(&hash(), &t4, now()).await,
            Err(StoreError::NotFound(Entity::RefreshToken))
        ));

        // A family expires as a whole; rotation does not extend it.
        let short = grant(account, time::Duration::minutes(5));
        let (u1, u2, u3) = (hash(), hash(), hash());
        s.insert_refresh_token(&u1, &short).await.unwrap();
        s.rotate_refresh_token(&u1, &u2, now()).await.unwrap();
        let later = short.expires_at;
        assert_eq!(s.refresh_grant(&u2, later).await.unwrap(), None);
        assert!(matches!(
            s.rotate_refresh_token(&u2, &u3, later).await,
            Err(StoreError::NotFound(Entity::RefreshToken))
        ));

        // Revocation (RFC 7009) ends every token of the family.
        let other = grant(account, time::Duration::hours(1));
        let (v1, v2, v3) = (hash(), hash(), hash());
        s.insert_refresh_token(&v1, &other).await.unwrap();
        s.rotate_refresh_token(&v1, &v2, now()).await.unwrap();
        s.revoke_refresh_family(other.family, now()).await.unwrap();
        assert_eq!(s.refresh_grant(&v2, now()).await.unwrap(), None);
        assert!(matches!(
            s.rotate_refresh_token(&v2, &v3, now()).await,
            Err(StoreError::NotFound(Entity::RefreshToken))
        ));

        // Tokens go with their account.
        let (w1, w2) = (hash(), hash());
        s.insert_refresh_token(&w1, &grant(account, time::Duration::hours(1)))
            .await
            .unwrap();
        s.delete_account(account).await.unwrap();
        assert!(matches!(
            s.rotate_refresh_token(&w1, &w2, now()).await,
            Err(StoreError::NotFound(Entity::RefreshToken))
        ));
    }

    /// Concurrent exchanges of one token, half through an independent store: exactly one
    /// wins, and the losers' replay revokes the family.
    pub async fn refresh_concurrent_rotations(db: &Durable) {
        const TASKS: usize = 20;
        let account = db.store.create_account(&pid(PID)).await.unwrap().id;
        let presented = hash();
        db.store
            .insert_refresh_token(&presented, &grant(account, time::Duration::hours(1)))
            .await
            .unwrap();
        let tasks: Vec<_> = db
            .handles(TASKS)
            .await
            .into_iter()
            .map(|store| {
                tokio::spawn(async move {
                    let next = hash();
                    let result = store.rotate_refresh_token(&presented, &next, now()).await;
                    (next, result)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            let (next, result) = t.await.unwrap();
            match result {
                Ok(_) => winners.push(next),
                Err(StoreError::RefreshTokenReused { .. } | StoreError::NotFound(_)) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1);
        assert_eq!(
            db.store.refresh_grant(&winners[0], now()).await.unwrap(),
            None
        );
    }
}

/// Ephemeral cases: each takes a fresh store (memory, or Redis under a unique prefix).
mod ephemeral {
    use super::*;

    fn code_grant() -> CodeGrant {
        CodeGrant {
            client_id: "bank".into(),
            redirect_uri: "https://bank.example.vn/cb".into(),
            account: AccountId::new(),
            scope: "openid profile".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            challenge: CodeChallenge::from_request(
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                Some("S256"),
            )
            .unwrap(),
            auth_time: 1_700_000_000,
            loa: Some(Loa::Low),
            amr: vec!["pwd".into()],
        }
    }

    pub async fn codes_are_single_use(s: Arc<dyn EphemeralStore>) {
        let codes = CodeStore::new(s, Duration::from_secs(60)).unwrap();
        let grant = code_grant();
        let code = codes.issue(&grant).await.unwrap();
        let (first, second) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        assert_eq!(codes.redeem(&code, first).await.unwrap(), grant);
        for _ in 0..2 {
            assert!(matches!(
                codes.redeem(&code, second).await,
                Err(CodeError::Replayed { family }) if family == first
            ));
        }
        assert!(matches!(
            codes.redeem(&OpaqueToken::generate(), second).await,
            Err(CodeError::Unknown)
        ));
    }

    pub async fn bad_code_lifetimes_are_refused(s: Arc<dyn EphemeralStore>) {
        for lifetime in [Duration::ZERO, MAX_CODE_LIFETIME + Duration::from_secs(1)] {
            assert!(matches!(
                CodeStore::new(Arc::clone(&s), lifetime),
                Err(CodeError::InvalidLifetime)
            ));
        }
    }

    pub async fn client_assertion_jti_is_single_use(s: Arc<dyn EphemeralStore>) {
        let t = now();
        let claims = |iss: &str, jti: &str| ClientAssertionClaims {
            iss: iss.into(),
            sub: iss.into(),
            aud: "https://id.example.vn/token".into(),
            exp: t.unix_timestamp() + 60,
            iat: None,
            nbf: None,
            jti: jti.into(),
        };
        check_assertion_replay(&*s, &claims("bank", "j1"), t)
            .await
            .unwrap();
        assert!(matches!(
            check_assertion_replay(&*s, &claims("bank", "j1"), t).await,
            Err(AssertionError::Replayed)
        ));
        // The same jti from another client, or a new jti, is fine.
        check_assertion_replay(&*s, &claims("shop", "j1"), t)
            .await
            .unwrap();
        check_assertion_replay(&*s, &claims("bank", "j2"), t)
            .await
            .unwrap();
    }

    pub async fn rate_limits_and_lockout(s: Arc<dyn EphemeralStore>) {
        let limit = RateLimit {
            max: 3,
            window: Duration::from_secs(60),
        };
        let logins = RateLimiter::new(Arc::clone(&s), "login-account", limit);
        let other = RateLimiter::new(s, "login-ip", limit);
        assert!(!logins.is_limited("001099012345").await.unwrap());
        for remaining in [2, 1, 0] {
            assert_eq!(
                logins.hit("001099012345").await.unwrap(),
                Decision::Allowed { remaining }
            );
        }
        assert!(logins.is_limited("001099012345").await.unwrap());
        assert_eq!(logins.hit("001099012345").await.unwrap(), Decision::Limited);
        // Other subjects and other limiters count apart.
        assert!(!logins.is_limited("079203001234").await.unwrap());
        assert!(!other.is_limited("001099012345").await.unwrap());
        logins.reset("001099012345").await.unwrap();
        assert!(!logins.is_limited("001099012345").await.unwrap());
    }

    /// 100 concurrent redemptions of one code: exactly one gets the grant, and every other
    /// learns the winner's token family (to revoke it).
    pub async fn concurrent_code_redemptions(s: Arc<dyn EphemeralStore>) {
        let codes = CodeStore::new(s, Duration::from_secs(60)).unwrap();
        let code = codes.issue(&code_grant()).await.unwrap();
        let code = Arc::new(OpaqueToken::parse(code.expose()).unwrap());
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (codes, code) = (codes.clone(), Arc::clone(&code));
                tokio::spawn(async move {
                    let family = uuid::Uuid::new_v4();
                    (family, codes.redeem(&code, family).await)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut replayed = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (family, Ok(_)) => winners.push(family),
                (_, Err(CodeError::Replayed { family })) => replayed.push(family),
                (_, Err(other)) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1);
        assert_eq!(replayed.len(), 99);
        assert!(replayed.iter().all(|f| *f == winners[0]));
    }

    const TTL: Duration = Duration::from_secs(60);

    pub async fn values(s: Arc<dyn EphemeralStore>) {
        assert_eq!(s.get("k").await.unwrap(), None);
        s.put("k", b"one", TTL).await.unwrap();
        assert_eq!(
            s.get("k").await.unwrap().as_deref().map(Vec::as_slice),
            Some(&b"one"[..])
        );
        s.put("k", b"two", TTL).await.unwrap();
        assert_eq!(
            s.get("k").await.unwrap().as_deref().map(Vec::as_slice),
            Some(&b"two"[..])
        );
        assert_eq!(
            s.take("k").await.unwrap().as_deref().map(Vec::as_slice),
            Some(&b"two"[..])
        );
        assert_eq!(s.take("k").await.unwrap(), None);
        assert_eq!(s.get("k").await.unwrap(), None);

        s.put("d", b"", TTL).await.unwrap();
        assert_eq!(
            s.get("d").await.unwrap().as_deref().map(Vec::len),
            Some(0),
            "empty values are values"
        );
        assert!(s.delete("d").await.unwrap());
        assert!(!s.delete("d").await.unwrap());
        s.ping().await.unwrap();
    }

    pub async fn put_if_absent(s: Arc<dyn EphemeralStore>) {
        assert!(s.put_if_absent("jti", b"first", TTL).await.unwrap());
        assert!(!s.put_if_absent("jti", b"second", TTL).await.unwrap());
        assert_eq!(
            s.get("jti").await.unwrap().as_deref().map(Vec::as_slice),
            Some(&b"first"[..])
        );
        s.take("jti").await.unwrap();
        assert!(s.put_if_absent("jti", b"third", TTL).await.unwrap());
    }

    pub async fn concurrent_takes(s: Arc<dyn EphemeralStore>) {
        s.put("code", b"secret", TTL).await.unwrap();
        let takers: Vec<_> = (0..100)
            .map(|_| {
                let s = Arc::clone(&s);
                tokio::spawn(async move { s.take("code").await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for t in takers {
            if let Some(v) = t.await.unwrap() {
                got.push(v.to_vec());
            }
        }
        assert_eq!(got, vec![b"secret".to_vec()]);
    }

    pub async fn counters(s: Arc<dyn EphemeralStore>) {
        for n in 1..=3 {
            assert_eq!(s.incr("hits", TTL).await.unwrap(), n);
        }
        assert_eq!(s.incr("other", TTL).await.unwrap(), 1);
        assert_eq!(
            s.get("hits").await.unwrap().as_deref().map(Vec::as_slice),
            Some(&b"3"[..])
        );
        s.put("text", b"abc", TTL).await.unwrap();
        assert!(matches!(
            s.incr("text", TTL).await,
            Err(StoreError::NotACounter)
        ));
    }

    pub async fn concurrent_counters(s: Arc<dyn EphemeralStore>) {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let s = Arc::clone(&s);
                tokio::spawn(async move { s.incr("n", TTL).await.unwrap() })
            })
            .collect();
        let mut counts = Vec::new();
        for t in tasks {
            counts.push(t.await.unwrap());
        }
        counts.sort_unstable();
        assert_eq!(counts, (1..=100).collect::<Vec<u64>>());
    }

    pub async fn zero_and_huge_ttls_are_refused(s: Arc<dyn EphemeralStore>) {
        let too_long = MAX_TTL + Duration::from_secs(1);
        for ttl in [Duration::ZERO, too_long, Duration::MAX] {
            assert!(matches!(
                s.put("k", b"v", ttl).await,
                Err(StoreError::InvalidTtl)
            ));
            assert!(matches!(
                s.put_if_absent("k", b"v", ttl).await,
                Err(StoreError::InvalidTtl)
            ));
            assert!(matches!(
                s.incr("k", ttl).await,
                Err(StoreError::InvalidTtl)
            ));
        }
        assert_eq!(s.get("k").await.unwrap(), None);
        s.put("k", b"v", MAX_TTL).await.unwrap();
        assert_eq!(
            s.get("k").await.unwrap().as_deref().map(Vec::as_slice),
            Some(&b"v"[..])
        );
    }

    /// Values, replay marks and counters expire; `pass` lets time go by.
    pub async fn expiry(s: Arc<dyn EphemeralStore>, pass: impl AsyncFn(Duration)) {
        let short = Duration::from_millis(200);
        s.put("short", b"v", short).await.unwrap();
        s.put("long", b"v", TTL).await.unwrap();
        assert!(s.put_if_absent("jti", b"v", short).await.unwrap());
        assert_eq!(s.incr("window", short).await.unwrap(), 1);
        assert_eq!(
            s.incr("window", short).await.unwrap(),
            2,
            "a second hit keeps the window"
        );
        pass(Duration::from_millis(500)).await;
        assert_eq!(s.get("short").await.unwrap(), None);
        assert_eq!(s.take("short").await.unwrap(), None);
        assert!(s.get("long").await.unwrap().is_some());
        assert!(
            s.put_if_absent("jti", b"v", short).await.unwrap(),
            "expired replay mark"
        );
        assert_eq!(s.incr("window", short).await.unwrap(), 1, "a new window");
    }
}

/// The register watch cursor starts at 0 and only moves forward.
mod register_watch {
    use super::*;

    pub async fn register_watch_cursor(db: &Durable) {
        let s = &db.store;
        assert_eq!(s.register_watch_cursor().await.unwrap(), 0);
        s.advance_register_watch(7).await.unwrap();
        assert_eq!(s.register_watch_cursor().await.unwrap(), 7);
        s.advance_register_watch(3).await.unwrap();
        assert_eq!(
            s.register_watch_cursor().await.unwrap(),
            7,
            "never backwards"
        );
        s.advance_register_watch(7).await.unwrap();
        s.advance_register_watch(12).await.unwrap();
        assert_eq!(s.register_watch_cursor().await.unwrap(), 12);
        assert!(matches!(
            s.advance_register_watch(u64::MAX).await,
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(s.register_watch_cursor().await.unwrap(), 12);
    }
}

macro_rules! durable_suite {
    ($($backend:ident),*) => {$(
        mod $backend {
            durable_suite!(@cases $backend: accounts, passwords, passkeys, consents, ekyc, audit_log,
                audit_detects_edits, audit_detects_removal, audit_detects_reordering,
                audit_detects_truncation, audit_ignores_rows_outside_the_chain,
                audit_batches, audit_concurrent_appends, refresh_tokens,
                refresh_concurrent_rotations, issued_credentials, issued_credentials_concurrent);
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn register_watch_cursor() {
                let Some(db) = crate::support::$backend().await else { return };
                crate::register_watch::register_watch_cursor(&db).await;
            }
        }
    )*};
    (@cases $backend:ident: $($case:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            let Some(db) = crate::support::$backend().await else { return };
            crate::durable::$case(&db).await;
        }
    )*};
}

durable_suite!(sqlite_memory, sqlite_file, postgres);

macro_rules! ephemeral_suite {
    ($($backend:ident),*) => {$(
        mod $backend {
            ephemeral_suite!(@cases $backend: values, put_if_absent, concurrent_takes, counters,
                concurrent_counters, zero_and_huge_ttls_are_refused, codes_are_single_use,
                bad_code_lifetimes_are_refused, concurrent_code_redemptions,
                client_assertion_jti_is_single_use, rate_limits_and_lockout);
        }
    )*};
    (@cases $backend:ident: $($case:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            let Some(store) = crate::support::$backend().await else { return };
            crate::ephemeral::$case(store).await;
        }
    )*};
}

ephemeral_suite!(memory, redis);

/// The memory store follows Tokio's clock: pause it and jump ahead.
#[tokio::test(start_paused = true)]
async fn memory_expiry() {
    let store = support::memory().await.unwrap();
    ephemeral::expiry(store, async |d| tokio::time::advance(d).await).await;
}

/// Redis expires in real time: wait out a short TTL.
#[tokio::test]
async fn redis_expiry() {
    let Some(store) = support::redis().await else {
        return;
    };
    ephemeral::expiry(store, async |d| tokio::time::sleep(d).await).await;
}
