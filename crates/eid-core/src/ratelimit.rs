//! Rate limits and lockouts held in the ephemeral store, so that every instance of the
//! daemon counts together (fixed windows: a counter starts at the first event and expires
//! with its window).
//!
//! Typical use at login: [`RateLimiter::is_limited`] for the account and the client IP
//! before checking a password, [`RateLimiter::hit`] on each failure, and
//! [`RateLimiter::reset`] for the account on success. Subjects (a personal ID number, an IP
//! address) are hashed before they become store keys, so keys never show them.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{EphemeralStore, StoreError, key_digest};

/// At most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed in one window.
    pub max: u64,
    /// Length of the window.
    pub window: Duration,
}

/// The answer to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Within the limit; `remaining` more events are allowed in this window.
    Allowed {
        /// Events left before the limit.
        remaining: u64,
    },
    /// Over the limit until the window ends.
    Limited,
}

/// Counts events per subject under one name (e.g. `login-account`, `login-ip`).
#[derive(Clone)]
pub struct RateLimiter {
    store: Arc<dyn EphemeralStore>,
    name: &'static str,
    limit: RateLimit,
}

impl RateLimiter {
    /// A limiter called `name` (part of its keys) enforcing `limit`.
    pub fn new(store: Arc<dyn EphemeralStore>, name: &'static str, limit: RateLimit) -> Self {
        Self { store, name, limit }
    }

    /// Counts one event for `subject`.
    pub async fn hit(&self, subject: &str) -> Result<Decision, StoreError> {
        let count = self
            .store
            .incr(&self.key(subject), self.limit.window)
            .await?;
        Ok(self.decide(count))
    }

    /// Whether `subject` is over the limit now, without counting an event.
    pub async fn is_limited(&self, subject: &str) -> Result<bool, StoreError> {
        let count = match self.store.get(&self.key(subject)).await? {
            Some(value) => std::str::from_utf8(&value)
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or(StoreError::NotACounter)?,
            None => 0,
        };
        Ok(count >= self.limit.max)
    }

    /// Forgets `subject`'s events (after a successful login).
    pub async fn reset(&self, subject: &str) -> Result<(), StoreError> {
        self.store.delete(&self.key(subject)).await?;
        Ok(())
    }

    fn decide(&self, count: u64) -> Decision {
        if count > self.limit.max {
            Decision::Limited
        } else {
            Decision::Allowed {
                remaining: self.limit.max - count,
            }
        }
    }

    fn key(&self, subject: &str) -> String {
        format!("rate:{}:{}", self.name, key_digest(&[subject.as_bytes()]))
    }
}
