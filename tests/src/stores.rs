//! The stores a test deployment shares: a fresh PostgreSQL schema and a Redis key prefix,
//! unique per run so tests can run in parallel.

use std::net::TcpStream;
use std::path::Path;

use crate::availability::unavailable;

/// Where a deployment keeps its state.
#[derive(Debug, Clone)]
pub struct StoreUrls {
    /// The PostgreSQL URL, with the test's schema as its search path.
    pub durable: String,
    /// The Redis URL.
    pub redis: String,
    /// The test's Redis key prefix.
    pub prefix: String,
}

/// A prepared schema and prefix; [`Stores::run`] drops the schema afterwards.
pub struct Stores {
    pool: sqlx::PgPool,
    schema: String,
    urls: StoreUrls,
}

impl Stores {
    /// Connects to PostgreSQL (`EID_TEST_POSTGRES_URL`, else the local `test` database)
    /// and Redis (`EID_TEST_REDIS_URL`, else the local server) and creates the schema
    /// `{name}_{uuid}` and the prefix `eid-{name}-{uuid}:`. `None` when one is unreachable
    /// (outside CI; on CI that fails the test).
    pub async fn prepare(name: &str) -> Option<Self> {
        let pg_url = std::env::var("EID_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let redis_url = std::env::var("EID_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let pool = match sqlx::PgPool::connect(&pg_url).await {
            Ok(pool) => pool,
            Err(err) => {
                unavailable("PostgreSQL", err);
                return None;
            }
        };
        let redis_addr = url::Url::parse(&redis_url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(6379))))
            .expect("a redis://host:port URL");
        if let Err(err) = TcpStream::connect(&redis_addr) {
            unavailable("Redis", err);
            return None;
        }

        let unique = uuid::Uuid::new_v4().simple().to_string();
        let schema = format!("{name}_{unique}");
        // The schema name is the caller's fixed name and a UUID: nothing to inject.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&pool)
            .await
            .expect("create schema");
        let separator = if pg_url.contains('?') { '&' } else { '?' };
        let urls = StoreUrls {
            durable: format!("{pg_url}{separator}options=-csearch_path%3D{schema}"),
            redis: redis_url,
            prefix: format!("eid-{name}-{unique}:"),
        };
        Some(Self { pool, schema, urls })
    }

    /// Runs `work` on a blocking thread with a new temporary directory, then drops the
    /// schema; a panic in `work` is resumed after that.
    pub async fn run(self, work: impl FnOnce(&Path, &StoreUrls) + Send + 'static) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_owned();
        let urls = self.urls.clone();
        let outcome = tokio::task::spawn_blocking(move || work(&path, &urls)).await;

        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&self.pool)
        .await
        .expect("drop schema");
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic.into_panic());
        }
    }
}
