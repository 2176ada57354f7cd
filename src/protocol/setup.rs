//! The `setup` message: model, generation and speech config, instructions, tools, activity detection,
//! transcription, resumption and compression. Every field is optional on the wire except `model`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::content::Content;
use super::tool::Tool;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setup {
    /// `models/{id}` (Gemini API) or a full Vertex resource name.
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "generation_config")]
    pub generation_config: Option<GenerationConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "system_instruction")]
    pub system_instruction: Option<Content>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "realtime_input_config")]
    pub realtime_input_config: Option<RealtimeInputConfig>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "input_audio_transcription"
    )]
    pub input_audio_transcription: Option<AudioTranscriptionConfig>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "output_audio_transcription"
    )]
    pub output_audio_transcription: Option<AudioTranscriptionConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "session_resumption")]
    pub session_resumption: Option<SessionResumptionConfig>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "context_window_compression"
    )]
    pub context_window_compression: Option<ContextWindowCompression>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proactivity: Option<Proactivity>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "enable_affective_dialog")]
    pub enable_affective_dialog: Option<bool>,
    /// Late 2026: the server sends `voiceActivity` messages from its own activity detection. The Python
    /// SDK puts it here; `realtimeInputConfig.explicitVadSignal` is accepted too.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "explicit_vad_signal")]
    pub explicit_vad_signal: Option<bool>,
    /// Late 2026: how the first clientContent seeds history.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "history_config")]
    pub history_config: Option<HistoryConfig>,
    /// Content filters, at the top of setup as the official SDK's LiveConnectConfig puts them.
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "safety_settings")]
    pub safety_settings: Vec<SafetySetting>,
}

/// One content filter: a harm category (`HARM_CATEGORY_HARASSMENT`, ...) and the threshold at which
/// replies are blocked (`BLOCK_MEDIUM_AND_ABOVE`, `BLOCK_NONE`, `OFF`, ...). Protobuf enum names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetySetting {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub threshold: String,
}

impl Setup {
    /// The silence the service's activity detection was asked to wait before it ends a turn
    /// (`automaticActivityDetection.silenceDurationMs`), if the setup sets one.
    pub fn vad_silence(&self) -> Option<std::time::Duration> {
        self.realtime_input_config
            .as_ref()
            .and_then(|c| c.automatic_activity_detection.as_ref())
            .and_then(|a| a.silence_duration_ms)
            .map(|ms| std::time::Duration::from_millis(u64::from(ms)))
    }

    /// Whether the session asked for `voiceActivity` messages (top level or in realtimeInputConfig).
    pub fn explicit_vad_signal(&self) -> bool {
        self.explicit_vad_signal == Some(true)
            || self.realtime_input_config.as_ref().and_then(|r| r.explicit_vad_signal) == Some(true)
    }

    /// `enableAffectiveDialog` wherever it was put (top level, or generationConfig as the Python SDK does).
    pub fn affective_dialog(&self) -> Option<bool> {
        self.enable_affective_dialog
            .or_else(|| self.generation_config.as_ref()?.enable_affective_dialog)
    }

    /// The activity handling asked for (START_OF_ACTIVITY_INTERRUPTS when absent).
    pub fn activity_handling(&self) -> Option<&str> {
        self.realtime_input_config.as_ref()?.activity_handling.as_deref()
    }

    /// The bare model id: `models/x` -> `x`, a Vertex resource name -> its last segment.
    pub fn model_id(&self) -> &str {
        self.model.rsplit('/').next().unwrap_or(&self.model)
    }

    /// The response modality the session asked for; AUDIO when none was given (the service's default).
    pub fn modality(&self) -> Modality {
        self.generation_config
            .as_ref()
            .and_then(|g| g.response_modalities.first().copied())
            .unwrap_or(Modality::Audio)
    }

    /// Whether the client marks turns itself with activityStart/activityEnd.
    pub fn manual_activity(&self) -> bool {
        self.realtime_input_config
            .as_ref()
            .and_then(|r| r.automatic_activity_detection.as_ref())
            .and_then(|a| a.disabled)
            .unwrap_or(false)
    }

    /// The prebuilt voice asked for, if any.
    pub fn voice(&self) -> Option<&str> {
        self.generation_config
            .as_ref()?
            .speech_config
            .as_ref()?
            .voice_config
            .as_ref()?
            .prebuilt_voice_config
            .as_ref()?
            .voice_name
            .as_deref()
    }
}

/// The response modality of a session. Protobuf JSON enum names; lower case is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Modality {
    #[serde(alias = "text")]
    Text,
    #[serde(alias = "audio")]
    Audio,
    #[serde(alias = "image")]
    Image,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "response_modalities")]
    pub response_modalities: Vec<Modality>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::codec::finite_f32_opt"
    )]
    pub temperature: Option<f32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "top_p",
        deserialize_with = "super::codec::finite_f32_opt"
    )]
    pub top_p: Option<f32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "top_k",
        deserialize_with = "super::codec::finite_f32_opt"
    )]
    pub top_k: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "max_output_tokens")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "candidate_count")]
    pub candidate_count: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "presence_penalty",
        deserialize_with = "super::codec::finite_f32_opt"
    )]
    pub presence_penalty: Option<f32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "frequency_penalty",
        deserialize_with = "super::codec::finite_f32_opt"
    )]
    pub frequency_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "speech_config")]
    pub speech_config: Option<SpeechConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "thinking_config")]
    pub thinking_config: Option<ThinkingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "media_resolution")]
    pub media_resolution: Option<String>,
    /// The Python SDK puts this here rather than at the top of setup; both are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "enable_affective_dialog")]
    pub enable_affective_dialog: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeechConfig {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "voice_config")]
    pub voice_config: Option<VoiceConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "language_code")]
    pub language_code: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "multi_speaker_voice_config"
    )]
    pub multi_speaker_voice_config: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "prebuilt_voice_config")]
    pub prebuilt_voice_config: Option<PrebuiltVoiceConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrebuiltVoiceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "voice_name")]
    pub voice_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "thinking_budget")]
    pub thinking_budget: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "include_thoughts")]
    pub include_thoughts: Option<bool>,
    /// LOW, MEDIUM or HIGH (models with `thinking = "level"`, such as gemini-3.8-live-extended-thinking).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "thinking_level")]
    pub thinking_level: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeInputConfig {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "automatic_activity_detection"
    )]
    pub automatic_activity_detection: Option<AutomaticActivityDetection>,
    /// START_OF_ACTIVITY_INTERRUPTS (default) or NO_INTERRUPTION.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "activity_handling")]
    pub activity_handling: Option<String>,
    /// TURN_INCLUDES_ONLY_ACTIVITY or TURN_INCLUDES_ALL_INPUT.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "turn_coverage")]
    pub turn_coverage: Option<String>,
    /// Also accepted here (see [`Setup::explicit_vad_signal`]).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "explicit_vad_signal")]
    pub explicit_vad_signal: Option<bool>,
}

/// `historyConfig`: with `initialHistoryInClientContent` the first clientContent messages (until one with
/// `turnComplete: true`) only seed the history and start no reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryConfig {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "initial_history_in_client_content"
    )]
    pub initial_history_in_client_content: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomaticActivityDetection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "start_of_speech_sensitivity"
    )]
    pub start_of_speech_sensitivity: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "end_of_speech_sensitivity"
    )]
    pub end_of_speech_sensitivity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "prefix_padding_ms")]
    pub prefix_padding_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "silence_duration_ms")]
    pub silence_duration_ms: Option<u32>,
}

/// Its presence turns transcription on; `languageCodes` (late 2026) are BCP-47 hints, automatic detection
/// when absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioTranscriptionConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "language_codes")]
    pub language_codes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionResumptionConfig {
    /// The handle of the session to resume; absent to start a resumable session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparent: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextWindowCompression {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "trigger_tokens",
        with = "super::codec::int64_opt"
    )]
    pub trigger_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "sliding_window")]
    pub sliding_window: Option<SlidingWindow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlidingWindow {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "target_tokens",
        with = "super::codec::int64_opt"
    )]
    pub target_tokens: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proactivity {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "proactive_audio")]
    pub proactive_audio: Option<bool>,
}
