//! The server's own end-of-speech detector for automatic activity detection: webrtc-vad (Aggressive) on
//! 20 ms 16 kHz frames, smoothed by the audio core's [`Smoother`]: speech starts after
//! [`VadSettings::onset_frames`] voiced frames in a row and ends after [`VadSettings::hangover_frames`]
//! unvoiced frames in a row, both from the client's setup (`prefixPaddingMs`, `silenceDurationMs` and the
//! sensitivities; see `vad_settings.rs`), 60 ms and 500 ms when it says nothing. What it adds is the
//! server's view: audio arrives in pieces of any length, and a start is reported with the absolute sample
//! index where the voiced run began.

use crate::audio::{FrameClassifier, Smoother, VadMode, VadTransition, FRAME_SAMPLES};

use super::vad_settings::VadSettings;

/// 20 ms at 16 kHz.
pub const FRAME: usize = FRAME_SAMPLES;

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
    settings: VadSettings,
    pending: Vec<i16>,
    /// Absolute index of the first sample in `pending`.
    pending_start: u64,
}

impl Default for SpeechDetector {
    fn default() -> Self {
        SpeechDetector::new(VadSettings::default())
    }
}

impl SpeechDetector {
    /// A detector with these (already bounded) frame counts. Its memory is a frame or two of samples,
    /// whatever the counts: the smoother only counts runs.
    pub fn new(settings: VadSettings) -> Self {
        SpeechDetector {
            vad: FrameClassifier::new(VadMode::Aggressive),
            smoother: Smoother::new(settings.onset_frames, settings.hangover_frames),
            settings,
            pending: Vec::with_capacity(FRAME * 2),
            pending_start: 0,
        }
    }

    /// Feeds 16 kHz samples; returns the state changes they caused, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<VadEvent> {
        let mut events = Vec::new();
        self.pending.extend_from_slice(samples);
        // the smoother clamps its counts to at least 1; the offsets below count the same frames
        let onset = u64::from(self.settings.onset_frames.max(1));
        let hangover = u64::from(self.settings.hangover_frames.max(1));
        let mut offset = 0;
        while self.pending.len() - offset >= FRAME {
            let voiced = self.vad.is_voice(&self.pending[offset..offset + FRAME]);
            let frame_start = self.pending_start + offset as u64;
            match self.smoother.update(voiced) {
                Some(VadTransition::SpeechStart) => {
                    let at = frame_start.saturating_sub((onset - 1) * FRAME as u64);
                    events.push(VadEvent::SpeechStart { at });
                }
                Some(VadTransition::SpeechEnd) => {
                    let at = (frame_start + FRAME as u64).saturating_sub(hangover * FRAME as u64);
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
        // the end needs 25 unvoiced frames in a row (webrtc-vad itself holds "voice" a bit)
        let ended = |e: &VadEvent| matches!(e, VadEvent::SpeechEnd { at: end } if *end > at);
        let end = (0..80).find(|_| d.push(&[0i16; FRAME]).iter().any(ended));
        let end = end.expect("no end of speech");
        assert!(end + 1 >= 25, "ended after {} frames", end + 1);
        assert!(end < 25 + 30, "ended only after {} frames", end + 1);
        d.push(&voiced(2 * FRAME));
        d.reset_state();
        assert!(!d.in_speech());
        assert!(d.push(&voiced(FRAME)).is_empty(), "reset forgets the voiced run");
    }

    fn settings(onset_frames: u32, hangover_frames: u32) -> VadSettings {
        VadSettings {
            onset_frames,
            hangover_frames,
        }
    }

    /// Feeds `audio` in odd-sized pieces; every event, in order.
    fn events(d: &mut SpeechDetector, audio: &[i16]) -> Vec<VadEvent> {
        audio.chunks(777).flat_map(|piece| d.push(piece)).collect()
    }

    /// How many 20 ms frames of digital silence after speech it takes to end it (None: not within 200).
    fn frames_to_end(d: &mut SpeechDetector) -> Option<usize> {
        (1..=200).find(|_| {
            d.push(&[0i16; FRAME])
                .iter()
                .any(|e| matches!(e, VadEvent::SpeechEnd { .. }))
        })
    }

    #[test]
    fn the_configured_silence_is_how_long_the_end_waits() {
        for hangover in [1, 10, 25, 75] {
            let mut d = SpeechDetector::new(settings(3, hangover));
            let got = events(&mut d, &voiced(50 * FRAME));
            assert!(matches!(got[..], [VadEvent::SpeechStart { .. }]), "{got:?}");
            // digital silence is below the voice floor from its first frame, so the count is exact
            assert_eq!(frames_to_end(&mut d), Some(hangover as usize), "hangover {hangover}");
            assert!(!d.in_speech());
        }
    }

    #[test]
    fn the_end_is_placed_where_the_voice_stopped_whatever_the_silence() {
        for hangover in [10, 75] {
            let mut d = SpeechDetector::new(settings(3, hangover));
            let mut audio = voiced(50 * FRAME);
            audio.extend(vec![0i16; 100 * FRAME]);
            let got = events(&mut d, &audio);
            assert_eq!(
                got.last(),
                Some(&VadEvent::SpeechEnd { at: 50 * FRAME as u64 }),
                "hangover {hangover}: {got:?}"
            );
        }
    }

    #[test]
    fn a_pause_longer_than_the_silence_splits_speech_and_a_shorter_one_does_not() {
        // 1 s of speech, a 700 ms pause, 1 s of speech, 2 s of silence
        let mut audio = voiced(50 * FRAME);
        audio.extend(vec![0i16; 35 * FRAME]);
        audio.extend(voiced(50 * FRAME));
        audio.extend(vec![0i16; 100 * FRAME]);
        let starts = |hangover| {
            let got = events(&mut SpeechDetector::new(settings(3, hangover)), &audio);
            let n = |f: fn(&VadEvent) -> bool| got.iter().filter(|e| f(e)).count();
            let s = n(|e| matches!(e, VadEvent::SpeechStart { .. }));
            assert_eq!(s, n(|e| matches!(e, VadEvent::SpeechEnd { .. })), "{got:?}");
            s
        };
        assert_eq!(starts(25), 2, "500 ms: the pause ends the first utterance");
        assert_eq!(starts(75), 1, "1500 ms: one utterance with a pause in it");
    }

    #[test]
    fn the_configured_prefix_is_how_long_speech_must_last_to_start() {
        // a burst of 4 voiced frames between silences
        let mut burst = vec![0i16; 10 * FRAME];
        burst.extend(voiced(4 * FRAME));
        burst.extend(vec![0i16; 10 * FRAME]);
        for (onset, starts) in [(1, true), (4, true), (5, false), (6, false)] {
            let mut d = SpeechDetector::new(settings(onset, 25));
            let got = events(&mut d, &burst);
            let started = got.iter().any(|e| matches!(e, VadEvent::SpeechStart { .. }));
            assert_eq!(started, starts, "onset {onset}: {got:?}");
        }
        // a start is placed at the first frame of the run, however long the run had to be
        let mut audio = vec![0i16; 10 * FRAME];
        audio.extend(voiced(20 * FRAME));
        for onset in [1, 3, 10] {
            let got = events(&mut SpeechDetector::new(settings(onset, 25)), &audio);
            assert_eq!(got, [VadEvent::SpeechStart { at: 10 * FRAME as u64 }], "onset {onset}");
        }
    }
}
