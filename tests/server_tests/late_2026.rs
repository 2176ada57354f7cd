//! The newest models' semantics on the embedded server (protocol.md, "Late-2026 semantics"): setups the
//! catalog says a model refuses are closed with the service's code and a reason that fits a close frame;
//! sessionId; interim then final input transcription; voiceActivity only with explicitVadSignal;
//! interactionStatus and several utterances in one interaction; NO_INTERRUPTION.

use super::*;

const LIVE: &str = "models/gemini-3.8-live";

/// Connects, sends `setup` as given (no model added), returns the close (code, reason) or panics.
async fn refused(server: &ServerHandle, setup: Value) -> (u16, String) {
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, json!({ "setup": setup })).await;
    match recv(&mut c).await {
        Got::Closed(code, reason) => (code, reason),
        Got::Msg(m) => panic!("setup {setup} was accepted: {m:?}"),
    }
}

/// A 3.8 session (setup `extra` merged in), past setupComplete.
async fn live_session(server: &ServerHandle, extra: Value) -> (Client, ServerMessage) {
    let mut setup = json!({"model": LIVE});
    if let (Some(s), Some(e)) = (setup.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, json!({ "setup": setup })).await;
    let first = recv_msg(&mut c).await;
    assert!(first.setup_complete.is_some(), "{first:?}");
    (c, first)
}

/// Every message up to and including the next turnComplete.
async fn until_turn_complete(c: &mut Client) -> Vec<ServerMessage> {
    let mut got = Vec::new();
    loop {
        let m = recv_msg(c).await;
        let done = m.server_content.as_ref().and_then(|s| s.turn_complete) == Some(true);
        got.push(m);
        if done {
            return got;
        }
    }
}

#[tokio::test]
async fn every_refusal_rule_closes_with_the_services_code_and_reason() {
    let server = start(fast()).await;
    let tools_blocking = json!([{"functionDeclarations": [{"name": "get_time", "behavior": "BLOCKING"}]}]);
    let cases = [
        (
            json!({"model": "models/gemini-9-live"}),
            1008,
            "model gemini-9-live does not exist; known models: gemini-3.8-live",
        ),
        (
            json!({"model": "models/gemini-2.0-flash-live-001"}),
            1008,
            "has been shut down",
        ),
        (
            json!({"model": LIVE, "generationConfig": {"responseModalities": ["TEXT"]}}),
            1007,
            "does not support response modality TEXT",
        ),
        (
            json!({"model": "models/gemini-3.5-transcribe-live"}),
            1007,
            "does not support response modality AUDIO",
        ),
        (
            json!({"model": LIVE, "generationConfig": {"responseModalities": ["AUDIO", "TEXT"]}}),
            1007,
            "one modality per session",
        ),
        (
            json!({"model": LIVE, "generationConfig": {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}}}}),
            1007,
            "voice Nobody",
        ),
        (
            json!({"model": LIVE, "generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}),
            1007,
            "does not support thinkingConfig",
        ),
        (
            json!({"model": "models/gemini-3.8-live-extended-thinking", "generationConfig": {"thinkingConfig": {"thinkingBudget": 10}}}),
            1007,
            "takes thinkingConfig.thinkingLevel, not thinkingBudget",
        ),
        (
            json!({"model": "models/gemini-3.8-live-extended-thinking", "generationConfig": {"thinking_config": {"thinking_level": "XHIGH"}}}),
            1007,
            "thinkingLevel XHIGH",
        ),
        (
            json!({"model": "models/gemini-2.5-flash-native-audio-preview-12-2025", "generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}),
            1007,
            "takes thinkingConfig.thinkingBudget, not thinkingLevel",
        ),
        (
            json!({"model": LIVE, "proactivity": {"proactive_audio": false}}),
            1007,
            "always has proactive audio on",
        ),
        (
            json!({"model": "models/gemini-3.1-flash-live-preview", "proactivity": {"proactiveAudio": true}}),
            1007,
            "does not support proactivity",
        ),
        (
            json!({"model": LIVE, "enableAffectiveDialog": true}),
            1007,
            "does not support enableAffectiveDialog",
        ),
        (
            json!({"model": LIVE, "generationConfig": {"enableAffectiveDialog": true}}),
            1007,
            "does not support enableAffectiveDialog",
        ),
        (
            json!({"model": "models/gemini-3.8-live-extended-thinking", "tools": tools_blocking}),
            1007,
            "cannot be BLOCKING",
        ),
        (
            json!({"model": LIVE, "tools": [{"functionDeclarations": [{"name": "f", "behavior": "LATER"}]}]}),
            1007,
            "behavior LATER",
        ),
        (
            json!({"model": LIVE, "realtimeInputConfig": {"activityHandling": "NEVER"}}),
            1007,
            "activityHandling NEVER",
        ),
        (
            json!({"model": LIVE, "realtimeInputConfig": {"turnCoverage": "ALL"}}),
            1007,
            "turnCoverage ALL",
        ),
        (
            json!({"model": LIVE, "realtimeInputConfig": {"automaticActivityDetection": {"startOfSpeechSensitivity": "HIGH"}}}),
            1007,
            "startOfSpeechSensitivity HIGH",
        ),
    ];
    for (setup, code, reason) in cases {
        let (got_code, got) = refused(&server, setup.clone()).await;
        assert_eq!(got_code, code, "{setup}: {got}");
        assert!(got.contains(reason), "{setup}: {got:?} should say {reason:?}");
        assert!(got.len() <= 123, "{setup}: {} bytes", got.len());
    }
    // what those models do take is accepted
    for ok in [
        json!({"model": LIVE, "proactivity": {"proactiveAudio": true}, "outputAudioTranscription": {}}),
        json!({"model": "models/gemini-3.8-live-extended-thinking", "generationConfig": {"thinkingConfig": {"thinkingLevel": "high"}}}),
        json!({"model": "models/gemini-3.5-transcribe-live", "generationConfig": {"responseModalities": ["TEXT"]}}),
        json!({"model": LIVE, "tools": tools_blocking}),
    ] {
        let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
        send(&mut c, json!({ "setup": ok })).await;
        assert!(recv_msg(&mut c).await.setup_complete.is_some(), "{ok}");
    }
}

/// Close reasons hold at most 123 bytes: a long one is cut at a character boundary (tungstenite would
/// refuse a reason that is not UTF-8) and ends with "…"; an unknown model lists the whole ids that fit.
#[tokio::test]
async fn close_reasons_are_cut_at_123_bytes_on_a_char_boundary() {
    let server = start(fast()).await;
    for id in [
        "x",
        "语音模型",
        "ünïcödé-mödel-ñame-that-is-rather-long-ü",
        &"é".repeat(70),
    ] {
        let (code, reason) = refused(&server, json!({"model": format!("models/{id}")})).await;
        assert_eq!(code, 1008);
        assert!(reason.len() <= 123, "{} bytes: {reason}", reason.len());
        if reason.starts_with("model ") {
            let list = reason.split("known models: ").nth(1).expect(&reason);
            let served = voxlive::models::Catalog::builtin().served_ids();
            for shown in list.split(", ").filter(|s| *s != "…") {
                assert!(served.contains(&shown), "{shown:?} is a whole id: {reason}");
            }
        } else {
            assert!(reason.starts_with("unknown model "), "{reason}");
        }
    }
    // a voice name of 3-byte characters: the generic cut, with the ellipsis
    let voice = "語".repeat(60);
    let setup = json!({"model": LIVE, "generationConfig": {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}}}});
    let (code, reason) = refused(&server, setup).await;
    assert_eq!(code, 1007);
    assert!(reason.len() <= 123 && reason.ends_with('…'), "{reason}");
    assert!(reason.starts_with("voice 語語"), "{reason}");
}

#[tokio::test]
async fn session_id_is_fresh_per_session_and_kept_across_a_resume() {
    let server = start(fast()).await;
    let (mut a, first) = live_session(&server, json!({"sessionResumption": {}})).await;
    let id = first.setup_complete.and_then(|s| s.session_id).expect("sessionId");
    assert!(!id.is_empty());
    let handle = recv_msg(&mut a)
        .await
        .session_resumption_update
        .and_then(|u| u.new_handle)
        .expect("a handle");
    let (_b, other) = live_session(&server, json!({})).await;
    assert_ne!(other.setup_complete.and_then(|s| s.session_id), Some(id.clone()));
    drop(a);
    let (_c, resumed) = live_session(&server, json!({"sessionResumption": {"handle": handle}})).await;
    assert_eq!(resumed.setup_complete.and_then(|s| s.session_id), Some(id));
}

/// On 3.8 the user's words come as interim hypotheses, each growing, then the final transcription with
/// `finished: true`, and the turnComplete says IDLE. An older model sends one plain transcription and no
/// interaction status.
#[tokio::test]
async fn interim_then_final_input_transcription_and_idle_on_3_8() {
    let server = start(fast()).await;
    let (mut c, _) = live_session(
        &server,
        json!({"inputAudioTranscription": {"languageCodes": ["en-US", "de-DE"]}}),
    )
    .await;
    send(&mut c, audio(&voiced(16_000))).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    let got = until_turn_complete(&mut c).await;
    let mut interim = Vec::new();
    let mut last = None;
    for m in &got {
        let Some(sc) = &m.server_content else { continue };
        for t in [&sc.interim_input_transcription, &sc.input_transcription]
            .into_iter()
            .flatten()
        {
            assert_eq!(
                t.language_code.as_deref(),
                Some("en-US"),
                "the first languageCode: {t:?}"
            );
        }
        if let Some(t) = &sc.interim_input_transcription {
            assert!(last.is_none(), "an interim piece after the final one: {got:?}");
            interim.push(t.text.clone().unwrap_or_default());
        }
        if let Some(t) = &sc.input_transcription {
            assert_eq!(t.finished, Some(true), "{t:?}");
            last = t.text.clone();
        }
    }
    let last = last.expect("a final transcription");
    assert!(!interim.is_empty(), "interim pieces before the final: {got:?}");
    for (i, piece) in interim.iter().enumerate() {
        assert!(
            last.starts_with(piece.as_str()) && piece.len() < last.len(),
            "{piece:?} / {last:?}"
        );
        if i > 0 {
            assert!(piece.len() > interim[i - 1].len(), "each piece grows: {interim:?}");
        }
    }
    let end = got.last().and_then(|m| m.server_content.clone()).unwrap();
    assert_eq!(end.interaction_status, Some(voxlive::protocol::InteractionStatus::Idle));

    let mut old = session(&server, json!({"inputAudioTranscription": {}})).await;
    send(&mut old, audio(&voiced(16_000))).await;
    send(&mut old, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    let got = until_turn_complete(&mut old).await;
    assert!(got.iter().all(|m| m
        .server_content
        .as_ref()
        .is_none_or(|s| s.interim_input_transcription.is_none() && s.interaction_status.is_none())));
    let finals: Vec<_> = got
        .iter()
        .filter_map(|m| m.server_content.as_ref()?.input_transcription.clone())
        .collect();
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0].finished, None);
}

/// voiceActivity messages come from the server's VAD only when setup asked (explicitVadSignal, at the
/// top of setup as the Python SDK sends it, or in realtimeInputConfig): a start at the voiced audio's
/// offset, then an end, before the reply.
#[tokio::test]
async fn voice_activity_only_with_explicit_vad_signal() {
    let server = start(fast()).await;
    let mut speech = vec![0i16; 16_000];
    speech.extend(voiced(16_000));
    speech.extend(vec![0i16; 16_000]);
    for (extra, expected) in [
        (json!({"explicitVadSignal": true}), true),
        (json!({"realtimeInputConfig": {"explicit_vad_signal": true}}), true),
        (json!({}), false),
    ] {
        let (mut c, _) = live_session(&server, extra.clone()).await;
        for chunk in speech.chunks(1600) {
            send(&mut c, audio(chunk)).await;
        }
        let got = until_turn_complete(&mut c).await;
        let activity: Vec<_> = got.iter().filter_map(|m| m.voice_activity.clone()).collect();
        if !expected {
            assert!(activity.is_empty(), "{extra}: {activity:?}");
            continue;
        }
        let kinds: Vec<&str> = activity.iter().map(|a| a.voice_activity_type.as_str()).collect();
        assert_eq!(kinds, ["ACTIVITY_START", "ACTIVITY_END"], "{extra}");
        let offset = |i: usize| {
            let text = activity[i].audio_offset.clone().expect("audioOffset");
            voxlive::protocol::codec::parse_duration(&text).expect("a duration string")
        };
        assert!(
            (Duration::from_millis(950)..=Duration::from_millis(1100)).contains(&offset(0)),
            "{:?}",
            offset(0)
        );
        assert!(
            (Duration::from_millis(1900)..=Duration::from_millis(2500)).contains(&offset(1)),
            "{:?}",
            offset(1)
        );
        let first_reply = got.iter().position(|m| m.server_content.is_some()).unwrap();
        let end = got
            .iter()
            .position(|m| {
                m.voice_activity
                    .as_ref()
                    .is_some_and(|a| a.voice_activity_type == "ACTIVITY_END")
            })
            .unwrap();
        assert!(end < first_reply, "the end of speech comes before the reply: {got:?}");
    }
}

fn write_script(text: &str) -> (tempfile::TempDir, ScriptedResponder) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.toml");
    std::fs::write(&path, text).unwrap();
    let script = ScriptedResponder::from_path(&path).unwrap();
    (dir, script)
}

pub const MULTI_UTTERANCE_SCRIPT: &str = r#"
[[turn]]
utterances = [
  [{ text = "Let me check." }],
  [{ text = "It is noon in Tokyo." }],
]

[[turn]]
parts = [{ text = "Go on." }]
turn_complete_reason = "NEED_MORE_INPUT"
waiting_for_input = true
"#;

/// One interaction, two utterances: each closed by turnComplete, the first IN_PROGRESS, the last IDLE;
/// a script turn's turnCompleteReason and waitingForInput ride on its final turnComplete.
#[tokio::test]
async fn several_utterances_in_one_interaction() {
    use voxlive::protocol::InteractionStatus::{Idle, InProgress};
    let (_dir, script) = write_script(MULTI_UTTERANCE_SCRIPT);
    let server = start(ServerConfig {
        responder: ResponderKind::Scripted(script),
        ..fast()
    })
    .await;
    let (mut c, _) = live_session(&server, json!({"outputAudioTranscription": {}})).await;
    send(&mut c, json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "time in Tokyo?"}]}], "turnComplete": true}})).await;
    let one = read_turn(&mut c).await;
    assert_eq!(one.output, "Let me check.");
    assert!(!one.audio.is_empty());
    let two = until_turn_complete(&mut c).await;
    let words: String = two
        .iter()
        .filter_map(|m| m.server_content.as_ref()?.output_transcription.as_ref()?.text.clone())
        .collect();
    assert_eq!(words, "It is noon in Tokyo.");
    let end = two.last().and_then(|m| m.server_content.clone()).unwrap();
    assert_eq!(end.interaction_status, Some(Idle));
    assert!(
        two.last().unwrap().usage_metadata.is_some(),
        "usage on the interaction's end"
    );

    // the first utterance's turnComplete said IN_PROGRESS: read it again from a fresh session
    let (mut c, _) = live_session(&server, json!({})).await;
    send(&mut c, json!({"realtimeInput": {"text": "again"}})).await;
    let first = until_turn_complete(&mut c).await;
    let status = first.last().and_then(|m| m.server_content.clone()).unwrap();
    assert_eq!(status.interaction_status, Some(InProgress));
    assert_eq!(status.turn_complete_reason, None);
    until_turn_complete(&mut c).await;
    send(&mut c, json!({"realtimeInput": {"text": "and?"}})).await;
    let last = until_turn_complete(&mut c).await;
    let sc = last.last().and_then(|m| m.server_content.clone()).unwrap();
    assert_eq!(sc.turn_complete_reason.as_deref(), Some("NEED_MORE_INPUT"));
    assert_eq!(sc.waiting_for_input, Some(true));
    assert_eq!(sc.interaction_status, Some(Idle));
}

#[tokio::test]
async fn bad_utterance_scripts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        (
            "[[turn]]\nparts = [{ text = \"a\" }]\nutterances = [[{ text = \"b\" }]]\n",
            "not both",
        ),
        (
            "[[turn]]\nutterances = [[{ tool_call = { name = \"f\" } }]]\n",
            "no tool_call in utterances",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let err = ScriptedResponder::from_path(&path).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

/// With activityHandling NO_INTERRUPTION new input does not cut the reply being sent: no `interrupted`,
/// the first reply completes in full, then the second. The default interrupts.
#[tokio::test]
async fn no_interruption_lets_the_reply_finish() {
    // paced, so the first reply is still being sent when the second line arrives
    let server = start(ServerConfig::default()).await;
    // about 3 s of speech-like tone, sent in real time
    let long = "a fairly long sentence for the echo to say back";
    for (handling, interrupts) in [("NO_INTERRUPTION", false), ("START_OF_ACTIVITY_INTERRUPTS", true)] {
        let (mut c, _) = live_session(
            &server,
            json!({"realtimeInputConfig": {"activityHandling": handling}, "outputAudioTranscription": {}}),
        )
        .await;
        send(&mut c, json!({"realtimeInput": {"text": long}})).await;
        // up to the first audio chunk: the reply is under way (its transcript comes first)
        let mut said = String::new();
        loop {
            let Some(sc) = recv_msg(&mut c).await.server_content else {
                continue;
            };
            said.push_str(sc.output_transcription.and_then(|t| t.text).as_deref().unwrap_or(""));
            if sc
                .model_turn
                .is_some_and(|t| t.parts.iter().any(|p| p.inline_data.is_some()))
            {
                break;
            }
        }
        send(&mut c, json!({"realtimeInput": {"text": "stop"}})).await;
        let mut first = read_turn(&mut c).await;
        first.output.insert_str(0, &said);
        assert_eq!(first.interrupted, interrupts, "{handling}");
        if interrupts {
            // the cut reply never completes: the next turnComplete is the answer to "stop"
            assert!(first.output.ends_with("You said: stop"), "{handling}: {first:?}");
        } else {
            assert_eq!(
                first.output,
                format!("You said: {long}"),
                "the first reply ran to its end"
            );
            let second = read_turn(&mut c).await;
            assert_eq!(second.output, "You said: stop", "{second:?}");
        }
    }
}

/// historyConfig.initialHistoryInClientContent: the clientContent up to turnComplete true only seeds the
/// history; the first reply answers what comes after it.
#[tokio::test]
async fn initial_history_in_client_content_starts_no_reply() {
    let server = start(fast()).await;
    let history = json!({"clientContent": {"turns": [
        {"role": "user", "parts": [{"text": "my name is Ada"}]},
        {"role": "model", "parts": [{"text": "Hello Ada."}]}], "turnComplete": false}});
    let end = json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "I like tea"}]}], "turnComplete": true}});
    let (mut c, _) = live_session(
        &server,
        json!({"historyConfig": {"initialHistoryInClientContent": true}, "outputAudioTranscription": {}}),
    )
    .await;
    send(&mut c, history.clone()).await;
    send(&mut c, end.clone()).await;
    send(&mut c, json!({"realtimeInput": {"text": "what is my name"}})).await;
    let reply = read_turn(&mut c).await;
    assert_eq!(
        reply.output, "You said: what is my name",
        "the history was answered: {reply:?}"
    );
    // after the history, clientContent is a turn again
    send(&mut c, end).await;
    assert_eq!(read_turn(&mut c).await.output, "You said: I like tea");
    // without historyConfig the same clientContent is answered at once
    let (mut c, _) = live_session(&server, json!({"outputAudioTranscription": {}})).await;
    send(&mut c, history).await;
    send(&mut c, json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "I like tea"}]}], "turnComplete": true}})).await;
    assert_eq!(read_turn(&mut c).await.output, "You said: I like tea");
}

/// A streaming cap (Live Transcribe's 10 minutes from its profile, or the server's `max_stream`, here a
/// short one) ends the connection as a goAway does: goAway with the time left, then 1008 at the cap.
#[tokio::test]
async fn a_streaming_cap_ends_the_connection_after_a_go_away() {
    let mut config = fast();
    config.limits.max_stream = Some(Duration::from_millis(1200));
    let server = start(config).await;
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    let setup =
        json!({"model": "models/gemini-3.5-transcribe-live", "generationConfig": {"responseModalities": ["TEXT"]}});
    send(&mut c, json!({ "setup": setup })).await;
    assert!(recv_msg(&mut c).await.setup_complete.is_some());
    let left = loop {
        if let Some(g) = recv_msg(&mut c).await.go_away {
            break voxlive::protocol::codec::parse_duration(&g.time_left).expect("a duration");
        }
    };
    assert!(
        left <= Duration::from_millis(600),
        "goAway with what is left of the cap: {left:?}"
    );
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("deadline"), "{reason}");
}
