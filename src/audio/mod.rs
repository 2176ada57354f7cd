//! The low-latency audio core: devices, capture and playback streams, resampling, 20 ms framing, voice
//! activity, the downlink jitter buffer and the DSP thread joining them. The session glues to it through
//! [`AudioEngine`] (uplink [`UplinkFrame`]s on a tokio channel), [`Player`] (reply audio in, flush or
//! faded barge-in, `is_playing`), [`Levels`] for a meter, [`AudioEvent`]s and [`AudioStats`].
//!
//! ```text
//! mic -> cpal input callback -> SPSC ring -> DSP thread: downmix -> 16 kHz -> 20 ms frames -> AEC -> VAD
//!         -> try_send -> session
//! session -> Player (bounded, try_send) -> DSP thread: jitter buffer -> device rate -> upmix -> SPSC ring
//!         -> cpal output callback -> speaker
//!                    jitter buffer output -> 16 kHz -> AEC's echo reference (what the speaker plays)
//!                    (AEC = AEC3, then a residual-echo gate: see `echo_gate.rs`; both bypassed while
//!                    no echo path can exist, as with a headset: see `echo_path.rs`)
//! ```
//!
//! # What runs where
//!
//! | thread / task | owns | may do | must never do |
//! |---|---|---|---|
//! | cpal input callback | capture ring producer | convert to f32, `push_slice`, bump atomic counters, store the callback time | allocate, lock, log, resample, block, touch tokio |
//! | cpal output callback | playback ring consumer | `pop_slice`, pad with silence on underrun, honour a flush flag, bump counters | the same |
//! | DSP thread (`voxlive-dsp`, one std thread) | resamplers, framer, echo canceller and webrtc-vad (both `!Send`, built there), jitter buffer | resample, cut frames, cancel echo, run VAD, `try_send` frames, fill the playback ring, record latencies | wait on the network or on a full channel |
//! | recorder thread (`--record`) | the WAV writers | file I/O | — |
//! | session (tokio) | the uplink receiver, [`Player`] clones | read frames, `play`, `flush` | touch devices |
//!
//! Every buffer the callbacks touch is allocated before the streams start (a test proves the callback bodies
//! do not allocate). Overruns, underruns and drops are counted in atomics; the DSP thread warns on the 1st
//! and every 100th drop. Device failures set a flag in the error callback; the DSP thread reports them as
//! [`AudioEvent::DeviceError`] and ends, closing the uplink channel.
//!
//! Only `device.rs` enumerates cpal hosts and devices.
//!
//! # Gluing a session to it
//!
//! ```no_run
//! use std::time::Instant;
//! use voxlive::audio::{AudioConfig, AudioEngine, AudioEvent, Stage};
//! use voxlive::protocol::codec::{pcm16_from_bytes, pcm16_to_bytes};
//!
//! # async fn session() -> Result<(), voxlive::audio::AudioError> {
//! let (engine, mut frames) = AudioEngine::start(AudioConfig::default())?;
//! let player = engine.player(); // clone into the task that receives server audio
//! let latency = engine.latency();
//! let mut events = engine.events(); // SpeechStart / SpeechEnd / DeviceError
//! while let Some(frame) = frames.recv().await {
//!     let bytes = pcm16_to_bytes(&frame.samples); // 640 bytes -> base64 -> realtimeInput
//!     // ... send; then record the stage the session owns:
//!     latency.record(Stage::FrameToSent, frame.produced_at.elapsed());
//!     # let _ = bytes;
//!     # break;
//! }
//! // server audio (base64-decoded inlineData) and barge-in:
//! # let decoded: Vec<u8> = Vec::new();
//! player.play(pcm16_from_bytes(&decoded), Instant::now())?;
//! player.barge_in(Instant::now()); // the local VAD heard the user: fade out, measure barge-in -> silence
//! player.flush(); // on `interrupted`
//! let _meter = engine.levels(); // mic / speaker peak dBFS, lock-free
//! let _audible = player.is_playing(); // reply audio left to hear
//! if let Ok(AudioEvent::DeviceError(e)) = events.try_recv() {
//!     return Err(e);
//! }
//! println!("{}", engine.stats());
//! # Ok(())
//! # }
//! ```

mod aec;
mod capture;
mod denormals;
mod device;
mod dsp;
mod echo_gate;
mod echo_path;
mod engine;
mod error;
mod framing;
mod jitter;
mod levels;
mod playback;
mod priority;
mod quiet;
mod recorder;
mod resample;
mod ring;
mod source;
mod stats;
mod vad;

#[cfg(test)]
mod alloc_tests;
#[cfg(test)]
mod engine_tests;

pub use aec::{AecMetrics, EchoCanceller, AEC_BLOCK};
pub use denormals::flush_to_zero_on_this_thread;
pub use device::{
    list_devices, open_host, pick, DeviceChoice, DeviceConfig, DeviceInfo, DeviceListing, DeviceReport, HostReport,
    Listing, OpenedDevice,
};
pub use dsp::{AudioEvent, ChainFrame, DownlinkChain, UplinkChain, UplinkFrame, DOWN_STEP, READ_STEP};
pub use engine::{AudioConfig, AudioEngine, Player};
pub use error::{AudioError, Direction};
pub use framing::{Frame, Framer, FRAME_SAMPLES, UPLINK_RATE};
pub use jitter::{JitterBuffer, JitterConfig, DOWNLINK_RATE};
pub use levels::{peak_dbfs, peak_dbfs_i16, Levels, SILENCE_DBFS};
pub use priority::{raise_this_thread_logged as raise_this_thread_priority, AUDIO_NICE};
pub use resample::{downmix, resample_all, upmix, StreamResampler};
pub use ring::{fill_output, push_input, Epoch, StreamCounters, FLUSH_FADE};
pub use source::{AudioSink, AudioSource, BufferSource, ClockSink, Pacing, SourceRead, StreamFormat};
pub use stats::{AudioStats, LatencyRecorder, Span, Stage, StageSummary, SPANS};
pub use vad::{FrameClassifier, Smoother, VadConfig, VadMode, VadState, VadTransition, VoiceDetector};
