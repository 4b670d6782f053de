//! The SQLite durable store (embedded; a file or in memory).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
use sqlx::{Connection, Sqlite};

use super::SqlStore;
use crate::store::StoreError;

/// How long a writer waits for the database lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`DurableStore`](crate::store::DurableStore) in SQLite.
///
/// Writes that span statements (consents, audit appends) run in `BEGIN IMMEDIATE`
/// transactions, which hold the database write lock, so appends from several
/// connections or processes sharing the file never fork the audit chain.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqlStore for SqliteStore {
    type Db = Sqlite;
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` — `sqlite://path/to/eid.db` or
    /// `sqlite::memory:` — and runs the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(SqliteConnectOptions::from_str(url)?).await
    }

    /// Opens (creating if needed) the database file at `path` and runs the migrations.
    /// Unlike [`open`](Self::open), any path works: nothing in it is read as URL syntax.
    pub async fn open_file(path: &std::path::Path) -> Result<Self, StoreError> {
        Self::open_with(SqliteConnectOptions::new().filename(path)).await
    }

    /// A fresh private in-memory database, migrated.
    pub async fn in_memory() -> Result<Self, StoreError> {
        Self::open_with(SqliteConnectOptions::new().in_memory(true)).await
    }

    /// Opens a database from explicit options (WAL journal, foreign keys and a busy
    /// timeout are set here) and runs the migrations.
    pub async fn open_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = if is_in_memory(&options).await? {
            // An in-memory database lives as long as its one connection: keep it open.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            // One connection: SQLite has one writer at a time, and writers on several
            // connections do not queue but sleep and retry on the busy lock, which under
            // load turned commits of ~1 ms into tails of a second (measured with the token
            // endpoint benchmark, docs/performance.md). With one connection requests queue
            // in the pool, in order. Other processes sharing the file still wait on the
            // busy timeout.
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await?
        };
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies any pending migrations (done by the constructors).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool, for operators' tools and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Whether `options` open an in-memory database (SQLite reports no file for it).
async fn is_in_memory(options: &SqliteConnectOptions) -> Result<bool, StoreError> {
    let mut conn = SqliteConnection::connect_with(options).await?;
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(file.is_empty())
}

durable_impl!(SqliteStore, begin: "BEGIN IMMEDIATE", lock_head: "");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AccountStore, DurableStore};

    #[tokio::test]
    async fn in_memory_databases_are_recognised() {
        let memory = SqliteConnectOptions::from_str("sqlite::memory:").unwrap();
        assert!(is_in_memory(&memory).await.unwrap());
        assert!(
            is_in_memory(&SqliteConnectOptions::new().in_memory(true))
                .await
                .unwrap()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = SqliteConnectOptions::new()
            .filename(dir.path().join("x.db"))
            .create_if_missing(true);
        assert!(!is_in_memory(&file).await.unwrap());
    }

    #[tokio::test]
    async fn open_accepts_urls() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("eid.db").display());
        for url in ["sqlite::memory:", url.as_str()] {
            let store = SqliteStore::open(url).await.unwrap();
            let a = store
                .create_account(&"001099012345".parse().unwrap())
                .await
                .unwrap();
            assert_eq!(store.account(a.id).await.unwrap(), a);
        }
        assert!(
            SqliteStore::open("sqlite:///nonexistent-dir/x/eid.db")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn open_file_takes_any_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd ?#% name.db");
        let store = SqliteStore::open_file(&path).await.unwrap();
        store.ping().await.unwrap();
        assert!(path.exists());
    }
}
