//! Golden JSON: each message of protocol.md parses, and writes back to exactly the canonical JSON.

use serde_json::{json, Value};

use super::*;

fn round_trip_client(golden: Value) -> ClientMessage {
    let msg = ClientMessage::from_slice(golden.to_string().as_bytes()).expect("parses");
    let written: Value = serde_json::from_str(&msg.to_json()).unwrap();
    assert_eq!(written, golden, "client message did not round-trip");
    msg
}

fn round_trip_server(golden: Value) -> ServerMessage {
    let msg = ServerMessage::from_slice(golden.to_string().as_bytes()).expect("parses");
    let written: Value = serde_json::from_str(&msg.to_json()).unwrap();
    assert_eq!(written, golden, "server message did not round-trip");
    msg
}

fn full_setup() -> Value {
    json!({"setup": {
        "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
        "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.5, "maxOutputTokens": 1024,
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}, "languageCode": "en-US"},
            "thinkingConfig": {"thinkingBudget": 0}, "mediaResolution": "MEDIA_RESOLUTION_LOW"},
        "systemInstruction": {"parts": [{"text": "You are a helpful assistant."}]},
        "tools": [{"functionDeclarations": [{"name": "get_time", "description": "Current time",
                    "parameters": {"type": "OBJECT", "properties": {"time_zone": {"type": "STRING"}}},
                    "behavior": "NON_BLOCKING"}]}, {"googleSearch": {}}],
        "realtimeInputConfig": {"automaticActivityDetection": {"disabled": false,
              "startOfSpeechSensitivity": "START_SENSITIVITY_HIGH", "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
              "prefixPaddingMs": 20, "silenceDurationMs": 300},
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS", "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY"},
        "inputAudioTranscription": {}, "outputAudioTranscription": {},
        "sessionResumption": {"handle": "h-1"},
        "contextWindowCompression": {"triggerTokens": "25600", "slidingWindow": {"targetTokens": "12800"}},
        "proactivity": {"proactiveAudio": true}, "enableAffectiveDialog": true}})
}

#[test]
fn setup_round_trips_with_every_field() {
    let msg = round_trip_client(full_setup());
    let ClientMessage::Setup(setup) = msg else {
        panic!("not setup")
    };
    assert_eq!(setup.model_id(), "gemini-2.5-flash-native-audio-preview-12-2025");
    assert_eq!(setup.voice(), Some("Puck"));
    assert_eq!(setup.modality(), Modality::Audio);
    assert!(!setup.manual_activity());
    // Schema keys are user data and keep their spelling.
    let params = setup.tools[0].function_declarations[0].parameters.as_ref().unwrap();
    assert!(params["properties"].get("time_zone").is_some());
}

#[test]
fn setup_accepts_python_sdk_snake_case() {
    let snake = json!({"setup": {"model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
        "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.5, "maxOutputTokens": 1024,
            "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Puck"}}, "language_code": "en-US"},
            "thinkingConfig": {"thinking_budget": 0}, "mediaResolution": "MEDIA_RESOLUTION_LOW"},
        "system_instruction": {"parts": [{"text": "You are a helpful assistant."}]},
        "tools": [{"function_declarations": [{"name": "get_time", "description": "Current time",
                    "parameters": {"type": "OBJECT", "properties": {"time_zone": {"type": "STRING"}}},
                    "behavior": "NON_BLOCKING"}]}, {"google_search": {}}],
        "realtimeInputConfig": {"automatic_activity_detection": {"disabled": false,
              "start_of_speech_sensitivity": "START_SENSITIVITY_HIGH", "end_of_speech_sensitivity": "END_SENSITIVITY_LOW",
              "prefix_padding_ms": 20, "silence_duration_ms": 300},
            "activity_handling": "START_OF_ACTIVITY_INTERRUPTS", "turn_coverage": "TURN_INCLUDES_ONLY_ACTIVITY"},
        "input_audio_transcription": {}, "output_audio_transcription": {},
        "session_resumption": {"handle": "h-1"},
        "contextWindowCompression": {"trigger_tokens": 25600, "sliding_window": {"target_tokens": 12800}},
        "proactivity": {"proactive_audio": true}, "enable_affective_dialog": true}});
    let from_snake = ClientMessage::from_slice(snake.to_string().as_bytes()).unwrap();
    let from_camel = ClientMessage::from_slice(full_setup().to_string().as_bytes()).unwrap();
    assert_eq!(from_snake, from_camel);
}

#[test]
fn realtime_input_forms_round_trip() {
    for golden in [
        json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAABAP//"}}}),
        json!({"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": "/9j/"}}}),
        json!({"realtimeInput": {"text": "typed"}}),
        json!({"realtimeInput": {"audioStreamEnd": true}}),
        json!({"realtimeInput": {"activityStart": {}}}),
        json!({"realtimeInput": {"activityEnd": {}}}),
        json!({"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm;rate=16000", "data": "AAA="}]}}),
    ] {
        round_trip_client(golden);
    }
}

#[test]
fn python_sdk_realtime_audio_with_url_safe_base64_parses() {
    let frame = json!({"realtime_input": {"audio": {"mime_type": "audio/pcm;rate=16000", "data": "_-8AAA=="}}});
    let msg = ClientMessage::from_slice(frame.to_string().as_bytes()).unwrap();
    let ClientMessage::RealtimeInput(input) = msg else {
        panic!()
    };
    let blob = input.audio.unwrap();
    assert_eq!(blob.data, vec![0xff, 0xef, 0, 0]);
    assert_eq!(blob.mime_type, "audio/pcm;rate=16000");
}

#[test]
fn client_content_tool_response_and_context_update_round_trip() {
    round_trip_client(
        json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "Hello"}]}], "turnComplete": true}}),
    );
    round_trip_client(
        json!({"toolResponse": {"functionResponses": [{"id": "c1", "name": "get_time",
        "response": {"result": "12:00"}, "scheduling": "WHEN_IDLE", "willContinue": false}]}}),
    );
    round_trip_client(
        json!({"contextUpdate": {"systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]}}}),
    );
}

#[test]
fn server_messages_round_trip() {
    round_trip_server(json!({"setupComplete": {}}));
    round_trip_server(json!({"serverContent": {"modelTurn": {"parts": [
        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAABAA=="}}, {"text": "hi"}]}}}));
    round_trip_server(json!({"serverContent": {"generationComplete": true}}));
    round_trip_server(
        json!({"serverContent": {"turnComplete": true, "turnCompleteReason": "NEED_MORE_INPUT",
        "waitingForInput": true},
        "usageMetadata": {"promptTokenCount": 10, "responseTokenCount": 20, "totalTokenCount": 30,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 10}],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 20}]}}),
    );
    round_trip_server(json!({"serverContent": {"interrupted": true}}));
    round_trip_server(json!({"serverContent": {"inputTranscription": {"text": "hello"}}}));
    round_trip_server(json!({"serverContent": {"outputTranscription": {"text": "hi there", "finished": true}}}));
    round_trip_server(json!({"toolCall": {"functionCalls": [{"id": "c1", "name": "get_time", "args": {}}]}}));
    round_trip_server(json!({"toolCallCancellation": {"ids": ["c1", "c2"]}}));
    round_trip_server(json!({"goAway": {"timeLeft": "10s"}}));
    round_trip_server(
        json!({"sessionResumptionUpdate": {"newHandle": "h-2", "resumable": true,
        "lastConsumedClientMessageIndex": "7"}}),
    );
}

#[test]
fn function_call_always_writes_args() {
    let msg = ServerMessage::from_slice(br#"{"toolCall":{"functionCalls":[{"id":"a","name":"f"}]}}"#).unwrap();
    let written: Value = serde_json::from_str(&msg.to_json()).unwrap();
    assert_eq!(written["toolCall"]["functionCalls"][0]["args"], json!({}));
}

#[test]
fn server_message_accepts_snake_case_and_numbers_for_int64() {
    let msg = ServerMessage::from_slice(
        br#"{"session_resumption_update":{"new_handle":"h","resumable":true,"last_consumed_client_message_index":3},
             "usage_metadata":{"total_token_count":5}}"#,
    )
    .unwrap();
    let upd = msg.session_resumption_update.unwrap();
    assert_eq!(upd.last_consumed_client_message_index, Some(3));
    assert_eq!(msg.usage_metadata.unwrap().total_token_count, Some(5));
}

#[test]
fn unknown_fields_are_ignored() {
    let msg = ServerMessage::from_slice(
        br#"{"serverContent":{"turnComplete":true,"brandNewField":{"x":1}},"anotherNewThing":[1,2]}"#,
    )
    .unwrap();
    assert_eq!(msg.server_content.unwrap().turn_complete, Some(true));
}

#[test]
fn malformed_frames_are_typed_errors() {
    assert!(matches!(
        ServerMessage::from_slice(b"not json"),
        Err(ProtocolError::Json(_))
    ));
    assert_eq!(ServerMessage::from_slice(b"[1,2]"), Err(ProtocolError::NotAnObject));
    assert!(matches!(
        ServerMessage::from_slice(
            br#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"a","data":"!!"}}]}}}"#
        ),
        Err(ProtocolError::Json(_))
    ));
    assert_eq!(
        ClientMessage::from_slice(br#"{"bogus":{}}"#),
        Err(ProtocolError::UnknownMessage("bogus".into()))
    );
    assert!(ClientMessage::from_slice(b"").is_err());
    assert!(ClientMessage::from_slice(br#"{"setup":{"model":5}}"#).is_err());
}

/// The late-2026 fields as the official SDK's converters read them: `voiceActivity.type` (which the SDK
/// calls `voice_activity_type`), `setupComplete.sessionId`, `interactionStatus`, `finished`.
#[test]
fn late_2026_server_fields_are_written_as_the_sdk_reads_them() {
    use super::{InteractionStatus, SetupComplete, Transcription, VoiceActivity};
    let vad = ServerMessage {
        voice_activity: Some(VoiceActivity {
            voice_activity_type: "ACTIVITY_START".into(),
            audio_offset: Some("1.500s".into()),
        }),
        ..ServerMessage::default()
    };
    assert_eq!(
        serde_json::to_value(&vad).unwrap(),
        json!({"voiceActivity": {"type": "ACTIVITY_START", "audioOffset": "1.500s"}})
    );
    for spelling in ["type", "voiceActivityType", "voice_activity_type"] {
        let text = format!(r#"{{"voiceActivity":{{"{spelling}":"ACTIVITY_END"}}}}"#);
        let parsed = ServerMessage::from_slice(text.as_bytes()).unwrap();
        assert_eq!(parsed.voice_activity.unwrap().voice_activity_type, "ACTIVITY_END");
    }
    let setup = ServerMessage {
        setup_complete: Some(SetupComplete {
            session_id: Some("s-1".into()),
        }),
        ..ServerMessage::default()
    };
    assert_eq!(
        serde_json::to_value(&setup).unwrap(),
        json!({"setupComplete": {"sessionId": "s-1"}})
    );
    let done = ServerMessage::content(ServerContent {
        turn_complete: Some(true),
        interaction_status: Some(InteractionStatus::InProgress),
        input_transcription: Some(Transcription {
            text: Some("hi".into()),
            finished: Some(true),
            ..Transcription::default()
        }),
        ..ServerContent::default()
    });
    assert_eq!(
        serde_json::to_value(&done).unwrap(),
        json!({"serverContent": {"turnComplete": true, "interactionStatus": "IN_PROGRESS",
            "inputTranscription": {"text": "hi", "finished": true}}})
    );
}

/// The late-2026 setup fields round-trip in camelCase and parse from the SDK's snake_case.
#[test]
fn late_2026_setup_fields_round_trip() {
    let golden = json!({"setup": {"model": "models/gemini-3.8-live-extended-thinking",
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}},
        "realtimeInputConfig": {"activityHandling": "NO_INTERRUPTION", "explicitVadSignal": true},
        "inputAudioTranscription": {"languageCodes": ["en-US", "de-DE"]}, "outputAudioTranscription": {},
        "explicitVadSignal": true, "historyConfig": {"initialHistoryInClientContent": true}}});
    let ClientMessage::Setup(setup) = round_trip_client(golden) else {
        panic!("not a setup")
    };
    assert!(setup.explicit_vad_signal());
    let snake = json!({"setup": {"model": "models/gemini-3.8-live-extended-thinking",
        "generationConfig": {"thinking_config": {"thinking_level": "HIGH"}},
        "realtimeInputConfig": {"activity_handling": "NO_INTERRUPTION", "explicit_vad_signal": true},
        "input_audio_transcription": {"language_codes": ["en-US", "de-DE"]}, "output_audio_transcription": {},
        "explicit_vad_signal": true, "history_config": {"initial_history_in_client_content": true}}});
    assert_eq!(
        ClientMessage::from_slice(snake.to_string().as_bytes()).unwrap(),
        ClientMessage::Setup(setup)
    );
}

#[test]
fn setup_carries_sampling_thinking_level_media_resolution_and_safety() {
    let golden = json!({"setup": {
        "model": "models/gemini-3.8-live-extended-thinking",
        "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.2, "topP": 0.8, "topK": 40.0,
            "maxOutputTokens": 200, "thinkingConfig": {"thinkingLevel": "LOW"},
            "mediaResolution": "MEDIA_RESOLUTION_LOW"},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]}});
    let ClientMessage::Setup(setup) = round_trip_client(golden) else {
        panic!("not setup")
    };
    assert_eq!(setup.safety_settings[0].threshold, "BLOCK_ONLY_HIGH");
    // the Python SDK's spelling
    let snake = json!({"setup": {"model": "models/x", "safety_settings": [{"category": "C", "threshold": "T"}],
        "generationConfig": {"thinking_config": {"thinking_level": "HIGH"}}}});
    let ClientMessage::Setup(setup) = ClientMessage::from_slice(snake.to_string().as_bytes()).unwrap() else {
        panic!("not setup")
    };
    assert_eq!(setup.safety_settings.len(), 1);
    let level = setup.generation_config.unwrap().thinking_config.unwrap().thinking_level;
    assert_eq!(level.as_deref(), Some("HIGH"));
}
