//! What the bench notes of the replies as the pump hands them on: when each reply's first chunk reached the
//! player and when playback was stopped. Kept beside the player and the renderer it wraps, apart from the
//! session run ([`super::run`]) and the turn matching ([`super::turns`]) that read it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::conversation::Notice;
use crate::modes::playback::{EnginePlayback, Playback};
use crate::ui::Renderer;

/// When replies started and stopped, as the conversation handed them to the player. A reply is one
/// interaction: on models that speak several times in one interaction (turnComplete with
/// interactionStatus IN_PROGRESS, then IDLE) each utterance ends with its own end of reply for the player,
/// but only the conversation's end of the interaction ([`Notice::TurnDone`]) or a stop opens the next
/// reply, so the later utterances are not counted as replies answering nothing and the reply's first byte
/// and first sample heard are its first utterance's.
#[derive(Default)]
pub(super) struct PlayLog {
    /// Arrival of the first chunk of each reply.
    pub(super) starts: Vec<Instant>,
    /// When playback was stopped (barge-in or the server's `interrupted`).
    pub(super) stops: Vec<Instant>,
    /// The next chunk played starts a new reply.
    boundary: bool,
}

impl PlayLog {
    pub(super) fn new() -> Self {
        PlayLog {
            boundary: true,
            ..PlayLog::default()
        }
    }

    /// A reply chunk went to the player.
    fn played(&mut self, received_at: Instant) {
        if std::mem::replace(&mut self.boundary, false) {
            self.starts.push(received_at);
        }
    }

    /// The conversation closed the reply: its interaction is over (or it was interrupted).
    fn interaction_over(&mut self) {
        self.boundary = true;
    }

    /// Playback was cut: whatever plays next is a new reply.
    fn stopped(&mut self, at: Instant) {
        self.boundary = true;
        self.stops.push(at);
    }
}

/// The engine's player, noting reply starts and stops (on the pump's task, not the audio path).
pub(super) struct Timed {
    pub(super) inner: EnginePlayback,
    pub(super) log: Arc<Mutex<PlayLog>>,
}

impl Playback for Timed {
    fn play(&mut self, samples: Vec<i16>, rate: u32, received_at: Instant) {
        if let Ok(mut log) = self.log.lock() {
            log.played(received_at);
        }
        self.inner.play(samples, rate, received_at);
    }

    /// One utterance ended; the reply (the interaction) may go on: see [`PlayLog`].
    fn end_of_reply(&mut self) {
        self.inner.end_of_reply();
    }

    fn stop(&mut self, onset: Option<Instant>) {
        if let Ok(mut log) = self.log.lock() {
            log.stopped(Instant::now());
        }
        self.inner.stop(onset);
    }

    fn is_playing(&self) -> bool {
        self.inner.is_playing()
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }
}

/// The bench shows nothing while it runs (warnings go to the log); it notes where the conversation
/// closed each reply.
pub(super) struct Quiet(pub(super) Arc<Mutex<PlayLog>>);

impl Renderer for Quiet {
    fn show(&mut self, notice: &Notice) {
        match notice {
            Notice::Warning(w) => tracing::warn!("{w}"),
            Notice::TurnDone { .. } => {
                if let Ok(mut log) = self.0.lock() {
                    log.interaction_over();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audio::Span;
    use crate::bench::speech::Utterance;
    use crate::bench::turns::match_turns;

    /// gemini-3.8-live: one interaction of two utterances (turnComplete IN_PROGRESS, then IDLE) answers the
    /// first question; a later interaction answers the second. Only the conversation's TurnDone (the end
    /// of the interaction) opens a new reply, so the second utterance is no extra reply and the first
    /// question's first byte and heard are its first utterance's.
    #[test]
    fn an_interaction_of_several_utterances_is_one_reply() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let log = Arc::new(Mutex::new(PlayLog::new()));
        let mut shown = Quiet(log.clone());
        let done = Notice::TurnDone {
            turn: 0,
            first_reply: None,
            interrupted: false,
            tokens: None,
        };
        let play = |at: Instant| log.lock().unwrap().played(at);
        // first utterance, its turnComplete IN_PROGRESS (the player's end of reply, no TurnDone), the
        // second utterance, then IDLE: TurnDone
        play(t(1_900));
        play(t(1_950));
        play(t(2_600));
        play(t(2_650));
        shown.show(&done);
        // the next question's interaction
        play(t(5_450));
        shown.show(&done);
        let starts = log.lock().unwrap().starts.clone();
        assert_eq!(starts, vec![t(1_900), t(5_450)]);
        let speech = [Utterance { start: 0.5, end: 1.5 }, Utterance { start: 4.0, end: 5.0 }];
        let spans = [
            Span {
                stage: crate::audio::Stage::FirstReplyToPlayout,
                start: t(1_900),
                end: t(1_960),
            },
            Span {
                stage: crate::audio::Stage::FirstReplyToPlayout,
                start: t(2_600),
                end: t(2_660),
            },
        ];
        let m = match_turns(&speech, o, &[t(1_800), t(5_300)], &starts, &[], &spans);
        assert_eq!(m.extra_replies, 0);
        assert_eq!(
            (m.turns[0].first_byte_ms, m.turns[0].heard_ms),
            (Some(400.0), Some(460.0))
        );
        assert_eq!(m.turns[1].first_byte_ms, Some(450.0));
    }

    #[test]
    fn a_stop_opens_a_new_reply_without_a_turn_done() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let mut log = PlayLog::new();
        log.played(t(100));
        log.stopped(t(200));
        log.played(t(300));
        assert_eq!((log.starts, log.stops), (vec![t(100), t(300)], vec![t(200)]));
    }
}
