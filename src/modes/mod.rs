//! Front ends, wiring only, one file each: `live` (microphone and speaker), `talk` (a WAV question, a WAV
//! answer), `chat` (typed turns). Each builds an audio source and sink, a session and a renderer, then pumps
//! them through the conversation core (`drive`); `playback` is where reply audio goes, `endpoint` decides
//! where a session goes. None of them holds conversation policy (that is [`crate::conversation`]).

pub mod chat;
pub mod drive;
pub mod endpoint;
pub mod image_input;
pub mod live;
pub mod playback;
pub mod talk;

use std::time::Duration;

use crate::session::SessionError;
use crate::wav::WavError;

#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Wav(#[from] WavError),
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error("cannot start the embedded server: {0}")]
    EmbeddedServer(String),
    #[error("the session ended before the reply was complete: {0}")]
    EndedEarly(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no complete reply within {0:?} after the question ended")]
    ReplyTimeout(Duration),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Transcript(#[from] crate::conversation::TranscriptError),
    /// The session failed after part of the reply arrived: the error, and what came before it (kept, not
    /// thrown away).
    #[error("{error}")]
    Partial {
        error: Box<ModeError>,
        reply: Box<talk::TalkReply>,
    },
}
