//! Backends for the store conformance suite: each test gets an isolated store
//! (a fresh SQLite database, a fresh PostgreSQL schema, a unique Redis key prefix).
//!
//! When PostgreSQL or Redis is unreachable, a test fails if `CI=true` and otherwise
//! prints `skipping: …` and passes.

use std::fmt::Display;
use std::str::FromStr;
use std::sync::Arc;

use eid_core::store::{
    DurableStore, EphemeralStore, MemoryEphemeral, PostgresStore, RedisEphemeral, SqliteStore,
};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;
use uuid::Uuid;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// Fails in CI, else notes the skip; the caller then returns.
fn unavailable(service: &str, err: impl Display) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{service} is unreachable and CI=true: {err}");
    }
    eprintln!("skipping: {service} is unreachable ({err})");
}

/// A durable store under test, with raw SQL access to its database.
pub struct Durable {
    pub store: Arc<dyn DurableStore>,
    raw: Raw,
    /// Opens another store on the same database (another "process"), if it can have one.
    reopen: Reopen,
    _dir: Option<TempDir>,
}

enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

enum Reopen {
    None,
    Sqlite(Box<SqliteConnectOptions>),
    Postgres(Box<PgSchema>),
}

/// A test's PostgreSQL schema: how to connect inside it, and as whom to drop it.
struct PgSchema {
    options: PgConnectOptions,
    admin: PgConnectOptions,
    schema: String,
}

impl Durable {
    /// Runs a statement directly on the database (to tamper with it).
    pub async fn exec(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop),
        }
        .expect("raw statement");
    }

    /// `n` handles on the database for concurrent tasks: alternately this store and a
    /// second, independent one (like another process), where the backend allows one.
    pub async fn handles(&self, n: usize) -> Vec<Arc<dyn DurableStore>> {
        let second = self.second().await;
        (0..n)
            .map(|i| match (&second, i % 2) {
                (Some(other), 1) => Arc::clone(other),
                _ => Arc::clone(&self.store),
            })
            .collect()
    }

    /// A second, independent store on the same database, if the backend allows one.
    pub async fn second(&self) -> Option<Arc<dyn DurableStore>> {
        match &self.reopen {
            Reopen::None => None,
            Reopen::Sqlite(o) => Some(Arc::new(
                SqliteStore::open_with((**o).clone()).await.expect("reopen"),
            )),
            Reopen::Postgres(pg) => Some(Arc::new(
                PostgresStore::connect_with(pg.options.clone())
                    .await
                    .expect("reconnect"),
            )),
        }
    }
}

impl Drop for Durable {
    /// Drops the test's PostgreSQL schema, even when the test panicked. Runs on its own
    /// thread and runtime, since `drop` is neither async nor necessarily inside one.
    fn drop(&mut self) {
        let Reopen::Postgres(pg) = &self.reopen else {
            return;
        };
        let (admin, sql) = (
            pg.admin.clone(),
            format!("DROP SCHEMA {} CASCADE", pg.schema),
        );
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", pg.schema);
        }
    }
}

/// A fresh private in-memory SQLite store.
pub async fn sqlite_memory() -> Option<Durable> {
    let store = SqliteStore::in_memory().await.expect("in-memory sqlite");
    let raw = Raw::Sqlite(store.pool().clone());
    Some(Durable {
        store: Arc::new(store),
        raw,
        reopen: Reopen::None,
        _dir: None,
    })
}

/// A fresh SQLite database file in a temporary directory.
pub async fn sqlite_file() -> Option<Durable> {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteConnectOptions::new().filename(dir.path().join("eid.db"));
    let store = SqliteStore::open_with(options.clone())
        .await
        .expect("sqlite file");
    let raw = Raw::Sqlite(store.pool().clone());
    Some(Durable {
        store: Arc::new(store),
        raw,
        reopen: Reopen::Sqlite(Box::new(options)),
        _dir: Some(dir),
    })
}

/// A PostgreSQL store in a fresh schema `t_<uuid>`, or `None` (skip) if unreachable.
pub async fn postgres() -> Option<Durable> {
    let url =
        std::env::var("EID_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    let admin = PgConnectOptions::from_str(&url).expect("postgres url");
    let mut conn = match PgConnection::connect_with(&admin).await {
        Ok(c) => c,
        Err(e) => {
            unavailable("PostgreSQL", e);
            return None;
        }
    };
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let create = format!("CREATE SCHEMA {schema}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let options = admin.clone().options([("search_path", schema.as_str())]);
    let store = PostgresStore::connect_with(options.clone())
        .await
        .expect("postgres store");
    let raw = Raw::Postgres(store.pool().clone());
    let reopen = Reopen::Postgres(Box::new(PgSchema {
        options,
        admin,
        schema,
    }));
    Some(Durable {
        store: Arc::new(store),
        raw,
        reopen,
        _dir: None,
    })
}

/// An in-memory ephemeral store.
pub async fn memory() -> Option<Arc<dyn EphemeralStore>> {
    Some(Arc::new(MemoryEphemeral::new()))
}

/// A Redis ephemeral store with a unique key prefix, or `None` (skip) if unreachable.
pub async fn redis() -> Option<Arc<dyn EphemeralStore>> {
    let url = std::env::var("EID_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS.to_owned());
    let prefix = format!("eid-test:{}:", Uuid::new_v4().simple());
    match RedisEphemeral::connect(&url, &prefix).await {
        Ok(store) => Some(Arc::new(store)),
        Err(e) => {
            unavailable("Redis", e);
            None
        }
    }
}
