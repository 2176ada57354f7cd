//! The downlink chain, one 10 ms step at a time: jitter buffer pull -> the AEC's echo reference (resampled
//! to 16 kHz and rendered) -> device rate -> upmix -> sink. The DSP thread and `benches/audio_core.rs` both
//! drive this type. It remembers where in the sink's sample stream each reply chunk starts, so the DSP
//! thread can tell when a chunk's first sample reached the device.

use std::collections::VecDeque;
use std::time::Instant;

use super::super::aec::EchoCanceller;
use super::super::framing::UPLINK_RATE;
use super::super::jitter::{JitterBuffer, JitterConfig, DOWNLINK_RATE};
use super::super::resample::{upmix, StreamResampler};
use super::super::source::StreamFormat;
use super::super::AudioError;

/// 24 kHz samples pulled from the jitter buffer per step (10 ms).
pub const DOWN_STEP: usize = 240;
/// Chunk starts remembered until they are played (beyond that, marks are not recorded).
const MARKS: usize = 256;

/// Jitter buffer -> device-rate, device-channel audio; see the module doc.
pub struct DownlinkChain {
    jitter: JitterBuffer,
    to_device: StreamResampler,
    to_reference: StreamResampler,
    channels: usize,
    device_rate: u32,
    step: [f32; DOWN_STEP],
    out: Vec<f32>,
    step_out: usize,
    /// Interleaved device samples handed to the sink so far.
    written: u64,
    /// (sink position of a chunk's first sample, its arrival)
    marks: VecDeque<(u64, Instant)>,
    /// Reply samples in the step last pulled.
    step_audio: usize,
    /// Sink position by which the last reply sample written so far has been handed to the device.
    reply_end: u64,
}

impl DownlinkChain {
    /// A chain for a sink of `output` format.
    pub fn new(output: StreamFormat, jitter: JitterConfig) -> Result<Self, AudioError> {
        let channels = usize::from(output.channels.max(1));
        // between replies both resamplers see digital silence: they skip it (bit-identical output)
        let to_device = StreamResampler::new(DOWNLINK_RATE, output.sample_rate)?.skipping_silence();
        let down_max = to_device.max_out_per_chunk().max(DOWN_STEP);
        let step_out =
            (DOWN_STEP as u64 * u64::from(output.sample_rate)).div_ceil(u64::from(DOWNLINK_RATE)) as usize * channels;
        Ok(DownlinkChain {
            jitter: JitterBuffer::new(jitter),
            to_device,
            to_reference: StreamResampler::new(DOWNLINK_RATE, UPLINK_RATE)?.skipping_silence(),
            channels,
            device_rate: output.sample_rate,
            step: [0.0; DOWN_STEP],
            out: vec![0.0; down_max * channels * 2],
            step_out,
            written: 0,
            marks: VecDeque::with_capacity(MARKS),
            step_audio: 0,
            reply_end: 0,
        })
    }

    /// The most interleaved device samples one [`DownlinkChain::step`] writes: step while the sink wants
    /// at least this much.
    pub fn step_len(&self) -> usize {
        self.step_out
    }

    pub fn jitter(&self) -> &JitterBuffer {
        &self.jitter
    }

    /// Interleaved device samples handed to the sink so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Queues a 24 kHz reply chunk; true if it starts a reply (the jitter buffer was idle).
    pub fn push(&mut self, samples: &[i16], received_at: Instant) -> bool {
        let starts = !self.jitter.is_active();
        self.jitter.push(samples, received_at);
        starts
    }

    /// The server completed the reply (see [`JitterBuffer::end_of_reply`]).
    pub fn end_of_reply(&mut self) {
        self.jitter.end_of_reply();
    }

    /// Drops every queued sample and the resamplers' state, so nothing of the old reply comes out later.
    pub fn flush(&mut self) {
        self.jitter.flush();
        self.to_device.reset();
        self.to_reference.reset();
        self.marks.clear();
        self.step_audio = 0;
        // what the sink still holds after its own flush is the fade-out: heard until played
        self.reply_end = self.written;
    }

    /// True while reply audio remains to be heard: samples wait in the jitter buffer, or the sink has not
    /// yet handed the last reply sample written to the device (`played`: interleaved samples it has).
    pub fn reply_pending(&self, played: u64) -> bool {
        self.jitter.has_audio() || played < self.reply_end
    }

    /// One 10 ms step: pulls 24 kHz audio (or silence) from the jitter buffer into the step buffer and
    /// returns it (the recorder keeps it), remembering where a chunk starts.
    pub fn pull(&mut self, now: Instant) -> &[f32; DOWN_STEP] {
        let info = self.jitter.pull(&mut self.step, now);
        self.step_audio = info.audio;
        if let Some((offset, at)) = info.chunk_start {
            let pos = self.written
                + (offset as u64 * u64::from(self.device_rate) / u64::from(DOWNLINK_RATE)) * self.channels as u64;
            if self.marks.len() < MARKS {
                self.marks.push_back((pos, at));
            }
        }
        &self.step
    }

    /// Feeds the pulled step to the echo canceller as its reference: what is about to reach the speaker,
    /// silence included.
    pub fn render_reference(&mut self, aec: Option<&mut EchoCanceller>) -> Result<(), AudioError> {
        if let Some(aec) = aec {
            self.to_reference.process(&self.step, |r16k| aec.render(r16k))?;
        }
        Ok(())
    }

    /// Resamples the pulled step to the device rate, upmixes it and hands it to `write` (which returns how
    /// many samples the sink took).
    pub fn to_sink(&mut self, mut write: impl FnMut(&[f32]) -> usize) -> Result<(), AudioError> {
        let (out, channels) = (&mut self.out, self.channels);
        let mut wrote = 0u64;
        self.to_device.process(&self.step, |dev| {
            let n = upmix(dev, channels, out);
            wrote += write(&out[..n]) as u64;
        })?;
        self.written += wrote;
        if self.step_audio > 0 {
            // a sample's output lies up to the filter delay past the step, and its filter tail as far again
            let delay = 2 * self.to_device.delay() as u64 * self.channels as u64;
            self.reply_end = self.written + delay;
        }
        Ok(())
    }

    /// Calls `played` with the arrival time of every chunk whose first sample is at or before `position`
    /// (interleaved device samples the sink has handed to the device), oldest first, and forgets them.
    pub fn take_played(&mut self, position: u64, mut played: impl FnMut(Instant)) {
        while let Some(&(pos, at)) = self.marks.front() {
            if pos > position {
                break;
            }
            self.marks.pop_front();
            played(at);
        }
    }
}
