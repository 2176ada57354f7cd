//! The one setup check shared by the client (before it connects) and the embedded server (before it sends
//! setupComplete): does this `Setup` ask for something the model's profile says the real service refuses?
//! The rules are protocol.md's, driven by the profile's data (models/models.toml): unknown or shut-down
//! model, API version, response modality, voice, thinkingConfig, proactivity, affective dialog, blocking
//! functions on async-only models and the activity-handling enum. Each refusal carries the close code the
//! service uses (1008 when the model is not found, 1007 for an invalid argument) and a reason in words.

use crate::protocol::{Modality, Setup};

use super::{Catalog, ModelError, ModelProfile, Thinking};

/// Why a setup is refused. The text is what a person reads; [`SetupRefusal::code`] is the close code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupRefusal {
    /// Not in the catalog; `known` lists every served id.
    #[error("model {id} does not exist; known models: {}", known.join(", "))]
    UnknownModel { id: String, known: Vec<String> },
    #[error("model {id} has been shut down: {note}")]
    ShutDown { id: String, note: String },
    #[error("model {model} is not served on API version {version} (it is on {})", supported.join(", "))]
    ApiVersion {
        model: String,
        version: String,
        supported: Vec<String>,
    },
    #[error("responseModalities may hold one modality per session, not {0}")]
    SeveralModalities(usize),
    #[error("model {model} does not support response modality {}{hint}", modality_name(*modality))]
    Modality {
        model: String,
        modality: Modality,
        hint: &'static str,
    },
    #[error("voice {voice} is not offered by model {model}; voices: {known}")]
    Voice {
        voice: String,
        model: String,
        known: String,
    },
    #[error("model {model} does not support thinkingConfig: leave it out")]
    ThinkingRefused { model: String },
    #[error("model {model} takes thinkingConfig.{takes}, not {given}")]
    ThinkingField {
        model: String,
        takes: &'static str,
        given: &'static str,
    },
    #[error("thinkingLevel {level} is not one model {model} takes ({})", known.join(", "))]
    ThinkingLevel {
        model: String,
        level: String,
        known: Vec<String>,
    },
    #[error("model {model} always has proactive audio on: proactivity.proactiveAudio false is not supported")]
    ProactiveAudioAlways { model: String },
    #[error("model {model} does not support proactivity")]
    NoProactivity { model: String },
    #[error("model {model} does not support enableAffectiveDialog: leave it out")]
    AffectiveDialog { model: String },
    #[error("model {model} calls functions asynchronously only: function {function} cannot be BLOCKING")]
    BlockingFunction { model: String, function: String },
    #[error("function {function}: behavior {given} is not BLOCKING or NON_BLOCKING")]
    FunctionBehavior { function: String, given: String },
    /// An enum field of realtimeInputConfig with a value the service does not know.
    #[error("realtimeInputConfig.{field} {value} is not one of {}", allowed.join(", "))]
    BadEnum {
        field: &'static str,
        value: String,
        allowed: &'static [&'static str],
    },
}

/// The enum fields of realtimeInputConfig and the values the service takes (the official SDK's enums).
const ACTIVITY_HANDLING: &[&str] = &[
    "ACTIVITY_HANDLING_UNSPECIFIED",
    "START_OF_ACTIVITY_INTERRUPTS",
    "NO_INTERRUPTION",
];
const TURN_COVERAGE: &[&str] = &[
    "TURN_COVERAGE_UNSPECIFIED",
    "TURN_INCLUDES_ONLY_ACTIVITY",
    "TURN_INCLUDES_ALL_INPUT",
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
];
const START_SENSITIVITY: &[&str] = &[
    "START_SENSITIVITY_UNSPECIFIED",
    "START_SENSITIVITY_HIGH",
    "START_SENSITIVITY_LOW",
];
const END_SENSITIVITY: &[&str] = &[
    "END_SENSITIVITY_UNSPECIFIED",
    "END_SENSITIVITY_HIGH",
    "END_SENSITIVITY_LOW",
];

fn modality_name(m: Modality) -> &'static str {
    match m {
        Modality::Text => "TEXT",
        Modality::Audio => "AUDIO",
        Modality::Image => "IMAGE",
    }
}

impl SetupRefusal {
    /// The WebSocket close code the real service uses: 1008 (policy) when the model is not found, 1007
    /// (invalid argument) for everything else.
    pub fn code(&self) -> u16 {
        match self {
            SetupRefusal::UnknownModel { .. } | SetupRefusal::ShutDown { .. } | SetupRefusal::ApiVersion { .. } => 1008,
            _ => 1007,
        }
    }
}

/// Checks `setup` against the catalog's profile for its model. `api_version` is the path segment the
/// client connected on (`v1`, `v1beta`, `v1alpha`), when known. Returns the profile on success.
pub fn check_setup<'c>(
    catalog: &'c Catalog,
    setup: &Setup,
    api_version: Option<&str>,
) -> Result<&'c ModelProfile, SetupRefusal> {
    let model = catalog.model(&setup.model).map_err(|e| match e {
        ModelError::ShutDown { id, note } => SetupRefusal::ShutDown { id, note },
        _ => SetupRefusal::UnknownModel {
            id: setup.model_id().to_string(),
            known: catalog.served_ids().into_iter().map(str::to_string).collect(),
        },
    })?;
    let id = || model.id.clone();
    if let Some(version) = api_version.filter(|v| !model.api_versions.iter().any(|a| a == v)) {
        return Err(SetupRefusal::ApiVersion {
            model: id(),
            version: version.to_string(),
            supported: model.api_versions.clone(),
        });
    }
    check_modality(model, setup)?;
    if let Some(voice) = setup.voice() {
        catalog.check_voice(model, voice).map_err(|_| SetupRefusal::Voice {
            voice: voice.to_string(),
            model: id(),
            known: catalog.voices(model).join(", "),
        })?;
    }
    check_thinking(model, setup)?;
    if let Some(on) = setup.proactivity.as_ref().and_then(|p| p.proactive_audio) {
        if !on && model.proactive_audio_always {
            return Err(SetupRefusal::ProactiveAudioAlways { model: id() });
        }
        if on && !model.proactivity {
            return Err(SetupRefusal::NoProactivity { model: id() });
        }
    }
    // `false` asks for nothing the model lacks; `true` on a model without affective dialog is refused
    if setup.affective_dialog() == Some(true) && !model.affective_dialog {
        return Err(SetupRefusal::AffectiveDialog { model: id() });
    }
    check_functions(model, setup)?;
    check_realtime_config(setup)?;
    Ok(model)
}

/// Protobuf JSON enums: an unknown value is an invalid argument (the service's parser refuses it).
fn check_realtime_config(setup: &Setup) -> Result<(), SetupRefusal> {
    let Some(r) = setup.realtime_input_config.as_ref() else {
        return Ok(());
    };
    let aad = r.automatic_activity_detection.as_ref();
    let fields = [
        ("activityHandling", r.activity_handling.as_deref(), ACTIVITY_HANDLING),
        ("turnCoverage", r.turn_coverage.as_deref(), TURN_COVERAGE),
        (
            "automaticActivityDetection.startOfSpeechSensitivity",
            aad.and_then(|a| a.start_of_speech_sensitivity.as_deref()),
            START_SENSITIVITY,
        ),
        (
            "automaticActivityDetection.endOfSpeechSensitivity",
            aad.and_then(|a| a.end_of_speech_sensitivity.as_deref()),
            END_SENSITIVITY,
        ),
    ];
    for (field, value, allowed) in fields {
        if let Some(v) = value.filter(|v| !allowed.contains(v)) {
            return Err(SetupRefusal::BadEnum {
                field,
                value: v.to_string(),
                allowed,
            });
        }
    }
    Ok(())
}

fn check_modality(model: &ModelProfile, setup: &Setup) -> Result<(), SetupRefusal> {
    let asked = setup
        .generation_config
        .as_ref()
        .map(|g| g.response_modalities.len())
        .unwrap_or(0);
    if asked > 1 {
        return Err(SetupRefusal::SeveralModalities(asked));
    }
    let modality = setup.modality();
    if model.modalities.contains(&modality) {
        return Ok(());
    }
    let hint = if modality == Modality::Text && model.modalities == [Modality::Audio] {
        " (it answers in AUDIO only: enable outputAudioTranscription for the words as text)"
    } else if modality == Modality::Audio && model.modalities == [Modality::Text] {
        " (it answers in TEXT only)"
    } else {
        ""
    };
    Err(SetupRefusal::Modality {
        model: model.id.clone(),
        modality,
        hint,
    })
}

fn check_thinking(model: &ModelProfile, setup: &Setup) -> Result<(), SetupRefusal> {
    let Some(thinking) = setup
        .generation_config
        .as_ref()
        .and_then(|g| g.thinking_config.as_ref())
    else {
        return Ok(());
    };
    let field = |takes, given| SetupRefusal::ThinkingField {
        model: model.id.clone(),
        takes,
        given,
    };
    match model.thinking {
        Thinking::None => Err(SetupRefusal::ThinkingRefused {
            model: model.id.clone(),
        }),
        Thinking::Budget if thinking.thinking_level.is_some() => Err(field("thinkingBudget", "thinkingLevel")),
        Thinking::Budget => Ok(()),
        Thinking::Level if thinking.thinking_budget.is_some() => Err(field("thinkingLevel", "thinkingBudget")),
        Thinking::Level => match thinking.thinking_level.as_deref() {
            Some(level) if !model.thinking_levels.iter().any(|l| l.eq_ignore_ascii_case(level)) => {
                Err(SetupRefusal::ThinkingLevel {
                    model: model.id.clone(),
                    level: level.to_string(),
                    known: model.thinking_levels.clone(),
                })
            }
            _ => Ok(()),
        },
    }
}

fn check_functions(model: &ModelProfile, setup: &Setup) -> Result<(), SetupRefusal> {
    for f in setup.tools.iter().flat_map(|t| &t.function_declarations) {
        match f.behavior.as_deref() {
            None | Some("NON_BLOCKING" | "UNSPECIFIED") => {}
            Some("BLOCKING") if !model.blocking_calls => {
                return Err(SetupRefusal::BlockingFunction {
                    model: model.id.clone(),
                    function: f.name.clone(),
                })
            }
            Some("BLOCKING") => {}
            Some(other) => {
                return Err(SetupRefusal::FunctionBehavior {
                    function: f.name.clone(),
                    given: other.to_string(),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
