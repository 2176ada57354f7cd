//! The conversation policy, pure: one state machine that every front end (live devices, WAV files, the
//! terminal UI, the latency benchmark) drives the same way. It folds timestamped [`Input`]s (uplink frames
//! with their smoothed voice activity, push-to-talk key presses, typed lines, session events) into
//! [`Action`]s (send audio or activity signals, play or stop reply audio, send text, show a [`Notice`],
//! write a [`TranscriptRow`]). No devices, sockets or clocks inside: every input carries its own time, so
//! table tests cover each policy without hardware, network or sleeps.
//!
//! ```text
//!            key down / onset                          first reply audio
//! Listening ─────────────────▶ UserSpeaking ──▶ WaitingForReply ─────────▶ AssistantSpeaking
//!     ▲          key up / end of speech                                      │  turnComplete and the
//!     └──────────────────────────────────────────────────────────────────────┘  tail has been heard
//! user speech, a key press or a typed line over an audible reply: Interrupted (playback stops at once)
//! ```
//!
//! How the microphone reaches the service depends on [`TalkMode`]:
//! - push-to-talk: `activityStart`, the pre-roll (the frames from just before the press, so the first
//!   syllable is never clipped), the held span, `activityEnd`; nothing else goes up.
//! - hands-free, local VAD: the same, with the VAD's onset and end of speech as the key.
//! - hands-free, server VAD: every frame streams while the user speaks or has just spoken; after
//!   [`Policy::stream_end_after`] of silence `audioStreamEnd` goes up and the stream pauses until speech
//!   resumes (the pre-roll first).

mod connection;
mod core;
mod interaction;
mod reply;
mod transcript;
mod uplink;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use crate::audio::{Frame, VadState};
use crate::session::Event;

pub use self::core::Conversation;
pub use interaction::{call_key, interaction_over, ToolFlow};
pub use transcript::{Role, TranscriptError, TranscriptRow, TranscriptWriter};

/// How the user takes turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TalkMode {
    /// Hold a key to talk (the service's automatic activity detection is off).
    PushToTalk,
    /// Talk any time; `VadSource` decides who detects the turns.
    HandsFree(VadSource),
}

/// Who detects the start and end of the user's speech in hands-free mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadSource {
    /// The service's automatic activity detection; voxlive streams the microphone.
    Server,
    /// voxlive's own VAD sends activityStart/activityEnd; silence is never sent.
    Local,
}

impl TalkMode {
    /// Whether the service's automatic activity detection must be disabled in setup.
    pub fn manual_activity(self) -> bool {
        !matches!(self, TalkMode::HandsFree(VadSource::Server))
    }

    pub fn label(self) -> &'static str {
        match self {
            TalkMode::PushToTalk => "push-to-talk",
            TalkMode::HandsFree(VadSource::Server) => "hands-free (server VAD)",
            TalkMode::HandsFree(VadSource::Local) => "hands-free (local VAD)",
        }
    }
}

/// How a typed line goes up, per the model in use (protocol.md): `clientContent` turns work for the whole
/// session on gemini-3.8-live; older models take typed text as realtime input beside the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextRoute {
    #[default]
    RealtimeInput,
    ClientContent,
}

/// The knobs of the policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: TalkMode,
    /// Stop playback the moment the user speaks, presses the key or types over an audible reply.
    pub barge_in: bool,
    /// Frames kept from before a key press or a speech onset and sent first (default 15 = 300 ms).
    pub preroll_frames: usize,
    /// Server VAD: microphone silence (by the local VAD) after which `audioStreamEnd` goes up and the stream
    /// pauses until speech resumes (default 1.5 s; the service asks for it after about 1 s of pause).
    pub stream_end_after: Duration,
    /// Longest push-to-talk turn: a toggle left on (terminals that report no key release) or a release the
    /// terminal lost ends the turn here, with a notice (default 60 s).
    pub max_hold: Duration,
    pub text_route: TextRoute,
}

/// With server VAD, `audioStreamEnd` waits at least this long beyond the silence the service was asked to
/// wait (`silenceDurationMs`): the stream end flushes the turn, so coming sooner would end, after 1.5 s, a
/// turn the user tuned to wait 3 s.
pub const STREAM_END_BEYOND_SILENCE: Duration = Duration::from_millis(500);

impl Policy {
    /// [`Policy::stream_end_after`] no shorter than the service's own `silence` plus
    /// [`STREAM_END_BEYOND_SILENCE`].
    pub fn after_server_silence(mut self, silence: Option<Duration>) -> Self {
        if let Some(s) = silence {
            self.stream_end_after = self.stream_end_after.max(s + STREAM_END_BEYOND_SILENCE);
        }
        self
    }

    pub fn new(mode: TalkMode) -> Self {
        Policy {
            mode,
            barge_in: true,
            preroll_frames: 15,
            stream_end_after: Duration::from_millis(1500),
            max_hold: Duration::from_secs(60),
            text_route: TextRoute::default(),
        }
    }
}

/// Something that happened, with the time it happened.
#[derive(Debug, Clone)]
pub enum Input {
    /// One 20 ms 16 kHz uplink frame in capture order, its smoothed voice activity, when it was captured, and
    /// whether reply audio was still audible then (the player's real state: the tail of a reply plays on
    /// after `turnComplete`).
    Frame {
        samples: Box<Frame>,
        vad: VadState,
        at: Instant,
        playing: bool,
    },
    /// The push-to-talk key went down (or, in tap-to-toggle mode, a tap turned talking on).
    KeyDown { at: Instant },
    /// The key came up (or a second tap).
    KeyUp { at: Instant },
    /// A line the user typed.
    Typed { text: String, at: Instant },
    /// The microphone source ended (a WAV file): close any open turn.
    SourceEnded { at: Instant },
    /// The player's state, refreshed by the front end between frames (after a file source has ended no
    /// frames carry it).
    Playback { playing: bool, at: Instant },
    /// The session said something.
    Server { event: Event, at: Instant },
    /// Answers to these tool calls went up; `spoken`: at least one is not SILENT, so the model will say
    /// something about it (the reply is not over until it has).
    ToolAnswered {
        ids: Vec<String>,
        spoken: bool,
        at: Instant,
    },
}

/// What the front end must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// One 20 ms 16 kHz frame up (real-time: the session may drop it if the network lags). `captured_at` is
    /// the capture time of a frame sent as it arrives (for the capture -> socket latency), `None` for
    /// pre-roll frames sent late on purpose.
    SendAudio {
        samples: Box<Frame>,
        captured_at: Option<Instant>,
    },
    ActivityStart,
    ActivityEnd,
    AudioStreamEnd,
    SendText {
        text: String,
        route: TextRoute,
    },
    /// Queue reply audio (mono 16-bit at `rate`) for playback.
    Play {
        samples: Vec<i16>,
        rate: u32,
        received_at: Instant,
    },
    /// The server completed the reply: what is queued plays to its end, and the next audio is a new reply.
    EndOfReply,
    /// Stop playback now and drop everything queued. `onset`: a local barge-in heard at that time (fade out,
    /// measured from it); `None`: the server's `interrupted`.
    StopPlayback {
        onset: Option<Instant>,
    },
    /// From the end of the user's turn to the first reply, for the latency histograms.
    FirstReply(Duration),
    Show(Notice),
    Transcript(TranscriptRow),
    /// The session is over: `normal` for a close with code 1000.
    End {
        normal: bool,
        reason: String,
    },
}

/// The conversation's visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Listening,
    UserSpeaking,
    WaitingForReply,
    AssistantSpeaking,
    Interrupted,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Listening => "listening",
            State::UserSpeaking => "you are speaking",
            State::WaitingForReply => "waiting for the reply",
            State::AssistantSpeaking => "assistant speaking",
            State::Interrupted => "interrupted",
        }
    }
}

/// What a renderer shows. Text fields are the server's words as received: renderers strip control
/// characters before printing (see `ui::sanitize`).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    State(State),
    /// More of the transcript of what the user said (streams in pieces).
    UserTranscript {
        turn: u32,
        text: String,
    },
    /// What the user is saying so far, as the server hears it now (late 2026 `interimInputTranscription`):
    /// replaces the previous interim text, and is replaced by the final `UserTranscript`.
    InterimUserTranscript {
        turn: u32,
        text: String,
    },
    /// More of the transcript of the spoken reply.
    ModelTranscript {
        turn: u32,
        text: String,
    },
    /// Text from the model (text replies, or text beside audio).
    ModelText {
        turn: u32,
        text: String,
    },
    /// A line the user typed was sent.
    UserTyped {
        turn: u32,
        text: String,
    },
    /// The model called tools (names).
    ToolCall {
        turn: u32,
        names: Vec<String>,
    },
    /// A turn is over: how long the first reply took after the user's turn ended.
    TurnDone {
        turn: u32,
        first_reply: Option<Duration>,
        interrupted: bool,
        /// Tokens the turn cost, when the server said.
        tokens: Option<u64>,
    },
    Info(String),
    Warning(String),
    /// A question waiting for a y/n answer (a tool call that needs confirmation), until
    /// [`Notice::QuestionClosed`].
    Question(String),
    QuestionClosed,
}

/// A snapshot for meters and counters, refreshed by the front end at the renderer's frame rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub state: State,
    pub mode: Option<TalkMode>,
    /// Which push-to-talk key handling is active ("hold space (key release reported)" or "tap space to
    /// start/stop"), for the screen.
    pub key_mode: Option<String>,
    pub mic_dbfs: f32,
    pub speaker_dbfs: f32,
    /// The local VAD hears speech now.
    pub vad_speech: bool,
    /// The server's VAD (its `voiceActivity` messages, with `explicitVadSignal`): speech or quiet; `None`
    /// when the server never said.
    pub server_vad: Option<bool>,
    pub turns: u32,
    pub last_first_reply: Option<Duration>,
    pub underruns: u64,
    pub frames_dropped: u64,
    pub chunks_dropped: u64,
    pub reconnects: u64,
}
