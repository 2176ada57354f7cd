//! Content, parts and blobs: the pieces shared by client turns, system instructions and model turns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::codec::base64_bytes;

/// A turn or instruction: a role and its parts. `parts` is always written (some clients drop a modelTurn
/// without it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub parts: Vec<Part>,
}

impl Content {
    /// A content holding one text part.
    pub fn text(role: Option<&str>, text: impl Into<String>) -> Self {
        Content {
            role: role.map(str::to_string),
            parts: vec![Part::text(text)],
        }
    }

    /// All text parts joined, thoughts excluded.
    pub fn joined_text(&self) -> String {
        self.parts
            .iter()
            .filter(|p| p.thought != Some(true))
            .filter_map(|p| p.text.as_deref())
            .collect()
    }
}

/// One part of a content. Exactly one of the data fields is set in practice; unknown kinds are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "inline_data")]
    pub inline_data: Option<Blob>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "function_call")]
    pub function_call: Option<FunctionCall>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "function_response")]
    pub function_response: Option<FunctionResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "executable_code")]
    pub executable_code: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "code_execution_result")]
    pub code_execution_result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "file_data")]
    pub file_data: Option<Value>,
    /// True when this part is the model's thinking, not its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
}

impl Part {
    pub fn text(text: impl Into<String>) -> Self {
        Part {
            text: Some(text.into()),
            ..Part::default()
        }
    }

    pub fn inline(mime_type: impl Into<String>, data: Vec<u8>) -> Self {
        Part {
            inline_data: Some(Blob::new(mime_type, data)),
            ..Part::default()
        }
    }
}

/// Raw bytes with their mime type, base64 on the wire. `mimeType` is always written.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    #[serde(default, alias = "mime_type")]
    pub mime_type: String,
    #[serde(default, with = "base64_bytes")]
    pub data: Vec<u8>,
}

impl Blob {
    pub fn new(mime_type: impl Into<String>, data: Vec<u8>) -> Self {
        Blob {
            mime_type: mime_type.into(),
            data,
        }
    }

    /// 16 kHz mono LINEAR16 microphone audio, the service's native input format.
    pub fn pcm16(rate: u32, samples: &[i16]) -> Self {
        Blob::new(format!("audio/pcm;rate={rate}"), super::codec::pcm16_to_bytes(samples))
    }
}

impl std::fmt::Debug for Blob {
    // Audio blobs are large: show the size, not the bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("mime_type", &self.mime_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A function the model asks the client to run. `args` is always written, `{}` when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub args: Map<String, Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

/// The client's answer to one function call; `id` echoes the call's id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub response: Map<String, Value>,
    /// SILENT, WHEN_IDLE or INTERRUPT; only for NON_BLOCKING functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "will_continue")]
    pub will_continue: Option<bool>,
}

/// A piece of transcript of the user's or the model's speech.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Late 2026: this transcription of the utterance is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "language_code")]
    pub language_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "speaker_label")]
    pub speaker_label: Option<String>,
    /// Word timings; kept verbatim (voxlive does not use them yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<serde_json::Value>,
}
