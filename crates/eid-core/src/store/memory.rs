//! In-process ephemeral store.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::ephemeral::check_ttl;
use super::{EphemeralStore, SecretBytes, StoreError};

/// Entries held before the first sweep of expired ones.
const FIRST_SWEEP: usize = 1024;

/// An [`EphemeralStore`] in this process's memory, for a single instance.
///
/// Expiry follows the Tokio clock, so tests can pause and advance time. Expired entries
/// are dropped when read, and swept whenever the map has doubled since the last sweep.
/// Counters are stored as decimal text, as in Redis.
#[derive(Default)]
pub struct MemoryEphemeral {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    sweep_at: usize,
}

struct Entry {
    value: SecretBytes,
    expires_at: Instant,
}

impl MemoryEphemeral {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No operation leaves the map half-updated, so a poisoned lock is still sound.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryEphemeral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are secrets: show how many there are, never what they are.
        f.debug_struct("MemoryEphemeral")
            .field("entries", &self.lock().entries.len())
            .finish()
    }
}

impl Inner {
    /// The live entry under `key`, dropping it if expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| e.expires_at <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: SecretBytes, expires_at: Instant, now: Instant) {
        if self.entries.len() >= self.sweep_at.max(FIRST_SWEEP) {
            self.entries.retain(|_, e| e.expires_at > now);
            self.sweep_at = self.entries.len() * 2;
        }
        self.entries
            .insert(key.to_owned(), Entry { value, expires_at });
    }
}

#[async_trait]
impl EphemeralStore for MemoryEphemeral {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let ttl = check_ttl(ttl)?;
        let now = Instant::now();
        self.lock()
            .insert(key, Zeroizing::new(value.to_vec()), now + ttl, now);
        Ok(())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let ttl = check_ttl(ttl)?;
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.insert(key, Zeroizing::new(value.to_vec()), now + ttl, now);
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<SecretBytes>, StoreError> {
        Ok(self
            .lock()
            .live(key, Instant::now())
            .map(|e| e.value.clone()))
    }

    async fn take(&self, key: &str) -> Result<Option<SecretBytes>, StoreError> {
        let mut inner = self.lock();
        inner.live(key, Instant::now());
        Ok(inner.entries.remove(key).map(|e| e.value))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.take(key).await?.is_some())
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let window = check_ttl(window)?;
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(entry) = inner.live(key, now) {
            let count = std::str::from_utf8(&entry.value)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(StoreError::NotACounter)?
                .saturating_add(1);
            entry.value = Zeroizing::new(count.to_string().into_bytes());
            return Ok(count);
        }
        inner.insert(key, Zeroizing::new(b"1".to_vec()), now + window, now);
        Ok(1)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn incr_continues_a_decimal_value() {
        let s = MemoryEphemeral::new();
        s.put("n", b"41", TTL).await.unwrap();
        assert_eq!(s.incr("n", TTL).await.unwrap(), 42);
    }

    #[tokio::test]
    async fn debug_shows_no_values() {
        let s = MemoryEphemeral::new();
        s.put("code", b"hunter2", TTL).await.unwrap();
        let shown = format!("{s:?}");
        assert!(
            shown.contains("entries: 1") && !shown.contains("hunter2") && !shown.contains("104")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_swept_as_the_map_grows() {
        let s = MemoryEphemeral::new();
        for i in 0..FIRST_SWEEP {
            s.put(&format!("old{i}"), b"v", Duration::from_secs(1))
                .await
                .unwrap();
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        s.put("new", b"v", TTL).await.unwrap();
        assert_eq!(s.lock().entries.len(), 1);
        assert_eq!(s.lock().sweep_at, 0);
    }
}
