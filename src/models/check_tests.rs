//! One test per refusal rule of [`check_setup`], on the built-in catalog and (for the API version, which
//! every served model shares) a small catalog of its own.

use serde_json::json;

use super::*;
use crate::protocol::ClientMessage;

/// A setup from its wire JSON (what a client would send), so the test reads like the protocol.
fn setup(v: serde_json::Value) -> Setup {
    match ClientMessage::from_slice(json!({ "setup": v }).to_string().as_bytes()) {
        Ok(ClientMessage::Setup(s)) => *s,
        other => panic!("not a setup: {other:?}"),
    }
}

fn refusal(v: serde_json::Value) -> SetupRefusal {
    check_setup(Catalog::builtin(), &setup(v), None).expect_err("should be refused")
}

const LIVE: &str = "models/gemini-3.8-live";
const THINKING: &str = "models/gemini-3.8-live-extended-thinking";
const OLD: &str = "models/gemini-2.5-flash-native-audio-preview-12-2025";

#[test]
fn the_sdks_3_8_setup_is_accepted() {
    let s = setup(
        json!({"model": LIVE, "generationConfig": {"responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}},
        "proactivity": {"proactiveAudio": true}, "outputAudioTranscription": {}, "inputAudioTranscription": {},
        "explicitVadSignal": true, "realtimeInputConfig": {"activityHandling": "NO_INTERRUPTION"}}),
    );
    let profile = check_setup(Catalog::builtin(), &s, Some("v1")).unwrap();
    assert_eq!(profile.id, "gemini-3.8-live");
}

#[test]
fn unknown_model_is_not_found_and_lists_every_served_id() {
    let r = refusal(json!({"model": "models/gemini-9"}));
    assert_eq!(r.code(), 1008);
    let text = r.to_string();
    for id in Catalog::builtin().served_ids() {
        assert!(text.contains(id), "{id} missing from {text}");
    }
}

#[test]
fn shut_down_model_is_not_found_with_its_note() {
    let r = refusal(json!({"model": "models/gemini-2.0-flash-live-001"}));
    assert_eq!(r.code(), 1008);
    assert!(r.to_string().contains("shut down"), "{r}");
}

#[test]
fn api_version_not_in_the_profile_is_refused() {
    let toml = r#"default_model = "m"
        [voices]
        classic = ["Puck"]
        [[model]]
        id = "m"
        status = "preview"
        api_versions = ["v1alpha"]
        input_rate = 16000
        output_rate = 24000
        modalities = ["AUDIO"]
        voices = "classic"
        context_tokens = 1
        session_audio_minutes = 1
        session_audio_video_minutes = 1
        connection_minutes = 1"#;
    let catalog = Catalog::parse(toml).unwrap();
    let s = setup(json!({"model": "models/m"}));
    let r = check_setup(&catalog, &s, Some("v1beta")).unwrap_err();
    assert_eq!(r.code(), 1008);
    assert!(r.to_string().contains("v1beta"), "{r}");
    assert!(check_setup(&catalog, &s, Some("v1alpha")).is_ok());
}

#[test]
fn text_on_an_audio_only_model_says_to_use_output_transcription() {
    let r = refusal(json!({"model": LIVE, "generationConfig": {"responseModalities": ["TEXT"]}}));
    assert_eq!(r.code(), 1007);
    assert!(r.to_string().contains("outputAudioTranscription"), "{r}");
    let r = refusal(json!({"model": "models/gemini-3.5-transcribe-live"}));
    assert!(
        r.to_string().contains("TEXT only"),
        "audio by default on a TEXT-only model: {r}"
    );
}

#[test]
fn two_modalities_are_refused() {
    let r = refusal(json!({"model": OLD, "generationConfig": {"responseModalities": ["AUDIO", "TEXT"]}}));
    assert_eq!(r, SetupRefusal::SeveralModalities(2));
}

#[test]
fn unknown_voice_is_refused() {
    let r = refusal(
        json!({"model": LIVE, "generationConfig": {"speechConfig": {"voiceConfig":
        {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}}}}),
    );
    assert!(matches!(r, SetupRefusal::Voice { .. }), "{r}");
    assert_eq!(r.code(), 1007);
}

#[test]
fn thinking_config_follows_the_profile() {
    let thinking = |model: &str, config: serde_json::Value| {
        let s = setup(json!({"model": model, "generationConfig": {"thinkingConfig": config}}));
        check_setup(Catalog::builtin(), &s, None).map(|_| ())
    };
    // 3.8: none at all, not even an empty one
    assert!(matches!(
        thinking(LIVE, json!({"thinkingLevel": "LOW"})),
        Err(SetupRefusal::ThinkingRefused { .. })
    ));
    assert!(matches!(
        thinking(LIVE, json!({})),
        Err(SetupRefusal::ThinkingRefused { .. })
    ));
    // extended thinking: a level, never a budget, and only a known level
    assert_eq!(thinking(THINKING, json!({"thinkingLevel": "medium"})), Ok(()));
    assert!(matches!(
        thinking(THINKING, json!({"thinkingBudget": 100})),
        Err(SetupRefusal::ThinkingField {
            given: "thinkingBudget",
            ..
        })
    ));
    assert!(matches!(
        thinking(THINKING, json!({"thinking_level": "XHIGH"})),
        Err(SetupRefusal::ThinkingLevel { .. })
    ));
    // 2.5: a budget, never a level
    assert_eq!(thinking(OLD, json!({"thinkingBudget": 0})), Ok(()));
    assert!(matches!(
        thinking(OLD, json!({"thinkingLevel": "LOW"})),
        Err(SetupRefusal::ThinkingField {
            given: "thinkingLevel",
            ..
        })
    ));
}

#[test]
fn proactive_audio_cannot_be_turned_off_on_3_8_nor_on_where_absent() {
    let r = refusal(json!({"model": LIVE, "proactivity": {"proactive_audio": false}}));
    assert!(matches!(r, SetupRefusal::ProactiveAudioAlways { .. }), "{r}");
    assert_eq!(r.code(), 1007);
    let r = refusal(json!({"model": "models/gemini-3.1-flash-live-preview", "proactivity": {"proactiveAudio": true}}));
    assert!(matches!(r, SetupRefusal::NoProactivity { .. }), "{r}");
    let ok = setup(json!({"model": OLD, "proactivity": {"proactiveAudio": false}}));
    assert!(check_setup(Catalog::builtin(), &ok, None).is_ok());
}

#[test]
fn affective_dialog_is_refused_where_removed_in_either_place() {
    let r = refusal(json!({"model": LIVE, "enableAffectiveDialog": true}));
    assert!(matches!(r, SetupRefusal::AffectiveDialog { .. }), "{r}");
    let r = refusal(json!({"model": LIVE, "generationConfig": {"enable_affective_dialog": true}}));
    assert!(matches!(r, SetupRefusal::AffectiveDialog { .. }), "{r}");
    let ok = setup(json!({"model": OLD, "enableAffectiveDialog": true}));
    assert!(check_setup(Catalog::builtin(), &ok, None).is_ok());
}

#[test]
fn blocking_functions_are_refused_on_the_async_only_model() {
    let tools = json!([{"functionDeclarations": [{"name": "get_time", "behavior": "BLOCKING"}]}]);
    let r = refusal(json!({"model": THINKING, "tools": tools}));
    assert!(matches!(r, SetupRefusal::BlockingFunction { .. }), "{r}");
    let ok = setup(json!({"model": LIVE, "tools": tools}));
    assert!(
        check_setup(Catalog::builtin(), &ok, None).is_ok(),
        "3.8 takes BLOCKING when asked"
    );
    let r =
        refusal(json!({"model": LIVE, "tools": [{"functionDeclarations": [{"name": "f", "behavior": "SOMETIMES"}]}]}));
    assert!(matches!(r, SetupRefusal::FunctionBehavior { .. }), "{r}");
}

#[test]
fn unknown_realtime_input_enums_are_invalid_arguments() {
    for (config, field) in [
        (json!({"activityHandling": "NEVER"}), "activityHandling"),
        (json!({"turn_coverage": "TURN_INCLUDES_EVERYTHING"}), "turnCoverage"),
        (
            json!({"automaticActivityDetection": {"startOfSpeechSensitivity": "HIGH"}}),
            "automaticActivityDetection.startOfSpeechSensitivity",
        ),
        (
            json!({"automatic_activity_detection": {"end_of_speech_sensitivity": "END_SENSITIVITY_MEDIUM"}}),
            "automaticActivityDetection.endOfSpeechSensitivity",
        ),
    ] {
        let r = refusal(json!({"model": LIVE, "realtimeInputConfig": config}));
        assert!(
            matches!(&r, SetupRefusal::BadEnum { field: f, .. } if *f == field),
            "{r}"
        );
        assert_eq!(r.code(), 1007);
    }
    let ok = setup(
        json!({"model": LIVE, "realtimeInputConfig": {"activityHandling": "NO_INTERRUPTION",
        "turnCoverage": "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
        "automaticActivityDetection": {"startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
            "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH"}}}),
    );
    assert!(check_setup(Catalog::builtin(), &ok, None).is_ok());
}
