//! User audio in, turn boundaries out. Audio of any declared rate is converted to 16 kHz and buffered; a turn
//! ends on `activityEnd` (manual activity mode), `audioStreamEnd`, or, with automatic activity detection,
//! when the server's own VAD hears speech followed by the silence the client's setup asks for
//! (`silenceDurationMs`, 500 ms when absent; see `vad_settings.rs`).
//!
//! What a turn holds: in manual mode, the audio since `activityStart` (or since the previous turn end); in
//! automatic mode, the audio since the previous turn end, minus anything older than [`PRE_ROLL`] before the
//! detected speech onset (so the silence a hands-free mic streams between turns is not echoed back).
//! A turn never holds more than [`MAX_TURN`] (the oldest audio is dropped).

use crate::protocol::codec::{pcm16_from_bytes, pcm_rate};
use crate::protocol::{Blob, INPUT_RATE};

use super::responder::signal::resample_linear;
use super::vad::{SpeechDetector, VadEvent};
use super::vad_settings::VadSettings;

/// Audio kept before the detected onset of speech: 500 ms.
pub const PRE_ROLL: usize = INPUT_RATE as usize / 2;
/// The longest turn kept: 60 s.
pub const MAX_TURN: usize = INPUT_RATE as usize * 60;

#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The VAD heard the user start speaking (a barge-in when a reply is playing), `at` samples into the
    /// connection's audio stream (16 kHz).
    SpeechStarted { at: u64 },
    /// The user's turn ended; its 16 kHz audio, and where in the stream the speech ended.
    Ended { audio: Vec<i16>, at: u64 },
}

pub struct TurnTracker {
    vad: Option<SpeechDetector>,
    buffer: Vec<i16>,
    /// Absolute sample index of `buffer[0]`.
    buffer_start: u64,
    total: u64,
    /// The VAD ended the last turn and has heard no speech since: what is buffered is the silence a
    /// hands-free mic streams, which audioStreamEnd must not turn into a reply.
    quiet_since_vad_end: bool,
}

impl TurnTracker {
    /// `vad`: the server's VAD with these settings; None when the client marks turns with
    /// activityStart/activityEnd, so no VAD runs.
    pub fn new(vad: Option<VadSettings>) -> Self {
        TurnTracker {
            vad: vad.map(SpeechDetector::new),
            buffer: Vec::new(),
            buffer_start: 0,
            total: 0,
            quiet_since_vad_end: false,
        }
    }

    /// Takes one audio blob; non-PCM blobs are ignored. A missing rate means 16 kHz.
    pub fn audio(&mut self, blob: &Blob) -> Vec<TurnEvent> {
        if !blob.mime_type.starts_with("audio/pcm") && !blob.mime_type.starts_with("audio/l16") {
            tracing::debug!(mime = %blob.mime_type, "ignoring non-PCM audio");
            return Vec::new();
        }
        let rate = pcm_rate(&blob.mime_type).unwrap_or(INPUT_RATE);
        let samples = resample_linear(&pcm16_from_bytes(&blob.data), rate, INPUT_RATE);
        self.push(&samples)
    }

    /// Takes 16 kHz samples.
    pub fn push(&mut self, samples: &[i16]) -> Vec<TurnEvent> {
        self.buffer.extend_from_slice(samples);
        self.total += samples.len() as u64;
        if self.buffer.len() > MAX_TURN {
            let excess = self.buffer.len() - MAX_TURN;
            self.buffer.drain(..excess);
            self.buffer_start += excess as u64;
        }
        let Some(vad) = self.vad.as_mut() else {
            return Vec::new();
        };
        let mut events = Vec::new();
        for event in vad.push(samples) {
            match event {
                VadEvent::SpeechStart { at } => {
                    let keep_from = at.saturating_sub(PRE_ROLL as u64).max(self.buffer_start);
                    let drop = (keep_from - self.buffer_start) as usize;
                    self.buffer.drain(..drop.min(self.buffer.len()));
                    self.buffer_start = keep_from;
                    self.quiet_since_vad_end = false;
                    events.push(TurnEvent::SpeechStarted { at });
                }
                VadEvent::SpeechEnd { at } => {
                    events.push(TurnEvent::Ended { audio: self.take(), at });
                    self.quiet_since_vad_end = true;
                }
            }
        }
        events
    }

    /// activityStart: a new turn begins; audio before it is not part of it.
    pub fn activity_start(&mut self) {
        self.take();
    }

    /// activityEnd: the turn ends now (possibly empty).
    pub fn activity_end(&mut self) -> Vec<i16> {
        self.take()
    }

    /// audioStreamEnd: flush what is buffered, if anything. With automatic detection only speech makes a
    /// turn, as on the real service: a stream that ends mid-speech is answered, while the silence after a
    /// turn the VAD already ended, or a quiet room in which no speech was ever heard, is not.
    pub fn audio_stream_end(&mut self) -> Option<Vec<i16>> {
        let heard_speech = match self.vad.as_mut() {
            Some(vad) => {
                let speaking = vad.in_speech();
                vad.reset_state();
                speaking
            }
            None => true,
        };
        let quiet = std::mem::take(&mut self.quiet_since_vad_end);
        let audio = self.take();
        (!audio.is_empty() && !quiet && heard_speech).then_some(audio)
    }

    fn take(&mut self) -> Vec<i16> {
        self.quiet_since_vad_end = false;
        self.buffer_start = self.total;
        std::mem::take(&mut self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::super::vad::tests::voiced;
    use super::*;

    #[test]
    fn manual_turn_holds_exactly_the_audio_since_activity_start() {
        let mut t = TurnTracker::new(None);
        t.push(&[1, 2, 3]);
        t.activity_start();
        assert!(t.push(&[4, 5]).is_empty());
        assert_eq!(t.activity_end(), vec![4, 5]);
        assert_eq!(t.audio_stream_end(), None);
    }

    #[test]
    fn vad_ends_the_turn_and_trailing_silence_is_not_a_second_turn() {
        let mut t = TurnTracker::new(Some(VadSettings::default()));
        let mut silence_then_speech = vec![0i16; 32_000];
        silence_then_speech.extend(voiced(16_000));
        let events = t.push(&silence_then_speech);
        let [TurnEvent::SpeechStarted { at: start }] = events[..] else {
            panic!("{events:?}")
        };
        assert!(
            (32_000..=32_000 + 3 * 320).contains(&start),
            "speech starts at the voiced run: {start}"
        );
        let events = t.push(&[0; 16_000]);
        let Some(TurnEvent::Ended { audio, at: end }) = events.last() else {
            panic!("no turn end: {events:?}")
        };
        assert!(
            (48_000..=48_000 + 20 * 320).contains(end),
            "speech ends where the voice stops: {end}"
        );
        // Leading silence beyond the pre-roll was dropped; the speech and some trailing silence are kept.
        assert!(
            audio.len() >= 16_000 && audio.len() <= PRE_ROLL + 16_000 + 16_000,
            "{}",
            audio.len()
        );
        t.push(&[0; 8_000]);
        assert_eq!(t.audio_stream_end(), None);
        t.push(&[5; 100]);
        assert_eq!(t.audio_stream_end(), None, "no speech heard: nothing to answer");
        // a stream that ends mid-speech is answered
        t.push(&voiced(16_000));
        let Some(audio) = t.audio_stream_end() else {
            panic!("speech cut by audioStreamEnd is a turn")
        };
        assert!(audio.len() >= 16_000);
    }

    #[test]
    fn other_rates_are_converted_to_16k() {
        let mut t = TurnTracker::new(None);
        t.audio(&Blob::pcm16(48_000, &[0; 480]));
        assert_eq!(t.activity_end().len(), 160);
    }
}
