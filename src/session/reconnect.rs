//! Which endings a new connection can cure, and how long to wait before trying: a close becomes a typed
//! [`CloseClass`], and the backoff is a pure function of the attempt number and a jitter draw, so both are
//! table-tested without a socket or a clock.

use std::time::Duration;

use super::SessionError;

/// What a close means to whoever owns the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseClass {
    /// Someone ended the conversation on purpose (1000, or our own close). Nothing to retry.
    Normal,
    /// The network or the service failed (abrupt drop, 1001 going away, 1011 internal error, a goAway
    /// deadline): reconnect, resuming where possible.
    Retryable,
    /// Retrying the same request cannot help (bad key, invalid argument, unknown model, policy): stop and
    /// show the reason.
    Terminal,
}

impl CloseClass {
    pub fn label(self) -> &'static str {
        match self {
            CloseClass::Normal => "normal",
            CloseClass::Retryable => "retryable",
            CloseClass::Terminal => "terminal",
        }
    }
}

/// Classifies a close frame by its code, and for 1008 by its reason (the service uses 1008 both for a bad
/// key and for "connection deadline after goAway", which a reconnect does cure).
pub fn classify_close(code: u16, reason: &str) -> CloseClass {
    let lower = reason.to_ascii_lowercase();
    match code {
        1000 => CloseClass::Normal,
        // 1005: no status in the frame; 1006: abnormal (never on the wire, but libraries report it).
        1001 | 1005 | 1006 | 1011 | 1012 | 1013 | 1014 => CloseClass::Retryable,
        1008 if lower.contains("deadline") => CloseClass::Retryable,
        _ => CloseClass::Terminal,
    }
}

/// The first retry waits this long at most (the first attempt after a drop is immediate).
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// No wait is ever longer than this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// After this many connection attempts in a row that fail to set up, the session ends with the last error.
pub const MAX_ATTEMPTS: u32 = 8;
/// Of each wait, this fraction is fixed and the rest is drawn at random ("equal jitter"): many clients
/// cut off at once by a 1011 under load do not come back in the same millisecond.
pub const BACKOFF_FIXED_FRACTION: f64 = 0.5;

/// How long to wait before attempt `attempt` (0 = the first reconnect after a connection ended), given a
/// uniform draw `jitter` in [0, 1] (clamped; NaN counts as 0). Attempt 0 is immediate, so a goAway or a
/// single drop costs no wait; attempt n waits between half and all of `BACKOFF_BASE * 2^(n-1)`, capped at
/// [`BACKOFF_MAX`].
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let exp = (attempt - 1).min(16);
    let full = BACKOFF_BASE.saturating_mul(1u32 << exp).min(BACKOFF_MAX);
    let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
    let fraction = BACKOFF_FIXED_FRACTION + (1.0 - BACKOFF_FIXED_FRACTION) * jitter;
    full.mul_f64(fraction)
}

/// The attempt to start with after `error`: a quota or overload close is not cured by an immediate retry,
/// so it starts with a wait; everything else reconnects at once.
pub fn first_attempt(error: &SessionError) -> u32 {
    match error {
        SessionError::Closed(info) if info.reason.to_ascii_lowercase().contains("quota") => 1,
        SessionError::Closed(info) if matches!(info.code, 1013) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_classified() {
        let table = [
            (1000, "", CloseClass::Normal),
            (1001, "going away", CloseClass::Retryable),
            (1011, "internal error", CloseClass::Retryable),
            (1011, "quota exceeded", CloseClass::Retryable),
            (1006, "", CloseClass::Retryable),
            (1007, "invalid argument", CloseClass::Terminal),
            (1008, "API key not valid", CloseClass::Terminal),
            (1008, "model not found", CloseClass::Terminal),
            (1008, "connection deadline exceeded after goAway", CloseClass::Retryable),
            (1009, "message too big", CloseClass::Terminal),
            (4000, "", CloseClass::Terminal),
        ];
        for (code, reason, class) in table {
            assert_eq!(classify_close(code, reason), class, "{code} {reason:?}");
        }
    }

    #[test]
    fn first_reconnect_is_immediate() {
        assert_eq!(backoff(0, 0.0), Duration::ZERO);
        assert_eq!(backoff(0, 1.0), Duration::ZERO);
    }

    #[test]
    fn backoff_doubles_within_its_jitter_band() {
        for attempt in 1..6 {
            let full = BACKOFF_BASE * (1 << (attempt - 1));
            assert_eq!(backoff(attempt, 0.0), full / 2, "attempt {attempt}");
            assert_eq!(backoff(attempt, 1.0), full, "attempt {attempt}");
            let mid = backoff(attempt, 0.5);
            assert!(mid > full / 2 && mid < full);
        }
    }

    #[test]
    fn backoff_is_capped_and_never_overflows() {
        assert_eq!(backoff(20, 1.0), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX, 1.0), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX, 0.0), BACKOFF_MAX / 2);
    }

    #[test]
    fn bad_jitter_draws_are_clamped() {
        assert_eq!(backoff(1, f64::NAN), BACKOFF_BASE / 2);
        assert_eq!(backoff(1, -3.0), BACKOFF_BASE / 2);
        assert_eq!(backoff(1, 7.0), BACKOFF_BASE);
    }

    #[test]
    fn quota_closes_start_with_a_wait() {
        let quota = SessionError::from_close(1011, "Quota exceeded for the project");
        assert_eq!(first_attempt(&quota), 1);
        let internal = SessionError::from_close(1011, "internal error");
        assert_eq!(first_attempt(&internal), 0);
    }
}
