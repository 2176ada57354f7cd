//! voxlive: a real-time voice assistant on the Gemini Live API, with an embedded offline Live server.
//!
//! ```text
//! mic -> cpal capture thread -> SPSC ring -> DSP thread (resample -> AEC -> 20 ms 16 kHz frames -> VAD)
//!     -> session (tokio + tokio-tungstenite, serde wire types) -> Gemini Live (or the embedded server)
//! Gemini Live -> session -> jitter buffer -> resampler -> SPSC ring -> cpal playback thread -> speaker
//! ```
//!
//! # Layout
//! - [`protocol`]: the wire format only: serde types, no I/O.
//! - [`audio`]: the low-latency audio core: devices, callback rings, resampling, framing, VAD, jitter buffer.
//! - [`models`]: model profiles (ids, rates, voices, limits) read from models/models.toml; `check.rs` checks a
//!   setup against a profile (the one check client and embedded server share), `listing.rs` is `voxlive models`.
//! - [`session`]: one conversation with a Live endpoint: connect, setup, send, typed events.
//! - [`server`]: the embedded Live server (offline default endpoint, test target, fault injector).
//! - [`wav`]: WAV files in any format to 16 kHz mono frames and back.
//! - [`conversation`]: the conversation policy, pure: events in, actions out (push-to-talk, hands-free, barge-in).
//! - [`modes`]: wiring, one front end each (`live`, `talk`, `chat`): devices or files, a session, a renderer.
//! - [`auth`]: ephemeral tokens: `voxlive token` mints one (POST v1alpha/auth_tokens).
//! - [`persist`]: saved sessions: `--resume` by handle or by history, `voxlive sessions`.
//! - [`ui`]: the terminal UI and the plain-lines renderer.
//! - [`tools`]: function calling: the Tool trait, the registry, built-ins, config-declared command tools, the runner.
//! - [`bench`]: `voxlive bench`, latency of the real pipeline on recorded WAVs: per-stage percentiles, reports.
//! - [`cli`], [`config`]: the flags as typed, and the resolved configuration.
//! - [`settings`]: system instruction, presets (models/presets), generation and safety settings.
//! - [`media`]: images from files to paced JPEG video frames.
pub mod audio;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod media;
pub mod models;
pub mod modes;
pub mod persist;
pub mod protocol;
pub mod redact;
pub mod server;
pub mod session;
pub mod settings;
pub mod tools;
pub mod ui;
pub mod wav;
