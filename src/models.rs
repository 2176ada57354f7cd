//! Model profiles: the Live model ids, their status, audio rates, modalities, voices and limits. The data
//! lives in models/models.toml (compiled in, so the binary needs no files at run time); the client uses it
//! to explain a bad `--model` or `--voice` before connecting, the embedded server to validate setup.

use serde::Deserialize;

use crate::protocol::Modality;

mod check;
mod listing;

pub use check::{check_setup, SetupRefusal};

/// Longest `stream_minutes` a profile may give (a day).
pub const MAX_STREAM_MINUTES: u32 = 1440;

const BUILTIN: &str = include_str!("../models/models.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Current,
    Preview,
    /// No longer served: setup naming it is refused.
    Shutdown,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelProfile {
    pub id: String,
    pub status: Status,
    pub api_versions: Vec<String>,
    pub input_rate: u32,
    pub output_rate: u32,
    pub modalities: Vec<Modality>,
    /// Name of a voice list in `[voices]`.
    pub voices: String,
    pub context_tokens: u32,
    pub session_audio_minutes: u32,
    pub session_audio_video_minutes: u32,
    pub connection_minutes: u32,
    #[serde(default)]
    pub affective_dialog: bool,
    #[serde(default)]
    pub proactivity: bool,
    /// How a line typed during a voice session goes up (protocol.md): `client_content` turns (models whose
    /// clientContent works for the whole session, such as gemini-3.8-live) or `realtime_input` text.
    #[serde(default)]
    pub typed_text: TypedText,
    /// Whether the model takes `sessionResumption.transparent` (an update with
    /// `lastConsumedClientMessageIndex` after every consumed message, so a resume replays exactly what the
    /// server missed).
    #[serde(default)]
    pub transparent_resumption: bool,
    /// What `generationConfig.thinkingConfig` the model takes: none (gemini-3.8-live refuses it), a
    /// `thinkingBudget`, or a `thinkingLevel` (the extended-thinking model).
    #[serde(default)]
    pub thinking: Thinking,
    /// The behaviour of a function declared without `behavior`: BLOCKING on older models, NON_BLOCKING on
    /// gemini-3.8-live (where BLOCKING must be asked for).
    #[serde(default)]
    pub default_function_behavior: FunctionBehavior,
    /// Proactive audio cannot be turned off: `proactivity.proactiveAudio: false` is refused.
    #[serde(default)]
    pub proactive_audio_always: bool,
    /// The `thinkingLevel` values a `thinking = level` model takes (upper case, compared ignoring case).
    #[serde(default)]
    pub thinking_levels: Vec<String>,
    /// Whether a function may be declared `behavior: BLOCKING` (the extended-thinking model calls functions
    /// asynchronously only, and refuses a blocking declaration).
    #[serde(default = "yes")]
    pub blocking_calls: bool,
    /// The model sends `interactionStatus` (IN_PROGRESS while it may speak again without new input, IDLE
    /// when the interaction is done) with each turnComplete.
    #[serde(default)]
    pub interaction_status: bool,
    /// Input transcription streams as `interimInputTranscription` pieces, then the final
    /// `inputTranscription` with `finished: true`.
    #[serde(default)]
    pub interim_transcription: bool,
    /// How long one connection may stream before the service ends it (Live Transcribe: 10 minutes).
    #[serde(default)]
    pub stream_minutes: Option<u32>,
    #[serde(default)]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

/// See [`ModelProfile::thinking`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Thinking {
    /// No thinkingConfig at all.
    None,
    /// `thinkingConfig.thinkingBudget` (tokens; 0 turns thinking off).
    #[default]
    Budget,
    /// `thinkingConfig.thinkingLevel`: low, medium or high.
    Level,
}

/// See [`ModelProfile::default_function_behavior`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionBehavior {
    #[default]
    Blocking,
    NonBlocking,
}

/// See [`ModelProfile::typed_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypedText {
    #[default]
    RealtimeInput,
    ClientContent,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    pub default_model: String,
    voices: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(rename = "model")]
    pub models: Vec<ModelProfile>,
}

/// Why a model or voice was refused; the text is what a person reads.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("model {id} does not exist; known models: {known}")]
    Unknown { id: String, known: String },
    #[error("model {id} has been shut down: {note}")]
    ShutDown { id: String, note: String },
    #[error("voice {voice} is not offered by model {model}; voices: {known}")]
    UnknownVoice {
        voice: String,
        model: String,
        known: String,
    },
    #[error("model {model} does not support response modality {modality:?}")]
    Modality { model: String, modality: Modality },
    #[error("invalid model catalog: {0}")]
    Catalog(String),
}

impl Catalog {
    /// The catalog shipped with voxlive.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| {
            // The file is compiled in and checked by a unit test, so this cannot fail in a release.
            Catalog::parse(BUILTIN).unwrap_or_else(|e| panic!("models/models.toml: {e}"))
        })
    }

    pub fn parse(text: &str) -> Result<Catalog, ModelError> {
        let catalog: Catalog = toml::from_str(text).map_err(|e| ModelError::Catalog(e.to_string()))?;
        for m in &catalog.models {
            let bad = |what: &str| Err(ModelError::Catalog(format!("model {}: {what}", m.id)));
            if !catalog.voices.contains_key(&m.voices) {
                return bad(&format!("names unknown voice list {}", m.voices));
            }
            if m.modalities.is_empty() {
                return bad("lists no modalities");
            }
            if m.thinking == Thinking::Level && m.thinking_levels.is_empty() {
                return bad("thinking = \"level\" needs thinking_levels");
            }
            // it sets a timer on the embedded server
            if m.stream_minutes.is_some_and(|n| !(1..=MAX_STREAM_MINUTES).contains(&n)) {
                return bad(&format!("stream_minutes must be 1 to {MAX_STREAM_MINUTES}"));
            }
        }
        if !catalog.models.iter().any(|m| m.id == catalog.default_model) {
            return Err(ModelError::Catalog(format!(
                "default_model {} is not in the catalog",
                catalog.default_model
            )));
        }
        Ok(catalog)
    }

    /// Ids of the models that are served today, for messages.
    pub fn served_ids(&self) -> Vec<&str> {
        self.models
            .iter()
            .filter(|m| m.status != Status::Shutdown)
            .map(|m| m.id.as_str())
            .collect()
    }

    /// Finds a served model by id (`models/` prefix and Vertex resource names accepted).
    pub fn model(&self, id: &str) -> Result<&ModelProfile, ModelError> {
        let bare = id.rsplit('/').next().unwrap_or(id);
        match self.models.iter().find(|m| m.id == bare) {
            Some(m) if m.status == Status::Shutdown => Err(ModelError::ShutDown {
                id: m.id.clone(),
                note: m.note.clone().unwrap_or_else(|| "no longer served".into()),
            }),
            Some(m) => Ok(m),
            None => Err(ModelError::Unknown {
                id: bare.to_string(),
                known: self.served_ids().join(", "),
            }),
        }
    }

    /// The voices a model offers.
    pub fn voices(&self, model: &ModelProfile) -> &[String] {
        self.voices.get(&model.voices).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Checks a voice name against a model (voice names are case-insensitive on the service).
    pub fn check_voice(&self, model: &ModelProfile, voice: &str) -> Result<(), ModelError> {
        let voices = self.voices(model);
        if voices.iter().any(|v| v.eq_ignore_ascii_case(voice)) {
            Ok(())
        } else {
            Err(ModelError::UnknownVoice {
                voice: voice.to_string(),
                model: model.id.clone(),
                known: voices.join(", "),
            })
        }
    }

    pub fn check_modality(&self, model: &ModelProfile, modality: Modality) -> Result<(), ModelError> {
        if model.modalities.contains(&modality) {
            Ok(())
        } else {
            Err(ModelError::Modality {
                model: model.id.clone(),
                modality,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_default_is_served() {
        let c = Catalog::builtin();
        assert!(c.model(&c.default_model).is_ok());
        assert!(c.served_ids().contains(&"gemini-3.8-live"));
    }

    #[test]
    fn unknown_model_lists_known_ones() {
        let err = Catalog::builtin().model("models/gemini-9").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("model gemini-9 does not exist; known models: "),
            "{text}"
        );
        assert!(text.contains("gemini-3.8-live"));
    }

    #[test]
    fn shut_down_model_is_refused_with_its_note() {
        let err = Catalog::builtin().model("gemini-2.0-flash-live-001").unwrap_err();
        assert!(matches!(err, ModelError::ShutDown { .. }));
        assert!(err.to_string().contains("2025-12-09"));
    }

    #[test]
    fn voices_are_checked_per_model() {
        let c = Catalog::builtin();
        let m = c.model("gemini-2.5-flash-native-audio-preview-12-2025").unwrap();
        assert!(c.check_voice(m, "puck").is_ok());
        assert!(c.check_voice(m, "Zubenelgenubi").is_ok());
        assert!(c.check_voice(m, "Nobody").is_err());
    }
}
