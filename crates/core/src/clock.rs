//! An injectable clock, so verifiers and token logic can be tested at any instant.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stays where it is set: for tests and fixture replays.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }

    /// A clock at a Unix time in seconds (the epoch when out of range).
    pub fn at_unix(secs: i64) -> Self {
        Self::new(DateTime::from_timestamp(secs, 0).unwrap_or_default())
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *g += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
