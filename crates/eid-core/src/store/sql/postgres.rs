//! The PostgreSQL durable store.

use std::str::FromStr;

use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::SqlStore;
use crate::store::StoreError;

/// A [`DurableStore`](crate::store::DurableStore) in PostgreSQL.
///
/// Audit appends lock the chain head row (`SELECT … FOR UPDATE`) inside their
/// transaction, so concurrent appenders — in this process or others — queue up instead
/// of forking the chain.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl SqlStore for PostgresStore {
    type Db = Postgres;
}

impl PostgresStore {
    /// Connects to `url` (e.g. `postgres://eid@db/eid`) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with explicit options (e.g. a `search_path`) and runs the migrations.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let store = Self {
            pool: PgPoolOptions::new().connect_with(options).await?,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies any pending migrations (done by the constructors).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// The connection pool, for operators' tools and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

durable_impl!(PostgresStore, begin: "BEGIN", lock_head: " FOR UPDATE");
