//! The Gemini Live wire format, and nothing else: serde types for every client and server message of
//! ../shared/protocol.md, with no I/O and no async. Both the session client and the embedded server use them.
//!
//! Written in camelCase with standard base64; read liberally: snake_case keys at every level, URL-safe
//! base64, int64 as number or string, unknown fields ignored. A malformed frame is a [`ProtocolError`].

pub mod client;
pub mod codec;
pub mod content;
pub mod server;
pub mod setup;
pub mod token;
pub mod tool;

#[cfg(test)]
mod golden_tests;

pub use client::{ClientContent, ClientMessage, ContextUpdate, Empty, RealtimeInput};
pub use content::{Blob, Content, FunctionCall, FunctionResponse, Part, Transcription};
pub use server::{
    GoAway, InteractionStatus, ModalityTokenCount, ServerContent, ServerMessage, SessionResumptionUpdate,
    SetupComplete, UsageMetadata, VoiceActivity,
};
pub use setup::{
    AudioTranscriptionConfig, AutomaticActivityDetection, ContextWindowCompression, GenerationConfig, HistoryConfig,
    Modality, PrebuiltVoiceConfig, Proactivity, RealtimeInputConfig, SafetySetting, SessionResumptionConfig, Setup,
    SlidingWindow, SpeechConfig, ThinkingConfig, VoiceConfig,
};
pub use token::{AuthToken, CreateAuthToken};
pub use tool::{FunctionDeclaration, Tool, ToolCall, ToolCallCancellation, ToolResponse};

/// Sample rate of microphone audio the service takes natively.
pub const INPUT_RATE: u32 = 16_000;
/// Sample rate of the speech the service sends.
pub const OUTPUT_RATE: u32 = 24_000;

/// A frame that is not a valid message. Never retryable: the same bytes fail the same way.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtocolError {
    /// Not JSON at all, or JSON of the wrong shape.
    #[error("malformed message: {0}")]
    Json(String),
    /// The top level is not a JSON object.
    #[error("malformed message: the top level is not a JSON object")]
    NotAnObject,
    /// A top-level key this protocol does not have.
    #[error("unknown message type {0:?}")]
    UnknownMessage(String),
    #[error("invalid base64 data: {0}")]
    Base64(String),
    #[error("invalid duration {0:?} (expected e.g. \"50s\" or \"0.500s\")")]
    Duration(String),
}

impl ProtocolError {
    fn from_json(e: serde_json::Error) -> Self {
        let text = e.to_string();
        // serde's message for an unknown enum variant names it: surface that as its own error.
        if let Some(rest) = text.strip_prefix("unknown variant `") {
            if let Some(name) = rest.split('`').next() {
                return ProtocolError::UnknownMessage(name.to_string());
            }
        }
        ProtocolError::Json(text)
    }
}
