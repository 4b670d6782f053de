//! Redis ephemeral store, shared by every instance of the daemon.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script, Value};
use async_trait::async_trait;
use zeroize::Zeroizing;

use super::ephemeral::check_ttl;
use super::{EphemeralStore, SecretBytes, StoreError};

/// Increments a counter and starts its window if it has none, in one atomic step.
const INCR_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
";

/// Connection attempts per reconnect before a command fails.
const RETRIES: usize = 3;
/// Time allowed for one connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An [`EphemeralStore`] in Redis (7 or later: `take` is `GETDEL`).
///
/// Every key is prefixed, so several services or tests can share one Redis. The
/// connection manager is cheap to clone and reconnects on its own.
#[derive(Clone)]
pub struct RedisEphemeral {
    conn: ConnectionManager,
    prefix: String,
    incr: Script,
}

impl fmt::Debug for RedisEphemeral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisEphemeral")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisEphemeral {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379`), prefixing every key with
    /// `key_prefix` (e.g. `eid:`).
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(RETRIES)
            .set_connection_timeout(Some(CONNECT_TIMEOUT));
        let conn = ConnectionManager::new_with_config(Client::open(url)?, config).await?;
        Ok(Self {
            conn,
            prefix: key_prefix.to_owned(),
            incr: Script::new(INCR_SCRIPT),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// `ttl` in whole milliseconds, rounded up so a tiny TTL does not become zero.
    fn millis(ttl: Duration) -> Result<u64, StoreError> {
        let ttl = check_ttl(ttl)?;
        Ok(u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX))
    }

    async fn bytes(&self, cmd: &mut ::redis::Cmd) -> Result<Option<SecretBytes>, StoreError> {
        let value: Option<Vec<u8>> = cmd.query_async(&mut self.conn.clone()).await?;
        Ok(value.map(Zeroizing::new))
    }
}

#[async_trait]
impl EphemeralStore for RedisEphemeral {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let ms = Self::millis(ttl)?;
        ::redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ms)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let ms = Self::millis(ttl)?;
        let reply: Value = ::redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ms)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn get(&self, key: &str) -> Result<Option<SecretBytes>, StoreError> {
        self.bytes(::redis::cmd("GET").arg(self.key(key))).await
    }

    async fn take(&self, key: &str) -> Result<Option<SecretBytes>, StoreError> {
        self.bytes(::redis::cmd("GETDEL").arg(self.key(key))).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let n: u64 = ::redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let ms = Self::millis(window)?;
        let n: i64 = self
            .incr
            .key(self.key(key))
            .arg(ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| {
                let not_integer = e.detail().is_some_and(|d| d.contains("not an integer"));
                if not_integer {
                    StoreError::NotACounter
                } else {
                    e.into()
                }
            })?;
        u64::try_from(n).map_err(|_| StoreError::NotACounter)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        ::redis::cmd("PING")
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(
            RedisEphemeral::millis(Duration::from_micros(1)).ok(),
            Some(1)
        );
        assert_eq!(
            RedisEphemeral::millis(Duration::from_millis(1500)).ok(),
            Some(1500)
        );
        assert!(matches!(
            RedisEphemeral::millis(Duration::ZERO),
            Err(StoreError::InvalidTtl)
        ));
    }
}
