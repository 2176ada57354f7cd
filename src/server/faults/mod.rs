//! Fault injection: the failures a Live client must survive, produced on request so tests and demos can
//! reproduce them. Each fault is plain data in [`Faults`] (parsed from `--faults SPEC` by `spec.rs`),
//! applied by the connection handler at one place; `clock.rs` says when a periodic fault is due.

use std::time::Duration;

mod clock;
mod spec;

pub use clock::{FaultClock, FaultCounts};
pub use spec::{parse_spec_duration, FaultSpecError, DEFAULT_OVERSIZED, MAX_OVERSIZED, MIN_EVERY};

/// A fault injected on a timer.
#[derive(Debug, Clone, PartialEq)]
pub struct Periodic {
    pub kind: PeriodicKind,
    pub every: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PeriodicKind {
    /// End the connection without a close frame.
    Drop,
    /// Close with this code ("injected fault" as the reason).
    Close { code: u16 },
    /// Send goAway with this timeLeft (then close at the deadline).
    GoAway { time_left: Duration },
    /// Send a frame that is not JSON.
    Malformed,
    /// Send a frame of this many bytes (over the client's message limit).
    Oversized { bytes: usize },
}

impl PeriodicKind {
    /// A short name for counts and logs.
    pub fn label(&self) -> &'static str {
        match self {
            PeriodicKind::Drop => "drop",
            PeriodicKind::Close { .. } => "close",
            PeriodicKind::GoAway { .. } => "goaway",
            PeriodicKind::Malformed => "malformed",
            PeriodicKind::Oversized { .. } => "oversized",
        }
    }
}

/// Close the WebSocket in the middle of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseMidTurn {
    /// Close after this many reply audio chunks have been sent in a turn.
    pub after_chunks: usize,
    pub code: u16,
    pub reason: String,
}

/// Which failures to inject. `Default` injects none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Close with a code and reason mid-turn (e.g. 1011 "internal error"; the client should resume).
    pub close_mid_turn: Option<CloseMidTurn>,
    /// Drop the TCP connection without a close frame after this many reply audio chunks.
    pub drop_after_chunks: Option<usize>,
    /// Send one frame that is not valid JSON right after setupComplete.
    pub malformed_frame: bool,
    /// Send `goAway` with this `timeLeft` after each turn (between turns, as the real service does).
    pub go_away_after_turn: Option<Duration>,
    /// Wait this long before the first message of each reply.
    pub reply_delay: Option<Duration>,
    /// Refuse every resumption handle (close 1008), as after a server-side expiry.
    pub reject_resumption: bool,
    /// Apply the faults to the first N connections only (so a resumed connection can succeed); None = all.
    pub first_connections: Option<u32>,
    /// Faults on timers (`--faults drop-every=3s,...`).
    pub periodic: Vec<Periodic>,
    /// Periodic faults come after a seeded random wait around their period instead of on a schedule.
    pub random_schedule: bool,
    /// Up to this much more or less than `reply_delay` before each reply (seeded).
    pub reply_jitter: Option<Duration>,
    /// Refuse a resumption handle with this probability (seeded); 1 is the same as `reject_resumption`.
    pub reject_resume_probability: f64,
    /// Seed of every random draw above; None draws a seed at start.
    pub seed: Option<u64>,
}

impl Faults {
    /// The faults that apply to the connection numbered `index` (from 0, in accept order).
    pub fn for_connection(&self, index: u32) -> Faults {
        match self.first_connections {
            Some(n) if index >= n => Faults::default(),
            _ => self.clone(),
        }
    }

    /// What to do after sending reply audio chunk number `sent` (1-based) of a turn.
    pub fn after_chunk(&self, sent: usize) -> Option<ChunkFault> {
        if let Some(c) = &self.close_mid_turn {
            if sent >= c.after_chunks {
                return Some(ChunkFault::Close {
                    code: c.code,
                    reason: c.reason.clone(),
                });
            }
        }
        match self.drop_after_chunks {
            Some(n) if sent >= n => Some(ChunkFault::Drop),
            _ => None,
        }
    }
}

/// A fault triggered by reply progress.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkFault {
    Close { code: u16, reason: String },
    Drop,
}

/// The frame sent by [`Faults::malformed_frame`]: truncated JSON.
pub const MALFORMED_FRAME: &str = "{\"serverContent\": {\"modelTurn\": ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_only_to_the_first_connections() {
        let f = Faults {
            reject_resumption: true,
            first_connections: Some(1),
            ..Faults::default()
        };
        assert!(f.for_connection(0).reject_resumption);
        assert_eq!(f.for_connection(1), Faults::default());
    }

    #[test]
    fn close_mid_turn_triggers_at_the_chunk_count() {
        let f = Faults {
            close_mid_turn: Some(CloseMidTurn {
                after_chunks: 3,
                code: 1011,
                reason: "boom".into(),
            }),
            ..Faults::default()
        };
        assert_eq!(f.after_chunk(2), None);
        assert!(matches!(f.after_chunk(3), Some(ChunkFault::Close { code: 1011, .. })));
    }
}
