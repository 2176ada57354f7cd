//! The per-session message rate limit: a token bucket, pure so it is tested without a clock.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    tokens: f64,
}

impl RateLimit {
    /// `per_sec` messages a second sustained, bursts of twice that.
    pub fn new(per_sec: u32) -> Self {
        let per_sec = f64::from(per_sec.max(1));
        RateLimit {
            per_sec,
            burst: per_sec * 2.0,
            tokens: per_sec * 2.0,
        }
    }

    /// One message arrived `elapsed` after the previous one: false if it is over the limit.
    pub fn admit(&mut self, elapsed: Duration) -> bool {
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_pass_and_floods_do_not() {
        let mut r = RateLimit::new(10);
        assert!((0..20).all(|_| r.admit(Duration::ZERO)), "a burst of twice the rate");
        assert!(!r.admit(Duration::ZERO), "then the flood is refused");
        assert!(
            r.admit(Duration::from_millis(100)),
            "a tenth of a second earns one message"
        );
    }

    #[test]
    fn a_steady_rate_under_the_limit_always_passes() {
        let mut r = RateLimit::new(50);
        assert!((0..10_000).all(|_| r.admit(Duration::from_millis(20))));
    }
}
