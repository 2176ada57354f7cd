//! Voice activity: webrtc-vad's per-frame decision, smoothed (onset needs several voiced frames in a row,
//! the end waits for a hangover of unvoiced frames) so one cough or one gap between words does not flip the
//! state, plus a pre-roll of the frames before the onset so a gated consumer does not clip the first syllable.
//! The embedded server's end-of-speech detector (`server/vad.rs`) uses the same [`FrameClassifier`] and
//! [`Smoother`], so the crate has one VAD smoothing and one (justified) `unsafe impl Send`.

use std::collections::VecDeque;

use super::framing::{Frame, FRAME_SAMPLES};

/// Smoothed state carried by each uplink frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VadState {
    #[default]
    Silence,
    Speech,
}

/// A change of the smoothed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadTransition {
    SpeechStart,
    SpeechEnd,
}

/// How eager webrtc-vad is to call a frame voice. `Aggressive` is the default: measured here, it ignores
/// -30 dBFS white noise that the gentler modes call speech, and still catches >99% of speech frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VadMode {
    Quality,
    LowBitrate,
    #[default]
    Aggressive,
    VeryAggressive,
}

/// Smoothing parameters, in 20 ms frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VadConfig {
    pub mode: VadMode,
    /// Voiced frames in a row before SpeechStart (default 3 = 60 ms).
    pub onset_frames: u32,
    /// Unvoiced frames in a row before SpeechEnd (default 15 = 300 ms; webrtc-vad itself already holds
    /// "voice" ~300 ms after speech, so the total is ~600 ms).
    pub hangover_frames: u32,
    /// Frames kept before the onset and handed out with SpeechStart (default 15 = 300 ms).
    pub preroll_frames: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            mode: VadMode::default(),
            onset_frames: 3,
            hangover_frames: 15,
            preroll_frames: 15,
        }
    }
}

/// webrtc-vad's raw per-frame decision (no smoothing) on 20 ms 16 kHz frames.
///
/// `webrtc_vad::Vad` holds a raw pointer to its libfvad state, which makes it `!Send`; this wrapper is
/// the crate's one place that moves it between threads (the server's per-connection tasks may migrate
/// between tokio workers).
pub struct FrameClassifier(webrtc_vad::Vad);

// SAFETY: the libfvad instance is a heap block owned exclusively by this value (created in `new`, freed by
// `Vad`'s Drop) and reached only through `&mut self`, so no two threads ever use it at once. libfvad keeps
// no thread-local or global mutable state (its statics are constant tables) and registers no callbacks, so
// nothing in it is tied to the thread that created it. Not `Sync`: shared references give no access.
unsafe impl Send for FrameClassifier {}

impl FrameClassifier {
    pub fn new(mode: VadMode) -> Self {
        let mode = match mode {
            VadMode::Quality => webrtc_vad::VadMode::Quality,
            VadMode::LowBitrate => webrtc_vad::VadMode::LowBitrate,
            VadMode::Aggressive => webrtc_vad::VadMode::Aggressive,
            VadMode::VeryAggressive => webrtc_vad::VadMode::VeryAggressive,
        };
        FrameClassifier(webrtc_vad::Vad::new_with_rate_and_mode(
            webrtc_vad::SampleRate::Rate16kHz,
            mode,
        ))
    }

    /// True if webrtc-vad calls this 20 ms frame voice and it is louder than [`VOICE_FLOOR_DBFS`]. Only
    /// [`FRAME_SAMPLES`] samples are valid input; any other length (webrtc-vad's only error) counts as
    /// unvoiced. webrtc-vad still sees every frame, so its noise estimate keeps adapting.
    pub fn is_voice(&mut self, frame: &[i16]) -> bool {
        let voiced = frame.len() == FRAME_SAMPLES && self.0.is_voice_segment(frame).unwrap_or(false);
        voiced && rms_dbfs(frame) > VOICE_FLOOR_DBFS
    }
}

/// Frames quieter than this (RMS) are never voice. webrtc-vad has no absolute level: before its noise
/// estimate has adapted (the first few hundred ms of a stream) it calls even a quiet room's -60 dBFS hiss
/// speech. Speech into a microphone sits around -35 to -15 dBFS RMS, so the floor costs no real speech.
pub const VOICE_FLOOR_DBFS: f32 = -55.0;

fn rms_dbfs(frame: &[i16]) -> f32 {
    let energy: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / frame.len().max(1) as f64).sqrt() / 32768.0;
    (20.0 * rms.max(1e-9).log10()) as f32
}

/// The pure onset/hangover state machine over raw per-frame decisions.
#[derive(Debug, Clone)]
pub struct Smoother {
    onset: u32,
    hangover: u32,
    run: u32,
    state: VadState,
}

impl Smoother {
    pub fn new(onset_frames: u32, hangover_frames: u32) -> Self {
        Smoother {
            onset: onset_frames.max(1),
            hangover: hangover_frames.max(1),
            run: 0,
            state: VadState::Silence,
        }
    }

    pub fn state(&self) -> VadState {
        self.state
    }

    /// Back to silence with no run counted (e.g. after the client's audioStreamEnd).
    pub fn reset(&mut self) {
        self.state = VadState::Silence;
        self.run = 0;
    }

    /// Feeds one raw decision; returns the transition it causes, if any.
    pub fn update(&mut self, voiced: bool) -> Option<VadTransition> {
        match (self.state, voiced) {
            (VadState::Silence, true) | (VadState::Speech, false) => self.run += 1,
            _ => self.run = 0,
        }
        match self.state {
            VadState::Silence if self.run >= self.onset => {
                self.state = VadState::Speech;
                self.run = 0;
                Some(VadTransition::SpeechStart)
            }
            VadState::Speech if self.run >= self.hangover => {
                self.state = VadState::Silence;
                self.run = 0;
                Some(VadTransition::SpeechEnd)
            }
            _ => None,
        }
    }
}

/// webrtc-vad + [`Smoother`] + pre-roll. Lives on the DSP thread.
pub struct VoiceDetector {
    vad: FrameClassifier,
    smoother: Smoother,
    preroll: VecDeque<Frame>,
    preroll_len: usize,
}

impl VoiceDetector {
    pub fn new(config: VadConfig) -> Self {
        VoiceDetector {
            vad: FrameClassifier::new(config.mode),
            smoother: Smoother::new(config.onset_frames, config.hangover_frames),
            preroll: VecDeque::with_capacity(config.preroll_frames + 1),
            preroll_len: config.preroll_frames,
        }
    }

    /// Classifies one frame. On SpeechStart, the pre-roll (the frames before this one, oldest first, which
    /// include the onset frames labelled Silence) is moved into `preroll_out`.
    pub fn process(&mut self, frame: &Frame, preroll_out: &mut Vec<Frame>) -> (VadState, Option<VadTransition>) {
        let voiced = self.vad.is_voice(frame);
        let transition = self.smoother.update(voiced);
        if transition == Some(VadTransition::SpeechStart) {
            preroll_out.extend(self.preroll.drain(..));
        }
        if self.smoother.state() == VadState::Silence && self.preroll_len > 0 {
            if self.preroll.len() == self.preroll_len {
                self.preroll.pop_front();
            }
            self.preroll.push_back(*frame);
        }
        (self.smoother.state(), transition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onset_needs_consecutive_voiced_frames_and_end_waits_for_hangover() {
        let mut s = Smoother::new(3, 4);
        let t: Vec<_> = [true, true, false, true, true].iter().map(|&v| s.update(v)).collect();
        assert!(t.iter().all(Option::is_none), "a gap resets the onset count");
        assert_eq!(s.update(true), Some(VadTransition::SpeechStart));
        for _ in 0..3 {
            assert_eq!(s.update(false), None);
        }
        assert_eq!(s.update(true), None, "a short pause keeps speech");
        for _ in 0..3 {
            assert_eq!(s.update(false), None);
        }
        assert_eq!(s.update(false), Some(VadTransition::SpeechEnd));
        assert_eq!(s.state(), VadState::Silence);
        s.update(true);
        s.update(true);
        s.reset();
        assert_eq!(s.update(true), None, "reset forgets the voiced run");
        assert_eq!(s.state(), VadState::Silence);
    }

    #[test]
    fn speech_tone_starts_and_silence_ends_with_preroll() {
        let cfg = VadConfig {
            mode: VadMode::Quality,
            onset_frames: 2,
            hangover_frames: 5,
            preroll_frames: 4,
        };
        let mut d = VoiceDetector::new(cfg);
        let silent: Frame = [0; FRAME_SAMPLES];
        // a voiced-like buzz: harmonics of 200 Hz
        let mut buzz: Frame = [0; FRAME_SAMPLES];
        for (i, s) in buzz.iter_mut().enumerate() {
            let t = i as f32 / 16_000.0;
            let v: f32 = (1..8)
                .map(|h| (2.0 * std::f32::consts::PI * 200.0 * h as f32 * t).sin() / h as f32)
                .sum();
            *s = (v * 8000.0) as i16;
        }
        let mut pre = Vec::new();
        let mut events = Vec::new();
        for fr in [silent; 10].iter().chain([buzz; 30].iter()).chain([silent; 60].iter()) {
            if let (_, Some(t)) = d.process(fr, &mut pre) {
                events.push(t);
            }
        }
        assert_eq!(events, vec![VadTransition::SpeechStart, VadTransition::SpeechEnd]);
        assert_eq!(pre.len(), 4, "pre-roll holds the configured number of frames");
    }
}

#[cfg(test)]
mod floor_tests {
    use super::*;

    #[test]
    fn quiet_room_hiss_at_stream_start_is_not_voice() {
        // white noise at about -60 dBFS RMS, from the very first frame (webrtc-vad has not adapted yet)
        let mut c = FrameClassifier::new(VadMode::Aggressive);
        let mut x: u32 = 0x9e37_79b9;
        let voiced = (0..50)
            .filter(|_| {
                let frame: Vec<i16> = (0..FRAME_SAMPLES)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        ((x >> 16) as i16) / 600
                    })
                    .collect();
                c.is_voice(&frame)
            })
            .count();
        assert_eq!(voiced, 0, "hiss below the floor is never voice");
        assert!(rms_dbfs(&[1000; FRAME_SAMPLES]) > VOICE_FLOOR_DBFS);
    }
}
