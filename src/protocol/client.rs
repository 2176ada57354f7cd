//! Messages the client sends: exactly one top-level key per JSON text frame.

use serde::{Deserialize, Serialize};

use super::content::{Blob, Content};
use super::setup::Setup;
use super::tool::ToolResponse;
use super::ProtocolError;

/// One client -> server message. Written in camelCase; the snake_case spellings the Python SDK sends are
/// accepted at every level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClientMessage {
    /// Boxed: setup is sent once per connection and is far larger than the audio messages sent 50 times a
    /// second, which would otherwise all be as large as it.
    Setup(Box<Setup>),
    #[serde(alias = "client_content")]
    ClientContent(ClientContent),
    #[serde(alias = "realtime_input")]
    RealtimeInput(RealtimeInput),
    #[serde(alias = "tool_response")]
    ToolResponse(ToolResponse),
    #[serde(alias = "context_update")]
    ContextUpdate(ContextUpdate),
}

impl ClientMessage {
    /// Parses one frame (text or binary payload).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(bytes).map_err(ProtocolError::from_json)
    }

    /// The JSON text this message is sent as.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no custom errors.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The top-level key, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Setup(_) => "setup",
            ClientMessage::ClientContent(_) => "clientContent",
            ClientMessage::RealtimeInput(_) => "realtimeInput",
            ClientMessage::ToolResponse(_) => "toolResponse",
            ClientMessage::ContextUpdate(_) => "contextUpdate",
        }
    }

    /// A realtimeInput carrying one chunk of 16-bit PCM audio.
    pub fn audio(rate: u32, samples: &[i16]) -> Self {
        ClientMessage::RealtimeInput(RealtimeInput {
            audio: Some(Blob::pcm16(rate, samples)),
            ..RealtimeInput::default()
        })
    }

    /// A complete typed user turn.
    pub fn user_text(text: impl Into<String>) -> Self {
        ClientMessage::ClientContent(ClientContent {
            turns: vec![Content::text(Some("user"), text)],
            turn_complete: Some(true),
        })
    }
}

/// History or a typed turn; `turnComplete: true` starts generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientContent {
    #[serde(default)]
    pub turns: Vec<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "turn_complete")]
    pub turn_complete: Option<bool>,
}

/// Streamed input. Usually one field is set per message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Blob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Blob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The deprecated older form of `audio`/`video`; still accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "media_chunks")]
    pub media_chunks: Vec<Blob>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "audio_stream_end")]
    pub audio_stream_end: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "activity_start")]
    pub activity_start: Option<Empty>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "activity_end")]
    pub activity_end: Option<Empty>,
}

impl RealtimeInput {
    /// Every audio blob in the message, new and deprecated forms alike.
    pub fn audio_blobs(&self) -> impl Iterator<Item = &Blob> {
        self.audio
            .iter()
            .chain(self.media_chunks.iter())
            .filter(|b| b.mime_type.starts_with("audio/"))
    }
}

/// An empty object `{}` (activity markers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Changes the system instruction mid-session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "system_instruction")]
    pub system_instruction: Option<Content>,
}
