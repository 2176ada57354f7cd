//! Acoustic echo cancellation on the capture path: the reply the speaker plays reaches the microphone again,
//! and without this the Live service hears its own voice (and the VAD calls it the user speaking: webrtc-vad
//! flags echo-only audio as voice 73-79% of the time, 1-3% after AEC). [`EchoCanceller`] wraps `aec3` (a
//! pure-Rust port of WebRTC AEC3) for the DSP thread:
//!
//! - [`EchoCanceller::render`]: the far-end reference, i.e. what is being sent to the speaker, as 16 kHz mono
//!   f32 in pieces of any length (accumulated into AEC3's 10 ms, 160-sample frames).
//! - [`EchoCanceller::process`]: one 20 ms uplink [`Frame`], cleaned in place (two 10 ms AEC3 frames).
//!
//! Feed render before the capture that contains its echo (the DSP thread hands audio to the speaker before
//! the microphone can hear it, so this holds by construction); AEC3 finds the echo delay itself (tested at
//! 40-120 ms) and needs no reset after a barge-in flush (the echo path has not changed).
//!
//! # What runs, and why not more
//!
//! `aec3`'s convenience pipeline turns on noise suppression, AGC2 and a post filter by default. Here only
//! two stages run, the same front end WebRTC puts before its echo canceller:
//! - a 2nd-order high-pass filter (~80 Hz) on the capture: removes DC offset and rumble, which carry no
//!   speech but would otherwise steer AEC3's adaptive filter;
//! - AEC3 itself: linear adaptive filter plus its residual-echo suppressor (that suppressor is what brings
//!   echo down ~25 dB rather than ~10 dB; it is part of AEC3, not a separate noise suppressor).
//!
//! Deliberately off: **noise suppression** (the Live service runs its own speech processing; a second,
//! local NS adds musical-noise artefacts and eats the quiet onsets of words that both the server and our
//! VAD rely on), **AGC** (it would fight the server's own level handling and pumps the noise floor up
//! during pauses, which is exactly what makes a VAD fire on nothing), and the **post filter** (a 48 kHz
//! full-band stage; it passes 16 kHz audio through untouched anyway).
//!
//! # Cost and real-time behaviour
//!
//! ~6.3 ms of CPU per audio second at 16 kHz (3.7 ms with a coarser [`DELAY_DOWN_SAMPLING`], not taken;
//! optimised: `Cargo.toml` builds `aec3` and `rustfft` at `opt-level = 3` even in dev builds, unoptimised
//! it is ~190 ms), and 8 ms of added delay on the uplink.
//! AEC3 rests, computing nothing, while nothing plays and while the microphone provably cannot hear the
//! reply ([`EchoCanceller::resting`]).
//! All buffers of this wrapper are allocated in [`EchoCanceller::new`] and it allocates nothing per frame;
//! `aec3` 0.4.0 itself does (a `Vec` clone per 10 ms render frame in its render queue, and ~40 small
//! allocations per 10 ms capture block in its block processor; counted in `alloc_tests.rs`), which we cannot
//! avoid without patching the crate. That is on the DSP thread, never in a device callback.
//! `aec3`'s types are `!Send`: build the canceller on the DSP thread.

use aec3::api::config::EchoCanceller3Config;
use aec3::api::control::EchoControl;
use aec3::audio_processing::aec3::echo_canceller3::EchoCanceller3;
use aec3::audio_processing::audio_buffer::AudioBuffer;
use aec3::audio_processing::high_pass_filter::HighPassFilter;

use super::echo_gate::{level_db, EchoGate};
use super::echo_path::EchoPath;
use super::framing::{Frame, FRAME_SAMPLES, UPLINK_RATE};

/// AEC3's frame: 10 ms at 16 kHz.
pub const AEC_BLOCK: usize = (UPLINK_RATE / 100) as usize;
/// AEC3's output lags its input by this many samples (8 ms); the microphone passed through untouched is
/// delayed as much, so switching between the two neither skips nor repeats audio.
pub const AEC_DELAY: usize = 128;
/// f32 in [-1, 1] to AEC3's internal scale (float with the range of i16).
const S16: f32 = 32768.0;
/// After this many 10 ms render blocks of digital silence in a row (2 s, past any echo tail AEC3 models and
/// past the gate's and the echo path's own memory of the speaker), AEC3 is paused: with nothing played
/// there is no echo to cancel, the gate and the echo path already pass the microphone through, and AEC3's
/// work (its matched filter is most of the DSP thread's time, and ~85 allocations per frame) would be
/// thrown away. The first render block that is not silent resumes it, before the capture that could hold
/// its echo. Measured with `scripts/measure-live.sh`: the DSP thread between replies.
pub const IDLE_AFTER_BLOCKS: u32 = 200;

/// What AEC3 reports about its own state (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AecMetrics {
    /// Echo return loss enhancement: how much echo AEC3 believes it removes (dB).
    pub erle_db: f64,
    /// Echo return loss: how much quieter the echo is than the reference (dB).
    pub erl_db: f64,
    /// The echo delay AEC3 has found (ms).
    pub delay_ms: i32,
    /// Most render (speaker) calls in a row between two capture calls: AEC3 copes with bursts, but a
    /// reference fed far ahead of the capture makes it reset its render buffer and lose the delay.
    pub render_jitter_max: i32,
    /// Most capture calls in a row between two render calls.
    pub capture_jitter_max: i32,
    /// Uplink frames the residual-echo gate silenced (see [`super::echo_gate`]).
    pub gated_frames: u64,
    /// Uplink frames passed through untouched: no echo path could have put anything in them (see
    /// [`super::echo_path`]).
    pub passed_through: u64,
    /// Of those, frames passed through while AEC3 was paused (nothing played for 2 s).
    pub idle_frames: u64,
    /// Of those, frames passed through while AEC3 rested because the microphone cannot hear this reply
    /// (every echo delay ruled out: a headset, virtual devices).
    pub no_path_frames: u64,
    /// The residual echo the gate expects now, relative to the speaker level (dB).
    pub residual_db: f32,
    /// Echo AEC3 removed, measured (dB): microphone energy over AEC3's output energy in the frames the gate
    /// found to hold echo only (before the gate silenced them), with a floor of 1 LSB per sample. AEC3's own
    /// `erle_db` estimate is not filled in by aec3 0.4; this one is.
    pub measured_erle_db: f64,
}

/// Echo canceller for the 16 kHz uplink. `!Send`: create it on the DSP thread.
pub struct EchoCanceller {
    aec: EchoCanceller3,
    hpf: HighPassFilter,
    render_buf: AudioBuffer,
    capture_buf: AudioBuffer,
    /// Render samples waiting for a full 10 ms block (S16 scale).
    render_pending: [f32; AEC_BLOCK],
    render_fill: usize,
    /// The capture block in the shape `HighPassFilter::process` takes (one channel).
    hpf_block: Vec<Vec<f32>>,
    /// Capture frames processed (for the periodic debug log).
    frames: u64,
    /// Silences what AEC3 leaves of the echo (its leak before it locks, its residue after).
    gate: EchoGate,
    /// Whether the microphone can hear the speaker at all; when it cannot, AEC3 and the gate are bypassed.
    path: EchoPath,
    /// The high-passed microphone frame, as AEC3 got it, and the last [`AEC_DELAY`] samples of the one
    /// before: the pass-through output.
    hpf_frame: Frame,
    hpf_tail: [i16; AEC_DELAY],
    /// Frames passed through because no echo path could have put anything in them.
    passed_through: u64,
    /// Frames the gate silenced (and that were not passed through).
    silenced: u64,
    /// Energy before and after AEC3, and samples, over the echo-only frames (for `measured_erle_db`).
    echo_in: f64,
    echo_left: f64,
    echo_n: f64,
    /// Render blocks of digital silence in a row (see [`IDLE_AFTER_BLOCKS`]).
    quiet_render_blocks: u32,
    /// Capture frames passed through while AEC3 was paused.
    idle_frames: u64,
    /// Capture frames passed through while AEC3 rested for want of an echo path.
    no_path_frames: u64,
    /// The echo path closed during the last reply and nothing audible has been rendered since it opened
    /// again (see [`EchoCanceller::resting`]).
    no_path_rest: bool,
}

/// How often AEC3's own metrics go to the debug log: every 2 s of capture.
const LOG_EVERY_FRAMES: u64 = 100;

/// How far AEC3's delay estimator decimates the signals before its matched filters search for the echo
/// delay: AEC3's default, 4 (4 kHz). 8 (2 kHz, the only other value AEC3 accepts) made the whole canceller
/// cost 73 µs per 20 ms frame instead of 126 µs (`cargo bench --bench audio_core -- "AEC render"`) and passed
/// the simulated-echo tests here with the same figures, but on the real echo path of `tests/echo_path.rs`
/// AEC3's own ERLE fell from 9-31 dB to 8-12 dB over five runs: the CPU is not worth that.
pub const DELAY_DOWN_SAMPLING: usize = 4;

/// AEC3's default tuning, with [`DELAY_DOWN_SAMPLING`] set where it can be changed.
fn aec_config() -> EchoCanceller3Config {
    let mut c = EchoCanceller3Config::default();
    c.delay.down_sampling_factor = DELAY_DOWN_SAMPLING;
    c
}

impl Default for EchoCanceller {
    fn default() -> Self {
        Self::new()
    }
}

impl EchoCanceller {
    /// A mono 16 kHz canceller with AEC3's default tuning (allocates everything it will use).
    pub fn new() -> Self {
        let rate = UPLINK_RATE as usize;
        EchoCanceller {
            aec: EchoCanceller3::new(aec_config(), UPLINK_RATE as i32, 1, 1),
            hpf: HighPassFilter::new(UPLINK_RATE as i32, 1),
            render_buf: AudioBuffer::from_sample_rates(rate, 1, rate, 1, rate),
            capture_buf: AudioBuffer::from_sample_rates(rate, 1, rate, 1, rate),
            render_pending: [0.0; AEC_BLOCK],
            render_fill: 0,
            hpf_block: vec![vec![0.0; AEC_BLOCK]],
            frames: 0,
            gate: EchoGate::default(),
            path: EchoPath::default(),
            hpf_frame: [0; FRAME_SAMPLES],
            hpf_tail: [0; AEC_DELAY],
            passed_through: 0,
            silenced: 0,
            echo_in: 0.0,
            echo_left: 0.0,
            echo_n: 0.0,
            quiet_render_blocks: 0,
            idle_frames: 0,
            no_path_frames: 0,
            no_path_rest: false,
        }
    }

    /// AEC3 does no work, render or capture: it is [`EchoCanceller::idle`], or the microphone cannot hear
    /// the reply now playing ([`EchoPath::closed`]: every echo delay ruled out). In the second case every
    /// frame passes through untouched anyway, so AEC3's output would be thrown away. Resting it took the
    /// DSP thread from 0.20 to 0.15 s of CPU in `scripts/measure-live.sh` (virtual devices: no echo path);
    /// on the real echo paths of `tests/echo_path.rs` it never rests. Render and capture stop and resume
    /// together (at the same frame), as after an idle pause, so AEC3's render buffer stays aligned; the
    /// path opens again once the speaker has been silent for 1 s, and AEC3 stays at rest until the next
    /// block with sound (a reply), not through the silence before it: that was another second of AEC3 per
    /// reply with nothing to cancel.
    pub fn resting(&self) -> bool {
        self.idle() || self.no_path_rest
    }

    /// AEC3 is paused: the speaker has played digital silence for [`IDLE_AFTER_BLOCKS`] blocks.
    pub fn idle(&self) -> bool {
        self.quiet_render_blocks >= IDLE_AFTER_BLOCKS
    }

    /// Feeds far-end audio (what the speaker is about to play): 16 kHz mono f32 in [-1, 1], any length.
    /// Complete 10 ms blocks go to AEC3 at once; the rest waits for the next call.
    pub fn render(&mut self, mut far_end: &[f32]) {
        while !far_end.is_empty() {
            let take = (AEC_BLOCK - self.render_fill).min(far_end.len());
            for (dst, &s) in self.render_pending[self.render_fill..self.render_fill + take]
                .iter_mut()
                .zip(&far_end[..take])
            {
                *dst = s * S16;
            }
            self.gate
                .reference(&self.render_pending[self.render_fill..self.render_fill + take]);
            self.render_fill += take;
            far_end = &far_end[take..];
            if self.render_fill == AEC_BLOCK {
                self.render_fill = 0;
                if self.render_pending.iter().all(|&s| s == 0.0) {
                    self.quiet_render_blocks = self.quiet_render_blocks.saturating_add(1);
                } else {
                    self.quiet_render_blocks = 0;
                    // the next reply: AEC3 wakes for its first block, before any capture can hold its echo
                    self.no_path_rest &= self.path.closed();
                }
                if self.resting() {
                    continue;
                }
                self.render_buf.channel_mut(0).copy_from_slice(&self.render_pending);
                self.render_buf.split_into_frequency_bands();
                self.aec.analyze_render(&mut self.render_buf);
            }
        }
    }

    /// Removes the echo of the rendered audio from one 20 ms capture frame, in place; a frame that holds
    /// only (residual) echo while the speaker plays comes out as silence.
    pub fn process(&mut self, frame: &mut Frame) {
        let raw = *frame;
        let (idle, resting) = (self.idle(), self.resting());
        for (k, block) in frame.chunks_exact_mut(AEC_BLOCK).enumerate() {
            self.high_pass(block, k);
            if !resting {
                self.cancel_block(block);
            }
        }
        let (e_in, e_left) = (energy(&raw), energy(frame));
        let speaker_db = self.gate.pending_level_db();
        let echo_possible = self.path.update(speaker_db, level_db(e_in, FRAME_SAMPLES));
        self.no_path_rest |= self.path.closed();
        // the gate learns from every frame, also those passed through
        let gated = self.gate.apply(&raw, frame);
        if idle {
            // nothing played for 2 s: the gate and the echo path say the same, without AEC3's output
            self.pass_through(frame);
            self.idle_frames += 1;
        } else if !echo_possible {
            self.pass_through(frame);
            if resting {
                self.no_path_frames += 1;
            }
        } else if gated {
            self.silenced += 1;
            self.echo_in += e_in;
            self.echo_left += e_left;
            self.echo_n += FRAME_SAMPLES as f64;
        }
        tracing::trace!(
            frame = self.frames,
            speaker_db,
            raw_db = level_db(e_in, FRAME_SAMPLES),
            clean_db = level_db(e_left, FRAME_SAMPLES),
            correlation = self.gate.last_correlation(),
            echo_lag = self.gate.locked_lag().map_or(-1, |l| l as i64),
            residual_db = self.gate.residual_db(),
            echo_possible,
            gated,
            "echo gate"
        );
        self.keep_tail();
        self.frames += 1;
        if self.frames % LOG_EVERY_FRAMES == 0 {
            let m = self.metrics();
            tracing::debug!(
                measured_erle_db = m.measured_erle_db,
                delay_ms = m.delay_ms,
                gated_frames = m.gated_frames,
                passed_through = m.passed_through,
                open_delays = self.path.open_delays(),
                residual_db = m.residual_db,
                render_jitter_max = m.render_jitter_max,
                capture_jitter_max = m.capture_jitter_max,
                no_path_frames = m.no_path_frames,
                "echo canceller"
            );
        }
    }

    /// The high-passed microphone, [`AEC_DELAY`] samples late as AEC3's output would be.
    fn pass_through(&mut self, frame: &mut Frame) {
        frame[..AEC_DELAY].copy_from_slice(&self.hpf_tail);
        frame[AEC_DELAY..].copy_from_slice(&self.hpf_frame[..FRAME_SAMPLES - AEC_DELAY]);
        self.passed_through += 1;
    }

    fn keep_tail(&mut self) {
        self.hpf_tail
            .copy_from_slice(&self.hpf_frame[FRAME_SAMPLES - AEC_DELAY..]);
    }

    /// Block `k` (10 ms) of the frame through the high-pass filter, into `hpf_frame` and `hpf_block`.
    fn high_pass(&mut self, block: &[i16], k: usize) {
        let hpf = &mut self.hpf_block[0];
        for (dst, &s) in hpf.iter_mut().zip(block.iter()) {
            *dst = f32::from(s);
        }
        self.hpf.process(&mut self.hpf_block);
        for (dst, &s) in self.hpf_frame[k * AEC_BLOCK..(k + 1) * AEC_BLOCK]
            .iter_mut()
            .zip(&self.hpf_block[0])
        {
            *dst = s.round().clamp(-32768.0, 32767.0) as i16;
        }
    }

    /// The high-passed block (`hpf_block`) through AEC3, written over `block`.
    fn cancel_block(&mut self, block: &mut [i16]) {
        let buf = &mut self.capture_buf;
        buf.channel_mut(0).copy_from_slice(&self.hpf_block[0]);
        self.aec.analyze_capture(buf);
        buf.split_into_frequency_bands();
        self.aec.process_capture(buf, false);
        buf.merge_frequency_bands();
        for (dst, &s) in block.iter_mut().zip(buf.channel(0)) {
            *dst = s.round().clamp(-32768.0, 32767.0) as i16;
        }
    }

    /// AEC3's own view of how it is doing.
    pub fn metrics(&self) -> AecMetrics {
        let m = self.aec.metrics();
        AecMetrics {
            erle_db: m.echo_return_loss_enhancement,
            erl_db: m.echo_return_loss,
            delay_ms: m.delay_ms,
            render_jitter_max: m.render_jitter_max,
            capture_jitter_max: m.capture_jitter_max,
            gated_frames: self.silenced,
            passed_through: self.passed_through,
            idle_frames: self.idle_frames,
            no_path_frames: self.no_path_frames,
            residual_db: self.gate.residual_db(),
            measured_erle_db: 10.0 * ((self.echo_in + self.echo_n) / (self.echo_left + self.echo_n)).log10(),
        }
    }
}

fn energy(frame: &Frame) -> f64 {
    frame.iter().map(|&s| f64::from(s).powi(2)).sum()
}

const _: () = assert!(FRAME_SAMPLES % AEC_BLOCK == 0);

#[cfg(test)]
pub(crate) mod tests;
