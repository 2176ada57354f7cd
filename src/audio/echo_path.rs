//! Is there an echo path at all? With a headset, or on virtual devices, the microphone never hears the
//! speaker; AEC3 cannot know that for seconds (its own "transparent mode" needs ~5 s of far-end audio to
//! decide), and meanwhile its suppressor treats whatever the microphone hears during a reply as possible
//! echo: measured, it took 8.8 dB off a voice talking over the reply 2 s in, and the residual-echo gate
//! after it, seeing the voice's onset contour match an onset in the reply by chance, silenced the first
//! second of the barge-in. The user could not interrupt.
//!
//! The question is answered per echo delay, from the levels alone. An echo path with delay `L` frames makes
//! the microphone hear the speaker's audio of `L` frames ago, so a frame in which the speaker was loud at
//! lags `L-1..=L+1` (all three: the true delay falls between frames, and a word's edge must not count)
//! while the microphone stayed [`INAUDIBLE_DB`] under it contradicts delay `L`. After
//! [`RULED_OUT_AFTER`] contradictions, delay `L` is ruled out for the rest of the reply. A frame can be
//! echo only if, at some delay not ruled out, the speaker was loud (at any of the three lags, so the echo
//! of a word's first frame counts): otherwise nothing could have put it there, and the canceller passes
//! the microphone through untouched.
//!
//! With a real echo path the true delay is never contradicted (whenever the speaker was loud there, its
//! echo is audible), so the canceller and gate work as before. Delays up to [`MAX_LAG`] frames (300 ms)
//! are considered: measured on the PulseAudio loopback, the delay from our reference to its echo was
//! 100-300 ms; a longer one (seen once, ~900 ms, after a barge-in flush) would be let through.
//! Everything starts again when the speaker has been silent for [`HISTORY`] frames (between replies: a
//! headset may be put down, a loopback turned on).
//!
//! Allocation-free (fixed arrays): it runs per frame on the DSP thread.

/// The longest echo delay considered, in 20 ms frames (300 ms). Longer would keep delays "possible" that
/// only the reply's first frames could feed, for as long: a user who starts talking that long into a reply
/// looks, at their onset, exactly like an echo at that delay (measured: a voice 0.5 s into the reply was
/// held back with 500 ms here).
pub const MAX_LAG: usize = 15;
/// Speaker level frames kept (1 s): also how long the speaker must be silent before a new reply starts
/// the evidence again.
pub const HISTORY: usize = 50;
/// A speaker frame this loud (dB re 1 LSB, about -50 dBFS) would put an audible echo in the microphone.
pub const LOUD_DB: f32 = 40.0;
/// A speaker level under this (dB re 1 LSB, about -70 dBFS) is silence.
pub const SILENT_DB: f32 = 20.0;
/// The microphone this far under the speaker's level at a delay: no audible echo at that delay.
pub const INAUDIBLE_DB: f32 = -50.0;
/// Contradicting frames that rule a delay out.
pub const RULED_OUT_AFTER: u8 = 2;

/// See the module docs. One per [`super::EchoCanceller`].
#[derive(Debug, Clone)]
pub struct EchoPath {
    /// Speaker level per capture frame (dB re 1 LSB), a ring indexed by `frame_no`.
    speaker: [f32; HISTORY],
    frame_no: usize,
    /// Contradictions per delay (0..=MAX_LAG frames) since the reply began.
    contradictions: [u8; MAX_LAG + 1],
}

const _: () = assert!(MAX_LAG + 2 <= HISTORY);

impl Default for EchoPath {
    fn default() -> Self {
        EchoPath {
            speaker: [0.0; HISTORY],
            frame_no: 0,
            contradictions: [0; MAX_LAG + 1],
        }
    }
}

impl EchoPath {
    /// One capture frame: the speaker's level over the reference fed since the last frame, and the raw
    /// microphone's, both dB re 1 LSB. Returns whether the frame can hold echo.
    pub fn update(&mut self, speaker_db: f32, mic_db: f32) -> bool {
        self.speaker[self.frame_no % HISTORY] = speaker_db;
        self.frame_no += 1;
        if self.speaker.iter().all(|&s| s < SILENT_DB) {
            self.contradictions = [0; MAX_LAG + 1];
            return false;
        }
        let mut possible = false;
        for lag in 0..=MAX_LAG {
            // the speaker at lags lag-1..=lag+1: an echo at this delay can come from any of them, and is
            // contradicted only where all three were loud
            let near = [self.at(lag.saturating_sub(1)), self.at(lag), self.at(lag + 1)];
            let (quietest, loudest) = near.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &s| {
                (lo.min(s), hi.max(s))
            });
            if quietest >= LOUD_DB && mic_db < quietest + INAUDIBLE_DB {
                self.contradictions[lag] = self.contradictions[lag].saturating_add(1);
            }
            possible |= loudest >= LOUD_DB && self.contradictions[lag] < RULED_OUT_AFTER;
        }
        possible
    }

    /// The speaker's level `lag` frames before the newest.
    fn at(&self, lag: usize) -> f32 {
        if lag >= self.frame_no {
            return 0.0;
        }
        self.speaker[(self.frame_no - 1 - lag) % HISTORY]
    }

    /// Every delay is ruled out: for the rest of this reply the microphone cannot hear the speaker (a
    /// headset, virtual devices), so nothing it captures is echo until the speaker has been silent for
    /// [`HISTORY`] frames and the evidence starts again.
    pub fn closed(&self) -> bool {
        self.contradictions.iter().all(|&c| c >= RULED_OUT_AFTER)
    }

    /// Delays not (yet) ruled out while the speaker was loud there, for logs and tests.
    pub fn open_delays(&self) -> usize {
        self.contradictions.iter().filter(|&&c| c < RULED_OUT_AFTER).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply: loud words of 5 frames with 2-frame pauses.
    fn reply_level(i: usize) -> f32 {
        if i % 7 < 5 {
            70.0
        } else {
            10.0
        }
    }

    #[test]
    fn no_echo_path_is_recognised_within_a_few_words() {
        let mut p = EchoPath::default();
        let mut first_impossible = None;
        for i in 0..40 {
            // a headset: the microphone hears only its own noise floor (~-80 dBFS)
            if !p.update(reply_level(i), 10.0) && first_impossible.is_none() {
                first_impossible = Some(i);
            }
        }
        let at = first_impossible.expect("never recognised");
        assert!(at <= 30, "recognised only at frame {at}");
        assert!(
            p.closed(),
            "every delay ruled out after 40 frames: {} open",
            p.open_delays()
        );
        // from then on a voice over the reply cannot be echo
        for i in 40..60 {
            assert!(!p.update(reply_level(i), 65.0), "frame {i}");
        }
    }

    #[test]
    fn a_real_echo_path_stays_possible_at_its_delay() {
        for delay in [1usize, 3, 6, 10, 14] {
            let mut p = EchoPath::default();
            for i in 0..200 {
                // the microphone hears the reply `delay` frames late, 12 dB down, over a -80 dBFS floor
                let echo = if i >= delay {
                    reply_level(i - delay) - 12.0
                } else {
                    10.0
                };
                let possible = p.update(reply_level(i), echo.max(10.0));
                if i > delay + 2 && reply_level(i - delay) > 40.0 {
                    assert!(possible, "delay {delay}: echo frame {i} called impossible");
                }
                assert!(!p.closed(), "delay {delay}: the path closed at frame {i}");
            }
        }
    }

    #[test]
    fn silence_between_replies_starts_the_evidence_again() {
        let mut p = EchoPath::default();
        for i in 0..60 {
            p.update(reply_level(i), 10.0);
        }
        assert!(p.open_delays() < MAX_LAG / 2);
        for _ in 0..HISTORY {
            assert!(!p.update(0.0, 10.0), "nothing plays: nothing to echo");
        }
        assert_eq!(p.open_delays(), MAX_LAG + 1);
        assert!(!p.closed());
        // the next reply, now with an echo path: possible again
        assert!(p.update(70.0, 58.0));
    }
}
