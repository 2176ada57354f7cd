//! Messages the server sends: a struct of optional members, as Google's own schema has it, plus
//! `usageMetadata` beside whichever member is set.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::content::{Content, Transcription};
use super::tool::{ToolCall, ToolCallCancellation};
use super::ProtocolError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerMessage {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "setup_complete")]
    pub setup_complete: Option<SetupComplete>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "server_content")]
    pub server_content: Option<ServerContent>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "tool_call")]
    pub tool_call: Option<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "tool_call_cancellation")]
    pub tool_call_cancellation: Option<ToolCallCancellation>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "go_away")]
    pub go_away: Option<GoAway>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "session_resumption_update"
    )]
    pub session_resumption_update: Option<SessionResumptionUpdate>,
    /// Late 2026: the service's own voice activity detection, as events.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "voice_activity")]
    pub voice_activity: Option<VoiceActivity>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "usage_metadata")]
    pub usage_metadata: Option<UsageMetadata>,
}

impl ServerMessage {
    /// Parses one frame; the real service sends binary frames, others text: both carry JSON.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let value: Value = serde_json::from_slice(bytes).map_err(ProtocolError::from_json)?;
        if !value.is_object() {
            return Err(ProtocolError::NotAnObject);
        }
        serde_json::from_value(value).map_err(ProtocolError::from_json)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn content(content: ServerContent) -> Self {
        ServerMessage {
            server_content: Some(content),
            ..ServerMessage::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetupComplete {
    /// Vertex AI returns the session id here.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "session_id")]
    #[serde(rename = "sessionId")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerContent {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "model_turn")]
    pub model_turn: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "generation_complete")]
    pub generation_complete: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "turn_complete")]
    pub turn_complete: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "grounding_metadata")]
    pub grounding_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "input_transcription")]
    pub input_transcription: Option<Transcription>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "output_transcription")]
    pub output_transcription: Option<Transcription>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "turn_complete_reason")]
    pub turn_complete_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "waiting_for_input")]
    pub waiting_for_input: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "url_context_metadata")]
    pub url_context_metadata: Option<Value>,
    /// Late 2026: a transcription of the user's speech that may still change.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "interim_input_transcription"
    )]
    pub interim_input_transcription: Option<Transcription>,
    /// Late 2026 (gemini-3.8-live): `IN_PROGRESS` while background work goes on and the model may speak
    /// again without new input, `IDLE` when the whole interaction is done. Sent with `turnComplete`.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "interaction_status")]
    pub interaction_status: Option<InteractionStatus>,
}

/// `serverContent.interactionStatus`. Unknown values parse as `Other` (the service adds values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InteractionStatus {
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    #[serde(rename = "IDLE")]
    Idle,
    #[serde(untagged)]
    Other(String),
}

/// Top-level `voiceActivity`: the server's VAD saw speech start or end at `audioOffset` into the stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceActivity {
    /// `ACTIVITY_START` or `ACTIVITY_END` (kept as a string: unknown values are not an error). On the wire
    /// the key is `type`, as the official SDK's converter reads it (`_VoiceActivity_from_mldev` maps `type`
    /// to its `voice_activity_type`); the SDK-side spellings are accepted too.
    #[serde(default, rename = "type", alias = "voiceActivityType", alias = "voice_activity_type")]
    pub voice_activity_type: String,
    /// A duration string, as the service sends it.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "audio_offset")]
    pub audio_offset: Option<String>,
}

/// The connection will close after `timeLeft` (a duration string, always written).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoAway {
    #[serde(default, alias = "time_left")]
    pub time_left: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResumptionUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "new_handle")]
    pub new_handle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumable: Option<bool>,
    /// Index of the last client message the server consumed on this connection (setup excluded, from 0).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "last_consumed_client_message_index",
        with = "super::codec::int64_opt"
    )]
    pub last_consumed_client_message_index: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "prompt_token_count")]
    pub prompt_token_count: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "cached_content_token_count"
    )]
    pub cached_content_token_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "response_token_count")]
    pub response_token_count: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "tool_use_prompt_token_count"
    )]
    pub tool_use_prompt_token_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "thoughts_token_count")]
    pub thoughts_token_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "total_token_count")]
    pub total_token_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "prompt_tokens_details")]
    pub prompt_tokens_details: Vec<ModalityTokenCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "cache_tokens_details")]
    pub cache_tokens_details: Vec<ModalityTokenCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "response_tokens_details")]
    pub response_tokens_details: Vec<ModalityTokenCount>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        alias = "tool_use_prompt_tokens_details"
    )]
    pub tool_use_prompt_tokens_details: Vec<ModalityTokenCount>,
}

/// Tokens of one modality; `tokenCount` is always written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModalityTokenCount {
    #[serde(default)]
    pub modality: String,
    #[serde(default, alias = "token_count")]
    pub token_count: u32,
}
