//! The SQL durable stores: SQLite and PostgreSQL.
//!
//! Both run the same portable SQL (`$n` placeholders, `ON CONFLICT`, times as Unix
//! microseconds) through runtime queries; [`durable_impl!`] writes the trait
//! implementations once for both. They differ in how a write transaction starts
//! (SQLite: `BEGIN IMMEDIATE`, taking the database write lock up front) and how the
//! audit head is locked (PostgreSQL: `SELECT … FOR UPDATE`).

/// Attempts of a compare-and-set status change before giving up.
const CAS_ATTEMPTS: usize = 8;

/// Columns read into `rows::AccountRow`.
macro_rules! account_columns {
    () => {
        "id, personal_id, status, created_at"
    };
}

/// Columns read into `rows::RefreshRow`.
macro_rules! refresh_columns {
    () => {
        "family, account_id, client_id, scope, loa, amr, auth_time, expires_at, used_at, \
         revoked_at"
    };
}

/// Columns read into `rows::PasskeyRow`.
macro_rules! passkey_columns {
    () => {
        "id, account_id, credential_id, label, passkey, created_at, last_used_at"
    };
}

/// Columns read into `rows::EkycRow`.
macro_rules! ekyc_columns {
    () => {
        "id, account_id, evidence, loa, details, status, issued_at, expires_at, status_changed_at"
    };
}

/// Columns read into `rows::IssuedRow`.
macro_rules! issued_columns {
    () => {
        "id, account_id, ekyc_id, list_id, idx, issued_at, expires_at"
    };
}

/// Reads `rows::SourceRow`s: credentials with their eKYC record and account.
macro_rules! source_select {
    () => {
        "SELECT c.idx, c.expires_at, e.status AS ekyc_status, \
         e.expires_at AS ekyc_expires_at, a.status AS account_status \
         FROM issued_credentials c \
         LEFT JOIN ekyc_records e ON e.id = c.ekyc_id \
         LEFT JOIN accounts a ON a.id = c.account_id"
    };
}

/// Columns read into `rows::AuditRow`.
macro_rules! audit_columns {
    () => {
        "seq, at, event, actor_kind, actor_id, subject, relying_party, attributes, loa, outcome, \
         prev_hash, hash"
    };
}

/// Implements the durable store traits for a SQL store with a `pool` field.
/// `begin` starts a write transaction; `lock_head` is appended to the audit head read.
macro_rules! durable_impl {
    ($store:ty, begin: $begin:literal, lock_head: $lock_head:literal) => {
        const _: () = {
            use std::collections::BTreeSet;

            use async_trait::async_trait;
            use sqlx::types::Json;
            use time::OffsetDateTime;

            use $crate::audit::{AuditEntry, AuditRecord, ChainHead};
            use $crate::citizen::PersonalId;
            use $crate::credential::ekyc::{EkycRecord, EkycStatus};
            use $crate::token::RefreshTokenHash;
            use $crate::store::model::check_label;
            use $crate::store::sql::rows::{self, write_error};
            use $crate::store::unix_micros as micros;
            use $crate::store::sql::CAS_ATTEMPTS;
            use $crate::store::{
                Account, AccountId, AccountStatus, AccountStore, AuditStore, ClientId, Consent,
                ConsentStore, CredentialStore, DurableStore, EkycId, EkycStore, Entity, NewPasskey,
                PasskeyId, PasskeyRecord, PasswordCredential, RefreshGrant, RefreshTokenStore,
                StoreError, Unique, now, EntrySource, IssuedCredential, IssuedCredentialStore,
                NewCredential, INDEX_ATTEMPTS,
            };

            /// `Ok` if a statement changed a row, else `NotFound(entity)`.
            fn changed(affected: u64, entity: Entity) -> Result<(), StoreError> {
                if affected == 0 {
                    Err(StoreError::NotFound(entity))
                } else {
                    Ok(())
                }
            }

            #[async_trait]
            impl AccountStore for $store {
                async fn create_account(
                    &self,
                    personal_id: &PersonalId,
                ) -> Result<Account, StoreError> {
                    let account = Account {
                        id: AccountId::new(),
                        personal_id: personal_id.clone(),
                        status: AccountStatus::Active,
                        created_at: now(),
                    };
                    sqlx::query(
                        "INSERT INTO accounts (id, personal_id, status, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                        .bind(account.id.as_uuid())
                        .bind(personal_id.expose())
                        .bind(account.status.as_str())
                        .bind(micros(account.created_at))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| write_error(e, Unique::PersonalId, Entity::Account))?;
                    Ok(account)
                }

                async fn account(&self, id: AccountId) -> Result<Account, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        account_columns!(),
                        " FROM accounts WHERE id = $1"
                    );
                    sqlx::query_as::<_, rows::AccountRow>(sql)
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound(Entity::Account))?
                        .try_into()
                }

                async fn find_account(
                    &self,
                    personal_id: &PersonalId,
                ) -> Result<Option<Account>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        account_columns!(),
                        " FROM accounts WHERE personal_id = $1"
                    );
                    sqlx::query_as::<_, rows::AccountRow>(sql)
                        .bind(personal_id.expose())
                        .fetch_optional(&self.pool)
                        .await?
                        .map(TryInto::try_into)
                        .transpose()
                }

                async fn set_account_status(
                    &self,
                    id: AccountId,
                    status: AccountStatus,
                ) -> Result<(), StoreError> {
                    let done = sqlx::query("UPDATE accounts SET status = $2 WHERE id = $1")
                        .bind(id.as_uuid())
                        .bind(status.as_str())
                        .execute(&self.pool)
                        .await?;
                    changed(done.rows_affected(), Entity::Account)
                }

                async fn delete_account(&self, id: AccountId) -> Result<(), StoreError> {
                    let done = sqlx::query("DELETE FROM accounts WHERE id = $1")
                        .bind(id.as_uuid())
                        .execute(&self.pool)
                        .await?;
                    changed(done.rows_affected(), Entity::Account)
                }
            }

            #[async_trait]
            impl CredentialStore for $store {
                async fn set_password(
                    &self,
                    account: AccountId,
                    phc: &str,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO passwords (account_id, phc, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (account_id) \
                         DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at",
                    )
                    .bind(account.as_uuid())
                    .bind(phc)
                    .bind(micros(now()))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| write_error(e, Unique::Id, Entity::Account))?;
                    Ok(())
                }

                async fn password(
                    &self,
                    account: AccountId,
                ) -> Result<Option<PasswordCredential>, StoreError> {
                    sqlx::query_as::<_, rows::PasswordRow>(
                        "SELECT phc, updated_at FROM passwords WHERE account_id = $1",
                    )
                    .bind(account.as_uuid())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryInto::try_into)
                    .transpose()
                }

                async fn delete_password(&self, account: AccountId) -> Result<(), StoreError> {
                    let done = sqlx::query("DELETE FROM passwords WHERE account_id = $1")
                        .bind(account.as_uuid())
                        .execute(&self.pool)
                        .await?;
                    changed(done.rows_affected(), Entity::Password)
                }

                async fn add_passkey(&self, new: NewPasskey) -> Result<PasskeyRecord, StoreError> {
                    check_label(&new.label)?;
                    let record = PasskeyRecord {
                        id: PasskeyId::new(),
                        account_id: new.account_id,
                        credential_id: new.credential_id,
                        label: new.label,
                        passkey: new.passkey,
                        created_at: now(),
                        last_used_at: None,
                    };
                    let sql = concat!(
                        "INSERT INTO passkeys (",
                        passkey_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, NULL)"
                    );
                    sqlx::query(sql)
                        .bind(record.id.as_uuid())
                        .bind(record.account_id.as_uuid())
                        .bind(&record.credential_id)
                        .bind(&record.label)
                        .bind(Json(&record.passkey))
                        .bind(micros(record.created_at))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| write_error(e, Unique::CredentialId, Entity::Account))?;
                    Ok(record)
                }

                async fn passkeys(
                    &self,
                    account: AccountId,
                ) -> Result<Vec<PasskeyRecord>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        passkey_columns!(),
                        " FROM passkeys WHERE account_id = $1 ORDER BY created_at, id"
                    );
                    sqlx::query_as::<_, rows::PasskeyRow>(sql)
                        .bind(account.as_uuid())
                        .fetch_all(&self.pool)
                        .await?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                }

                async fn find_passkey(
                    &self,
                    credential_id: &[u8],
                ) -> Result<Option<PasskeyRecord>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        passkey_columns!(),
                        " FROM passkeys WHERE credential_id = $1"
                    );
                    sqlx::query_as::<_, rows::PasskeyRow>(sql)
                        .bind(credential_id)
                        .fetch_optional(&self.pool)
                        .await?
                        .map(TryInto::try_into)
                        .transpose()
                }

                async fn rename_passkey(
                    &self,
                    account: AccountId,
                    id: PasskeyId,
                    label: &str,
                ) -> Result<(), StoreError> {
                    check_label(label)?;
                    let done = sqlx::query(
                        "UPDATE passkeys SET label = $3 WHERE id = $1 AND account_id = $2",
                    )
                    .bind(id.as_uuid())
                    .bind(account.as_uuid())
                    .bind(label)
                    .execute(&self.pool)
                    .await?;
                    changed(done.rows_affected(), Entity::Passkey)
                }

                async fn record_passkey_use(
                    &self,
                    id: PasskeyId,
                    previous: &serde_json::Value,
                    passkey: &serde_json::Value,
                    used_at: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    // Compare-and-set: the row changes only if nobody changed it since
                    // it was read (JSONB equality on PostgreSQL; on SQLite the same
                    // serde_json text).
                    let done = sqlx::query(
                        "UPDATE passkeys SET passkey = $2, last_used_at = $3 \
                         WHERE id = $1 AND passkey = $4",
                    )
                    .bind(id.as_uuid())
                    .bind(Json(passkey))
                    .bind(micros(used_at))
                    .bind(Json(previous))
                    .execute(&self.pool)
                    .await?;
                    if done.rows_affected() == 1 {
                        return Ok(());
                    }
                    let exists = sqlx::query("SELECT 1 FROM passkeys WHERE id = $1")
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await?;
                    Err(match exists {
                        Some(_) => StoreError::Contention,
                        None => StoreError::NotFound(Entity::Passkey),
                    })
                }

                async fn delete_passkey(
                    &self,
                    account: AccountId,
                    id: PasskeyId,
                ) -> Result<(), StoreError> {
                    let done =
                        sqlx::query("DELETE FROM passkeys WHERE id = $1 AND account_id = $2")
                            .bind(id.as_uuid())
                            .bind(account.as_uuid())
                            .execute(&self.pool)
                            .await?;
                    changed(done.rows_affected(), Entity::Passkey)
                }
            }

            #[async_trait]
            impl ConsentStore for $store {
                async fn grant_consent(
                    &self,
                    account: AccountId,
                    client: &ClientId,
                    scopes: &BTreeSet<String>,
                    claims: &BTreeSet<String>,
                ) -> Result<Consent, StoreError> {
                    let mut tx = self.pool.begin_with($begin).await?;
                    sqlx::query(
                        "INSERT INTO consents (account_id, client_id, granted_at, revoked_at) \
                         VALUES ($1, $2, $3, NULL) ON CONFLICT (account_id, client_id) \
                         DO UPDATE SET granted_at = excluded.granted_at, revoked_at = NULL",
                    )
                    .bind(account.as_uuid())
                    .bind(client.as_str())
                    .bind(micros(now()))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| write_error(e, Unique::Id, Entity::Account))?;
                    let items = scopes
                        .iter()
                        .map(|s| ("scope", s))
                        .chain(claims.iter().map(|c| ("claim", c)));
                    for (kind, name) in items {
                        sqlx::query(
                            "INSERT INTO consent_items (account_id, client_id, kind, name) \
                             VALUES ($1, $2, $3, $4) \
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(account.as_uuid())
                        .bind(client.as_str())
                        .bind(kind)
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let consent = Self::load_consents(&mut *tx, account, Some(client))
                        .await?
                        .pop();
                    tx.commit().await?;
                    consent.ok_or(StoreError::NotFound(Entity::Consent))
                }

                async fn consent(
                    &self,
                    account: AccountId,
                    client: &ClientId,
                ) -> Result<Option<Consent>, StoreError> {
                    let mut conn = self.pool.acquire().await?;
                    Ok(Self::load_consents(&mut *conn, account, Some(client))
                        .await?
                        .pop())
                }

                async fn consents(&self, account: AccountId) -> Result<Vec<Consent>, StoreError> {
                    let mut conn = self.pool.acquire().await?;
                    Self::load_consents(&mut *conn, account, None).await
                }

                async fn revoke_consent(
                    &self,
                    account: AccountId,
                    client: &ClientId,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin_with($begin).await?;
                    let done = sqlx::query(
                        "UPDATE consents SET revoked_at = $3 \
                         WHERE account_id = $1 AND client_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(account.as_uuid())
                    .bind(client.as_str())
                    .bind(micros(now()))
                    .execute(&mut *tx)
                    .await?;
                    changed(done.rows_affected(), Entity::Consent)?;
                    sqlx::query(
                        "DELETE FROM consent_items WHERE account_id = $1 AND client_id = $2",
                    )
                    .bind(account.as_uuid())
                    .bind(client.as_str())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }
            }

            impl $store {
                /// An account's consents (only `client`'s, if given), by client.
                async fn load_consents(
                    conn: &mut <<$store as SqlStore>::Db as sqlx::Database>::Connection,
                    account: AccountId,
                    client: Option<&ClientId>,
                ) -> Result<Vec<Consent>, StoreError> {
                    let client = client.map(ClientId::as_str);
                    let consents = sqlx::query_as::<_, rows::ConsentRow>(
                        "SELECT client_id, granted_at, revoked_at FROM consents \
                         WHERE account_id = $1 AND ($2 IS NULL OR client_id = $2) \
                         ORDER BY client_id",
                    )
                    .bind(account.as_uuid())
                    .bind(client)
                    .fetch_all(&mut *conn)
                    .await?;
                    let items = sqlx::query_as::<_, rows::ConsentItemRow>(
                        "SELECT client_id, kind, name FROM consent_items \
                         WHERE account_id = $1 AND ($2 IS NULL OR client_id = $2)",
                    )
                    .bind(account.as_uuid())
                    .bind(client)
                    .fetch_all(&mut *conn)
                    .await?;
                    rows::consents(account, consents, items)
                }

                /// Reads the audit chain head (locking it on PostgreSQL).
                async fn read_head(
                    conn: &mut <<$store as SqlStore>::Db as sqlx::Database>::Connection,
                ) -> Result<ChainHead, StoreError> {
                    sqlx::query_as::<_, rows::HeadRow>(concat!(
                        "SELECT seq, hash FROM audit_head WHERE id = 1",
                        $lock_head
                    ))
                    .fetch_one(conn)
                    .await?
                    .try_into()
                }
            }

            #[async_trait]
            impl EkycStore for $store {
                async fn insert_ekyc(&self, r: &EkycRecord) -> Result<(), StoreError> {
                    let sql = concat!(
                        "INSERT INTO ekyc_records (",
                        ekyc_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    );
                    sqlx::query(sql)
                        .bind(r.id.as_uuid())
                        .bind(r.account_id.as_uuid())
                        .bind(rows::evidence_name(r.evidence))
                        .bind(r.loa.as_str())
                        .bind(Json(&r.details))
                        .bind(r.status.as_str())
                        .bind(micros(r.issued_at))
                        .bind(micros(r.expires_at))
                        .bind(micros(r.status_changed_at))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| write_error(e, Unique::Id, Entity::Account))?;
                    Ok(())
                }

                async fn ekyc(&self, id: EkycId) -> Result<EkycRecord, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        ekyc_columns!(),
                        " FROM ekyc_records WHERE id = $1"
                    );
                    sqlx::query_as::<_, rows::EkycRow>(sql)
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound(Entity::Ekyc))?
                        .try_into()
                }

                async fn ekyc_records(
                    &self,
                    account: AccountId,
                ) -> Result<Vec<EkycRecord>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        ekyc_columns!(),
                        " FROM ekyc_records WHERE account_id = $1 ORDER BY issued_at DESC, id"
                    );
                    sqlx::query_as::<_, rows::EkycRow>(sql)
                        .bind(account.as_uuid())
                        .fetch_all(&self.pool)
                        .await?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                }

                async fn set_ekyc_status(
                    &self,
                    id: EkycId,
                    status: EkycStatus,
                    at: OffsetDateTime,
                ) -> Result<EkycRecord, StoreError> {
                    for _ in 0..CAS_ATTEMPTS {
                        let mut record = self.ekyc(id).await?;
                        let from = record.status;
                        record.set_status(status, at)?;
                        let done = sqlx::query(
                            "UPDATE ekyc_records SET status = $2, status_changed_at = $3 \
                             WHERE id = $1 AND status = $4",
                        )
                        .bind(id.as_uuid())
                        .bind(record.status.as_str())
                        .bind(micros(record.status_changed_at))
                        .bind(from.as_str())
                        .execute(&self.pool)
                        .await?;
                        if done.rows_affected() == 1 {
                            return Ok(record);
                        }
                    }
                    Err(StoreError::Contention)
                }
            }

            #[async_trait]
            impl AuditStore for $store {
                async fn append_audit_batch(
                    &self,
                    records: Vec<AuditRecord>,
                ) -> Result<Vec<AuditEntry>, StoreError> {
                    let mut tx = self.pool.begin_with($begin).await?;
                    let mut head = Self::read_head(&mut *tx).await?;
                    let at = now();
                    let mut entries = Vec::with_capacity(records.len());
                    for record in records {
                        let entry = AuditEntry::seal(&head, at, record);
                        let r = &entry.record;
                        let attributes: Vec<&str> =
                            r.attributes.iter().map(|a| a.as_str()).collect();
                        let sql = concat!(
                            "INSERT INTO audit_log (",
                            audit_columns!(),
                            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                        );
                        sqlx::query(sql)
                            .bind(rows::seq_value(entry.seq)?)
                            .bind(micros(entry.at))
                            .bind(r.event.as_str())
                            .bind(r.actor.kind())
                            .bind(r.actor.id())
                            .bind(r.subject.map(|s| s.as_uuid()))
                            .bind(r.relying_party.as_ref().map(ClientId::as_str))
                            .bind(Json(attributes))
                            .bind(r.loa.map(|l| l.as_str()))
                            .bind(r.outcome.as_str())
                            .bind(&entry.prev_hash[..])
                            .bind(&entry.hash[..])
                            .execute(&mut *tx)
                            .await?;
                        head = entry.head();
                        entries.push(entry);
                    }
                    if entries.is_empty() {
                        return Ok(entries);
                    }
                    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                        .bind(rows::seq_value(head.seq)?)
                        .bind(&head.hash[..])
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(entries)
                }

                async fn audit_entries(
                    &self,
                    after: u64,
                    limit: u32,
                ) -> Result<Vec<AuditEntry>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        audit_columns!(),
                        " FROM audit_log WHERE seq > $1 AND seq <= (SELECT seq FROM audit_head WHERE id = 1) \
                         ORDER BY seq LIMIT $2"
                    );
                    sqlx::query_as::<_, rows::AuditRow>(sql)
                        .bind(rows::seq_value(after)?)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                }

                async fn audit_for_account(
                    &self,
                    account: AccountId,
                    limit: u32,
                ) -> Result<Vec<AuditEntry>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        audit_columns!(),
                        " FROM audit_log \
                         WHERE (subject = $1 OR (actor_kind = 'account' AND actor_id = $2)) \
                         AND seq BETWEEN 1 AND (SELECT seq FROM audit_head WHERE id = 1) \
                         ORDER BY seq DESC LIMIT $3"
                    );
                    sqlx::query_as::<_, rows::AuditRow>(sql)
                        .bind(account.as_uuid())
                        .bind(account.to_string())
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                }

                async fn audit_head(&self) -> Result<ChainHead, StoreError> {
                    sqlx::query_as::<_, rows::HeadRow>(
                        "SELECT seq, hash FROM audit_head WHERE id = 1",
                    )
                    .fetch_one(&self.pool)
                    .await?
                    .try_into()
                }
            }

            #[async_trait]
            impl RefreshTokenStore for $store {
                async fn insert_refresh_token(
                    &self,
                    token: &RefreshTokenHash,
                    grant: &RefreshGrant,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO refresh_tokens (hash, family, account_id, client_id, scope, \
                         loa, amr, auth_time, issued_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&token.0[..])
                    .bind(grant.family)
                    .bind(grant.account.as_uuid())
                    .bind(grant.client.as_str())
                    .bind(&grant.scope)
                    .bind(grant.loa.map(|l| l.as_str()))
                    .bind(Json(&grant.amr))
                    .bind(micros(grant.auth_time))
                    .bind(micros(now()))
                    .bind(micros(grant.expires_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| write_error(e, Unique::Id, Entity::Account))?;
                    Ok(())
                }

                async fn rotate_refresh_token(
                    &self,
                    presented: &RefreshTokenHash,
                    next: &RefreshTokenHash,
                    now: OffsetDateTime,
                ) -> Result<RefreshGrant, StoreError> {
                    let now = micros(now);
                    let mut tx = self.pool.begin_with($begin).await?;
                    // Claim the presented token: of concurrent exchanges only one changes
                    // the row (PostgreSQL re-checks the condition after the row lock).
                    let claimed = sqlx::query(
                        "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 \
                         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
                    )
                    .bind(now)
                    .bind(&presented.0[..])
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    let sql = concat!(
                        "SELECT ",
                        refresh_columns!(),
                        " FROM refresh_tokens WHERE hash = $1"
                    );
                    let row = sqlx::query_as::<_, rows::RefreshRow>(sql)
                        .bind(&presented.0[..])
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound(Entity::RefreshToken))?;
                    if claimed == 0 {
                        if row.used_at.is_some() && row.revoked_at.is_none() {
                            // RFC 9700 section 4.14.2: a replayed refresh token means it
                            // leaked; revoke the whole family.
                            sqlx::query(
                                "UPDATE refresh_tokens SET revoked_at = $1 \
                                 WHERE family = (SELECT family FROM refresh_tokens \
                                 WHERE hash = $2) AND revoked_at IS NULL",
                            )
                            .bind(now)
                            .bind(&presented.0[..])
                            .execute(&mut *tx)
                            .await?;
                            tx.commit().await?;
                            return Err(StoreError::RefreshTokenReused {
                                family: row.family,
                            });
                        }
                        return Err(StoreError::NotFound(Entity::RefreshToken));
                    }
                    sqlx::query(
                        "INSERT INTO refresh_tokens (hash, family, account_id, client_id, scope, \
                         loa, amr, auth_time, issued_at, expires_at) \
                         SELECT $1, family, account_id, client_id, scope, loa, amr, auth_time, \
                         $2, expires_at FROM refresh_tokens WHERE hash = $3",
                    )
                    .bind(&next.0[..])
                    .bind(now)
                    .bind(&presented.0[..])
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| write_error(e, Unique::Id, Entity::RefreshToken))?;
                    tx.commit().await?;
                    row.try_into()
                }

                async fn refresh_grant(
                    &self,
                    token: &RefreshTokenHash,
                    now: OffsetDateTime,
                ) -> Result<Option<RefreshGrant>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        refresh_columns!(),
                        " FROM refresh_tokens WHERE hash = $1"
                    );
                    sqlx::query_as::<_, rows::RefreshRow>(sql)
                        .bind(&token.0[..])
                        .fetch_optional(&self.pool)
                        .await?
                        .filter(|row| row.usable_at(micros(now)))
                        .map(TryInto::try_into)
                        .transpose()
                }

                async fn revoke_refresh_family(
                    &self,
                    family: uuid::Uuid,
                    now: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = $1 \
                         WHERE family = $2 AND revoked_at IS NULL",
                    )
                    .bind(micros(now))
                    .bind(family)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl $crate::store::RegisterWatchStore for $store {
                async fn register_watch_cursor(&self) -> Result<u64, StoreError> {
                    let sequence: Option<i64> =
                        sqlx::query_scalar("SELECT last_sequence FROM register_watch WHERE id = 1")
                            .fetch_optional(&self.pool)
                            .await?;
                    sequence
                        .map_or(Ok(0), u64::try_from)
                        .map_err(|_| StoreError::Corrupt("register_watch.last_sequence"))
                }

                async fn advance_register_watch(&self, sequence: u64) -> Result<(), StoreError> {
                    let sequence = i64::try_from(sequence)
                        .map_err(|_| StoreError::Corrupt("register change sequence"))?;
                    sqlx::query(
                        "INSERT INTO register_watch (id, last_sequence) VALUES (1, $1) \
                         ON CONFLICT (id) DO UPDATE SET last_sequence = excluded.last_sequence \
                         WHERE register_watch.last_sequence < excluded.last_sequence",
                    )
                    .bind(sequence)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }
            }

            impl $store {
                /// The issued credentials `sql` selects with `id` as its one parameter.
                async fn issued_where(
                    &self,
                    sql: &'static str,
                    id: uuid::Uuid,
                ) -> Result<Vec<IssuedCredential>, StoreError> {
                    sqlx::query_as::<_, rows::IssuedRow>(sql)
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                }
            }

            #[async_trait]
            impl IssuedCredentialStore for $store {
                async fn insert_credential(
                    &self,
                    new: &NewCredential,
                ) -> Result<IssuedCredential, StoreError> {
                    let newest: Option<i64> =
                        sqlx::query_scalar("SELECT MAX(list_id) FROM issued_credentials")
                            .fetch_one(&self.pool)
                            .await?;
                    let mut list = newest.unwrap_or(1);
                    loop {
                        for _ in 0..INDEX_ATTEMPTS {
                            let index = $crate::store::sql::random_index();
                            // Of concurrent inserts at one (list, index) only one changes a
                            // row; the others draw again.
                            let sql = concat!(
                                "INSERT INTO issued_credentials (",
                                issued_columns!(),
                                ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
                                 ON CONFLICT (list_id, idx) DO NOTHING"
                            );
                            let done = sqlx::query(sql)
                                .bind(new.id.as_uuid())
                                .bind(new.account_id.as_uuid())
                                .bind(new.ekyc_id.as_uuid())
                                .bind(list)
                                .bind(i64::from(index))
                                .bind(micros(new.issued_at))
                                .bind(micros(new.expires_at))
                                .execute(&self.pool)
                                .await
                                .map_err(|e| write_error(e, Unique::Id, Entity::Account))?;
                            if done.rows_affected() == 1 {
                                return Ok(IssuedCredential {
                                    id: new.id,
                                    account_id: new.account_id,
                                    ekyc_id: new.ekyc_id,
                                    list: u32::try_from(list)
                                        .map_err(|_| StoreError::Corrupt("status list number"))?,
                                    index,
                                    issued_at: $crate::store::db_time(new.issued_at),
                                    expires_at: $crate::store::db_time(new.expires_at),
                                });
                            }
                        }
                        list += 1;
                    }
                }

                async fn credentials(
                    &self,
                    account: AccountId,
                ) -> Result<Vec<IssuedCredential>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        issued_columns!(),
                        " FROM issued_credentials WHERE account_id = $1 \
                         ORDER BY issued_at DESC, id"
                    );
                    self.issued_where(sql, account.as_uuid()).await
                }

                async fn credentials_of_ekyc(
                    &self,
                    ekyc: EkycId,
                ) -> Result<Vec<IssuedCredential>, StoreError> {
                    let sql = concat!(
                        "SELECT ",
                        issued_columns!(),
                        " FROM issued_credentials WHERE ekyc_id = $1 \
                         ORDER BY issued_at DESC, id"
                    );
                    self.issued_where(sql, ekyc.as_uuid()).await
                }

                async fn status_list_count(&self) -> Result<u32, StoreError> {
                    let newest: Option<i64> =
                        sqlx::query_scalar("SELECT MAX(list_id) FROM issued_credentials")
                            .fetch_one(&self.pool)
                            .await?;
                    u32::try_from(newest.unwrap_or(0))
                        .map_err(|_| StoreError::Corrupt("status list number"))
                }

                async fn status_list_sources(
                    &self,
                    list: u32,
                ) -> Result<Vec<EntrySource>, StoreError> {
                    sqlx::query_as::<_, rows::SourceRow>(concat!(
                        source_select!(),
                        " WHERE c.list_id = $1 ORDER BY c.idx"
                    ))
                    .bind(i64::from(list))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
                }

                async fn status_entry(
                    &self,
                    list: u32,
                    index: u32,
                ) -> Result<Option<EntrySource>, StoreError> {
                    sqlx::query_as::<_, rows::SourceRow>(concat!(
                        source_select!(),
                        " WHERE c.list_id = $1 AND c.idx = $2"
                    ))
                    .bind(i64::from(list))
                    .bind(i64::from(index))
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryInto::try_into)
                    .transpose()
                }
            }

            #[async_trait]
            impl DurableStore for $store {
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }
            }
        };
    };
}

mod postgres;
mod rows;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A status list index drawn uniformly at random (the capacity is a power of two), so
/// that indices reveal neither the order nor the time of issuance
/// (draft-ietf-oauth-status-list, Privacy Considerations: Unlinkability).
fn random_index() -> u32 {
    const _: () = assert!(crate::store::STATUS_LIST_CAPACITY.is_power_of_two());
    let mut bytes = [0u8; 4];
    rand::fill(&mut bytes);
    u32::from_le_bytes(bytes) % crate::store::STATUS_LIST_CAPACITY
}

/// The database type behind a SQL store (lets the shared implementation name it).
trait SqlStore {
    /// The sqlx database.
    type Db: sqlx::Database;
}
