//! The server's own end-of-speech detector for automatic activity detection: webrtc-vad (Aggressive) on
//! 20 ms 16 kHz frames, smoothed by the audio core's [`Smoother`]: speech starts after [`ONSET_FRAMES`]
//! voiced frames in a row and ends after [`HANGOVER_FRAMES`] unvoiced frames in a row (500 ms). What it
//! adds is the server's view: audio arrives in pieces of any length, and a start is reported with the
//! absolute sample index where the voiced run began.

use crate::audio::{FrameClassifier, Smoother, VadMode, VadTransition, FRAME_SAMPLES};

/// 20 ms at 16 kHz.
pub const FRAME: usize = FRAME_SAMPLES;
/// Voiced frames in a row that start speech (60 ms).
pub const ONSET_FRAMES: u32 = 3;
/// Unvoiced frames in a row that end speech (500 ms).
pub const HANGOVER_FRAMES: u32 = 25;

/// A change in the speech state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at this absolute sample index (the start of the voiced run).
    SpeechStart { at: u64 },
    /// Speech ended at this absolute sample index (the end of the last voiced frame, before the hangover).
    SpeechEnd { at: u64 },
}

pub struct SpeechDetector {
    vad: FrameClassifier,
    smoother: Smoother,
    pending: Vec<i16>,
    /// Absolute index of the first sample in `pending`.
    pending_start: u64,
}

impl Default for SpeechDetector {
    fn default() -> Self {
        SpeechDetector {
            vad: FrameClassifier::new(VadMode::Aggressive),
            smoother: Smoother::new(ONSET_FRAMES, HANGOVER_FRAMES),
            pending: Vec::with_capacity(FRAME * 2),
            pending_start: 0,
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
            let voiced = self.vad.is_voice(&self.pending[offset..offset + FRAME]);
            let frame_start = self.pending_start + offset as u64;
            match self.smoother.update(voiced) {
                Some(VadTransition::SpeechStart) => {
                    let at = frame_start.saturating_sub(u64::from(ONSET_FRAMES - 1) * FRAME as u64);
                    events.push(VadEvent::SpeechStart { at });
                }
                Some(VadTransition::SpeechEnd) => {
                    let at = (frame_start + FRAME as u64).saturating_sub(u64::from(HANGOVER_FRAMES) * FRAME as u64);
                    events.push(VadEvent::SpeechEnd { at });
                }
                None => {}
            }
            offset += FRAME;
        }
        self.pending.drain(..offset);
        self.pending_start += offset as u64;
        events
    }

    /// Speech started and has not ended yet.
    pub fn in_speech(&self) -> bool {
        self.smoother.state() == crate::audio::VadState::Speech
    }

    /// Forgets the speech state (after audioStreamEnd); sample numbering continues.
    pub fn reset_state(&mut self) {
        self.smoother.reset();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn silence_never_starts_speech() {
        let mut d = SpeechDetector::default();
        assert!(d.push(&vec![0i16; 16_000]).is_empty());
        assert!(!d.in_speech());
    }

    /// A 200 Hz harmonic-rich tone with 4 Hz amplitude modulation: speech to webrtc-vad.
    pub(crate) fn voiced(n: usize) -> Vec<i16> {
        let tau = std::f64::consts::TAU;
        (0..n)
            .map(|k| {
                let t = k as f64 / 16_000.0;
                let v: f64 = (1..=15).map(|h| (tau * 200.0 * h as f64 * t).sin() / h as f64).sum();
                (7000.0 * v * (0.6 + 0.4 * (tau * 4.0 * t).sin())).clamp(-30000.0, 30000.0) as i16
            })
            .collect()
    }

    #[test]
    fn start_reports_the_first_sample_of_the_voiced_run_and_end_waits_500_ms() {
        let mut d = SpeechDetector::default();
        let mut audio = vec![0i16; 10 * FRAME];
        audio.extend(voiced(25 * FRAME));
        // odd piece sizes: frames straddle pushes
        let mut events = Vec::new();
        for piece in audio.chunks(777) {
            events.extend(d.push(piece));
        }
        let Some(VadEvent::SpeechStart { at }) = events.first().copied() else {
            panic!("no start: {events:?}")
        };
        assert_eq!(at % FRAME as u64, 0, "a frame boundary");
        assert!((10 * FRAME as u64..=13 * FRAME as u64).contains(&at), "start at {at}");
        assert!(d.in_speech());
        // the end needs HANGOVER_FRAMES unvoiced frames in a row (webrtc-vad itself holds "voice" a bit)
        let ended = |e: &VadEvent| matches!(e, VadEvent::SpeechEnd { at: end } if *end > at);
        let end = (0..80).find(|_| d.push(&[0i16; FRAME]).iter().any(ended));
        let end = end.expect("no end of speech");
        assert!(end + 1 >= HANGOVER_FRAMES as usize, "ended after {} frames", end + 1);
        assert!(
            end < HANGOVER_FRAMES as usize + 30,
            "ended only after {} frames",
            end + 1
        );
        d.push(&voiced(2 * FRAME));
        d.reset_state();
        assert!(!d.in_speech());
        assert!(d.push(&voiced(FRAME)).is_empty(), "reset forgets the voiced run");
    }
}
