//! Clocks: the system's, and a test clock that only moves when told to.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::ports::Clock;

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }
}

/// A clock for tests: starts at the system time and moves only by `advance`.
#[derive(Debug)]
pub struct TestClock {
    now_ms: AtomicI64,
}

impl Default for TestClock {
    fn default() -> Self {
        Self {
            now_ms: AtomicI64::new(SystemClock.now_millis()),
        }
    }
}

impl TestClock {
    pub fn advance(&self, by: std::time::Duration) {
        self.now_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_millis(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_clock_moves_only_when_told() {
        let c = TestClock::default();
        let t = c.now_millis();
        assert_eq!(c.now_millis(), t);
        c.advance(std::time::Duration::from_secs(2));
        assert_eq!(c.now_millis(), t + 2000);
        assert_eq!(c.now_secs(), (t + 2000) / 1000);
    }
}
