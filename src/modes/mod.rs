//! Ways of talking, one file each: `live` (microphone and speaker, hands-free), `talk` (a WAV question, a
//! WAV answer), `chat` (typed turns). They know
//! the conversation policy, not cpal or WebSocket details. `endpoint` decides where a session goes.

pub mod chat;
pub mod endpoint;
pub mod live;
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
    #[error("no complete reply within {0:?} after the question ended")]
    ReplyTimeout(Duration),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
