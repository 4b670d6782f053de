//! The durable store traits.

use std::collections::BTreeSet;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::citizen::PersonalId;

use super::{
    Account, AccountId, AccountStatus, ClientId, Consent, EkycId, EntrySource, IssuedCredential,
    NewCredential, NewPasskey, PasskeyId, PasskeyRecord, PasswordCredential, RefreshGrant,
    StoreError,
};
use crate::audit::{AuditEntry, AuditRecord, ChainHead, ChainVerifier};
use crate::credential::ekyc::{EkycRecord, EkycStatus};
use crate::token::RefreshTokenHash;

/// Entries read per page while verifying the audit chain.
const VERIFY_PAGE: u32 = 1000;

/// Citizens' accounts.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an active account for a personal ID number (12 digits).
    /// Fails with [`StoreError::Duplicate`]`(`[`Unique::PersonalId`](super::Unique)`)`
    /// if the number already has an account.
    async fn create_account(&self, personal_id: &PersonalId) -> Result<Account, StoreError>;
    /// The account with this id, or [`StoreError::NotFound`].
    async fn account(&self, id: AccountId) -> Result<Account, StoreError>;
    /// The account of a personal ID number, if there is one.
    async fn find_account(&self, personal_id: &PersonalId) -> Result<Option<Account>, StoreError>;
    /// Changes an account's status.
    async fn set_account_status(
        &self,
        id: AccountId,
        status: AccountStatus,
    ) -> Result<(), StoreError>;
    /// Deletes an account with its credentials, consents and eKYC records (the audit log
    /// keeps its entries).
    async fn delete_account(&self, id: AccountId) -> Result<(), StoreError>;
}

/// Passwords and passkeys.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Sets (or replaces) an account's password PHC string.
    async fn set_password(&self, account: AccountId, phc: &str) -> Result<(), StoreError>;
    /// An account's password, if it has one.
    async fn password(&self, account: AccountId) -> Result<Option<PasswordCredential>, StoreError>;
    /// Removes an account's password; [`StoreError::NotFound`] if it had none.
    async fn delete_password(&self, account: AccountId) -> Result<(), StoreError>;
    /// Stores a new passkey. Fails with `Duplicate(CredentialId)` if the credential ID is
    /// registered already, `NotFound(Account)` if the account does not exist.
    async fn add_passkey(&self, passkey: NewPasskey) -> Result<PasskeyRecord, StoreError>;
    /// An account's passkeys, oldest first.
    async fn passkeys(&self, account: AccountId) -> Result<Vec<PasskeyRecord>, StoreError>;
    /// The passkey with this WebAuthn credential ID, if any (for authentication).
    async fn find_passkey(&self, credential_id: &[u8])
    -> Result<Option<PasskeyRecord>, StoreError>;
    /// Renames one of an account's passkeys.
    async fn rename_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
        label: &str,
    ) -> Result<(), StoreError>;
    /// Replaces a passkey's serialised state after it authenticated at `used_at`, only if
    /// it is still `previous` (the state the authentication was checked against): else
    /// [`StoreError::Contention`], as when two logins with one key race, so that a stored
    /// signature counter never goes back.
    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        previous: &serde_json::Value,
        passkey: &serde_json::Value,
        used_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Deletes one of an account's passkeys.
    async fn delete_passkey(&self, account: AccountId, id: PasskeyId) -> Result<(), StoreError>;
}

/// What citizens allowed relying parties to receive.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Grants scopes and claims to a client, adding to what it already has (a revoked
    /// consent starts afresh). Returns the consent now in force.
    async fn grant_consent(
        &self,
        account: AccountId,
        client: &ClientId,
        scopes: &BTreeSet<String>,
        claims: &BTreeSet<String>,
    ) -> Result<Consent, StoreError>;
    /// The consent of an account for a client, if one was ever granted.
    async fn consent(
        &self,
        account: AccountId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError>;
    /// Every consent of an account, by client.
    async fn consents(&self, account: AccountId) -> Result<Vec<Consent>, StoreError>;
    /// Revokes a consent; [`StoreError::NotFound`] if there is none in force.
    async fn revoke_consent(&self, account: AccountId, client: &ClientId)
    -> Result<(), StoreError>;
}

/// eKYC records.
#[async_trait]
pub trait EkycStore: Send + Sync {
    /// Stores a new record. `NotFound(Account)` if the account does not exist.
    async fn insert_ekyc(&self, record: &EkycRecord) -> Result<(), StoreError>;
    /// The record with this id, or [`StoreError::NotFound`].
    async fn ekyc(&self, id: EkycId) -> Result<EkycRecord, StoreError>;
    /// An account's records, newest first.
    async fn ekyc_records(&self, account: AccountId) -> Result<Vec<EkycRecord>, StoreError>;
    /// Moves a record to `status` at `at` following the lifecycle rules (a broken rule is
    /// [`StoreError::Ekyc`]), atomically against concurrent changes. Returns the record.
    async fn set_ekyc_status(
        &self,
        id: EkycId,
        status: EkycStatus,
        at: OffsetDateTime,
    ) -> Result<EkycRecord, StoreError>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry after the current head, timestamped now; safe under concurrent
    /// appenders, including other processes.
    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry, StoreError> {
        self.append_audit_batch(vec![record])
            .await?
            .pop()
            .ok_or(StoreError::Corrupt("audit batch"))
    }
    /// Appends `records` in order, in one transaction (a group commit: one durable write
    /// for all of them); all are appended or none.
    async fn append_audit_batch(
        &self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Up to `limit` entries with sequence numbers above `after`, in order.
    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// Up to `limit` entries about an account (as subject or actor), newest first.
    async fn audit_for_account(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// The stored chain head.
    async fn audit_head(&self) -> Result<ChainHead, StoreError>;

    /// Reads the whole log and checks the chain; a break is
    /// [`StoreError::Audit`]`(`[`AuditError::ChainBroken`](crate::audit::AuditError)`)`
    /// with the first bad sequence number. Returns the verified head.
    async fn verify_audit_chain(&self) -> Result<ChainHead, StoreError> {
        // Read the head first: entries appended meanwhile are simply not checked.
        let head = self.audit_head().await?;
        let mut verifier = ChainVerifier::new();
        let (mut after, mut done) = (0, false);
        while !done {
            let page = self.audit_entries(after, VERIFY_PAGE).await?;
            done = page.len() < VERIFY_PAGE as usize;
            for entry in &page {
                if entry.seq > head.seq {
                    done = true;
                    break;
                }
                verifier.push(entry)?;
                after = entry.seq;
            }
        }
        Ok(verifier.finish(head)?)
    }
}

/// Refresh tokens, kept as hashes, with rotation and reuse detection.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Files the first token of a new family.
    async fn insert_refresh_token(
        &self,
        token: &RefreshTokenHash,
        grant: &RefreshGrant,
    ) -> Result<(), StoreError>;
    /// Exchanges `presented` for `next` at `now` and returns the grant. Of concurrent
    /// exchanges of one token exactly one succeeds. A token exchanged before is a replay:
    /// its whole family is revoked and [`StoreError::RefreshTokenReused`] returned. An
    /// unknown, expired or revoked token is [`StoreError::NotFound`].
    async fn rotate_refresh_token(
        &self,
        presented: &RefreshTokenHash,
        next: &RefreshTokenHash,
        now: OffsetDateTime,
    ) -> Result<RefreshGrant, StoreError>;
    /// The grant of a token that is still usable at `now` (for introspection).
    async fn refresh_grant(
        &self,
        token: &RefreshTokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<RefreshGrant>, StoreError>;
    /// Revokes every token of a family (token revocation, RFC 7009 section 2.1, and a
    /// replayed authorization code, RFC 6749 section 4.1.2).
    async fn revoke_refresh_family(
        &self,
        family: uuid::Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// How far the daemon has followed the population register's status changes.
#[async_trait]
pub trait RegisterWatchStore: Send + Sync {
    /// The sequence number of the last register change handled; 0 before the first.
    async fn register_watch_cursor(&self) -> Result<u64, StoreError>;
    /// Records that changes up to `sequence` are handled. The cursor only moves forward
    /// (instances following the register concurrently never move it back).
    async fn advance_register_watch(&self, sequence: u64) -> Result<(), StoreError>;
}

/// Verifiable credentials issued to wallets, and the status lists that publish their
/// status (see [`super::issued`]).
#[async_trait]
pub trait IssuedCredentialStore: Send + Sync {
    /// Records a credential and allocates its status list entry: an index drawn at random
    /// in the newest list, drawn again when taken (up to
    /// [`INDEX_ATTEMPTS`](super::INDEX_ATTEMPTS) times, then in the next list). Unique under
    /// concurrent issuers, in this process or others: the database refuses a second
    /// credential at one (list, index). Indices are never reused.
    async fn insert_credential(&self, new: &NewCredential) -> Result<IssuedCredential, StoreError>;
    /// An account's credentials, newest first.
    async fn credentials(&self, account: AccountId) -> Result<Vec<IssuedCredential>, StoreError>;
    /// The credentials issued from an eKYC record, newest first.
    async fn credentials_of_ekyc(&self, ekyc: EkycId) -> Result<Vec<IssuedCredential>, StoreError>;
    /// The number of the newest status list (lists are numbered from 1), or 0 when no
    /// credential was issued yet.
    async fn status_list_count(&self) -> Result<u32, StoreError>;
    /// What every allocated entry of list `list` is computed from
    /// ([`entry_status`](super::entry_status)).
    async fn status_list_sources(&self, list: u32) -> Result<Vec<EntrySource>, StoreError>;
    /// What the entry at `index` of list `list` is computed from, if a credential holds it
    /// (for a status query about one credential).
    async fn status_entry(&self, list: u32, index: u32) -> Result<Option<EntrySource>, StoreError>;
}

/// Everything the daemon keeps durably.
#[async_trait]
pub trait DurableStore:
    AccountStore
    + CredentialStore
    + ConsentStore
    + EkycStore
    + AuditStore
    + RefreshTokenStore
    + RegisterWatchStore
    + IssuedCredentialStore
{
    /// A cheap round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}
