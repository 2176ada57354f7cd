//! What a run measured, as plain serde data: the JSON report is this type, `--compare` reads it back, and
//! the CSV, table and SVG are views of it.

use serde::{Deserialize, Serialize};

use super::machine::Machine;
use super::stats::Summary;

/// Every stage the bench reports, in report order. Latencies in milliseconds on the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The user's last word (the WAV's own timeline) -> activityEnd written on the socket (local VAD, ptt);
    /// with server VAD, which sends no activityEnd, -> the audio frame holding that last word written.
    SpeechEndToTurnEnd,
    /// The user's last word -> the first reply audio message received (first reply byte).
    SpeechEndToFirstByte,
    /// The user's last word -> the first reply sample played by the clock-driven sink: what the user hears.
    SpeechEndToHeard,
    /// activityEnd on the socket -> first reply byte (the server and the network).
    TurnEndToFirstByte,
    /// First reply byte -> its first sample played (jitter buffer, resampling, the sink's queue).
    FirstByteToHeard,
    /// Per 20 ms frame: capture -> written on the socket.
    CaptureToSocket,
    /// A barge-in: the user's onset over the reply (the WAV's own timeline) -> playback silent. Holds the
    /// VAD's attack time as well as the fade.
    BargeInToSilence,
    /// Reply audio queued in the jitter buffer, not yet played, sampled every 50 ms while a reply played.
    JitterDepth,
    /// Session start (connect) -> setupComplete.
    Setup,
    /// The jitter buffer's target depth (what it waits for before it plays), sampled with [`Stage::JitterDepth`].
    JitterTarget,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::SpeechEndToTurnEnd,
        Stage::SpeechEndToFirstByte,
        Stage::SpeechEndToHeard,
        Stage::TurnEndToFirstByte,
        Stage::FirstByteToHeard,
        Stage::CaptureToSocket,
        Stage::BargeInToSilence,
        Stage::JitterDepth,
        Stage::Setup,
        Stage::JitterTarget,
    ];

    /// The stable key used in JSON, CSV and the SVG's `data-stage`.
    pub fn key(self) -> &'static str {
        match self {
            Stage::SpeechEndToTurnEnd => "speech_end_to_turn_end",
            Stage::SpeechEndToFirstByte => "speech_end_to_first_byte",
            Stage::SpeechEndToHeard => "speech_end_to_heard",
            Stage::TurnEndToFirstByte => "turn_end_to_first_byte",
            Stage::FirstByteToHeard => "first_byte_to_heard",
            Stage::CaptureToSocket => "capture_to_socket",
            Stage::BargeInToSilence => "barge_in_to_silence",
            Stage::JitterDepth => "jitter_depth",
            Stage::Setup => "setup",
            Stage::JitterTarget => "jitter_target",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::SpeechEndToTurnEnd => "end of speech -> turn end sent",
            Stage::SpeechEndToFirstByte => "end of speech -> first reply byte",
            Stage::SpeechEndToHeard => "end of speech -> reply heard",
            Stage::TurnEndToFirstByte => "turn end sent -> first byte",
            Stage::FirstByteToHeard => "first byte -> reply heard",
            Stage::CaptureToSocket => "capture -> socket (per frame)",
            Stage::BargeInToSilence => "barge-in onset -> silence",
            Stage::JitterDepth => "jitter buffer depth",
            Stage::Setup => "start -> setupComplete",
            Stage::JitterTarget => "jitter buffer target",
        }
    }

    pub fn from_key(key: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// One stage's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    pub stage: Stage,
    pub label: String,
    pub unit: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// One user turn: an utterance of the WAV and what answered it. Times in ms from the end of the utterance
/// unless named otherwise; `None` = did not happen (no activityEnd with server VAD, no reply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnRecord {
    pub input: String,
    pub run: u32,
    pub turn: u32,
    /// The utterance in the file, seconds from its start.
    pub speech_start_s: f64,
    pub speech_end_s: f64,
    pub turn_end_ms: Option<f64>,
    pub first_byte_ms: Option<f64>,
    pub heard_ms: Option<f64>,
    /// Whether a later utterance (or the server) interrupted this turn's reply.
    pub interrupted: bool,
}

impl TurnRecord {
    /// The turn's value for a per-turn stage.
    pub fn value(&self, stage: Stage) -> Option<f64> {
        let diff = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        match stage {
            Stage::SpeechEndToTurnEnd => self.turn_end_ms,
            Stage::SpeechEndToFirstByte => self.first_byte_ms,
            Stage::SpeechEndToHeard => self.heard_ms,
            Stage::TurnEndToFirstByte => diff(self.turn_end_ms, self.first_byte_ms),
            Stage::FirstByteToHeard => diff(self.first_byte_ms, self.heard_ms),
            _ => None,
        }
    }
}

/// Counts of things that went wrong (or right) in a session or the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub frames_sent: u64,
    /// Uplink frames the DSP thread dropped (the session fell behind).
    pub frames_dropped: u64,
    /// Audio frames the session dropped (the network fell behind).
    pub session_frames_dropped: u64,
    /// Reply chunks dropped before the jitter buffer.
    pub chunks_dropped: u64,
    pub jitter_underruns: u64,
    /// Reconnects (the session does not reconnect on its own yet: a dropped connection ends the run).
    pub reconnects: u64,
    pub malformed_frames: u64,
    /// Utterances without a matched reply, and replies not matched to an utterance.
    pub unanswered_turns: u64,
    pub extra_replies: u64,
    /// activityEnds sent while the user was still speaking (the VAD ended a turn at a pause).
    #[serde(default)]
    pub early_turn_ends: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.frames_sent += o.frames_sent;
        self.frames_dropped += o.frames_dropped;
        self.session_frames_dropped += o.session_frames_dropped;
        self.chunks_dropped += o.chunks_dropped;
        self.jitter_underruns += o.jitter_underruns;
        self.reconnects += o.reconnects;
        self.malformed_frames += o.malformed_frames;
        self.unanswered_turns += o.unanswered_turns;
        self.extra_replies += o.extra_replies;
        self.early_turn_ends += o.early_turn_ends;
    }
}

/// One WAV replayed once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    pub input: String,
    pub run: u32,
    pub audio_secs: f64,
    pub wall_secs: f64,
    pub setup_ms: Option<f64>,
    pub stages: Vec<StageStats>,
    pub counters: Counters,
    /// Why the session failed, if it did (its turns up to then are kept).
    pub error: Option<String>,
}

/// How the run was set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub inputs: Vec<String>,
    pub runs: u32,
    /// `embedded` or the endpoint's base URL (never a key).
    pub endpoint: String,
    pub mode: String,
    pub vad: String,
    pub aec: bool,
    pub concurrency: u32,
    /// The network conditions applied to the embedded server's replies, as given (`None`: loopback).
    pub net: Option<String>,
    pub reply_delay_ms: Option<f64>,
    pub command: String,
    /// Silence replayed after each file, as an open microphone would go on (absent in reports before it).
    #[serde(default)]
    pub tail_ms: Option<f64>,
    /// Sessions that failed (their error is in `sessions`).
    #[serde(default)]
    pub failed_sessions: u64,
}

/// What the network shaping did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetApplied {
    pub spec: String,
    pub writes: u64,
    pub retransmitted: u64,
    pub mean_hold_ms: f64,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub voxlive_version: String,
    pub machine: Machine,
    pub settings: Settings,
    /// Unix seconds at the start.
    pub started_at: u64,
    pub wall_secs: f64,
    pub audio_secs: f64,
    /// Process CPU time (user + system) per second of audio replayed; with the embedded server it
    /// includes the server (bench against `voxlive serve` to measure the client alone).
    pub cpu_per_audio_sec: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub stages: Vec<StageStats>,
    pub counters: Counters,
    pub net_applied: Option<NetApplied>,
    pub sessions: Vec<SessionReport>,
    pub turns: Vec<TurnRecord>,
}

impl Report {
    pub fn stage(&self, stage: Stage) -> Option<&StageStats> {
        self.stages.iter().find(|s| s.stage == stage)
    }
}
