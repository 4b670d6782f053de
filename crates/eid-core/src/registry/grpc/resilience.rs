//! The client's retry backoff and circuit breaker, kept free of I/O (time is passed in) so
//! that they are tested without a network or a clock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Retries of a call that failed with `UNAVAILABLE` (and only that code: other failures are
/// answers, or would not improve on retrying).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The wait before the first retry; each further retry waits twice as long.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, waiting 100 ms then 200 ms (at most 2 s).
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry): exponential, capped at
    /// [`max_backoff`](Self::max_backoff).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// When the circuit breaker opens and when it lets a trial call through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failed attempts (unavailable or timed out) that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one trial call is let through (half-open).
    pub cool_down: Duration,
}

impl Default for BreakerPolicy {
    /// Opens after 5 consecutive failures, tries again after 10 s.
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(10),
        }
    }
}

/// The circuit is open: the call was refused without reaching the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open after repeated failures")]
pub struct CircuitOpen;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls pass; `failures` consecutive attempts have failed.
    Closed { failures: u32 },
    /// Calls are refused until `since + cool_down`.
    Open { since: Instant },
    /// One trial call, admitted at `since`, is in flight; others are refused. A trial that
    /// never reports (its caller was cancelled) is replaced after another cool-down.
    HalfOpen { since: Instant },
}

/// A circuit breaker: closed → open after [`BreakerPolicy::failure_threshold`] consecutive
/// failures → half-open after [`BreakerPolicy::cool_down`] (one trial call) → closed on
/// the trial's success, open again on its failure.
#[derive(Debug)]
pub struct CircuitBreaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value, valid whatever a panicking holder did.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a call may be made at `now`. Admitting the first call after the cool-down
    /// makes it the half-open trial.
    pub fn admit(&self, now: Instant) -> Result<(), CircuitOpen> {
        let mut state = self.state();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { since } | State::HalfOpen { since }
                if now.saturating_duration_since(since) >= self.policy.cool_down =>
            {
                *state = State::HalfOpen { since: now };
                Ok(())
            }
            State::Open { .. } | State::HalfOpen { .. } => Err(CircuitOpen),
        }
    }

    /// The register answered (whatever the answer): the circuit closes.
    pub fn record_success(&self) {
        *self.state() = State::Closed { failures: 0 };
    }

    /// An attempt failed at `now` (unavailable or timed out).
    pub fn record_failure(&self, now: Instant) {
        let mut state = self.state();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.policy.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            State::Closed { .. } | State::HalfOpen { .. } => State::Open { since: now },
            // A call admitted before the circuit opened: the cool-down runs from the opening.
            open @ State::Open { .. } => open,
        };
    }

    /// True when a call at `now` would be refused.
    pub fn is_open(&self, now: Instant) -> bool {
        match *self.state() {
            State::Closed { .. } => false,
            State::Open { since } | State::HalfOpen { since } => {
                now.saturating_duration_since(since) < self.policy.cool_down
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(10);

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerPolicy {
            failure_threshold: 3,
            cool_down: COOL_DOWN,
        })
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        let waits: Vec<u128> = (0..6).map(|r| policy.backoff(r).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff(40), Duration::from_millis(1000));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let b = breaker();
        let t = Instant::now();
        b.record_failure(t);
        b.record_failure(t);
        assert_eq!(b.admit(t), Ok(()));
        b.record_failure(t);
        assert!(b.is_open(t));
        assert_eq!(b.admit(t + COOL_DOWN / 2), Err(CircuitOpen));
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = breaker();
        let t = Instant::now();
        b.record_failure(t);
        b.record_failure(t);
        b.record_success();
        b.record_failure(t);
        b.record_failure(t);
        assert!(!b.is_open(t));
        assert_eq!(b.admit(t), Ok(()));
    }

    #[test]
    fn half_open_lets_one_trial_through_and_closes_on_success() {
        let b = breaker();
        let t = Instant::now();
        (0..3).for_each(|_| b.record_failure(t));
        let later = t + COOL_DOWN;
        assert_eq!(b.admit(later), Ok(()), "the trial");
        assert_eq!(b.admit(later), Err(CircuitOpen), "a second caller");
        b.record_success();
        assert_eq!(b.admit(later), Ok(()));
        assert!(!b.is_open(later));
    }

    #[test]
    fn a_failed_trial_reopens_for_a_full_cool_down() {
        let b = breaker();
        let t = Instant::now();
        (0..3).for_each(|_| b.record_failure(t));
        let trial = t + COOL_DOWN;
        assert_eq!(b.admit(trial), Ok(()));
        b.record_failure(trial);
        assert_eq!(b.admit(trial + COOL_DOWN / 2), Err(CircuitOpen));
        assert_eq!(b.admit(trial + COOL_DOWN), Ok(()));
    }

    #[test]
    fn an_abandoned_trial_is_replaced_after_a_cool_down() {
        let b = breaker();
        let t = Instant::now();
        (0..3).for_each(|_| b.record_failure(t));
        assert_eq!(b.admit(t + COOL_DOWN), Ok(()));
        // The trial's caller never reports.
        assert_eq!(b.admit(t + COOL_DOWN * 2), Ok(()));
    }
}
