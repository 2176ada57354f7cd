//! The server's own end-of-speech detector for automatic activity detection: webrtc-vad (Aggressive) on
//! 20 ms 16 kHz frames, with onset and hangover smoothing. Speech starts after [`ONSET_FRAMES`] voiced
//! frames in a row and ends after [`HANGOVER_FRAMES`] unvoiced frames in a row (500 ms).

use webrtc_vad::{SampleRate, Vad, VadMode};

/// 20 ms at 16 kHz.
pub const FRAME: usize = 320;
/// Voiced frames in a row that start speech (60 ms).
pub const ONSET_FRAMES: u32 = 3;
/// Unvoiced frames in a row that end speech (500 ms).
pub const HANGOVER_FRAMES: u32 = 25;

/// `webrtc_vad::Vad` owns a raw pointer to its C state, so it is `!Send`. The state has no thread affinity
/// (no thread-locals, no callbacks): moving it between threads is sound as long as only one thread uses it
/// at a time, which `&mut self` on every method guarantees.
struct SendVad(Vad);

// SAFETY: see the type's doc comment: exclusive ownership, no thread affinity in libfvad.
unsafe impl Send for SendVad {}

/// A change in the speech state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at this absolute sample index (the start of the voiced run).
    SpeechStart {
        at: u64,
    },
    SpeechEnd,
}

pub struct SpeechDetector {
    vad: SendVad,
    pending: Vec<i16>,
    /// Absolute index of the first sample in `pending`.
    pending_start: u64,
    voiced_run: u32,
    unvoiced_run: u32,
    in_speech: bool,
}

impl Default for SpeechDetector {
    fn default() -> Self {
        SpeechDetector {
            vad: SendVad(Vad::new_with_rate_and_mode(SampleRate::Rate16kHz, VadMode::Aggressive)),
            pending: Vec::with_capacity(FRAME * 2),
            pending_start: 0,
            voiced_run: 0,
            unvoiced_run: 0,
            in_speech: false,
        }
    }
}

impl SpeechDetector {
    /// Feeds 16 kHz samples; returns the state changes they caused, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<VadEvent> {
        let mut events = Vec::new();
        self.pending.extend_from_slice(samples);
        let mut offset = 0;
        while self.pending.len() - offset >= FRAME {
            let frame = &self.pending[offset..offset + FRAME];
            // An error only means a wrong frame length, which FRAME rules out: count it as unvoiced.
            let voiced = self.vad.0.is_voice_segment(frame).unwrap_or(false);
            let frame_start = self.pending_start + offset as u64;
            if voiced {
                self.voiced_run += 1;
                self.unvoiced_run = 0;
                if !self.in_speech && self.voiced_run >= ONSET_FRAMES {
                    self.in_speech = true;
                    let at = frame_start.saturating_sub(u64::from(ONSET_FRAMES - 1) * FRAME as u64);
                    events.push(VadEvent::SpeechStart { at });
                }
            } else {
                self.voiced_run = 0;
                self.unvoiced_run += 1;
                if self.in_speech && self.unvoiced_run >= HANGOVER_FRAMES {
                    self.in_speech = false;
                    events.push(VadEvent::SpeechEnd);
                }
            }
            offset += FRAME;
        }
        self.pending.drain(..offset);
        self.pending_start += offset as u64;
        events
    }

    #[cfg(test)]
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Forgets the speech state (after audioStreamEnd); sample numbering continues.
    pub fn reset_state(&mut self) {
        self.in_speech = false;
        self.voiced_run = 0;
        self.unvoiced_run = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_never_starts_speech() {
        let mut d = SpeechDetector::default();
        assert!(d.push(&vec![0i16; 16_000]).is_empty());
        assert!(!d.in_speech());
    }
}
