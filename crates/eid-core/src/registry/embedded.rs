//! The embedded population register: SQLite through sqlx, in a file or in memory.
//!
//! A table `citizens`, keyed by the personal ID number as an `INTEGER PRIMARY KEY` (the
//! rowid: a lookup is one B-tree descent and no secondary index is needed, so there is no
//! index to build after a bulk load). Bulk loads run in one transaction (all or nothing)
//! with multi-row prepared `INSERT`s, `synchronous = OFF` and a large page cache; files
//! use WAL.
//!
//! A second table, `status_changes`, is the register's durable change log: each status change
//! ([`EmbeddedRegistry::record_change`]) updates the record and appends the change in one
//! transaction, numbered by an `AUTOINCREMENT` key (never reused, and without gaps since
//! writers are serialised), which the reference server tails to stream `WatchStatus`.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Acquire, AssertSqlSafe, SqliteConnection};
use time::Date;

use super::import::{csv_records, json_records};
use super::{
    Authorisation, IdentityClaims, Match, PopulationRegistry, RecordMatch, RecordStatus,
    RegisterRecord, RegistryError, StatusChange, StatusChangeKind, SyntheticPopulation,
};
use crate::citizen::{PersonalId, PivotIdentity, Sex};

/// Where the embedded register lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterLocation {
    /// A SQLite file, created if missing.
    File(PathBuf),
    /// A private in-memory database, gone when the registry is dropped.
    Memory,
}

impl FromStr for RegisterLocation {
    type Err = std::convert::Infallible;

    /// `:memory:` is [`RegisterLocation::Memory`]; anything else is a file path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            ":memory:" => RegisterLocation::Memory,
            path => RegisterLocation::File(path.into()),
        })
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS citizens (
    personal_id    INTEGER PRIMARY KEY,
    family_name    TEXT NOT NULL,
    middle_names   TEXT NOT NULL,
    given_name     TEXT NOT NULL,
    birth_date     TEXT NOT NULL,
    sex            TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    place_of_birth TEXT NOT NULL,
    nationality    TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'deceased', 'card_revoked'))
) STRICT";

const CHANGES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS status_changes (
    sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
    personal_id INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('deceased', 'card_revoked', 'number_replaced')),
    status      TEXT NOT NULL CHECK (status IN ('active', 'deceased', 'card_revoked')),
    replacement INTEGER,
    CHECK ((kind = 'number_replaced') = (replacement IS NOT NULL))
) STRICT";

const COLUMNS: &str = "family_name, middle_names, given_name, birth_date, sex, \
                       place_of_birth, nationality, status";

/// Settings of the loading connection: no fsync (the load is one transaction, redone if the
/// machine fails), and a 256 MiB page cache so random-key inserts stay in memory.
const LOAD_PRAGMAS: [&str; 2] = ["PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"];
/// The settings restored after a load (SQLite's default cache of 2 MiB).
const SERVE_PRAGMAS: [&str; 2] = ["PRAGMA synchronous = NORMAL", "PRAGMA cache_size = -2000"];

/// Rows per multi-row `INSERT` (9 parameters each, far below SQLite's 32,766 limit).
const BATCH: usize = 500;

type StoredRow = (String, String, String, Date, String, String, String, String);

/// The population register embedded in the service (SQLite).
#[derive(Debug, Clone)]
pub struct EmbeddedRegistry {
    pool: SqlitePool,
}

impl EmbeddedRegistry {
    /// Opens (creating if needed) the register and its schema.
    pub async fn open(location: RegisterLocation) -> Result<Self, RegistryError> {
        let pool = match location {
            RegisterLocation::File(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5));
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await?
            }
            // Each in-memory connection is its own database: keep exactly one, forever.
            RegisterLocation::Memory => {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(SqliteConnectOptions::new().in_memory(true))
                    .await?
            }
        };
        sqlx::query(SCHEMA).execute(&pool).await?;
        sqlx::query(CHANGES_SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }

    /// A cheap round trip to the register's database, for readiness checks (unlike
    /// [`count`](Self::count), which reads every record).
    pub async fn ping(&self) -> Result<(), RegistryError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Number of records.
    pub async fn count(&self) -> Result<u64, RegistryError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM citizens")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.unsigned_abs())
    }

    /// Adds `count` synthetic citizens generated from `seed` ([`SyntheticPopulation`]).
    /// Returns the number added.
    pub async fn load_synthetic(&self, count: u64, seed: u64) -> Result<u64, RegistryError> {
        self.load(SyntheticPopulation::new(count, seed)?).await
    }

    /// Adds the records of a CSV register file (`docs/register-format.md`). All or nothing:
    /// on the first bad row, nothing is added and the error names the row.
    pub async fn load_csv<R: Read + Send>(&self, reader: R) -> Result<u64, RegistryError> {
        self.load(csv_records(reader)).await
    }

    /// Adds the records of a JSON register file (`docs/register-format.md`). All or nothing.
    pub async fn load_json<R: Read + Send>(&self, reader: R) -> Result<u64, RegistryError> {
        self.load(json_records(reader)?).await
    }

    /// Adds records in one transaction; rows are numbered from 1 in iteration order.
    async fn load(
        &self,
        records: impl Iterator<Item = Result<RegisterRecord, RegistryError>> + Send,
    ) -> Result<u64, RegistryError> {
        let mut conn = self.pool.acquire().await?;
        for pragma in LOAD_PRAGMAS {
            sqlx::query(pragma).execute(&mut *conn).await?;
        }
        let loaded = Self::load_in_transaction(&mut conn, records).await;
        // Restored even after a failed load (the dropped transaction rolls back first).
        for pragma in SERVE_PRAGMAS {
            sqlx::query(pragma).execute(&mut *conn).await?;
        }
        loaded
    }

    async fn load_in_transaction(
        conn: &mut SqliteConnection,
        records: impl Iterator<Item = Result<RegisterRecord, RegistryError>> + Send,
    ) -> Result<u64, RegistryError> {
        let mut tx = conn.begin().await?;
        let mut records = records.zip(1u64..);
        let mut seen = HashSet::new();
        let mut batch = Vec::with_capacity(BATCH);
        let mut loaded = 0u64;
        loop {
            batch.clear();
            while batch.len() < BATCH
                && let Some((record, row)) = records.next()
            {
                let record = record?;
                if !seen.insert(record.personal_id) {
                    return Err(RegistryError::DuplicateNumber { row });
                }
                batch.push(record);
            }
            if batch.is_empty() {
                break;
            }
            if insert_batch(&mut tx, &batch).await? < batch.len() as u64 {
                // A number of the batch was already stored before this load began.
                tx.rollback().await?;
                return Err(first_already_stored(conn, &batch, loaded + 1).await);
            }
            loaded += batch.len() as u64;
        }
        tx.commit().await?;
        Ok(loaded)
    }

    /// Applies a status change to the record of `id` and appends it to the change log, in
    /// one transaction; returns the change as `WatchStatus` streams it.
    ///
    /// Deceased and card revoked set the record's status. A replaced number moves the record
    /// to `replacement`, which must agree with its birth date and sex
    /// ([`RegistryError::InconsistentClaims`]) and hold no record yet
    /// ([`RegistryError::NumberTaken`]). [`RegistryError::NotFound`] when no record holds
    /// `id`.
    pub async fn record_change(
        &self,
        id: &PersonalId,
        kind: StatusChangeKind,
    ) -> Result<StatusChange, RegistryError> {
        let record = self.find(id).await?.ok_or(RegistryError::NotFound)?;
        let mut tx = self.pool.begin().await?;
        // The first statement writes, so the transaction takes the write lock at once.
        let (status, replacement) = match kind {
            StatusChangeKind::Deceased | StatusChangeKind::CardRevoked => {
                let status = if kind == StatusChangeKind::Deceased {
                    RecordStatus::Deceased
                } else {
                    RecordStatus::CardRevoked
                };
                let updated = sqlx::query("UPDATE citizens SET status = ? WHERE personal_id = ?")
                    .bind(status.as_str())
                    .bind(key(id))
                    .execute(&mut *tx)
                    .await?;
                if updated.rows_affected() == 0 {
                    // The number was replaced since it was read.
                    return Err(RegistryError::NotFound);
                }
                (status, None)
            }
            StatusChangeKind::NumberReplaced { replacement } => {
                IdentityClaims::of_identity(replacement, &record.identity).check_consistent()?;
                let moved = sqlx::query(
                    "UPDATE OR IGNORE citizens SET personal_id = ? WHERE personal_id = ?",
                )
                .bind(key(&replacement))
                .bind(key(id))
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() == 0 {
                    return Err(RegistryError::NumberTaken);
                }
                (record.status, Some(key(&replacement)))
            }
        };
        let sequence: i64 = sqlx::query_scalar(
            "INSERT INTO status_changes (personal_id, kind, status, replacement) \
             VALUES (?, ?, ?, ?) RETURNING sequence",
        )
        .bind(key(id))
        .bind(kind_name(kind))
        .bind(status.as_str())
        .bind(replacement)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(StatusChange {
            sequence: sequence.unsigned_abs(),
            personal_id: *id,
            kind,
            status,
        })
    }

    /// Up to `limit` logged changes with a sequence number above `after`, oldest first.
    pub async fn changes_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StatusChange>, RegistryError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows: Vec<(i64, i64, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT sequence, personal_id, kind, status, replacement FROM status_changes \
             WHERE sequence > ? ORDER BY sequence LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(decode_change).collect()
    }

    /// The sequence number of the last logged change; 0 when there is none.
    pub async fn last_change(&self) -> Result<u64, RegistryError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(sequence) FROM status_changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(last.unwrap_or(0).unsigned_abs())
    }

    async fn find(&self, id: &PersonalId) -> Result<Option<RegisterRecord>, RegistryError> {
        let row: Option<StoredRow> = sqlx::query_as(
            "SELECT family_name, middle_names, given_name, birth_date, sex, place_of_birth, \
             nationality, status FROM citizens WHERE personal_id = ?",
        )
        .bind(key(id))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| decode(*id, row)).transpose()
    }
}

fn key(id: &PersonalId) -> i64 {
    // Twelve digits always fit in an i64.
    id.as_u64() as i64
}

fn kind_name(kind: StatusChangeKind) -> &'static str {
    match kind {
        StatusChangeKind::Deceased => "deceased",
        StatusChangeKind::CardRevoked => "card_revoked",
        StatusChangeKind::NumberReplaced { .. } => "number_replaced",
    }
}

fn stored_number(value: i64) -> Result<PersonalId, RegistryError> {
    u64::try_from(value)
        .ok()
        .and_then(|n| PersonalId::parse(&format!("{n:012}")).ok())
        .ok_or_else(|| RegistryError::CorruptRecord("a stored personal ID number".into()))
}

fn decode_change(
    (sequence, personal_id, kind, status, replacement): (i64, i64, String, String, Option<i64>),
) -> Result<StatusChange, RegistryError> {
    let kind = match (kind.as_str(), replacement) {
        ("deceased", None) => StatusChangeKind::Deceased,
        ("card_revoked", None) => StatusChangeKind::CardRevoked,
        ("number_replaced", Some(replacement)) => StatusChangeKind::NumberReplaced {
            replacement: stored_number(replacement)?,
        },
        _ => {
            return Err(RegistryError::CorruptRecord(format!(
                "change kind {kind:?}"
            )));
        }
    };
    Ok(StatusChange {
        sequence: sequence.unsigned_abs(),
        personal_id: stored_number(personal_id)?,
        kind,
        status: status.parse()?,
    })
}

fn decode(personal_id: PersonalId, row: StoredRow) -> Result<RegisterRecord, RegistryError> {
    let (
        family_name,
        middle_names,
        given_name,
        birth_date,
        sex,
        place_of_birth,
        nationality,
        status,
    ) = row;
    let sex = match sex.as_str() {
        "male" => Sex::Male,
        "female" => Sex::Female,
        other => {
            return Err(RegistryError::CorruptRecord(format!(
                "unknown sex {other:?}"
            )));
        }
    };
    Ok(RegisterRecord {
        personal_id,
        identity: PivotIdentity {
            family_name,
            middle_names,
            given_name,
            birth_date,
            sex,
            place_of_birth,
            nationality,
        },
        status: status.parse::<RecordStatus>()?,
    })
}

/// Inserts one batch with a multi-row `INSERT` (prepared once per batch size, then cached)
/// and returns the number of rows inserted.
///
/// `OR IGNORE` skips a row whose number is already stored instead of aborting: a statement
/// that cannot abort needs no statement journal, which would otherwise copy every page the
/// batch touches (random keys touch one page per row; this halves the load time). The caller
/// compares the count and rolls the whole load back, so nothing is silently skipped.
async fn insert_batch(
    conn: &mut SqliteConnection,
    batch: &[RegisterRecord],
) -> Result<u64, RegistryError> {
    let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; batch.len()].join(", ");
    let sql =
        format!("INSERT OR IGNORE INTO citizens (personal_id, {COLUMNS}) VALUES {placeholders}");
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for r in batch {
        let id = &r.identity;
        query = query
            .bind(key(&r.personal_id))
            .bind(&id.family_name)
            .bind(&id.middle_names)
            .bind(&id.given_name)
            .bind(id.birth_date)
            .bind(id.sex.as_str())
            .bind(&id.place_of_birth)
            .bind(&id.nationality)
            .bind(r.status.as_str());
    }
    Ok(query.execute(conn).await?.rows_affected())
}

/// After a load was rolled back because a batch was short: the row of the first record of
/// the batch whose number the register holds.
async fn first_already_stored(
    conn: &mut SqliteConnection,
    batch: &[RegisterRecord],
    first_row: u64,
) -> RegistryError {
    for (record, row) in batch.iter().zip(first_row..) {
        let found = sqlx::query("SELECT 1 FROM citizens WHERE personal_id = ?")
            .bind(key(&record.personal_id))
            .fetch_optional(&mut *conn)
            .await;
        match found {
            Ok(Some(_)) => return RegistryError::DuplicateNumber { row },
            Ok(None) => {}
            Err(e) => return e.into(),
        }
    }
    RegistryError::RowRejected { first_row }
}

#[async_trait]
impl PopulationRegistry for EmbeddedRegistry {
    async fn verify(&self, claims: &IdentityClaims) -> Result<Match, RegistryError> {
        claims.check_consistent()?;
        Ok(match self.find(&claims.personal_id).await? {
            None => Match::UnknownNumber,
            Some(record) => Match::Found(RecordMatch::compare(claims, &record)),
        })
    }

    async fn fetch(
        &self,
        id: &PersonalId,
        authorisation: &Authorisation,
    ) -> Result<RegisterRecord, RegistryError> {
        tracing::info!(
            personal_id = %id,
            caller = authorisation.caller(),
            purpose = authorisation.purpose(),
            "register record requested"
        );
        self.find(id).await?.ok_or(RegistryError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;
    use unicode_normalization::UnicodeNormalization;

    use super::*;
    use crate::citizen::CitizenError;
    use crate::registry::{Attribute, AttributeOutcome};

    const CSV: &str = "\
personal_id,family_name,middle_names,given_name,birth_date,sex,place_of_birth,nationality,status
001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active
079085000001,Trần,Văn,An,1985-01-02,male,TP. Hồ Chí Minh,VN,deceased
048302000002,Lê,,Minh,2002-12-31,female,Đà Nẵng,VN,card_revoked
";

    async fn registry() -> EmbeddedRegistry {
        let registry = EmbeddedRegistry::open(RegisterLocation::Memory)
            .await
            .unwrap();
        assert_eq!(registry.load_csv(CSV.as_bytes()).await.unwrap(), 3);
        registry
    }

    fn id(s: &str) -> PersonalId {
        PersonalId::parse(s).unwrap()
    }

    fn huong() -> IdentityClaims {
        IdentityClaims {
            family_name: Some("Nguyễn".into()),
            middle_names: Some("Thị".into()),
            given_name: Some("Hương".into()),
            birth_date: Some(date!(1990 - 05 - 17)),
            sex: Some(Sex::Female),
            place_of_birth: Some("Hà Nội".into()),
            nationality: Some("VN".into()),
            ..IdentityClaims::new(id("001190123489"))
        }
    }

    #[tokio::test]
    async fn unknown_number() {
        let registry = registry().await;
        let claims = IdentityClaims::new(id("001190123488"));
        assert_eq!(
            registry.verify(&claims).await.unwrap(),
            Match::UnknownNumber
        );
    }

    #[tokio::test]
    async fn each_status_is_reported() {
        let registry = registry().await;
        for (number, status) in [
            ("001190123489", RecordStatus::Active),
            ("079085000001", RecordStatus::Deceased),
            ("048302000002", RecordStatus::CardRevoked),
        ] {
            let m = registry
                .verify(&IdentityClaims::new(id(number)))
                .await
                .unwrap();
            assert_eq!(m.status(), Some(status));
            assert_eq!(m.confirms(&[]), status == RecordStatus::Active);
        }
    }

    #[tokio::test]
    async fn full_claims_confirm_and_mismatches_are_named() {
        let registry = registry().await;
        let m = registry.verify(&huong()).await.unwrap();
        assert!(m.confirms(&Attribute::PIVOT));
        assert!(!m.needs_rectification());

        let claims = IdentityClaims {
            family_name: Some("Nguyen".into()),
            place_of_birth: Some("Hà Nam".into()),
            ..huong()
        };
        let m = registry.verify(&claims).await.unwrap();
        assert_eq!(
            m.mismatched(),
            vec![Attribute::FamilyName, Attribute::PlaceOfBirth]
        );
        assert!(!m.confirms(&[Attribute::GivenName]));
    }

    #[tokio::test]
    async fn nfd_claims_match_nfc_records() {
        let registry = registry().await;
        let claims = IdentityClaims {
            family_name: Some("Nguyễn".nfd().collect()),
            given_name: Some("Hương".nfd().collect()),
            ..huong()
        };
        let m = registry.verify(&claims).await.unwrap();
        assert_eq!(
            m.outcome(Attribute::FamilyName),
            Some(AttributeOutcome::MatchedAfterNormalisation)
        );
        assert!(m.confirms(&Attribute::PIVOT));
        assert!(m.needs_rectification());
    }

    #[tokio::test]
    async fn attributes_not_claimed_are_not_provided() {
        let registry = registry().await;
        let claims = IdentityClaims {
            given_name: Some("Minh".into()),
            ..IdentityClaims::new(id("048302000002"))
        };
        let m = registry.verify(&claims).await.unwrap();
        assert_eq!(
            m.outcome(Attribute::GivenName),
            Some(AttributeOutcome::Matched)
        );
        assert_eq!(
            m.outcome(Attribute::BirthDate),
            Some(AttributeOutcome::NotProvided)
        );
    }

    #[tokio::test]
    async fn contradictory_claims_are_refused() {
        let registry = registry().await;
        let claims = IdentityClaims {
            birth_date: Some(date!(1991 - 05 - 17)),
            ..huong()
        };
        assert!(matches!(
            registry.verify(&claims).await,
            Err(RegistryError::InconsistentClaims(
                CitizenError::BirthDateMismatch { .. }
            ))
        ));
    }

    #[tokio::test]
    async fn fetch_returns_the_register_spelling() {
        let registry = registry().await;
        let auth = Authorisation::new("eid-server/enroll", "ekyc-enrolment").unwrap();
        let record = registry.fetch(&id("048302000002"), &auth).await.unwrap();
        assert_eq!(record.identity.full_name(), "Lê Minh");
        assert_eq!(record.identity.middle_names, "");
        assert_eq!(record.status, RecordStatus::CardRevoked);
        assert!(matches!(
            registry.fetch(&id("001190123488"), &auth).await,
            Err(RegistryError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_bad_csv_row_loads_nothing() {
        let registry = registry().await;
        let bad = format!("{CSV}001090000009,Phạm,Văn,Bình,1990-01-01,male,Hà Nội,VN,alive\n")
            .replace("001190123489", "001190123400")
            .replace("079085000001", "079085000011")
            .replace("048302000002", "048302000022");
        let err = registry.load_csv(bad.as_bytes()).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::MalformedRow { row: 4, .. }),
            "{err:?}"
        );
        assert_eq!(registry.count().await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_bad_json_row_loads_nothing() {
        let registry = EmbeddedRegistry::open(RegisterLocation::Memory)
            .await
            .unwrap();
        let good = r#"{"personal_id":"001190123489","family_name":"Nguyễn","given_name":"Hương","birth_date":"1990-05-17","sex":"female","place_of_birth":"Hà Nội","nationality":"VN","status":"active"}"#;
        let bad = good
            .replace("001190123489", "001190123480")
            .replace("female", "male");
        let err = registry
            .load_json(format!("[{good},{bad}]").as_bytes())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::InvalidRow {
                    row: 2,
                    source: CitizenError::SexMismatch { .. }
                }
            ),
            "{err:?}"
        );
        assert_eq!(registry.count().await.unwrap(), 0);
        assert_eq!(
            registry
                .load_json(format!("[{good}]").as_bytes())
                .await
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn duplicates_in_the_file_or_register_name_the_row() {
        let registry = registry().await;
        let header = CSV.lines().next().unwrap();
        let row = |number: &str| format!("{number},Phạm,Văn,Bình,1990-01-01,male,Hà Nội,VN,active");
        let in_file = format!(
            "{header}\n{}\n{}\n{}\n",
            row("001090000001"),
            row("001090000002"),
            row("001090000001")
        );
        assert!(matches!(
            registry.load_csv(in_file.as_bytes()).await,
            Err(RegistryError::DuplicateNumber { row: 3 })
        ));
        // Number already stored, in a later batch than the first.
        let mut rows: Vec<String> = (0..BATCH as u32 + 10)
            .map(|i| row(&format!("001090{i:06}")))
            .collect();
        rows.push(CSV.lines().nth(1).unwrap().to_owned());
        let in_register = format!("{header}\n{}\n", rows.join("\n"));
        assert!(matches!(
            registry.load_csv(in_register.as_bytes()).await,
            Err(RegistryError::DuplicateNumber { row }) if row == BATCH as u64 + 11
        ));
        assert_eq!(registry.count().await.unwrap(), 3);
    }

    #[tokio::test]
    async fn synthetic_citizens_load_and_verify() {
        let registry = EmbeddedRegistry::open(RegisterLocation::Memory)
            .await
            .unwrap();
        assert_eq!(registry.load_synthetic(1200, 9).await.unwrap(), 1200);
        assert_eq!(registry.count().await.unwrap(), 1200);
        for record in SyntheticPopulation::new(1200, 9).unwrap().take(50) {
            let record = record.unwrap();
            let claims = IdentityClaims::of_identity(record.personal_id, &record.identity);
            let m = registry.verify(&claims).await.unwrap();
            assert_eq!(m.status(), Some(record.status));
            assert!(m.mismatched().is_empty());
        }
        // The same seed again: every number is already there.
        assert!(matches!(
            registry.load_synthetic(10, 9).await,
            Err(RegistryError::DuplicateNumber { row: 1 })
        ));
    }

    #[tokio::test]
    async fn a_file_register_persists() {
        let dir = tempfile::tempdir().unwrap();
        let location: RegisterLocation = dir
            .path()
            .join("register.sqlite")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        EmbeddedRegistry::open(location.clone())
            .await
            .unwrap()
            .load_csv(CSV.as_bytes())
            .await
            .unwrap();
        let reopened = EmbeddedRegistry::open(location).await.unwrap();
        assert_eq!(reopened.count().await.unwrap(), 3);
        assert_eq!(":memory:".parse(), Ok(RegisterLocation::Memory));
    }

    #[test]
    fn corrupt_rows_are_reported() {
        let row = |sex: &str, status: &str| -> StoredRow {
            let text = |s: &str| s.to_owned();
            (
                text("Lê"),
                text(""),
                text("Minh"),
                date!(2002 - 12 - 31),
                text(sex),
                text("Đà Nẵng"),
                text("VN"),
                text(status),
            )
        };
        let number = id("048302000002");
        assert!(decode(number, row("female", "active")).is_ok());
        for (sex, status) in [("f", "active"), ("female", "revoked")] {
            assert!(matches!(
                decode(number, row(sex, status)),
                Err(RegistryError::CorruptRecord(_))
            ));
        }
    }
}
