//! The uplink chain, one step at a time: interleaved device samples -> mono -> 16 kHz -> 20 ms frames ->
//! echo cancellation -> VAD. The DSP thread and `benches/audio_core.rs` both drive this very type, so the
//! benchmark measures the code that runs. It owns no channel or clock: what happens to a finished frame
//! (events, recorder, uplink channel) is the caller's business.

use super::super::aec::EchoCanceller;
use super::super::framing::FRAME_SAMPLES;
use super::super::framing::{Frame, Framer, UPLINK_RATE};
use super::super::resample::{downmix, StreamResampler};
use super::super::source::StreamFormat;
use super::super::vad::{VadConfig, VadState, VadTransition, VoiceDetector};
use super::super::AudioError;

/// Device samples (interleaved) the chain takes per [`UplinkChain::process`] call at most.
pub const READ_STEP: usize = 4096;

/// One 20 ms frame as it leaves the chain: echo removed, classified.
pub struct ChainFrame<'a> {
    /// The cleaned frame (after AEC, what the VAD saw and what goes to the session).
    pub samples: &'a Frame,
    /// The same frame as the microphone delivered it, before echo cancellation (`--record` keeps both).
    pub raw: &'a Frame,
    /// Smoothed voice activity of this frame.
    pub vad: VadState,
    /// The change of state this frame caused, if any.
    pub transition: Option<VadTransition>,
    /// On [`VadTransition::SpeechStart`]: the frames before the onset, oldest first (take them).
    pub preroll: &'a mut Vec<Frame>,
}

/// Downmix -> [`StreamResampler`] to 16 kHz -> [`Framer`] -> optional [`EchoCanceller`] ->
/// [`VoiceDetector`]. All buffers are allocated in `new`; `process` allocates nothing of its own (AEC3
/// itself does, see `aec.rs`).
pub struct UplinkChain {
    channels: usize,
    resampler: StreamResampler,
    framer: Framer,
    aec: Option<EchoCanceller>,
    vad: VoiceDetector,
    mono: Vec<f32>,
    preroll: Vec<Frame>,
}

impl UplinkChain {
    /// A chain for a source of `input` format. `echo_cancellation` builds the (`!Send`) AEC: build the
    /// chain on the thread that runs it.
    pub fn new(input: StreamFormat, vad: VadConfig, echo_cancellation: bool) -> Result<Self, AudioError> {
        Ok(UplinkChain {
            channels: usize::from(input.channels.max(1)),
            resampler: StreamResampler::new(input.sample_rate, UPLINK_RATE)?,
            framer: Framer::new(),
            aec: echo_cancellation.then(EchoCanceller::new),
            vad: VoiceDetector::new(vad),
            mono: vec![0.0; READ_STEP],
            preroll: Vec::with_capacity(vad.preroll_frames + 1),
        })
    }

    /// Interleaved samples of the source's channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Interleaved input samples still to come before the next frame is complete: the capture callback
    /// wakes the DSP thread only once they have arrived.
    pub fn input_for_next_frame(&self) -> usize {
        let out = FRAME_SAMPLES - self.framer.pending().min(FRAME_SAMPLES);
        self.resampler.input_for(out.max(1)) * self.channels
    }

    /// The echo canceller, for the downlink to feed its reference (`None` with echo cancellation off).
    pub fn echo_canceller(&mut self) -> Option<&mut EchoCanceller> {
        self.aec.as_mut()
    }

    /// Feeds up to [`READ_STEP`] interleaved samples (more are ignored); calls `emit` with every frame
    /// completed, in order.
    pub fn process(&mut self, interleaved: &[f32], mut emit: impl FnMut(ChainFrame<'_>)) -> Result<(), AudioError> {
        let frames = downmix(interleaved, self.channels, &mut self.mono);
        let (framer, aec, vad, preroll) = (&mut self.framer, &mut self.aec, &mut self.vad, &mut self.preroll);
        self.resampler.process(&self.mono[..frames], |out16k| {
            framer.push(out16k, |raw| {
                let mut frame = *raw;
                if let Some(aec) = aec.as_mut() {
                    aec.process(&mut frame);
                }
                let (state, transition) = vad.process(&frame, preroll);
                emit(ChainFrame {
                    samples: &frame,
                    raw,
                    vad: state,
                    transition,
                    preroll,
                });
            })
        })
    }
}
